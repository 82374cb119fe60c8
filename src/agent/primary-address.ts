import type { LiveAddress } from '../drivers/addresses/address-driver.ts';
import { canonicalIp } from '../model/ip.ts';
import type { ViewInstance } from '../model/node-view.ts';

// The address an instance speaks from: the advert's IP source and the election's tie
// break. keepalived takes the interface's primary IPv4 address, and for IPv6 its
// link-local address (RFC 5798 5.1.2.1), unless unicast_src_ip says otherwise. Pure.

export type PrimaryAddress = { ok: true; address: string } | { ok: false; message: string };

export function primaryAddress(view: ViewInstance, live: readonly LiveAddress[]): PrimaryAddress {
  if (view.unicast?.source !== undefined) return { ok: true, address: canonicalIp(view.unicast.source) };
  // A VIP left behind by a killed agent is on the interface too: it is never ours to speak from.
  const vips = new Set([...view.vips, ...view.excludedVips].map((v) => bare(v.address)));
  const candidates = live.filter(
    (a) => a.ifname === view.interface && a.family === view.family && !vips.has(bare(a.address)),
  );
  const found =
    view.family === 4
      ? candidates[0]
      : candidates.find((a) => a.scope === 'link' && bare(a.address).startsWith('fe80:'));
  if (found) return { ok: true, address: bare(found.address) };
  const what = view.family === 4 ? 'IPv4 address' : 'IPv6 link-local (fe80::/10) address';
  return {
    ok: false,
    message: `instance ${view.name}: interface ${view.interface} has no ${what} to send VRRP adverts from; configure one on ${view.interface}, or set unicastSource for it in the node file`,
  };
}

function bare(cidr: string): string {
  return canonicalIp(cidr.split('/')[0] ?? cidr);
}
