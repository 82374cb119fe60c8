import type { Destination } from './dataplane.ts';

// How a service's real servers are laid out over numbered slots. The packet path picks a
// slot (a shared counter, a hash or a random number modulo the slot count) and a map turns
// (VIP, port, slot) into the real server. rr gives each real server of weight > 0 one slot;
// the weighted schedulers (wrr, sh, dh, random) give slots in proportion to weight,
// interleaved (smooth weighted round robin) so that a short run of connections is already
// close to the proportions. Real servers of weight 0 are parked on slots past the modulus,
// which no packet can reach: the kernel still holds them, so they read back.

/** Above this many slots, weights are apportioned over MAX_SLOTS (keeps a service's map small). */
export const MAX_SLOTS = 256;

export interface SlotElement {
  slot: number;
  /** Index into the destinations given. */
  dest: number;
  /** Set on the first slot of a destination whose weight differs from its slot count. */
  weight?: number;
}

export interface SlotLayout {
  /** The slot count the packet path draws from (0: no real server may get connections). */
  modulus: number;
  elements: SlotElement[];
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

const at = (a: readonly number[], i: number): number => a[i] ?? 0;

/** Slots per positive-weight destination. */
function slotCounts(weighted: boolean, weights: number[]): number[] {
  if (!weighted || weights.length >= MAX_SLOTS) return weights.map(() => 1);
  const g = weights.reduce(gcd, 0);
  const reduced = weights.map((w) => w / g);
  const total = reduced.reduce((a, b) => a + b, 0);
  if (total <= MAX_SLOTS) return reduced;
  // Largest remainder over MAX_SLOTS, and every real server keeps at least one slot.
  const quota = reduced.map((r) => (r * MAX_SLOTS) / total);
  const counts = quota.map((q) => Math.max(1, Math.floor(q)));
  let sum = counts.reduce((a, b) => a + b, 0);
  const byRemainder = quota
    .map((q, i) => ({ i, r: q - Math.floor(q) }))
    .sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; sum < MAX_SLOTS; k = (k + 1) % byRemainder.length) {
    const i = byRemainder[k]?.i ?? 0;
    counts[i] = at(counts, i) + 1;
    sum++;
  }
  while (sum > MAX_SLOTS) {
    const biggest = counts.indexOf(Math.max(...counts));
    counts[biggest] = at(counts, biggest) - 1;
    sum--;
  }
  return counts;
}

/** Smooth weighted round robin order: for 3:2:1, A B A C B A. */
function interleave(counts: number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const current = counts.map(() => 0);
  const order: number[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < counts.length; i++) {
      current[i] = at(current, i) + at(counts, i);
      if (at(current, i) > at(current, best)) best = i;
    }
    current[best] = at(current, best) - total;
    order.push(best);
  }
  return order;
}

export const isWeighted = (scheduler: string): boolean => scheduler !== 'rr';

/** The weight every real server has, when they all have the same one above 0. */
function uniformWeight(destinations: readonly Destination[]): number | undefined {
  const first = destinations[0]?.weight;
  if (first === undefined || !(first > 0)) return undefined;
  for (let i = 1; i < destinations.length; i++) if (destinations[i]?.weight !== first) return undefined;
  return first;
}

export function slotLayout(scheduler: string, destinations: readonly Destination[]): SlotLayout {
  // The usual case, and the one a 10,000-service apply meets 10,000 times: every real
  // server has the same weight, so each gets one slot, in order (what the general path
  // below computes too, without its arrays and passes).
  const same = uniformWeight(destinations);
  if (same !== undefined) {
    const elements: SlotElement[] = [];
    for (let i = 0; i < destinations.length; i++)
      elements.push(same === 1 ? { slot: i, dest: i } : { slot: i, dest: i, weight: same });
    return { modulus: destinations.length, elements };
  }
  const positive: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < destinations.length; i++) {
    const w = destinations[i]?.weight ?? 0;
    if (w > 0) {
      positive.push(i);
      weights.push(w);
    }
  }
  const counts = slotCounts(isWeighted(scheduler), weights);
  // One slot each (rr, or equal weights): smooth weighted round robin is the plain order,
  // so skip its quadratic loop (it runs for every service of a 10,000-service apply).
  const order = counts.every((c) => c === 1) ? counts.map((_, k) => k) : interleave(counts);
  const elements: SlotElement[] = [];
  const marked = new Set<number>();
  for (let slot = 0; slot < order.length; slot++) {
    const k = order[slot] ?? 0;
    const dest = positive[k] ?? 0;
    const el: SlotElement = { slot, dest };
    const weight = weights[k] ?? 0;
    if (weight !== counts[k] && !marked.has(dest)) {
      el.weight = weight;
      marked.add(dest);
    }
    elements.push(el);
  }
  let parked = order.length;
  for (let i = 0; i < destinations.length; i++)
    if (destinations[i]?.weight === 0) elements.push({ slot: parked++, dest: i });
  return { modulus: order.length, elements };
}

/** The slot count alone (slotLayout's modulus, without laying the slots out). */
export function slotModulus(scheduler: string, destinations: readonly Destination[]): number {
  if (uniformWeight(destinations) !== undefined) return destinations.length;
  const weights: number[] = [];
  for (const d of destinations) if (d.weight > 0) weights.push(d.weight);
  if (!isWeighted(scheduler) || weights.length >= MAX_SLOTS) return weights.length;
  return slotCounts(true, weights).reduce((a, b) => a + b, 0);
}

export interface ReadSlot<T> {
  slot: number;
  target: T;
  /** The weight comment, when the element has one. */
  weight?: number;
}

/**
 * The destinations a slot map holds for one service, with their weights, in slot order:
 * the inverse of slotLayout. `same` tells whether two targets are one real server.
 */
export function destinationsFromSlots<T>(
  modulus: number,
  slots: readonly ReadSlot<T>[],
  key: (t: T) => string,
): { target: T; weight: number }[] {
  const groups = new Map<string, { target: T; first: number; count: number; comment?: number }>();
  for (const s of [...slots].sort((a, b) => a.slot - b.slot)) {
    const k = key(s.target);
    const entry = groups.get(k) ?? { target: s.target, first: s.slot, count: 0 };
    groups.set(k, entry);
    if (s.slot < modulus) entry.count++;
    if (s.weight !== undefined) entry.comment = s.weight;
  }
  return [...groups.values()].map((g) => ({
    target: g.target,
    weight: g.comment ?? (g.first >= modulus ? 0 : g.count),
  }));
}
