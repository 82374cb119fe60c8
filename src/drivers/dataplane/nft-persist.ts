import { canonicalIp } from '../../model/ip.ts';
import type { ContentDiff } from './content-diff.ts';
import type { Protocol, Service } from './dataplane.ts';
import { persistMap } from './nft-names.ts';

// Persistent clients are recorded from the packet path (client → real server). When an
// apply removes a real server, or sets its weight to 0, the clients recorded for it must
// go too, or they would keep being sent to it until their timeout (IPVS's
// expire_quiescent_template behaviour). This finds them in the kernel's listing of the
// persistence maps, for deletion in the same transaction as the change.

/** "vip|port|daddr|dport" of every real server whose persistent clients must be forgotten, per protocol. */
export function staleTargets(diff: ContentDiff): Map<Protocol, Set<string>> {
  const out = new Map<Protocol, Set<string>>();
  const add = (s: Service, keep: Set<string>) => {
    for (const d of s.destinations) {
      if (d.weight === 0 || keep.has(`${d.address}|${d.port}`)) continue;
      const set = out.get(s.protocol) ?? new Set<string>();
      set.add(`${s.address}|${s.port}|${d.address}|${d.port}`);
      out.set(s.protocol, set);
    }
  };
  const live = (s: Service | undefined) =>
    new Set((s?.destinations ?? []).filter((d) => d.weight > 0).map((d) => `${d.address}|${d.port}`));
  for (const s of diff.removed) if (s.persistence && s.family === 4) add(s, new Set());
  for (const { before, after } of diff.changed)
    if (before.persistence && before.family === 4) add(before, live(after));
  return out;
}

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The keys to delete from one persistence map (its `nft -j list map` output). */
export function persistDeletes(
  doc: Json,
  protocol: Protocol,
  targets: Set<string>,
): { map: string; key: string }[] {
  const items = isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  const out: { map: string; key: string }[] = [];
  for (const item of items) {
    if (!isObj(item) || !isObj(item.map) || !Array.isArray(item.map.elem)) continue;
    for (const raw of item.map.elem) {
      if (!Array.isArray(raw) || raw.length !== 2) continue;
      let key: Json = raw[0];
      if (isObj(key) && isObj(key.elem)) key = key.elem.val;
      const k = isObj(key) && Array.isArray(key.concat) ? key.concat : [];
      const v = isObj(raw[1]) && Array.isArray(raw[1].concat) ? raw[1].concat : [];
      const [client, vip, port] = k;
      const [daddr, dport] = v;
      if (typeof client !== 'string' || typeof vip !== 'string' || typeof daddr !== 'string') continue;
      if (targets.has(`${canonicalIp(vip)}|${port}|${canonicalIp(daddr)}|${dport}`))
        out.push({ map: persistMap(protocol), key: `${client} . ${vip} . ${port}` });
    }
  }
  return out;
}
