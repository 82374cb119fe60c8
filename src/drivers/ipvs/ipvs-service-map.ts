import type { Destination, Forwarding, Protocol, Service } from '../dataplane/dataplane.ts';
import { IPVS_SCHEDULERS } from '../dataplane/ipvs-capabilities.ts';
import { afOf, canonicalAddress } from './ip-bytes.ts';
import { AF_INET, AF_INET6, IP_VS_CONN_F, IP_VS_SVC_F, IPPROTO } from './ip-vs-constants.ts';
import type { IpvsAf, IpvsDest, IpvsEntry, IpvsService } from './ipvs-records.ts';

// The dataplane's Service (keepalived's vocabulary) to IPVS records and back. Everything
// IPVS cannot express is refused here, naming the field and the alternative, before any
// message is sent.

export const IPVS_SCHEDULER_FLAGS = [
  'sh-fallback',
  'sh-port',
  'mh-fallback',
  'mh-port',
  'flag-1',
  'flag-2',
  'flag-3',
  'ops',
  'hashed',
] as const;

const PROTOCOLS: Record<Protocol, number> = { TCP: IPPROTO.TCP, UDP: IPPROTO.UDP, SCTP: IPPROTO.SCTP };

const FORWARDING: Record<Forwarding, number> = {
  nat: IP_VS_CONN_F.MASQ,
  dr: IP_VS_CONN_F.DROUTE,
  tun: IP_VS_CONN_F.TUNNEL,
};

const V4_ALL = 0xffffffff;
const V6_ALL = 128;

export type Mapped = { ok: true; entry: IpvsEntry } | { ok: false; errors: string[] };

function flagBits(s: Service, errors: string[]): number {
  let bits = 0;
  const only = (flag: string, scheduler: string, bit: number) => {
    if (s.scheduler === scheduler) bits |= bit;
    else
      errors.push(
        `schedulerFlags ${flag} applies to scheduler ${scheduler} only (this service uses ${s.scheduler}); remove the flag or use flag-1/flag-2`,
      );
  };
  for (const f of s.schedulerFlags ?? []) {
    if (f === 'sh-fallback') only(f, 'sh', IP_VS_SVC_F.SCHED1);
    else if (f === 'sh-port') only(f, 'sh', IP_VS_SVC_F.SCHED2);
    else if (f === 'mh-fallback') only(f, 'mh', IP_VS_SVC_F.SCHED1);
    else if (f === 'mh-port') only(f, 'mh', IP_VS_SVC_F.SCHED2);
    else if (f === 'flag-1') bits |= IP_VS_SVC_F.SCHED1;
    else if (f === 'flag-2') bits |= IP_VS_SVC_F.SCHED2;
    else if (f === 'flag-3') bits |= IP_VS_SVC_F.SCHED3;
    else if (f === 'ops' || f === 'one-packet') bits |= IP_VS_SVC_F.ONEPACKET;
    // keepalived's "hashed": the kernel marks every service it holds as hashed anyway.
    else if (f === 'hashed') continue;
    else
      errors.push(
        `schedulerFlags ${f}: IPVS has no such flag; use one of ${IPVS_SCHEDULER_FLAGS.join(', ')}`,
      );
  }
  return bits;
}

