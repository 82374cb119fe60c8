import type { AgentStatus } from '../agent/run-agent.ts';
import type { LogEntry } from '../vrrp/instance-log.ts';
import { createRegistry, type Registry } from './metrics.ts';
import type { NodeStatus, ReconcileResult } from './node-status.ts';

// keepgit's metrics. Most are copied from snapshots at scrape time (adverts, drops, states,
// real servers: the agent counts them already); the rest are events nobody keeps a count of
// (transitions, check failures, reconciles), counted as they happen from the agent's log
// lines and the reconcile record, so that no layer below the API needs a metrics hook.

const STATES = ['Initialize', 'Backup', 'Master', 'Fault', 'Stopping'] as const;

export interface AgentMetrics {
  readonly registry: Registry;
  /** One reconcile ended (any result); its duration in milliseconds. */
  reconciled(result: ReconcileResult, durationMs: number): void;
  /** Every log entry of the agent passes here: transitions and check failures are counted. */
  observeLog(entry: LogEntry): void;
  /** One health-check attempt ended (for a caller that sees every attempt). */
  /** Sets the snapshot-based families; call with fresh snapshots before `registry.expose()`. */
  collect(agent: AgentStatus, node: NodeStatus): void;
}

export function createAgentMetrics(): AgentMetrics {
  const r = createRegistry();
  const reconcileTotal = r.counter('keepgit_reconcile_total', 'Reconciles by result.', ['result']);
  const reconcileDuration = r.histogram(
    'keepgit_reconcile_duration_seconds',
    'Time from the start of a reconcile to its result.',
  );
  const reconcileErrors = r.counter(
    'keepgit_reconcile_errors_total',
    'Reconciles that ended refused or failed.',
  );
  const drift = r.gauge('keepgit_drift_items', 'Live items that differ from the desired state now.');
  const transitions = r.counter('keepgit_vrrp_transitions_total', 'VRRP state changes by target state.', [
    'instance',
    'to',
  ]);
  const sent = r.counter('keepgit_vrrp_adverts_sent_total', 'VRRP adverts handed to the kernel.', [
    'instance',
  ]);
  const received = r.counter('keepgit_vrrp_adverts_received_total', 'VRRP adverts that passed every check.', [
    'instance',
  ]);
  const dropped = r.counter('keepgit_vrrp_adverts_dropped_total', 'VRRP adverts dropped, by reason.', [
    'instance',
    'reason',
  ]);
  const checks = r.counter(
    'keepgit_check_results_total',
    'Health-check attempts by result (success or failure).',
    ['virtual_server', 'real_server', 'result'],
  );
  const rsUp = r.gauge('keepgit_real_server_up', '1 when the real server passes its checks, else 0.', [
    'virtual_server',
    'real_server',
  ]);
  const state = r.gauge(
    'keepgit_instance_state',
    'VRRP state: 1 for the label of the current state, 0 for the others.',
    ['instance', 'state'],
  );

  return {
    registry: r,
    reconciled: (result, durationMs) => {
      reconcileTotal.inc({ result });
      reconcileDuration.observe({}, durationMs / 1000);
      if (result === 'refused' || result === 'failed') reconcileErrors.inc();
    },
    observeLog: (e) => {
      if (e.event === 'transition' && typeof e.instance === 'string' && typeof e.to === 'string')
        transitions.inc({ instance: e.instance, to: e.to });
    },
    collect: (agent, node) => {
      drift.set({}, node.drift.length);
      for (const f of [sent, received, dropped, rsUp, state, checks]) f.reset();
      // The checkers count their attempts; read at scrape time rather than counted per
      // attempt here (thousands a second).
      for (const rs of agent.loadBalancer?.realServers ?? []) {
        let ok = 0;
        let failed = 0;
        for (const c of rs.checks) {
          ok += c.succeeded;
          failed += c.failed;
        }
        const labels = { virtual_server: rs.virtualServer, real_server: rs.realServer };
        checks.set({ ...labels, result: 'success' }, ok);
        checks.set({ ...labels, result: 'failure' }, failed);
      }
      for (const i of agent.instances) {
        const t = i.counters.transport;
        sent.set({ instance: i.name }, t?.sent ?? 0);
        received.set({ instance: i.name }, t?.received ?? 0);
        const reasons: Record<string, number> = {};
        for (const [k, v] of Object.entries(t?.dropped ?? {})) reasons[k] = (reasons[k] ?? 0) + (v ?? 0);
        for (const [k, v] of Object.entries(i.counters.dropped)) reasons[k] = (reasons[k] ?? 0) + (v ?? 0);
        for (const [reason, v] of Object.entries(reasons)) dropped.set({ instance: i.name, reason }, v);
        for (const s of STATES) state.set({ instance: i.name, state: s }, i.state === s ? 1 : 0);
      }
      for (const vs of node.virtualServers)
        for (const rs of vs.realServers)
          rsUp.set({ virtual_server: vs.name, real_server: rs.name }, rs.up ? 1 : 0);
    },
  };
}
