import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab } from '../../src/lab/topology.ts';

// What the agent lab tests share: a desired-state repository in a temporary directory,
// real `keepgit agent` processes started inside a lab host with their JSON log collected,
// and the questions the tests ask of them (who holds a VIP, which transitions happened,
// what GET /status says). Not a test file itself.

const ROOT = resolve(import.meta.dirname, '../..');

export interface LogLine {
  ts: string;
  level: string;
  event: string;
  instance?: string;
  from?: string;
  to?: string;
  reason?: string;
  port?: number;
  [k: string]: unknown;
}

export interface Running {
  host: string;
  child: ChildProcess;
  lines: LogLine[];
  stderr: string[];
  exited: Promise<number | null>;
}

/** nodes/NAME.yaml of lab host number `n` (lb1 = 1): its eth0 address 192.0.2.(10 + n)/24. */
export const nodeDoc = (name: string, n: number): string => `apiVersion: keepgit/v1
kind: Node
metadata: { name: ${name} }
interfaces:
  eth0:
    addresses: [192.0.2.${10 + n}/24]
`;

/** A repository directory holding keepgit.yaml and nodes/<name>.yaml; the caller removes it. */
export function writeRepo(cluster: string, nodes: Record<string, string>): string {
  const repo = mkdtempSync(join(tmpdir(), 'keepgit-agent-lab-'));
  mkdirSync(join(repo, 'nodes'));
  writeFileSync(join(repo, 'keepgit.yaml'), cluster);
  for (const [name, doc] of Object.entries(nodes)) writeFileSync(join(repo, `nodes/${name}.yaml`), doc);
  return repo;
}

/** `keepgit agent` for `host`, inside the host's namespace, with its status API on a free loopback port. */
export function startAgent(lab: Lab, host: string, repo: string): Running {
  return startAgentWith(lab, host, ['--repo-dir', repo, '--node', host, '--listen', '127.0.0.1:0']);
}

/**
 * `keepgit agent ARGS` in the host's namespace, with extra environment variables. Unless
 * `env` names one, each agent gets a state directory of its own (removed when it exits): two
 * agents sharing one would share an apply journal, and the default is the host's /var/lib.
 */
export function startAgentWith(
  lab: Lab,
  host: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Running {
  const own =
    env.KEEPGIT_STATE_DIR === undefined ? mkdtempSync(join(tmpdir(), 'keepgit-agent-state-')) : undefined;
  const child = lab.spawn(host, process.execPath, ['bin/keepgit.js', 'agent', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(own ? { KEEPGIT_STATE_DIR: own } : {}), ...env },
  });
  if (own !== undefined) child.on('exit', () => rmSync(own, { recursive: true, force: true }));
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  let buffer = '';
  child.stdout?.on('data', (b: Buffer) => {
    buffer += b.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const p of parts) if (p.trim() !== '') lines.push(JSON.parse(p) as LogLine);
  });
  child.stderr?.on('data', (b: Buffer) => stderr.push(b.toString('utf8')));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { host, child, lines, stderr, exited };
}

/** SIGKILLs, by PID, every agent of the list still running (for `finally`). */
export function killAgents(agents: readonly Running[]): void {
  for (const a of agents)
    if (a.child.exitCode === null && a.child.signalCode === null && a.child.pid !== undefined)
      process.kill(a.child.pid, 'SIGKILL');
}

/** Polls `check` every 20 ms; resolves with the time it took, throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export async function hasVip(lab: Lab, host: string, vip: string): Promise<boolean> {
  const r = await lab.exec(host, 'ip', ['-o', 'addr', 'show', 'dev', 'eth0'], { timeoutMs: 5000 });
  return r.stdout.split('\n').some((l) => l.split(/\s+/).some((w) => w.startsWith(`${vip}/`)));
}

/** A losing side of Promise.race that does not keep the test process alive after the race. */
export const deadline = (ms: number) => sleep(ms, 'timeout', { ref: false });

export const describeRun = (r: Running): string =>
  `\n${r.host} log:\n${r.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${r.stderr.join('')}`;

/** The agent's transitions from log line `from` on, as "From>To:reason" (short to compare). */
export const transitions = (r: Running, from = 0): string[] =>
  r.lines
    .slice(from)
    .filter((l) => l.event === 'transition')
    .map((l) => `${l.from}>${l.to}:${l.reason}`);

export const count = (r: Running, pred: (l: LogLine) => boolean): number => r.lines.filter(pred).length;

/**
 * Lines that must never appear in a healthy run. With `rollout`, a revision reached the
 * nodes one after the other: between two applies the one still on the old VIP list hears
 * adverts listing the other's new ones (keepalived logs the same during a rolling reload).
 */
export const badLines = (r: Running, o: { rollout?: boolean } = {}): LogLine[] =>
  r.lines.filter(
    (l) =>
      l.level === 'error' ||
      l.event === 'advert-dropped' ||
      (l.event === 'address-mismatch' && o.rollout !== true),
  );

export interface StatusBody {
  instances: {
    name: string;
    state: string;
    master: string | null;
    effectivePriority: number;
    faults: string[];
  }[];
}

/** GET /status, from inside the host's namespace (the API listens on the host's own loopback). */
export async function agentStatus(lab: Lab, r: Running): Promise<StatusBody> {
  const port = r.lines.find((l) => l.event === 'listening')?.port;
  if (port === undefined) throw new Error(`${r.host} is not listening yet${describeRun(r)}`);
  const res = await lab.exec(
    r.host,
    process.execPath,
    ['-e', `fetch('http://127.0.0.1:${port}/status').then(r=>r.text()).then(t=>process.stdout.write(t))`],
    { timeoutMs: 10000 },
  );
  return JSON.parse(res.stdout) as StatusBody;
}
