import type { Condition, ConditionType, NodeStatus } from './node-status.ts';

// The three conditions of a node, Kubernetes-style, so that alerting and `keepgit status`
// read one word instead of the whole document:
//   Ready        the node runs the desired revision, every instance is out of Initialize
//                and not in Fault, the dataplane took the last apply, nothing drifted;
//   Reconciling  an apply is under way or a newer revision waits for one;
//   Stalled      progress needs a person: the desired revision was refused, the source
//                cannot be read, or the last reconcile failed.
// The first reason that applies wins; the order is the order below (most fundamental first).

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

type Facts = Omit<NodeStatus, 'conditions'>;

export function computeConditions(s: Facts, reconciling: boolean): ConditionInput[] {
  return [ready(s), reconcilingCondition(s, reconciling), stalled(s)];
}

function refusalOfDesired(s: Facts) {
  const d = s.revision.desired;
  if (d === null || d === s.revision.applied) return undefined;
  return s.revision.refused.find((r) => r.rev === d);
}

function ready(s: Facts): ConditionInput {
  const no = (reason: string, message: string): ConditionInput => ({
    type: 'Ready',
    status: 'False',
    reason,
    message,
  });
  const starting = s.instances.filter((i) => i.state === 'Initialize');
  if (starting.length > 0)
    return no('InstanceStarting', `${names(starting)} still in Initialize: not yet taking part in VRRP`);
  const stopping = s.instances.filter((i) => i.state === 'Stopping');
  if (stopping.length > 0) return no('Stopping', `${names(stopping)} stopping: the agent is shutting down`);
  const faulty = s.instances.filter((i) => i.state === 'Fault');
  if (faulty.length > 0)
    return no(
      'InstanceFault',
      faulty.map((i) => `${i.name} in Fault (${i.faults.join(', ') || 'no reason given'})`).join('; '),
    );
  const apply = s.loadBalancer?.lastApply;
  if (apply && !apply.ok)
    return no(
      'DataplaneError',
      `the ${s.loadBalancer?.dataplane ?? ''} dataplane refused the last apply: ${apply.error ?? 'no detail'}`,
    );
  const refused = refusalOfDesired(s);
  if (refused)
    return no(
      'RevisionRefused',
      `desired revision ${refused.rev} was refused (${refused.reason}); running ${s.revision.applied}`,
    );
  if (s.drift.length > 0)
    return no(
      'Drifted',
      `${s.drift.length} live item(s) differ from the desired state: ${s.drift
        .slice(0, 3)
        .map((d) => `${d.kind} ${d.subject}`)
        .join(', ')}${s.drift.length > 3 ? ', ...' : ''}`,
    );
  if (s.revision.desired !== null && s.revision.desired !== s.revision.applied)
    return no('RevisionPending', `desired revision ${s.revision.desired} is not applied yet`);
  const masters = s.instances.filter((i) => i.state === 'Master').length;
  return {
    type: 'Ready',
    status: 'True',
    reason: 'Converged',
    message: `running revision ${s.revision.applied}; ${s.instances.length} instance(s), ${masters} as master`,
  };
}

function reconcilingCondition(s: Facts, reconciling: boolean): ConditionInput {
  const c = (status: 'True' | 'False', reason: string, message: string): ConditionInput => ({
    type: 'Reconciling',
    status,
    reason,
    message,
  });
  if (reconciling) return c('True', 'Progressing', 'an apply is under way');
  const d = s.revision.desired;
  // A failed revision is not retried until a new one arrives: nothing is in progress.
  if (s.lastReconcile?.result === 'failed' && s.lastReconcile.revision === d)
    return c('False', 'Failed', `applying ${d} failed; waiting for a new revision`);
  if (d !== null && d !== s.revision.applied && !refusalOfDesired(s))
    return c('True', 'RevisionPending', `revision ${d} waits to be applied`);
  return c('False', 'Idle', 'nothing to apply');
}

function stalled(s: Facts): ConditionInput {
  const yes = (reason: string, message: string): ConditionInput => ({
    type: 'Stalled',
    status: 'True',
    reason,
    message,
  });
  const refused = refusalOfDesired(s);
  if (refused)
    return yes(
      'RevisionRefused',
      `revision ${refused.rev} was refused: ${refused.reason}; it is not retried until a new revision arrives`,
    );
  if (s.source.lastError !== undefined)
    return yes('SourceError', `cannot read ${s.source.url}: ${s.source.lastError}`);
  if (s.lastReconcile?.result === 'failed')
    return yes(
      'ReconcileFailed',
      `reconciling ${s.lastReconcile.revision} failed${s.lastReconcile.message ? `: ${s.lastReconcile.message}` : ''}`,
    );
  return { type: 'Stalled', status: 'False', reason: 'Healthy', message: 'no problem needs a person' };
}

const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name).join(', ');

/**
 * The new conditions with their transition times: a condition whose status is what it was
 * keeps its time (its reason and message may still change); any other starts now.
 */
export function mergeConditions(
  previous: readonly Condition[],
  next: readonly ConditionInput[],
  now: string,
): Condition[] {
  const before = new Map<ConditionType, Condition>(previous.map((c) => [c.type, c]));
  return next.map((c) => {
    const was = before.get(c.type);
    return { ...c, lastTransitionTime: was && was.status === c.status ? was.lastTransitionTime : now };
  });
}

/** Remembers the last conditions, so that each new document carries the right transition times. */
export function createConditionTracker(): {
  update(next: readonly ConditionInput[], now: string): Condition[];
  current(): readonly Condition[];
} {
  let last: Condition[] = [];
  return {
    update: (next, now) => {
      last = mergeConditions(last, next, now);
      return last;
    },
    current: () => last,
  };
}
