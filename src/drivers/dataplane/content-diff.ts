import { serviceFingerprint, serviceId } from './content-canonical.ts';
import type { Service } from './dataplane.ts';

// What an apply changes, service by service: the drivers patch only these, and report
// the counts as ApplyStats. Both sides must be canonical (content-canonical.ts).

export interface ContentDiff {
  added: Service[];
  changed: { before: Service; after: Service }[];
  removed: Service[];
}

/** How to tell services apart and compare them (a driver with its own remembered identities passes faster ones). */
export interface DiffWith {
  id(s: Service): string;
  same(a: Service, b: Service): boolean;
}

const byFingerprint: DiffWith = {
  id: serviceId,
  same: (a, b) => serviceFingerprint(a) === serviceFingerprint(b),
};

export function diffServices(
  before: readonly Service[],
  after: readonly Service[],
  using: DiffWith = byFingerprint,
): ContentDiff {
  const out: ContentDiff = { added: [], changed: [], removed: [] };
  if (before.length === 0) {
    out.added = [...after];
    return out;
  }
  // The same object on both sides is the same service, unchanged: a driver that keeps
  // what it prepared last hands most services back as they were, and those need no
  // identity and no comparison.
  const inAfter = new Set(after);
  const inBefore = new Set(before);
  const old = new Map<string, Service>();
  for (const s of before) if (!inAfter.has(s)) old.set(using.id(s), s);
  const matched = new Set<string>();
  for (const s of after) {
    if (inBefore.has(s)) continue;
    const id = using.id(s);
    const b = old.get(id);
    if (b === undefined) {
      out.added.push(s);
      continue;
    }
    matched.add(id);
    if (!using.same(b, s)) out.changed.push({ before: b, after: s });
  }
  for (const [id, s] of old) if (!matched.has(id)) out.removed.push(s);
  return out;
}

export const isEmptyDiff = (d: ContentDiff): boolean =>
  d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;

/** Whether two canonical service lists hold the same services (in any order). */
export function sameServices(a: readonly Service[], b: readonly Service[], using?: DiffWith): boolean {
  return a.length === b.length && isEmptyDiff(diffServices(a, b, using));
}
