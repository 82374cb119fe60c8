import { type CheckFact, CheckScheduler, type RealServerStatus } from '../check/check-scheduler.ts';
import { checkSockets } from '../check/native-sockets.ts';
import type { ProbeEnv } from '../check/probe-for.ts';
import { scheduledServers } from '../check/real-server-checks.ts';
import type { Dataplane, DataplaneContent, DataplaneKind } from '../drivers/dataplane/dataplane.ts';
import { selectDataplane } from '../drivers/dataplane/select-dataplane.ts';
import { readSysctl } from '../drivers/sysctl/read-sysctl.ts';
import type { VirtualServer } from '../model/cluster-schema.ts';
import { unsupportedOn } from '../model/dataplane-support.ts';
import type { NodeView, ViewVirtualServer } from '../model/node-view.ts';
import { factKey, type RealServerFact } from '../plan/dataplane-desired.ts';
import { LbReconciler, type LbStatus } from '../reconcile/lb-reconciler.ts';
import { parseScript } from '../track/argv.ts';
import type { RunAs } from '../track/run-as.ts';
import { describeResult, type ScriptRunner, succeeded } from '../track/run-script.ts';
import type { Log } from '../vrrp/instance-log.ts';
import type { Clock, Timers } from '../vrrp/instance-timers.ts';

// The agent's load-balancing half: the dataplane this node's kernel offers (IPVS when it has
// it, else nftables, or what the repository pins), the health checks of every real server,
// and the reconciler that turns their facts into the dataplane's content. Checks never touch
// the kernel: they change facts, the reconciler applies. VRRP does not wait on any of it.

export interface LoadBalancerDeps {
  dataplanes: { ipvs: Dataplane; nftables: Dataplane };
  clock: Clock;
  timers: Timers;
  log: Log;
  wallClock?: () => number;
  runner: ScriptRunner;
  /** Who notify_up/down and quorum_up/down scripts run as. */
  scriptRunAs?: RunAs;
  probeEnv?: Omit<ProbeEnv, 'trackFiles'>;
  /** Reads a /proc/sys file (default: the real one); undefined when it cannot be read. */
  readSysctl?: (path: string) => string | undefined;
}

export interface LoadBalancerStatus extends LbStatus {
  /** Why this dataplane: "auto: kernel has no IPVS, using nftables". */
  dataplaneReason: string;
  /** What on the node keeps the services from working (forwarding off). */
  warnings: string[];
  realServers: RealServerStatus[];
}

export interface LoadBalancer {
  status(): LoadBalancerStatus;
  /**
   * A revision's virtual servers, applied without a restart: unchanged checks keep running,
   * added real servers join once checked, removed ones drain. Refused (nothing changes) when
   * the chosen dataplane cannot run it or the revision pins another dataplane. `kernel`: the
   * view was taken but the kernel refused its content (the dataplane keeps what it held): the
   * caller applies the previous view again to take it back, with `rollback` (real servers
   * the revision added leave at once instead of draining).
   */
  applyView(
    view: NodeView,
    docs: readonly VirtualServer[],
    opts?: { rollback?: boolean },
  ): Promise<{ ok: true } | { ok: false; message: string; kernel?: true }>;
  /** Stops the checks; with `clear`, removes what keepgit put in the dataplane. */
  stop(opts: { clear: boolean }): Promise<void>;
  /**
   * What the reconciler last applied beside what the kernel holds now, for drift; undefined
   * when there is no answer now (no apply succeeded yet, or one ran during the read).
   * Rejects when the dataplane cannot be read.
   */
  observe(): Promise<DataplaneObservation | undefined>;
  /** Applies the desired content again: drift healing. */
  reapply(): Promise<void>;
}

export interface DataplaneObservation {
  kind: DataplaneKind;
  desired: DataplaneContent;
  live: DataplaneContent;
}

export type LoadBalancerResult = { ok: true; lb: LoadBalancer | undefined } | { ok: false; message: string };

const SCRIPT_TIMEOUT_MS = 10_000;

