import type { ViewInstance } from '../model/node-view.ts';

// What a new revision does to each VRRP instance of a node, and whether a running instance
// can take the change in place or has to be stopped and started again. keepalived's reload
// re-creates every instance and so re-elects; here only what the protocol or the socket
// cannot change on the fly does: the packet's identity (VRID, version, family), where it is
// sent from (interface, source address) and how it is signed. Everything else is the
// running instance's own business (VIP list, priority, timers, preemption, scripts, peers).
// Pure: two views in, a verdict out.

export type InstanceChange =
  | { kind: 'unchanged' }
  /** Applied to the running instance; `fields` are the view's keys that differ. */
  | { kind: 'changed'; fields: string[] }
  /** Stopped make-before-break and started again; `fields` are the keys that force it. */
  | { kind: 'recreated'; fields: string[] };

/**
 * The keys a running instance can follow without a transition. Any key not listed here
 * (including one added to the view later) re-creates the instance: the safe default.
 */
const IN_PLACE: ReadonlySet<string> = new Set([
  'priority',
  'state',
  'advertIntervalMs',
  'preempt',
  'preemptDelayMs',
  'vips',
  'excludedVips',
  'garp',
  'flags',
  'track',
  'notify',
  'peers',
  'syncGroup',
  // Only its `peers`: a new `source` is split out below as `unicast.source`.
  'unicast',
]);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** How `next` differs from `running` (the same instance name). */
export function classifyInstance(running: ViewInstance, next: ViewInstance): InstanceChange {
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]) as Set<keyof ViewInstance>;
  const differing = [...keys].filter((k) => !same(running[k], next[k])).sort();
  const forced: string[] = differing.filter((k) => !IN_PLACE.has(k));
  // The advert's source address is the transport's identity, and the tie break's.
  if (!same(running.unicast?.source, next.unicast?.source)) forced.push('unicast.source');
  if (forced.length > 0) return { kind: 'recreated', fields: forced };
  if (differing.length > 0) return { kind: 'changed', fields: differing };
  return { kind: 'unchanged' };
}

export interface InstancesDiff {
  added: ViewInstance[];
  removed: ViewInstance[];
  /** Present in both, by name. */
  kept: { running: ViewInstance; next: ViewInstance; change: InstanceChange }[];
}

/** Instances of two views paired by name. */
export function diffInstances(
  running: readonly ViewInstance[],
  next: readonly ViewInstance[],
): InstancesDiff {
  const before = new Map(running.map((v) => [v.name, v]));
  const after = new Set(next.map((v) => v.name));
  const kept: InstancesDiff['kept'] = [];
  const added: ViewInstance[] = [];
  for (const v of next) {
    const old = before.get(v.name);
    if (old === undefined) added.push(v);
    else kept.push({ running: old, next: v, change: classifyInstance(old, v) });
  }
  return { added, removed: running.filter((v) => !after.has(v.name)), kept };
}

/** Whether the transport must be opened again for the change (unicast peers, or the mode). */
export function transportChanged(running: ViewInstance, next: ViewInstance): boolean {
  return !same(running.unicast?.peers ?? [], next.unicast?.peers ?? []);
}
