import type { ViewInstance, ViewVip } from '../model/node-view.ts';
import type { FieldChange } from './plan-types.ts';

// Which changes disturb traffic. "Disruptive" means applying the change can cause a VRRP
// re-election (a VIP moves, clients see a gap) or drop a VIP or established connections.
// Everything else is applied in place and is hitless. Each verdict carries the reason a
// reviewer reads next to the change, so the rule and its justification live together.
//
// The election model is the steady state of RFC 3768/5798 with configured priorities
// (track weights move priorities at run time; the plan cannot know those):
// - with no master, the highest priority wins;
// - a backup takes over from a master only if it has a strictly higher priority and
//   preempts (priority 255, the address owner, always does);
// - equal priorities are broken by the higher primary address, which the plan does not
//   know, so a tie leaves several possible masters.

export interface Verdict {
  disruptive: boolean;
  reason: string;
}

const hitless = (reason: string): Verdict => ({ disruptive: false, reason });
const disruptive = (reason: string): Verdict => ({ disruptive: true, reason });

/** Several verdicts on one change: disruptive if any is, with the reasons that matter. */
export function combine(verdicts: readonly Verdict[]): Verdict {
  const bad = verdicts.filter((v) => v.disruptive);
  const pick = bad.length > 0 ? bad : verdicts;
  const reason = [...new Set(pick.map((v) => v.reason))].join('; ');
  return { disruptive: bad.length > 0, reason };
}

function byField(
  rules: Record<string, Verdict>,
  fallback: Verdict,
  fields: readonly FieldChange[],
): Verdict[] {
  return fields.map((f) => rules[f.field] ?? rules[f.field.split('.')[0] ?? ''] ?? fallback);
}

// ---- elections -------------------------------------------------------------------------

export interface Candidate {
  node: string;
  priority: number;
  preempt: boolean;
}

const preempts = (c: Candidate): boolean => c.preempt || c.priority === 255;

const sortedNames = (cs: readonly Candidate[]): string[] => cs.map((c) => c.node).sort();

function highest(cs: readonly Candidate[]): Candidate[] {
  const top = Math.max(...cs.map((c) => c.priority));
  return cs.filter((c) => c.priority === top);
}

/** Nodes that can be master in a steady state: nobody that preempts outranks them. */
export function possibleMasters(cs: readonly Candidate[]): string[] {
  return sortedNames(cs.filter((x) => !cs.some((y) => y !== x && preempts(y) && y.priority > x.priority)));
}

/** Where mastership ends up after a change, starting from `incumbent`. */
export function nextMasters(incumbent: string, after: readonly Candidate[]): string[] {
  if (after.length === 0) return [];
  const inc = after.find((c) => c.node === incumbent);
  if (!inc) return sortedNames(highest(after));
  const challengers = after.filter((c) => c !== inc && preempts(c) && c.priority > inc.priority);
  return challengers.length === 0 ? [incumbent] : sortedNames(highest(challengers));
}

const orList = (names: readonly string[]): string =>
  names.length <= 1 ? (names[0] ?? 'nobody') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;

function candidates(node: string, inst: ViewInstance): Candidate[] {
  return [{ node, priority: inst.priority, preempt: inst.preempt }, ...inst.peers];
}

/**
 * Verdict on a priority, preempt or peer change: disruptive when mastership moves and this
 * node is where it moves from or to (the other peers' plans say the same from their side).
 */