function maskFromPrefix(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Persistence granularity: an IPv4 netmask (dotted or /N), or an IPv6 prefix length (/N). */
function netmaskOf(af: IpvsAf, granularity: string | undefined, errors: string[]): number {
  if (granularity === undefined) return af === AF_INET ? V4_ALL : V6_ALL;
  const text = granularity.trim();
  const prefix = /^\/?(\d{1,3})$/.exec(text);
  if (af === AF_INET6) {
    const n = prefix ? Number(prefix[1]) : Number.NaN;
    if (n >= 1 && n <= 128) return n;
    errors.push(
      `persistence granularity ${JSON.stringify(granularity)}: for an IPv6 service give a prefix length from /1 to /128`,
    );
    return V6_ALL;
  }
  if (prefix) {
    const n = Number(prefix[1]);
    if (n <= 32) return maskFromPrefix(n);
  } else if (afOf(text) === AF_INET) {
    const mask = text.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
    for (let n = 0; n <= 32; n++) if (maskFromPrefix(n) === mask) return mask;
  }
  errors.push(
    `persistence granularity ${JSON.stringify(granularity)}: give an IPv4 netmask such as 255.255.255.0 or /24`,
  );
  return V4_ALL;
}

function toDest(af: IpvsAf, d: Destination, errors: string[]): IpvsDest | undefined {
  const where = `real server ${d.address}:${d.port}`;
  const daf = afOf(d.address);
  if (daf === undefined) {
    errors.push(`${where}: address is not an IP address`);
    return undefined;
  }
  if (daf !== af && d.forwarding !== 'tun')
    errors.push(
      `${where}: an IPv${daf === AF_INET6 ? 6 : 4} real server behind an IPv${af === AF_INET6 ? 6 : 4} service needs forwarding tun (IPVS forwards mixed families only by tunnel)`,
    );
  if (!Number.isInteger(d.port) || d.port < 0 || d.port > 65535) errors.push(`${where}: port out of range`);
  if (!Number.isInteger(d.weight) || d.weight < 0 || d.weight > 0x7fffffff)
    errors.push(`${where}: weight ${d.weight} out of range (0 to 2147483647)`);
  const fwd = FORWARDING[d.forwarding];
  if (fwd === undefined) errors.push(`${where}: forwarding ${String(d.forwarding)} is not nat, dr or tun`);
  return {
    af: daf,
    addr: canonicalAddress(daf, d.address),
    port: d.port,
    fwdMethod: fwd ?? IP_VS_CONN_F.MASQ,
    weight: d.weight,
    // The dataplane interface carries no thresholds yet: keepgit keeps them off (0).
    uThreshold: 0,
    lThreshold: 0,
  };
}

/** The IPVS records for `s`, or every reason IPVS cannot hold it. */
export function toIpvs(s: Service): Mapped {
  const errors: string[] = [];
  const af: IpvsAf = s.family === 6 ? AF_INET6 : AF_INET;
  if (s.scheduler === 'random')
    errors.push(
      'scheduler random: IPVS has no random scheduler (lb_algo); use rr or wrr with IPVS, or dataplane: nftables, which has random',
    );
  else if (!(IPVS_SCHEDULERS as readonly string[]).includes(s.scheduler))
    errors.push(
      `scheduler ${s.scheduler}: IPVS has no such scheduler; use one of ${IPVS_SCHEDULERS.join(', ')}`,
    );
  if (s.sourceNat !== undefined)
    errors.push(
      'sourceNat: IPVS does not rewrite client addresses (one-armed source NAT is an nftables feature); remove sourceNat or use dataplane: nftables',
    );
  const protocol = PROTOCOLS[s.protocol];
  if (protocol === undefined) errors.push(`protocol ${String(s.protocol)}: IPVS balances TCP, UDP and SCTP`);
  let flags = flagBits(s, errors);
  let timeout = 0;
  if (s.persistence !== undefined) {
    flags |= IP_VS_SVC_F.PERSISTENT;
    timeout = Math.ceil(s.persistence.timeoutMs / 1000);
    if (!(timeout >= 1 && timeout <= 0xffffffff))
      errors.push(`persistence timeout ${s.persistence.timeoutMs} ms: IPVS needs at least one second`);
  }
  const netmask = netmaskOf(af, s.persistence?.granularity, errors);
  let addr = '';
  let port = 0;
  let fwmark = 0;
  if (s.fwmark !== undefined) {
    fwmark = s.fwmark;
    if (!Number.isInteger(fwmark) || fwmark < 1 || fwmark > 0xffffffff)
      errors.push(`fwmark ${s.fwmark}: give a mark from 1 to 4294967295`);
  } else if (s.address === undefined)
    errors.push('address: a service needs an address and port, or a fwmark');
  else if (afOf(s.address) !== af)
    errors.push(`address ${s.address}: not an IPv${s.family} address (the service's family is ${s.family})`);
  else {
    addr = canonicalAddress(af, s.address);
    port = s.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) errors.push(`port ${s.port}: out of range`);
  }
  const dests: IpvsDest[] = [];
  const seen = new Set<string>();
  for (const d of s.destinations) {
    const dest = toDest(af, d, errors);
    if (dest === undefined) continue;
    const k = `${dest.addr}/${dest.port}`;
    if (seen.has(k)) errors.push(`real server ${d.address}:${d.port} is listed twice`);
    seen.add(k);
    dests.push(dest);
  }
  if (errors.length > 0) return { ok: false, errors };
  const service: IpvsService = {
    af,
    fwmark,
    protocol: fwmark !== 0 ? 0 : (protocol ?? IPPROTO.TCP),
    addr,
    port,
    scheduler: s.scheduler,
    flags,
    timeout,
    netmask,
  };
  return { ok: true, entry: { service, dests } };
}