/** Starts load balancing for the view's virtual servers; none → nothing to start. */
export async function startLoadBalancer(
  view: NodeView,
  docs: readonly VirtualServer[],
  deps: LoadBalancerDeps,
): Promise<LoadBalancerResult> {
  if (view.virtualServers.length === 0) return { ok: true, lb: undefined };
  const chosen = await selectDataplane(view.dataplane, deps.dataplanes);
  if (!chosen.ok) return { ok: false, message: chosen.message };
  const kind = chosen.dataplane.kind;
  const refused = refusalsFor(kind, chosen.reason, docs);
  if (refused !== undefined) return { ok: false, message: refused };
  deps.log({
    level: 'info',
    event: 'dataplane-selected',
    reason: chosen.reason,
    kind: chosen.dataplane.kind,
  });

  const sockets = checkSockets();
  deps.log(
    sockets.native
      ? { level: 'info', event: 'check-sockets', message: 'health checks use the native TCP probe' }
      : {
          level: 'warn',
          event: 'check-sockets',
          message: `health checks use Node's sockets: ${sockets.why}`,
        },
  );

  const warnings = forwardingWarnings(view, deps.readSysctl ?? readSysctl);
  for (const message of warnings) deps.log({ level: 'warn', event: 'forwarding-off', message });

  const reconciler = new LbReconciler({
    dataplane: chosen.dataplane,
    view,
    clock: deps.clock,
    timers: deps.timers,
    log: deps.log,
    ...(deps.wallClock ? { wallClock: deps.wallClock } : {}),
    onQuorum: (key, up) => {
      const vs = view.virtualServers.find((v) => v.key === key);
      const script = up ? vs?.quorum?.up : vs?.quorum?.down;
      if (script) runLbScript(script, `quorum_${up ? 'up' : 'down'} of ${key}`, deps);
    },
  });
  const facts = new Map<string, RealServerFact>();
  let started = false;
  const onFact = (f: CheckFact) => {
    facts.set(factKey(f.virtualServer, f.realServer), { up: f.up, weight: f.weight });
    deps.log({
      level: f.up ? 'info' : 'warn',
      event: f.up ? 'real-server-up' : 'real-server-down',
      reason: f.virtualServer,
      address: f.realServer,
      weight: f.weight,
      message: f.last ? (f.last.ok ? f.last.detail : f.last.reason) : undefined,
    });
    const rs = view.virtualServers
      .find((v) => v.key === f.virtualServer)
      ?.realServers.find((r) => r.key === f.realServer);
    const script = f.up ? rs?.notifyUp : rs?.notifyDown;
    if (script) runLbScript(script, `notify_${f.up ? 'up' : 'down'} of ${f.realServer}`, deps);
    if (started) void reconciler.factsChanged(new Map(facts));
  };
  const scheduler = new CheckScheduler({
    timers: deps.timers,
    clock: deps.clock,
    ...(deps.wallClock ? { wallClock: deps.wallClock } : {}),
    onFact,
    log: (e) =>
      deps.log({
        level: e.event === 'check-failed' ? 'debug' : 'info',
        event: e.event,
        reason: e.virtualServer,
        address: e.realServer,
        check: e.kind,
        ...(e.event === 'check-failed' ? { message: `${e.reason} (${e.outcome})` } : {}),
      }),
  });
  let current = view;
  scheduler.update(scheduledServers(view, deps.probeEnv));
  await reconciler.start(new Map(facts));
  started = true;
  const first = reconciler.status().lastApply;
  if (first && !first.ok) {
    scheduler.stop();
    await reconciler.stop({ clear: false });
    return {
      ok: false,
      message: `the ${chosen.dataplane.kind} dataplane refused the first apply: ${first.error}`,
    };
  }
  // Facts that arrived during the first apply.
  void reconciler.factsChanged(new Map(facts));

  return {
    ok: true,
    lb: {
      status: () => ({
        ...reconciler.status(),
        dataplaneReason: chosen.reason,
        warnings,
        realServers: scheduler.snapshot(),
      }),
      applyView: async (next, nextDocs, opts = {}) => {
        if (next.dataplane !== current.dataplane)
          return {
            ok: false,
            message: `the revision changes dataplane from ${current.dataplane} to ${next.dataplane}: that takes a restart of the agent`,
          };
        const why = refusalsFor(kind, chosen.reason, nextDocs);
        if (why !== undefined) return { ok: false, message: why };
        current = next;
        scheduler.update(scheduledServers(next, deps.probeEnv));
        await reconciler.setView(next, { drain: opts.rollback !== true });
        const last = reconciler.status().lastApply;
        if (last !== undefined && !last.ok)
          return { ok: false, kernel: true, message: `the ${kind} dataplane refused it: ${last.error}` };
        return { ok: true };
      },
      observe: async () => {
        const desired = reconciler.appliedContent();
        if (desired === undefined) return undefined;
        const live = await chosen.dataplane.read();
        // An apply that ran meanwhile may have changed either side.
        if (reconciler.appliedContent() !== desired) return undefined;
        return { kind, desired, live };
      },
      reapply: () => reconciler.reapply(),
      stop: async (opts) => {
        const before = scheduler.snapshot();
        scheduler.stop();
        await reconciler.stop(opts);
        // omega: on a graceful stop, the down notifiers run as if everything went down.
        if (opts.clear) for (const vs of current.virtualServers) if (vs.omega) omegaScripts(vs, before, deps);
      },
    },
  };
}