export function electionVerdict(node: string, before: ViewInstance, after: ViewInstance): Verdict {
  const was = candidates(node, before);
  const now = candidates(node, after);
  const moves: string[] = [];
  let involvesMe = false;
  const incumbents = possibleMasters(was);
  for (const inc of incumbents) {
    const next = nextMasters(inc, now);
    if (next.length === 1 && next[0] === inc) continue;
    if (inc === node || next.includes(node)) involvesMe = true;
    moves.push(
      next.length === 1
        ? `from ${inc} to ${next[0]}`
        : `from ${inc} to ${orList(next)} (equal priority: the higher primary address wins)`,
    );
  }
  if (moves.length > 0) {
    const what = `master ${incumbents.length > 1 ? 'may move' : 'moves'} ${moves.join('; or ')}`;
    return involvesMe ? disruptive(what) : hitless(`${what} (this node stays backup)`);
  }
  const stays =
    incumbents.length === 1
      ? `${incumbents[0]} stays master`
      : `the master stays where it is (${orList(incumbents)})`;
  const top = highest(now);
  const blocked = top.length === 1 && top[0] && !incumbents.includes(top[0].node) ? top[0] : undefined;
  return hitless(
    blocked
      ? `${blocked.node} has the highest priority (${blocked.priority}) but does not preempt: ${stays}`
      : `no election: ${stays}`,
  );
}

// ---- instances ---------------------------------------------------------------------------

const replaced = (what: string): Verdict =>
  disruptive(
    `the instance is replaced (${what}): it leaves the old virtual router and its VIPs drop until a master is elected on the new one`,
  );
const rollout = (what: string): Verdict =>
  disruptive(
    `re-election: until every peer has the new ${what}, peers drop each other's adverts and more than one may claim master`,
  );
const inPlace = hitless('applied in place, no election');

const INSTANCE_RULES: Record<string, Verdict> = {
  vrid: replaced('new VRID'),
  interface: replaced('new interface'),
  family: replaced('new address family'),
  version: rollout('VRRP version'),
  advertInterval: rollout('advert interval'),
  auth: rollout('authentication'),
  adverts: disruptive(
    'switches between multicast and unicast adverts: peers do not hear each other during the rollout',
  ),
  'unicast.source': rollout('unicast source'),
  'unicast.peers': hitless('unicast peer list updated in place'),
  preempt: inPlace,
  preemptDelay: inPlace,
  state: hitless('the initial state only matters when the instance starts'),
  notify: hitless('notify scripts are read at the next transition'),
  track: hitless('tracking is updated in place; it can change the effective priority at run time'),
  garp: hitless('gratuitous ARP settings apply at the next transition'),
};

const vipList = (vips: readonly ViewVip[]): string => vips.map((v) => v.address).join(', ');

export function instanceAdded(inst: ViewInstance): Verdict {
  return hitless(
    `joins the election with priority ${inst.priority}; its VIPs are added where it becomes master (GARP sent)`,
  );
}

/** `stay`: the peers that still run the instance in the new revision. */
export function instanceRemoved(node: string, inst: ViewInstance, stay: ViewInstance['peers']): Verdict {
  const was = candidates(node, inst);
  const masters = possibleMasters(was);
  const drops = `drops its VIPs (${vipList(inst.vips)})`;
  if (inst.peers.length > 0 && !masters.includes(node))
    return hitless(`this node is a backup (${orList(masters)} is master)`);
  if (stay.length === 0) return disruptive(`${drops}: no other node runs it any more`);
  const next = nextMasters(node, stay);
  const moves = `master moves from ${node} to ${orList(next)}`;
  return disruptive(
    masters.length === 1
      ? `${drops}: ${moves}`
      : `${drops} if this node is master (${orList(masters)} may be): ${moves}`,
  );
}

export function instanceChanged(
  node: string,
  before: ViewInstance,
  after: ViewInstance,
  fields: readonly FieldChange[],
): Verdict {
  const electoral = (f: FieldChange) =>
    f.field === 'priority' || f.field === 'preempt' || f.field.startsWith('peer ');
  const verdicts = byField(
    INSTANCE_RULES,
    inPlace,
    fields.filter((f) => !electoral(f)),
  );
  if (fields.some(electoral)) verdicts.push(electionVerdict(node, before, after));
  return combine(verdicts);
}

