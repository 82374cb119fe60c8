import type { VirtualServer } from './cluster-schema.ts';

// What each dataplane can do, in the model's vocabulary, so that `keepgit validate` (for a
// repository that pins nftables), the agent (for a node whose kernel lacks IPVS) and the
// nftables driver refuse the same things with the same words.

export const NFTABLES_SCHEDULERS = ['rr', 'wrr', 'sh', 'dh', 'random'] as const;
export const NFTABLES_FORWARDING = ['nat'] as const;

export interface Unsupported {
  /** The field, relative to the virtual server: ["scheduler"], ["realServers", 2, "forwarding"]. */
  path: (string | number)[];
  message: string;
}

const schedulers = NFTABLES_SCHEDULERS.join(', ');

/** Why the nftables dataplane cannot run `vs` as written (with keepalived's defaults); empty when it can. */
export function nftablesUnsupported(vs: VirtualServer): Unsupported[] {
  const out: Unsupported[] = [];
  const scheduler = vs.scheduler ?? 'wlc';
  if (!(NFTABLES_SCHEDULERS as readonly string[]).includes(scheduler))
    out.push({
      path: ['scheduler'],
      message:
        vs.scheduler === undefined
          ? `no scheduler given, and keepalived's default wlc needs IPVS; with dataplane nftables set scheduler to one of ${schedulers}`
          : `scheduler ${scheduler} needs IPVS; with dataplane nftables use one of ${schedulers}`,
    });
  const forwarding = (f: string | undefined, path: (string | number)[]) => {
    if (f !== undefined && f !== 'nat')
      out.push({
        path,
        message: `forwarding ${f} (lb_kind ${f.toUpperCase()}) needs IPVS; with dataplane nftables use forwarding nat`,
      });
  };
  forwarding(vs.forwarding, ['forwarding']);
  for (const [i, rs] of (vs.realServers ?? []).entries())
    forwarding(rs.forwarding, ['realServers', i, 'forwarding']);
  if (vs.sorryServer) forwarding(vs.sorryServer.forwarding, ['sorryServer', 'forwarding']);
  if ((vs.schedulerFlags ?? []).length > 0)
    out.push({
      path: ['schedulerFlags'],
      message:
        'scheduler flags are IPVS options; with dataplane nftables drop them (sh hashes the source address alone)',
    });
  // nft 1.0.6 aborts when the packet path adds a key over 16 bytes to a dynamic map, and an
  // IPv6 client plus VIP is 32.
  if (vs.persistence !== undefined && vs.address?.includes(':'))
    out.push({
      path: ['persistence'],
      message:
        'persistence on an IPv6 virtual server needs IPVS: nft 1.0.6 cannot key a dynamic map by an IPv6 client and address (16-byte limit); with nftables use scheduler sh, which keeps a client on one real server while the set is unchanged',
    });
  if (vs.fwmark !== undefined)
    out.push({
      path: ['fwmark'],
      message: 'fwmark services need IPVS; with dataplane nftables give an address and port',
    });
  return out;
}

/** Why the IPVS dataplane cannot run `vs` as written; empty when it can. */
export function ipvsUnsupported(vs: VirtualServer): Unsupported[] {
  const out: Unsupported[] = [];
  if (vs.scheduler === 'random')
    out.push({
      path: ['scheduler'],
      message:
        'scheduler random is not an IPVS scheduler; with IPVS use rr or wrr, or pin dataplane: nftables',
    });
  if (vs.sourceNat !== undefined)
    out.push({
      path: ['sourceNat'],
      message:
        'sourceNat is done by the nftables dataplane only; with IPVS use forwarding dr or tun, or route the replies back through this node',
    });
  return out;
}

/** What the given dataplane cannot run of `vs`. */
export function unsupportedOn(kind: 'nftables' | 'ipvs', vs: VirtualServer): Unsupported[] {
  return kind === 'nftables' ? nftablesUnsupported(vs) : ipvsUnsupported(vs);
}