function flagNames(s: IpvsService): string[] {
  const out: string[] = [];
  const prefix = s.scheduler === 'sh' || s.scheduler === 'mh' ? s.scheduler : undefined;
  if (s.flags & IP_VS_SVC_F.SCHED1) out.push(prefix ? `${prefix}-fallback` : 'flag-1');
  if (s.flags & IP_VS_SVC_F.SCHED2) out.push(prefix ? `${prefix}-port` : 'flag-2');
  if (s.flags & IP_VS_SVC_F.SCHED3) out.push('flag-3');
  if (s.flags & IP_VS_SVC_F.ONEPACKET) out.push('ops');
  return out;
}

function protocolOf(n: number): Protocol {
  if (n === IPPROTO.UDP) return 'UDP';
  if (n === IPPROTO.SCTP) return 'SCTP';
  return 'TCP';
}

function forwardingOf(fwd: number): Forwarding {
  if (fwd === IP_VS_CONN_F.DROUTE) return 'dr';
  if (fwd === IP_VS_CONN_F.TUNNEL) return 'tun';
  // MASQ, and IPVS's "Local" and bypass, which keepgit never sets and the interface cannot
  // name; the record-level diff still sees them and puts the desired method back.
  return 'nat';
}

function granularityOf(s: IpvsService): string | undefined {
  if (s.af === AF_INET6) return s.netmask === V6_ALL ? undefined : String(s.netmask);
  if (s.netmask === V4_ALL) return undefined;
  return [24, 16, 8, 0].map((shift) => (s.netmask >>> shift) & 0xff).join('.');
}

/**
 * A service as the kernel holds it, in the dataplane's vocabulary. `key` and, for fwmark
 * services (whose protocol the kernel does not keep), `protocol` come from what keepgit
 * remembers applying.
 */
export function fromIpvs(entry: IpvsEntry, key: string, protocol?: Protocol): Service {
  const s = entry.service;
  const out: Service = {
    key,
    family: s.af === AF_INET6 ? 6 : 4,
    protocol: s.fwmark !== 0 ? (protocol ?? 'TCP') : protocolOf(s.protocol),
    port: s.port,
    scheduler: s.scheduler,
    destinations: entry.dests.map((d) => ({
      address: d.addr,
      port: d.port,
      weight: d.weight,
      forwarding: forwardingOf(d.fwdMethod),
    })),
  };
  if (s.fwmark !== 0) out.fwmark = s.fwmark;
  else out.address = s.addr;
  const flags = flagNames(s);
  if (flags.length > 0) out.schedulerFlags = flags;
  if (s.flags & IP_VS_SVC_F.PERSISTENT) {
    const granularity = granularityOf(s);
    out.persistence = { timeoutMs: s.timeout * 1000, ...(granularity !== undefined ? { granularity } : {}) };
  }
  return out;
}
