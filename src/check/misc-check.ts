import type { ScriptCommand } from '../track/argv.ts';
import { type RunResult, type ScriptRunner, spawnRunner } from '../track/run-script.ts';
import type { CheckOutcome, ProbeFn } from './check-types.ts';

// MISC_CHECK: run a script; exit 0 is up, 1 is down. With misc_dynamic an exit status of
// 2..255 is also up and asks for weight (status - 2), as keepalived's check_misc.c does. A
// script that outlives misc_timeout is killed (its whole process group) and counts as down.

export interface MiscSpec {
  command: ScriptCommand;
  dynamic?: boolean;
  /** The unprivileged identity to run as; unset runs as the agent. */
  runAs?: { uid: number; gid: number };
}

export function miscOutcome(
  r: RunResult,
  dynamic: boolean,
  timeoutMs: number,
  latencyMs: number,
): CheckOutcome {
  switch (r.kind) {
    case 'exit':
      if (r.code === 0) return { ok: true, latencyMs, detail: 'exit status 0' };
      if (dynamic && r.code >= 2 && r.code <= 255)
        return {
          ok: true,
          latencyMs,
          weight: r.code - 2,
          detail: `exit status ${r.code}: weight ${r.code - 2}`,
        };
      return { ok: false, latencyMs, reason: `exit status ${r.code}` };
    case 'signal':
      return { ok: false, latencyMs, reason: `killed by ${r.signal}` };
    case 'timeout':
      return { ok: false, latencyMs, reason: `timeout after ${timeoutMs} ms (misc timeout): killed` };
    case 'error':
      return { ok: false, latencyMs, reason: `could not run ${JSON.stringify(r.message)}` };
  }
}

export function createMiscProbe(runner: ScriptRunner = spawnRunner): ProbeFn<MiscSpec> {
  return async (spec, _target, ctx) => {
    const started = ctx.now();
    const r = await runner(spec.command, {
      timeoutMs: ctx.timeoutMs,
      ...(spec.runAs ? { runAs: spec.runAs } : {}),
    });
    return miscOutcome(r, Boolean(spec.dynamic), ctx.timeoutMs, ctx.now() - started);
  };
}

export const probeMisc: ProbeFn<MiscSpec> = createMiscProbe();
