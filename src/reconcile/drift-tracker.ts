import type { DriftItem } from '../api/node-status.ts';

// The node's current drift, kept from one observation to the next. Each check hands over
// everything it sees as drifted now; what was already known keeps the time it was first
// seen, what is no longer seen is resolved. The caller logs what appeared and what was
// resolved, so an operator reads one line when a drift starts and one when it ends, not
// one per check.

/** One drifted thing as a check sees it; `since` is the tracker's to keep. */
export type DriftObservation = Omit<DriftItem, 'since'>;

export interface DriftUpdate {
  /** The drift now, oldest first. */
  items: DriftItem[];
  /** Seen for the first time by this update. */
  appeared: DriftItem[];
  /** Known before, not seen any more. */
  resolved: DriftItem[];
}

/** Items are the same drift when kind and subject are the same; expected and actual may move. */
export const driftKey = (d: Pick<DriftItem, 'kind' | 'subject'>): string =>
  JSON.stringify([d.kind, d.subject]);

/**
 * The drift after an observation at `now` (ISO 8601). `observed` is the whole of what is
 * drifted now; a thing named twice counts once (the first wins).
 */
export function updateDrift(
  current: readonly DriftItem[],
  observed: readonly DriftObservation[],
  now: string,
): DriftUpdate {
  const seen = new Map<string, DriftObservation>();
  for (const o of observed) {
    const k = driftKey(o);
    // Only the item's own fields: a check may hand over findings that carry more.
    if (!seen.has(k))
      seen.set(k, { kind: o.kind, subject: o.subject, expected: o.expected, actual: o.actual });
  }
  const known = new Set<string>();
  const items: DriftItem[] = [];
  const resolved: DriftItem[] = [];
  for (const c of current) {
    const k = driftKey(c);
    const o = seen.get(k);
    known.add(k);
    if (o === undefined) resolved.push(c);
    else items.push({ ...o, since: c.since });
  }
  const appeared: DriftItem[] = [];
  for (const [k, o] of seen)
    if (!known.has(k)) {
      const item = { ...o, since: now };
      items.push(item);
      appeared.push(item);
    }
  return { items, appeared, resolved };
}
