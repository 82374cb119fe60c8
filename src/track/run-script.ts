import { spawn } from 'node:child_process';
import type { ScriptCommand } from './argv.ts';
import type { RunAs } from './run-as.ts';

// Running one script once, for track scripts and notify scripts alike. The real runner does
// what keepalived's system_call_script does: a process group of its own (so a timeout kills the
// script's children too), the configured uid/gid, loader overrides dropped from the environment,
// SIGTERM at the timeout and SIGKILL a grace period later.

export type RunResult =
  | { kind: 'exit'; code: number }
  | { kind: 'signal'; signal: string }
  | { kind: 'timeout' }
  | { kind: 'error'; message: string };

export interface RunOptions {
  timeoutMs: number;
  runAs?: Pick<RunAs, 'uid' | 'gid'>;
  /** Between SIGTERM and SIGKILL; keepalived waits 2 s. */
  killGraceMs?: number;
  /** Called with each chunk of stdout/stderr (already decoded as UTF-8). */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
}

export type ScriptRunner = (cmd: ScriptCommand, opts: RunOptions) => Promise<RunResult>;

export const succeeded = (r: RunResult): boolean => r.kind === 'exit' && r.code === 0;

export function describeResult(r: RunResult): string {
  switch (r.kind) {
    case 'exit':
      return r.code === 0 ? 'succeeded' : `failed (exit status ${r.code})`;
    case 'signal':
      return `failed (killed by ${r.signal})`;
    case 'timeout':
      return 'timed out';
    case 'error':
      return `could not run: ${r.message}`;
  }
}

const DEFAULT_KILL_GRACE_MS = 2000;
/** Output a script may leave in memory; a chatty script must not grow the agent. */
const MAX_OUTPUT_CHARS = 64 * 1024;

function scriptEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // keepalived drops these before exec: they would let whoever sets the agent's environment
  // inject code into a script run as another user.
  delete env.IFS;
  delete env.LD_PRELOAD;
  delete env.LD_LIBRARY_PATH;
  return env;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already, which is what we wanted.
  }
}

export const spawnRunner: ScriptRunner = (cmd, opts) =>
  new Promise<RunResult>((resolve) => {
    const [file, ...args] = cmd.argv;
    if (file === undefined) {
      resolve({ kind: 'error', message: 'empty command' });
      return;
    }
    let settled = false;
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: RunResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      resolve(r);
    };
    const child = spawn(file, args, {
      // detached = setsid: the child leads a new process group we can kill as a whole.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: scriptEnv(),
      ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
    });
    let captured = 0;
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream]?.setEncoding('utf8');
      child[stream]?.on('data', (text: string) => {
        if (captured >= MAX_OUTPUT_CHARS) return;
        captured += text.length;
        opts.onOutput?.(stream, text);
      });
    }
    child.on('error', (err) => finish({ kind: 'error', message: err.message }));
    child.on('exit', (code, signal) => {
      const pid = child.pid;
      // A script killed for its timeout may leave children holding our pipes; they go too.
      if (timedOut && pid !== undefined) killGroup(pid, 'SIGKILL');
      // Grandchildren that outlive the script keep the pipes open; do not wait for them.
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (timedOut) finish({ kind: 'timeout' });
      else if (signal) finish({ kind: 'signal', signal });
      else finish({ kind: 'exit', code: code ?? 0 });
    });
    const pid = child.pid;
    if (pid === undefined) return; // spawn failed; 'error' follows
    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup(pid, 'SIGTERM');
        timers.push(
          setTimeout(() => {
            killGroup(pid, 'SIGKILL');
            // A process in uninterruptible sleep ignores even SIGKILL; the caller must not wait on it.
            timers.push(setTimeout(() => finish({ kind: 'timeout' }), 1000));
          }, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS),
        );
      }, opts.timeoutMs),
    );
  });
