// What `keepgit plan` tells a reviewer: per node, what a revision adds, removes and
// changes, and which of those changes disturb traffic. Plain data, so the same value
// prints as text, as Markdown for a pull request, or as JSON for a bot.

export type ChangeOp = '+' | '-' | '~';

export type ChangeKind =
  | 'node'
  | 'instance'
  | 'vip'
  | 'excludedVip'
  | 'syncGroup'
  | 'script'
  | 'trackProcess'
  | 'trackFile'
  | 'virtualServerGroup'
  | 'virtualServer'
  | 'realServer'
  | 'check';

export interface FieldChange {
  /** Field as a person writes it in the repository, e.g. "priority", "garp.masterDelay". */
  field: string;
  /** Value as written ("1s", "wrr"); null when the field was not set on that side. */
  from: string | null;
  to: string | null;
}

export interface Change {
  op: ChangeOp;
  kind: ChangeKind;
  /** What changed, for a person: "instance www-http", "vip 203.0.113.10/32 on www-http". */
  target: string;
  fields?: FieldChange[];
  /** True when applying it can cause a re-election or drop a VIP or connections. */
  disruptive: boolean;
  /** Why it is disruptive, or why it is not. */
  reason?: string;
}

export type NodeStatus = 'added' | 'removed' | 'changed' | 'unchanged';

export interface NodePlan {
  node: string;
  status: NodeStatus;
  changes: Change[];
}

export interface Plan {
  nodes: NodePlan[];
}

export interface PlanSummary {
  nodes: number;
  changes: number;
  disruptive: number;
}

export function summarize(nodes: readonly NodePlan[]): PlanSummary {
  const changes = nodes.flatMap((n) => n.changes);
  return {
    nodes: nodes.length,
    changes: changes.length,
    disruptive: changes.filter((c) => c.disruptive).length,
  };
}
