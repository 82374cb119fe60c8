import { parseScript, type ScriptCommand } from '../track/argv.ts';
import type { RunAs } from '../track/run-as.ts';
import { describeResult, type RunResult, type ScriptRunner } from '../track/run-script.ts';

// keepalived's notify scripts. On a transition the state's own script (notify_master, _backup,
// _fault, _stop, _deleted) runs with its configured arguments only; then the generic `notify`
// runs with four more: "INSTANCE"|"GROUP", the name, the target state, the priority. keepalived
// forks them and never waits, so a hung script cannot delay an election; we do the same and
// bound each by a timeout so hung scripts do not pile up.

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';

export interface NotifyEvent {
  type: 'INSTANCE' | 'GROUP';
  name: string;
  state: NotifyState;
  priority: number;
}

/** The scripts as the model has them (ViewInstance.notify, a sync group's notify). */
export interface NotifyScripts {
  master?: string;
  backup?: string;
  fault?: string;
  stop?: string;
  deleted?: string;
  notify?: string;
}

const SPECIFIC: Record<NotifyState, keyof NotifyScripts> = {
  MASTER: 'master',
  BACKUP: 'backup',
  FAULT: 'fault',
  STOP: 'stop',
  DELETED: 'deleted',
};

export interface NotifyInvocation {
  script: keyof NotifyScripts;
  command: ScriptCommand;
}

/** What to run for one event, in keepalived's order; a script that does not parse is an error. */
export function notifyInvocations(
  scripts: NotifyScripts,
  ev: NotifyEvent,
): { invocations: NotifyInvocation[]; errors: string[] } {
  const invocations: NotifyInvocation[] = [];
  const errors: string[] = [];
  const specific = SPECIFIC[ev.state];
  const text = scripts[specific];
  if (text !== undefined) {
    const c = parseScript(text);
    if ('error' in c) errors.push(`notify.${specific}: ${c.error}`);
    else invocations.push({ script: specific, command: c });
  }
  if (scripts.notify !== undefined) {
    const c = parseScript(scripts.notify);
    if ('error' in c) errors.push(`notify.notify: ${c.error}`);
    else {
      const extra = [ev.type, ev.name, ev.state, String(ev.priority)];
      // A shell-syntax line gets the arguments as $1..$4 (sh -c TEXT sh ARGS...), as the line
      // would see them had keepalived appended them to its argv.
      const argv = c.shell ? [...c.argv, 'sh', ...extra] : [...c.argv, ...extra];
      invocations.push({ script: 'notify', command: { ...c, argv } });
    }
  }
  return { invocations, errors };
}

export interface NotifyLog {
  event: NotifyEvent;
  script: keyof NotifyScripts | 'config';
  /** The outcome, or the stream of a line of output. */
  kind: 'result' | 'stdout' | 'stderr' | 'error';
  text: string;
  result?: RunResult;
}

export interface RunNotifyOptions {
  runner: ScriptRunner;
  runAs?: RunAs;
  /** Per script; keepalived has none, we default to 10 s so that stuck scripts cannot accumulate. */
  timeoutMs?: number;
  log: (entry: NotifyLog) => void;
}

const DEFAULT_NOTIFY_TIMEOUT_MS = 10_000;

/**
 * Starts the event's scripts and returns at once. `done` settles (never rejects) when all have
 * finished: the agent ignores it; tests and a graceful shutdown await it.
 */
export function runNotify(
  scripts: NotifyScripts,
  ev: NotifyEvent,
  o: RunNotifyOptions,
): { done: Promise<{ script: keyof NotifyScripts; result: RunResult }[]> } {
  const { invocations, errors } = notifyInvocations(scripts, ev);
  for (const e of errors) o.log({ event: ev, script: 'config', kind: 'error', text: e });
  const runs = invocations.map(async ({ script, command }) => {
    let result: RunResult;
    try {
      result = await o.runner(command, {
        timeoutMs: o.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS,
        ...(o.runAs ? { runAs: o.runAs } : {}),
        onOutput: (stream, text) => o.log({ event: ev, script, kind: stream, text }),
      });
    } catch (e) {
      result = { kind: 'error', message: e instanceof Error ? e.message : String(e) };
    }
    o.log({ event: ev, script, kind: 'result', text: `${command.text}: ${describeResult(result)}`, result });
    return { script, result };
  });
  return { done: Promise.all(runs) };
}
