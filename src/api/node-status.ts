import type { AgentStatus } from '../agent/run-agent.ts';
import type { LoadBalancerStatus } from '../agent/run-load-balancer.ts';
import type { CheckStatus, RealServerStatus } from '../check/check-scheduler.ts';
import { type ConditionInput, computeConditions, mergeConditions } from './conditions.ts';

// The document GET /status serves: one node, everything an operator asks first — which
// revision runs and which was refused, is it Ready, who is master, what drifted, which real
// servers are up. Built by a pure function from the agent's own snapshot and the record the
// reconcile loop keeps, so the API never reaches into a running instance.
//
// Nothing secret is in here by construction: VRRP passwords never leave the instance, source
// URLs lose their user information and query, and health checks appear by kind only (a
// check's identity can hold a MISC_CHECK command line).

export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  /** One CamelCase word, stable for alerts: Converged, InstanceFault, RevisionRefused ... */
  reason: string;
  message: string;
  /** When `status` last changed (ISO 8601); a new reason or message alone does not move it. */
  lastTransitionTime: string;
}

export interface SourceStatus {
  /** Where revisions come from: "dir" (a directory, SIGHUP), "git", ... */
  kind: string;
  /** Without credentials or query: safe to show anyone who can read /status. */
  url: string;
  /** The branch or tag followed; null for a directory. */
  ref: string | null;
  lastFetchAt: string | null;
  lastError?: string;
}

export interface Refusal {
  rev: string;
  reason: string;
  at: string;
}

export interface RevisionStatus {
  /** The newest revision the source offered; null before the source has said anything. */
  desired: string | null;
  /** The revision the node runs now. */
  applied: string;
  /** The last revision applied and verified: what a failed revision rolls back to. */
  lastGood: string | null;
  /** The last revision an apply was attempted for, whatever the outcome. */
  lastAttemptedRevision: string | null;
  /** The last revision whose apply succeeded. */
  lastAppliedRevision: string | null;
  /** Refused revisions, newest first (at most REFUSED_KEPT). */
  refused: Refusal[];
}

export interface InstanceSummary {
  name: string;
  vrid: number;
  interface: string;
  /** Initialize | Backup | Master | Fault | Stopping. */
  state: string;
  priority: number;
  effectivePriority: number;
  /** "self" while this node is master, the master's address when heard, null when unknown. */
  master: string | null;
  since: string;
  vips: string[];
  faults: string[];
}

export interface CheckResult {
  kind: string;
  ok: boolean;
  /** Why it failed ("connect ECONNREFUSED"); absent on success. */
  reason?: string;
  latencyMs: number;
  /** When the attempt ended; null when the status does not say. */
  at: string | null;
}

export interface RealServerSummary {
  /** ADDRESS:PORT, as in the repository. */
  name: string;
  up: boolean;
  since: string;
  weight: number;
  /** The newest attempt of any of its checks; null before the first. */
  lastCheck: CheckResult | null;
}

export interface VirtualServerSummary {
  name: string;
  /** Quorum reached; null when the reconciler has not computed it yet. */
  up: boolean | null;
  sorryActive: boolean;
  realServersUp: number;
  realServersTotal: number;
  realServers: RealServerSummary[];
}

export interface DriftItem {
  /** What kind of thing drifted: vip-missing, vip-unexpected, dataplane, split-brain (docs/drift.md). */
  kind: string;
  /** Which one: "instance web4 VIP 192.0.2.100/24", "service www", "instance web4 VRID 51". */
  subject: string;
  expected: string;
  actual: string;
  since: string;
}

export type ReconcileResult = 'applied' | 'unchanged' | 'refused' | 'failed';

export interface ReconcileSummary {
  revision: string;
  startedAt: string;
  durationMs: number;
  result: ReconcileResult;
  message?: string;
}

/** The load balancer's own report, for debugging: check identities removed (see top). */
export type LoadBalancerDetail = Omit<LoadBalancerStatus, 'realServers'> & {
  realServers: (Omit<RealServerStatus, 'checks'> & { checks: Omit<CheckStatus, 'id'>[] })[];
};

export interface NodeStatus {
  node: string;
  startedAt: string;
  source: SourceStatus;
  revision: RevisionStatus;
  conditions: Condition[];
  instances: InstanceSummary[];
  virtualServers: VirtualServerSummary[];
  drift: DriftItem[];
  lastReconcile: ReconcileSummary | null;
  loadBalancer?: LoadBalancerDetail;
  ipv6HopLimitCheck?: { installed: boolean; message?: string };
}

