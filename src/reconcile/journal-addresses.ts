import { parseCidr } from '../model/ip.ts';
import type { ViewInstance } from '../model/node-view.ts';
import type { JournalAddress } from './apply-journal.ts';

// What the apply journal names: every address an apply between two views may add or remove
// on this node, the VIPs and excluded VIPs of the instances before and after, each with its
// interface. Over-naming is harmless (at start no VIP may be held); missing one would leave
// it on the node forever after a kill -9.

export function journalAddresses(
  before: readonly ViewInstance[],
  after: readonly ViewInstance[],
): JournalAddress[] {
  const out = new Map<string, JournalAddress>();
  for (const inst of [...before, ...after])
    for (const v of [...inst.vips, ...inst.excludedVips]) {
      const dev = v.dev ?? inst.interface;
      const c = parseCidr(v.address);
      const key = `${dev} ${c ? `${c.address}/${c.prefix}` : v.address}`;
      if (!out.has(key)) out.set(key, { address: v.address, dev });
    }
  return [...out.values()];
}
