import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../src/lab/topology.ts';

// The Git host of bench/reconcile.ts: test/lab/git-http-serve.ts (git http-backend behind
// Node's http) in a lab host of its own, driven over its stdin. With hooks registered it
// POSTs a signed GitHub push payload to every agent right after each push, as a Git host
// does, and reports when the push ended and when the hooks left.

const ROOT = resolve(import.meta.dirname, '..');

export interface Pushed {
  commit: string;
  /** Epoch ms at which `git push` returned, in the Git host's process (one clock for all). */
  pushedAt: number;
  /** Epoch ms at which the webhook POSTs left. */
  sentAt: number;
  hooks: { url: string; status?: number; error?: string; ms: number }[];
}

export interface GitHost {
  url: string;
  child: ChildProcess;
  /** Every later push POSTs to these URLs (none: pushes are only timed). */
  setHooks(urls: readonly string[], secret: string): Promise<void>;
  push(files: Record<string, string>, message: string): Promise<Pushed>;
  stop(): Promise<void>;
}

export async function startGitHost(lab: Lab, host: string): Promise<GitHost> {
  const child = lab.spawn(
    host,
    process.execPath,
    ['--import', 'tsx', 'test/lab/git-http-serve.ts', lab.address(host, 4)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const queued: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else queued.push(l);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const next = async (what: string, ms = 60_000): Promise<string> => {
    const got = queued.shift();
    if (got !== undefined) return got;
    const line = new Promise<string>((r) => waiting.push(r));
    const out = await Promise.race([line, exited.then(() => 'EXITED'), sleep(ms, 'TIMEOUT', { ref: false })]);
    if (out === 'EXITED' || out === 'TIMEOUT')
      throw new Error(`the Git host ${out === 'EXITED' ? 'exited' : 'did not answer'} waiting for ${what}`);
    return out;
  };
  const expect = async (prefix: string): Promise<string> => {
    const l = await next(prefix);
    if (!l.startsWith(`${prefix} `)) throw new Error(`the Git host answered "${l}", expected ${prefix}`);
    return l.slice(prefix.length + 1);
  };
  const ready = JSON.parse(await expect('READY')) as { url: string };
  const send = (cmd: unknown) => child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  return {
    url: ready.url,
    child,
    setHooks: async (urls, secret) => {
      send({ hooks: { urls, secret } });
      await expect('HOOKS');
    },
    push: async (files, message) => {
      send({ push: { files, message, sign: false } });
      const commit = await expect('PUSHED');
      const hooked = JSON.parse(await expect('HOOKED')) as Pushed;
      if (hooked.commit !== commit) throw new Error(`the Git host hooked ${hooked.commit}, pushed ${commit}`);
      return hooked;
    },
    stop: async () => {
      child.stdin?.end();
      await Promise.race([exited, sleep(5000, undefined, { ref: false })]);
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
        process.kill(child.pid, 'SIGKILL');
    },
  };
}
