import { serviceFingerprint, serviceId } from './content-canonical.ts';
import type { Service } from './dataplane.ts';

// What an apply changes, service by service: the drivers patch only these, and report
// the counts as ApplyStats. Both sides must be canonical (content-canonical.ts).

export interface ContentDiff {
  added: Service[];
  changed: { before: Service; after: Service }[];
  removed: Service[];
}

export function diffServices(before: readonly Service[], after: readonly Service[]): ContentDiff {
  const old = new Map(before.map((s) => [serviceId(s), s]));
  const out: ContentDiff = { added: [], changed: [], removed: [] };
  const seen = new Set<string>();
  for (const s of after) {
    const id = serviceId(s);
    seen.add(id);
    const b = old.get(id);
    if (b === undefined) out.added.push(s);
    else if (b === s) continue;
    else if (serviceFingerprint(b) !== serviceFingerprint(s)) out.changed.push({ before: b, after: s });
  }
  for (const [id, s] of old) if (!seen.has(id)) out.removed.push(s);
  return out;
}

export const isEmptyDiff = (d: ContentDiff): boolean =>
  d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;

/** Whether two canonical service lists hold the same services (in any order). */
export function sameServices(a: readonly Service[], b: readonly Service[]): boolean {
  return a.length === b.length && isEmptyDiff(diffServices(a, b));
}
