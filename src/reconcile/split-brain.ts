import type { DriftObservation } from './drift-tracker.ts';

// Split brain: this node is master of an instance and keeps hearing adverts for the same
// VRID from another router, which only a master sends. In a healthy election that lasts
// one advert at most (one side yields); when the two drop each other's adverts (another
// password, another version) both stay master and both answer for the VIPs. Adverts the
// instance drops count here too: they are exactly the ones that let this happen.
//
// A router counts once it has been heard for SPLIT_BRAIN_INTERVALS advert intervals
// without a gap that long, and stops counting once it has been silent that long. The
// interval is the longer of ours and the one the router advertises, so a slower peer is
// not taken for gone between two of its adverts.

export const SPLIT_BRAIN_INTERVALS = 3;

export interface Rival {
  source: string;
  /** Clock ms: the first advert of this run of adverts, and the last one. */
  firstMs: number;
  lastMs: number;
  intervalMs: number;
}

export type Rivals = ReadonlyMap<string, Rival>;

const span = (r: Rival) => SPLIT_BRAIN_INTERVALS * r.intervalMs;

/** The rivals after an advert from `source` heard while master, at clock ms `now`. */
export function rivalHeard(
  rivals: Rivals,
  source: string,
  intervalMs: number,
  now: number,
): Map<string, Rival> {
  const out = new Map(rivals);
  const r = rivals.get(source);
  if (r !== undefined && now - r.lastMs <= SPLIT_BRAIN_INTERVALS * Math.max(r.intervalMs, intervalMs))
    out.set(source, { ...r, lastMs: now, intervalMs });
  else out.set(source, { source, firstMs: now, lastMs: now, intervalMs });
  return out;
}

/** The rivals still heard at `now`: those silent for too long are gone. */
export function liveRivals(rivals: Rivals, now: number): Map<string, Rival> {
  return new Map([...rivals].filter(([, r]) => now - r.lastMs <= span(r)));
}

/** The routers that make a split brain at `now`, in the order first heard. */
export function splitBrainSources(rivals: Rivals, now: number): string[] {
  return [...liveRivals(rivals, now).values()]
    .filter((r) => r.lastMs - r.firstMs >= span(r))
    .sort((a, b) => a.firstMs - b.firstMs)
    .map((r) => r.source);
}

/** When the answer may next change without another advert (a rival falls silent); clock ms. */
export function nextRivalExpiry(rivals: Rivals): number | undefined {
  let next: number | undefined;
  for (const r of rivals.values()) {
    const at = r.lastMs + span(r) + 1;
    if (next === undefined || at < next) next = at;
  }
  return next;
}

/** The drift item of an instance in split brain. */
export function splitBrainDrift(
  instance: string,
  vrid: number,
  sources: readonly string[],
): DriftObservation {
  return {
    kind: 'split-brain',
    subject: `instance ${instance} VRID ${vrid}`,
    expected: 'this node the only master',
    actual: `${sources.length === 1 ? 'another master' : 'other masters'} at ${sources.join(', ')}`,
  };
}
