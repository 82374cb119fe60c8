import { ipFamily } from '../model/ip.ts';
import type { NodeView, ViewCheck, ViewRealServer, ViewVirtualServer } from '../model/node-view.ts';
import type { ScheduledCheck, ScheduledRealServer } from './check-scheduler.ts';
import type { CheckTarget } from './check-types.ts';
import { type ProbeEnv, probeFor } from './probe-for.ts';

// The checks a node runs, as the scheduler takes them: one entry per (virtual server, real
// server) with its checks bound to their targets. A check's id is everything that shapes its
// attempts, so a revision that leaves a check as it was gives the same id and the scheduler
// leaves it running; any real change gives a new id and a fresh start.

export function checkTarget(check: ViewCheck, rs: ViewRealServer): CheckTarget {
  const s = check.spec as {
    connectIp?: string;
    connectPort?: number;
    bindTo?: string;
    bindPort?: number;
    bindIf?: string;
  };
  const address = s.connectIp ?? rs.address;
  return {
    address,
    port: s.connectPort ?? rs.port,
    family: ipFamily(address) ?? 4,
    ...(s.bindTo !== undefined ? { bindAddress: s.bindTo } : {}),
    ...(s.bindPort !== undefined ? { bindPort: s.bindPort } : {}),
    ...(s.bindIf !== undefined ? { bindInterface: s.bindIf } : {}),
  };
}

export function scheduledCheck(
  check: ViewCheck,
  vs: ViewVirtualServer,
  rs: ViewRealServer,
  env: ProbeEnv,
): ScheduledCheck {
  const target = checkTarget(check, rs);
  const bound = probeFor(check, { virtualServer: vs, realServer: rs }, env);
  const file = check.type === 'file';
  // keepalived's FILE_CHECK has no retries and no alpha: the file states the server's state.
  const timing = {
    timeoutMs: bound.timeoutMs,
    retry: file ? 0 : check.retry,
    delayBeforeRetryMs: check.delayBeforeRetryMs,
    delayLoopMs: check.delayLoopMs,
    warmupMs: check.warmupMs,
    alpha: file ? false : check.spec.alpha === true || vs.alpha,
  };
  const id = JSON.stringify({ type: check.type, target, ...timing, spec: bound.spec });
  return {
    id,
    kind: check.type,
    ...timing,
    ...(file ? { immediate: true } : {}),
    run: (ctx) => bound.run(target, ctx),
    ...(bound.watch ? { watch: bound.watch } : {}),
  };
}

/** Every checked real server of the node's virtual servers. */
export function scheduledServers(
  view: Pick<NodeView, 'virtualServers' | 'trackFiles'>,
  env: Omit<ProbeEnv, 'trackFiles'> = {},
): ScheduledRealServer[] {
  const full: ProbeEnv = { ...env, trackFiles: view.trackFiles };
  return view.virtualServers.flatMap((vs) =>
    vs.realServers.map((rs) => ({
      virtualServer: vs.key,
      realServer: rs.key,
      weight: rs.weight,
      checks: rs.checks.map((c) => scheduledCheck(c, vs, rs, full)),
    })),
  );
}