/** notify_up/down and quorum_up/down: keepalived runs them without extra arguments and never waits. */
function runLbScript(text: string, what: string, deps: LoadBalancerDeps): void {
  const command = parseScript(text);
  if ('error' in command) {
    deps.log({ level: 'error', event: 'notify', reason: what, message: command.error });
    return;
  }
  deps
    .runner(command, {
      timeoutMs: SCRIPT_TIMEOUT_MS,
      ...(deps.scriptRunAs ? { runAs: deps.scriptRunAs } : {}),
    })
    .then(
      (r) =>
        deps.log({
          level: succeeded(r) ? 'info' : 'warn',
          event: 'notify',
          reason: what,
          message: `${command.text}: ${describeResult(r)}`,
        }),
      (e: unknown) =>
        deps.log({
          level: 'error',
          event: 'notify',
          reason: what,
          message: e instanceof Error ? e.message : String(e),
        }),
    );
}

/**
 * NAT forwarding needs the kernel to forward: keepalived leaves the sysctl to the operator,
 * and so do we, but a node that would silently drop every balanced connection says so.
 */
function forwardingWarnings(view: NodeView, read: (path: string) => string | undefined): string[] {
  const families = new Set<4 | 6>();
  for (const vs of view.virtualServers)
    if (vs.realServers.some((r) => r.forwarding === 'nat') || vs.sorryServer)
      families.add(vs.address?.includes(':') || vs.family === 6 ? 6 : 4);
  const out: string[] = [];
  const sysctl = { 4: 'net.ipv4.ip_forward', 6: 'net.ipv6.conf.all.forwarding' } as const;
  for (const f of [...families].sort()) {
    const name = sysctl[f];
    if (read(`/proc/sys/${name.replaceAll('.', '/')}`) === '0')
      out.push(
        `${name} is 0: connections to the IPv${f} virtual servers are translated but not forwarded; set it to 1 (sysctl -w ${name}=1, and in /etc/sysctl.d/ to keep it)`,
      );
  }
  return out;
}

/** What the chosen dataplane cannot run of these virtual servers, as one message; undefined if all can run. */
function refusalsFor(
  kind: 'nftables' | 'ipvs',
  reason: string,
  docs: readonly VirtualServer[],
): string | undefined {
  const refusals = docs.flatMap((vs) =>
    unsupportedOn(kind, vs).map((u) => `virtual server ${vs.name ?? vs.address ?? vs.fwmark}: ${u.message}`),
  );
  if (refusals.length === 0) return undefined;
  const needs = kind === 'nftables' ? 'IPVS' : 'nftables';
  return `${reason}, and this revision needs ${needs}:\n  ${refusals.join('\n  ')}`;
}

/** keepalived's omega: at shutdown, notify_down of each live real server and the quorum_down script. */
function omegaScripts(
  vs: ViewVirtualServer,
  states: readonly RealServerStatus[],
  deps: LoadBalancerDeps,
): void {
  for (const rs of vs.realServers) {
    const live = states.find((s) => s.virtualServer === vs.key && s.realServer === rs.key)?.up ?? true;
    if (live && rs.notifyDown) runLbScript(rs.notifyDown, `notify_down of ${rs.key} (omega)`, deps);
  }
  if (vs.quorum?.down) runLbScript(vs.quorum.down, `quorum_down of ${vs.key} (omega)`, deps);
}
