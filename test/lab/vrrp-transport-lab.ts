import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import type { TransportCounters } from '../../src/drivers/vrrp-socket/transport.ts';
import type { Endpoint } from '../unit/vrrp-transport-contract.ts';
import { newNamespace, sh } from './netns.ts';
import type { ReceivedJson, RunnerJob } from './vrrp-transport-wire.ts';

// Lab plumbing shared by the VRRP transport lab tests: two namespaces joined by one veth
// pair, and runner processes started and killed by PID.

const RUNNER = new URL('./vrrp-transport-runner.ts', import.meta.url).pathname;
export const A: Endpoint = {
  ifname: 'vrrp-a',
  ipv4: '192.0.2.11',
  linkLocal: 'fe80::11',
  global: '2001:db8::11',
};
export const B: Endpoint = {
  ifname: 'vrrp-b',
  ipv4: '192.0.2.12',
  linkLocal: 'fe80::12',
  global: '2001:db8::12',
};

const children = new Set<ChildProcess>();

export type Line = ReceivedJson & { event: string; message?: string; counters?: TransportCounters };

function ip(...args: string[]): void {
  const r = sh('ip', args);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Namespaces `role`a and `role`b, A's and B's addresses on either end of one veth pair. */
export function twoHosts(role: string): { nsA: string; nsB: string } {
  const nsA = newNamespace(`${role}a`);
  const nsB = newNamespace(`${role}b`);
  // Created inside A and moved, so the root namespace never holds either end.
  ip('-n', nsA, 'link', 'add', A.ifname, 'type', 'veth', 'peer', 'name', B.ifname);
  ip('-n', nsA, 'link', 'set', B.ifname, 'netns', nsB);
  for (const [ns, e] of [
    [nsA, A],
    [nsB, B],
  ] as const) {
    // Fixed link-local addresses instead of EUI-64 ones, so the test knows the source.
    ip('-n', ns, 'link', 'set', e.ifname, 'addrgenmode', 'none');
    ip('-n', ns, 'addr', 'add', `${e.ipv4}/24`, 'dev', e.ifname);
    ip('-n', ns, '-6', 'addr', 'add', `${e.global}/64`, 'dev', e.ifname, 'nodad');
    ip('-n', ns, '-6', 'addr', 'add', `${e.linkLocal}/64`, 'dev', e.ifname, 'nodad');
    ip('-n', ns, 'link', 'set', e.ifname, 'up');
  }
  return { nsA, nsB };
}

/** `cmd` inside `ns`; `ip netns exec` execs it, so the child's PID is the command's. */
export function spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Runs the runner in `ns`; `onLine` sees each JSON line; resolves with all of them at exit. */
export function run(ns: string, job: RunnerJob, onLine: (l: Line) => void = () => {}) {
  const child = spawnIn(ns, process.execPath, ['--import', 'tsx', RUNNER, JSON.stringify(job)]);
  const lines: Line[] = [];
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      const l = JSON.parse(out.slice(0, nl)) as Line;
      out = out.slice(nl + 1);
      lines.push(l);
      onLine(l);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const done = new Promise<Line[]>((resolve, reject) => {
    child.on('exit', (code) => {
      const failed = lines.find((l) => l.event === 'error');
      if (failed) reject(new Error(failed.message));
      else if (code !== 0) reject(new Error(`runner in ${ns} exited ${code}: ${err.trim()}`));
      else resolve(lines);
    });
  });
  return { child, done };
}

/** Resolves once `run`'s receiver says it listens (or has already ended). */
export function receiver(ns: string, job: RunnerJob) {
  let ready: () => void = () => {};
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  const r = run(ns, job, (l) => {
    if (l.event === 'ready') ready();
  });
  return { ...r, ready: Promise.race([isReady, r.done.then(() => undefined)]) };
}

export function counters(lines: Line[]): TransportCounters {
  const c = lines.find((l) => l.event === 'done')?.counters;
  assert.ok(c, 'runner printed no counters');
  return c;
}

export function kill(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
  }
}

/** Every child this module started and that still runs. */
export function killAll(): void {
  for (const c of children) kill(c);
}