/** What the reconcile loop knows beyond the agent's snapshot. */
export interface ReconcileRecord {
  source: SourceStatus;
  desired: string | null;
  lastGood: string | null;
  lastAttemptedRevision: string | null;
  lastAppliedRevision: string | null;
  refused: readonly Refusal[];
  /** An apply is under way right now. */
  reconciling: boolean;
  lastReconcile: ReconcileSummary | null;
  drift: readonly DriftItem[];
}

export interface NodeStatusInput {
  agent: AgentStatus;
  record: ReconcileRecord;
  /** Each instance's VIPs (from the node's view: the instance does not report them). */
  vips?: Readonly<Record<string, readonly string[]>>;
  /** Wall time now, ISO 8601: the transition time of conditions that change now. */
  now: string;
  /** The previous document's conditions, so unchanged ones keep their transition time. */
  previous?: readonly Condition[];
}

export const REFUSED_KEPT = 10;

export function buildNodeStatus(input: NodeStatusInput): NodeStatus {
  const { agent, record } = input;
  const base: Omit<NodeStatus, 'conditions'> = {
    node: agent.node,
    startedAt: agent.startedAt,
    source: { ...record.source, url: redactUrl(record.source.url) },
    revision: {
      desired: record.desired,
      applied: agent.revision,
      lastGood: record.lastGood,
      lastAttemptedRevision: record.lastAttemptedRevision,
      lastAppliedRevision: record.lastAppliedRevision,
      refused: record.refused.slice(0, REFUSED_KEPT).map((r) => ({ ...r })),
    },
    instances: agent.instances.map((i) => ({
      name: i.name,
      vrid: i.vrid,
      interface: i.interface,
      state: i.state,
      priority: i.priority,
      effectivePriority: i.effectivePriority,
      master: i.master,
      since: i.since,
      vips: [...(input.vips?.[i.name] ?? [])],
      faults: [...i.faults],
    })),
    virtualServers: agent.loadBalancer ? virtualServers(agent.loadBalancer) : [],
    drift: record.drift.map((d) => ({ ...d })),
    lastReconcile: record.lastReconcile ? { ...record.lastReconcile } : null,
    ...(agent.loadBalancer ? { loadBalancer: loadBalancerDetail(agent.loadBalancer) } : {}),
    ...(agent.ipv6HopLimitCheck ? { ipv6HopLimitCheck: { ...agent.ipv6HopLimitCheck } } : {}),
  };
  const computed: ConditionInput[] = computeConditions(base, record.reconciling);
  return { ...base, conditions: mergeConditions(input.previous ?? [], computed, input.now) };
}

function virtualServers(lb: LoadBalancerStatus): VirtualServerSummary[] {
  const byVs = new Map<string, RealServerStatus[]>();
  for (const rs of lb.realServers) byVs.set(rs.virtualServer, [...(byVs.get(rs.virtualServer) ?? []), rs]);
  const states = new Map(lb.virtualServers.map((v) => [v.key, v]));
  // Every virtual server the reconciler knows, then any only the checks know (none, normally).
  const names = [...new Set([...states.keys(), ...byVs.keys()])];
  return names.map((name) => {
    const servers = (byVs.get(name) ?? []).map(realServer);
    const state = states.get(name);
    return {
      name,
      up: state ? state.up : null,
      sorryActive: state?.sorryActive ?? false,
      realServersUp: servers.filter((s) => s.up).length,
      realServersTotal: servers.length,
      realServers: servers,
    };
  });
}

function realServer(rs: RealServerStatus): RealServerSummary {
  let newest: CheckStatus | undefined;
  for (const c of rs.checks)
    if (c.last && (newest === undefined || (c.lastAt ?? 0) > (newest.lastAt ?? 0))) newest = c;
  const last = newest?.last;
  return {
    name: rs.realServer,
    up: rs.up,
    since: isoTime(rs.since),
    weight: rs.weight,
    lastCheck:
      newest && last
        ? {
            kind: newest.kind,
            ok: last.ok,
            ...(last.ok ? {} : { reason: last.reason }),
            latencyMs: last.latencyMs,
            at: newest.lastAt !== undefined ? isoTime(newest.lastAt) : null,
          }
        : null,
  };
}

function loadBalancerDetail(lb: LoadBalancerStatus): LoadBalancerDetail {
  return {
    ...lb,
    realServers: lb.realServers.map((rs) => ({
      ...rs,
      checks: rs.checks.map(({ id: _id, ...c }) => c),
    })),
  };
}

const isoTime = (ms: number): string => new Date(ms).toISOString();

/**
 * A URL fit for anyone who can read /status: user information and query dropped (tokens live
 * there), anything that is not a URL (a directory) left as it is.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString();
}
