import type { AgentStatus, RevisionOutcome } from '../agent/run-agent.ts';
import type { LogEntry } from '../vrrp/instance-log.ts';
import { type AgentMetrics, createAgentMetrics } from './agent-metrics.ts';
import {
  buildNodeStatus,
  type Condition,
  type DriftItem,
  type NodeStatus,
  REFUSED_KEPT,
  type ReconcileRecord,
  type Refusal,
  type SourceStatus,
} from './node-status.ts';
import type { StatusSource } from './status-app.ts';

// The API's view of a running agent: its snapshot, plus the reconcile record that the code
// driving revisions (SIGHUP today, the Git loop later) keeps here by calling `reconcile`.
// This is where the document's memory lives — refused revisions, the last good one,
// condition transition times — so that the builder stays a pure function.

export interface AgentStatusSourceOptions {
  agent: { status(): AgentStatus };
  /** The source as it stands; a function is asked at every snapshot (a poller's last error). */
  source: SourceStatus | (() => SourceStatus);
  /** Each instance's VIPs, from the view running now. */
  vips?: () => Readonly<Record<string, readonly string[]>>;
  /** Live items that differ from the desired state (none until drift detection reports). */
  drift?: () => readonly DriftItem[];
  wallClock?: () => number;
  /** Made before the agent starts when its log must be counted from the first line. */
  metrics?: AgentMetrics;
}

export interface AgentStatusSource extends StatusSource {
  readonly metrics: () => string;
  /** Runs one apply of `revision`, recording it (timing, outcome, refusal) for status and metrics. */
  reconcile(revision: string, apply: () => Promise<RevisionOutcome>): Promise<RevisionOutcome>;
  /** A revision refused before any apply (it did not pass the gate). */
  refuse(revision: string, reason: string): void;
  /** The source's own report: last fetch and error. */
  sourceChanged(source: Partial<SourceStatus> & { lastError?: string | undefined }): void;
  /** Pass every log entry of the agent here (VRRP transitions, check failures are counted). */
  observeLog(entry: LogEntry): void;
  readonly agentMetrics: AgentMetrics;
}

export function agentStatusSource(o: AgentStatusSourceOptions): AgentStatusSource {
  const wall = o.wallClock ?? Date.now;
  const iso = () => new Date(wall()).toISOString();
  const running = o.agent.status().revision;
  const metrics = o.metrics ?? createAgentMetrics();
  const live = typeof o.source === 'function' ? o.source : undefined;
  let source: SourceStatus = { ...(typeof o.source === 'function' ? o.source() : o.source) };
  // The agent started from this revision: it passed the gate and every instance started.
  const record: Omit<ReconcileRecord, 'source' | 'drift'> & { refused: Refusal[] } = {
    desired: running,
    lastGood: running,
    lastAttemptedRevision: running,
    lastAppliedRevision: running,
    refused: [],
    reconciling: false,
    lastReconcile: null,
  };
  const addRefusal = (rev: string, reason: string, at: string) => {
    record.refused = [{ rev, reason, at }, ...record.refused].slice(0, REFUSED_KEPT);
  };

  let lastConditions: readonly Condition[] = [];
  const snapshot = (): { agent: AgentStatus; node: NodeStatus } => {
    const agent = o.agent.status();
    const node = buildNodeStatus({
      agent,
      record: { ...record, source: live ? live() : source, drift: o.drift?.() ?? [] },
      ...(o.vips ? { vips: o.vips() } : {}),
      now: iso(),
      // Transition times live across documents: each one starts from the previous.
      previous: lastConditions,
    });
    lastConditions = node.conditions;
    return { agent, node };
  };

  return {
    agentMetrics: metrics,
    status: () => snapshot().node,
    metrics: () => {
      const s = snapshot();
      metrics.collect(s.agent, s.node);
      return metrics.registry.expose();
    },
    reconcile: async (revision, apply) => {
      const started = wall();
      const startedAt = new Date(started).toISOString();
      record.desired = revision;
      record.lastAttemptedRevision = revision;
      record.reconciling = true;
      let outcome: RevisionOutcome;
      try {
        outcome = await apply();
      } catch (e) {
        outcome = { applied: false, revision, reason: e instanceof Error ? e.message : String(e) };
        record.reconciling = false;
        const durationMs = wall() - started;
        record.lastReconcile = { revision, startedAt, durationMs, result: 'failed', message: outcome.reason };
        metrics.reconciled('failed', durationMs);
        throw e;
      }
      record.reconciling = false;
      const durationMs = wall() - started;
      if (outcome.applied) {
        record.lastAppliedRevision = revision;
        // No verification stage yet: an apply that succeeded is the last good one.
        record.lastGood = revision;
        record.lastReconcile = { revision, startedAt, durationMs, result: 'applied' };
        metrics.reconciled('applied', durationMs);
      } else {
        addRefusal(revision, outcome.reason, iso());
        record.lastReconcile = {
          revision,
          startedAt,
          durationMs,
          result: 'refused',
          message: outcome.reason,
        };
        metrics.reconciled('refused', durationMs);
      }
      return outcome;
    },
    refuse: (revision, reason) => {
      const at = iso();
      record.desired = revision;
      record.lastAttemptedRevision = revision;
      addRefusal(revision, reason, at);
      record.lastReconcile = { revision, startedAt: at, durationMs: 0, result: 'refused', message: reason };
      metrics.reconciled('refused', 0);
    },
    sourceChanged: (s) => {
      const { lastError, ...rest } = s;
      source = { ...source, ...rest };
      if (lastError === undefined) delete source.lastError;
      else source.lastError = lastError;
    },
    observeLog: (e) => metrics.observeLog(e),
  };
}