export const vipAdded = (): Verdict => hitless('added on the master, GARP sent');
export const vipRemoved = (): Verdict => disruptive('the VIP is dropped: connections to it fail');
export const vipChanged = (): Verdict =>
  disruptive('the address is deleted and added again with the new settings: a brief gap');
export const excludedVipAdded = (): Verdict => hitless('added on the master (not in adverts)');
export const excludedVipRemoved = (): Verdict => disruptive('the address is dropped: connections to it fail');

export const syncGroupChanged = (op: '+' | '-' | '~'): Verdict =>
  hitless(
    op === '-'
      ? 'its instances keep running and now change state independently'
      : 'grouping only: member instances change state together from the next transition',
  );

export const trackDefinitionChanged = (op: '+' | '-' | '~'): Verdict =>
  hitless(
    op === '+'
      ? 'starts running on this node; its result can change the effective priority'
      : op === '-'
        ? 'stops running on this node'
        : 'takes effect at its next run; its result can change the effective priority',
  );

// ---- load balancing ---------------------------------------------------------------------

const rebalanced = disruptive('the service is edited: connections are re-balanced and persistence is reset');
const recreated = disruptive('the service is deleted and created again: its connections are dropped');

const VIRTUAL_SERVER_RULES: Record<string, Verdict> = {
  address: recreated,
  port: recreated,
  protocol: recreated,
  fwmark: recreated,
  group: recreated,
  family: recreated,
  scheduler: rebalanced,
  schedulerFlags: rebalanced,
  forwarding: rebalanced,
  persistence: rebalanced,
  sourceNat: hitless('applied in place: new connections get the new source address, open ones keep theirs'),
  persistenceEngine: rebalanced,
  opsScheduling: rebalanced,
};

export const virtualServerAdded = (): Verdict => hitless('a new service: nothing served before');
export const virtualServerRemoved = (): Verdict =>
  disruptive('the service is removed: its connections are dropped');
export const virtualServerChanged = (fields: readonly FieldChange[]): Verdict =>
  combine(byField(VIRTUAL_SERVER_RULES, hitless('applied in place, connections kept'), fields));

const REAL_SERVER_RULES: Record<string, Verdict> = {
  forwarding: disruptive('the real server is removed and added again: its connections are dropped'),
  weight: hitless('re-weighted: new connections follow the weight, existing ones stay'),
};

export const realServerAdded = (): Verdict =>
  hitless('added to the pool: receives new connections once its checks pass');
export const realServerRemoved = (drainMs: number): Verdict =>
  drainMs > 0
    ? hitless(`drained: no new connections, open ones kept for ${drainMs / 1000} s (drainTime), then removed`)
    : disruptive('removed from the pool at once (drainTime 0s): connections to it are dropped');
export const realServerChanged = (fields: readonly FieldChange[]): Verdict =>
  combine(byField(REAL_SERVER_RULES, hitless('applied in place, connections kept'), fields));

export const checkChanged = (op: '+' | '-' | '~'): Verdict =>
  hitless(
    op === '-'
      ? 'health checking only: one check fewer'
      : 'health checking only: the real server stays in service unless the check fails',
  );

export const virtualServerGroupChanged = (removedMembers: readonly string[]): Verdict =>
  removedMembers.length > 0
    ? disruptive(`members removed (${removedMembers.join(', ')}): connections to them are dropped`)
    : hitless('members added: new addresses served');

// ---- the node itself --------------------------------------------------------------------

const NODE_RULES: Record<string, Verdict> = {
  dataplane: disruptive(
    'the load-balancing dataplane is rebuilt: connections tracked by the old one are dropped',
  ),
  routerId: hitless('a label in notifications and logs'),
};

export const nodeAdded = (): Verdict => hitless('a new node: it starts with nothing to disturb');
export const nodeRemoved = (): Verdict =>
  hitless('the node leaves the repository: what it runs is removed below');
export const nodeChanged = (fields: readonly FieldChange[]): Verdict =>
  combine(byField(NODE_RULES, hitless('applies to scripts started from now on'), fields));
