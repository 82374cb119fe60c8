// bench/reconcile.ts — what a change costs to roll out: the latency from the end of a Git
// push to the change being applied on both nodes (webhook, and polling at 1 s), and the CPU
// time one agent spends reconciling a one-VIP change in a 1,000-instance repository, beside
// keepalived reloading the same configuration on SIGHUP, in one lab and in the same run.
// Run by hand, as root; never by npm test:
//
//   node --import tsx bench/reconcile.ts [--commits 20] [--instances 1000] [--runs 3]
//                                        [--idle 5] [--only webhook,poll,cpu]
//
// The lab (namespaces named with a per-run prefix, removed at the end, on an error and on
// SIGINT/SIGTERM): lb1, lb2 and git on one bridge (eth0), plus a veth eth1 between lb1 and
// lb2, so that 1,000 instances fit (a VRID is unique per interface and family: 4 × 250).
// The Git host runs test/lab/git-http-serve.ts (git http-backend) in `git`; once told the
// agents' hook URLs it POSTs a signed GitHub push payload to each right after every push,
// as a Git host does. keepgit runs as installed, compiled (dist/, built first when stale
// and pinned with KEEPGIT_RUNTIME=dist), each agent with --config (source: that Git host)
// and --listen on its lab address.
//
// latency: --commits small commits, each moving one VIP of one of four instances, pushed
//   one at a time (after a random 0–1 s pause, so that a push does not fall at the same
//   phase of the poll each time); latency = the end of `git push` (Git host's clock) to the
//   later of lb1's and lb2's `revision-applied` log lines for that commit (their `ts`).
//   webhook: interval 1h, the Git host's webhook only; poll: interval 1s, no webhook.
// cpu: a repository of --instances VRRP instances (VRRPv3, advert 1 s) for lb1 and lb2;
//   ONE agent, lb1, runs it (lb2 stays silent: lb1 is master of every instance, as is
//   keepalived in its turn). Each of --runs commits swaps the VIP of one instance; CPU =
//   utime+stime of the agent plus cutime+cstime (its repository loader, a child that has
//   exited and been reaped by then), from just before the push to the `revision-applied`
//   line; wall = the webhook leaving the Git host to that line's ts. keepalived 2.2.7: the
//   same repository exported by `keepgit export` (variant a, then b, a, ... written over the
//   file), SIGHUP to its parent; CPU = parent + VRRP child (utime+stime+cutime+cstime) from
//   the signal to done; done = "Reload complete" logged and the new VIP set (its GARP line,
//   or the address seen on eth0). Both idle in between: an idle rate is measured over
//   --idle seconds before each run and "net" subtracts it over the same window.
// Every process is started here and ended by its PID.

import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { must, run, runAsync } from '../src/lab/run.ts';
import { createLab, type Lab } from '../src/lab/topology.ts';
import { describeRun, type Running, startAgentWith } from '../test/lab/agent-harness.ts';
import { cleanUpOnSignal, keepgitRuntime, killNamespacePids, signal } from './bench-lab.ts';
import { type GitHost, startGitHost } from './reconcile-git.ts';
import {
  ETH1_V4,
  ETH1_V6,
  type Files,
  FLEET_VIP0,
  type FleetInstance,
  fleet,
  fleetRepo,
  smallRepo,
} from './reconcile-repos.ts';

const PARTS = ['webhook', 'poll', 'cpu'] as const;
const { values } = parseArgs({
  options: {
    commits: { type: 'string', default: '20' },
    instances: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    idle: { type: 'string', default: '5' },
    only: { type: 'string', default: PARTS.join(',') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: node --import tsx bench/reconcile.ts [--commits N (20)] [--instances N (1000, at most 1000)]\n' +
      '       [--runs N (3 reloads each)] [--idle SECONDS (5, idle rate before each reload)] [--only webhook,poll,cpu]',
  );
  process.exit(0);
}
const COMMITS = Number(values.commits);
const INSTANCES = Number(values.instances);
const RUNS = Number(values.runs);
const IDLE_S = Number(values.idle);
const ONLY = new Set(values.only.split(',').map((s) => s.trim()));
const usage = (msg: string) => {
  console.error(`bench/reconcile.ts: ${msg}`);
  process.exit(2);
};
if (!Number.isInteger(COMMITS) || COMMITS < 1)
  usage(`--commits ${values.commits}: expected a positive integer`);
if (!Number.isInteger(RUNS) || RUNS < 1) usage(`--runs ${values.runs}: expected a positive integer`);
if (!(IDLE_S > 0)) usage(`--idle ${values.idle}: expected a positive number of seconds`);
for (const o of ONLY)
  if (!(PARTS as readonly string[]).includes(o)) usage(`--only ${o}: expected some of ${PARTS.join(',')}`);
let FLEET: FleetInstance[] = [];
try {
  FLEET = fleet(INSTANCES);
} catch (e) {
  usage((e as Error).message);
}
if (process.getuid?.() !== 0) {
  console.error('bench/reconcile.ts needs root (network namespaces)');
  process.exit(1);
}
const KEEPALIVED = '/usr/sbin/keepalived';
for (const tool of ['ip', 'git', ...(ONLY.has('cpu') ? [KEEPALIVED] : [])])
  if (run('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0) {
    console.error(`bench/reconcile.ts needs ${tool}`);
    process.exit(1);
  }

const ROOT = resolve(import.meta.dirname, '..');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const TICK_MS = 1000 / CLK_TCK;
const PORT = 9742;
const SECRET = 'bench-reconcile-webhook-secret';

// ---------------------------------------------------------------- figures

/** CPU ticks of a process: its own (utime+stime) and its reaped children's (cutime+cstime). */
function cpuTicks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) " the state is field 3; utime, stime, cutime, cstime are 14..17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}
const sumTicks = (pids: readonly number[]) =>
  pids.map(cpuTicks).reduce((a, b) => ({ self: a.self + b.self, children: a.children + b.children }), {
    self: 0,
    children: 0,
  });

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = sorted(xs);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: readonly number[], p: number): number | undefined =>
  xs.length === 0 ? undefined : sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)];
const fmt = (x: number | undefined, d = 0) => (x === undefined ? '—' : x.toFixed(d));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '—' : (a / b).toFixed(2);
const pad = (cells: readonly string[], widths: readonly number[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [
    pad(head, widths),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => pad(r, widths)),
  ].join('\n');
}
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

// ---------------------------------------------------------------- lab helpers

/** Every address on the host's interfaces, without prefix lengths. */
async function addresses(lab: Lab, host: string): Promise<Set<string>> {
  const r = await runAsync('ip', ['-n', lab.nsName(host), '-o', 'addr', 'show'], { timeoutMs: 10_000 });
  const out = new Set<string>();
  for (const m of r.stdout.matchAll(/\binet6? ([0-9a-f.:]+)\//g)) if (m[1]) out.add(m[1]);
  return out;
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** eth1: a veth from lb1 to lb2 (created in lb1, its peer sent to lb2: nothing in the root namespace). */
function addEth1(lab: Lab): void {
  must('ip', [
    '-n',
    lab.nsName('lb1'),
    'link',
    'add',
    'eth1',
    'type',
    'veth',
    'peer',
    'name',
    'eth1',
    'netns',
    lab.nsName('lb2'),
  ]);
  for (const [host, n] of [
    ['lb1', 1],
    ['lb2', 2],
  ] as const) {
    const ns = lab.nsName(host);
    must('ip', ['-n', ns, 'addr', 'add', `${ETH1_V4(n)}/24`, 'dev', 'eth1']);
    must('ip', ['-n', ns, 'addr', 'add', `${ETH1_V6(n)}/64`, 'dev', 'eth1']);
    must('ip', ['-n', ns, 'link', 'set', 'eth1', 'up']);
  }
}

// ---------------------------------------------------------------- agents

interface AgentOptions {
  interval: string;
  webhook: boolean;
}

function startAgent(lab: Lab, dir: string, host: string, url: string, o: AgentOptions): Running {
  const config = join(dir, `${host}.yaml`);
  writeFileSync(
    config,
    [
      `node: ${host}`,
      `stateDir: ${join(dir, `${host}-state`)}`,
      'source:',
      `  git: { url: ${url}, branch: main, interval: ${o.interval} }`,
      ...(o.webhook ? [`webhook: { secretFile: ${join(dir, 'webhook-secret')} }`] : []),
      '',
    ].join('\n'),
  );
  return startAgentWith(
    lab,
    host,
    ['--config', config, '--listen', `${lab.address(host, 4)}:${PORT}`, '--log', 'json'],
    { KEEPGIT_RUNTIME: RUNTIME },
  );
}

const hookUrl = (lab: Lab, host: string) => `http://${lab.address(host, 4)}:${PORT}/hooks/git`;
const alive = (a: Running) => a.child.exitCode === null && a.child.signalCode === null;

/** SIGTERM by PID (the agent hands its instances over), SIGKILL after `ms`. */
async function stopAgents(agents: readonly Running[], ms = 30_000): Promise<void> {
  for (const a of agents) if (alive(a)) signal(a.child.pid, 'SIGTERM');
  await Promise.race([Promise.all(agents.map((a) => a.exited)), sleep(ms, undefined, { ref: false })]);
  for (const a of agents) if (alive(a)) signal(a.child.pid, 'SIGKILL');
}

const settled = (a: Running, commit: string) =>
  a.lines.find(
    (l) => (l.event === 'revision-applied' || l.event === 'revision-refused') && l.revision === commit,
  );

/** The `revision-applied` line of `commit`; a refusal or an exit is an error. */
async function applied(
  a: Running,
  commit: string,
  timeoutMs: number,
): Promise<{ ts: number; seenAt: number }> {
  const seenAt = await waitFor(
    `${a.host} to apply ${commit.slice(0, 8)}`,
    () => {
      if (!alive(a)) throw new Error(`${a.host} exited${describeRun(a)}`);
      return settled(a, commit) !== undefined;
    },
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message}${describeRun(a).slice(-4000)}`);
  });
  const line = settled(a, commit);
  if (line?.event !== 'revision-applied')
    throw new Error(`${a.host} refused ${commit}: ${String(line?.message)}`);
  return { ts: Date.parse(line.ts), seenAt };
}

// ---------------------------------------------------------------- latency

const SMALL_BASE = [100, 101, 102, 103];

/** Where the time of one node's apply went, from its log: push end → webhook in → planned → applied. */
interface Stages {
  delivery?: number;
  toPlanned?: number;
  apply?: number;
}

function stages(a: Running, from: number, pushedAt: number, appliedTs: number): Stages {
  const after = a.lines.slice(from);
  const at = (event: string) => {
    const l = after.find((x) => x.event === event);
    return l ? Date.parse(l.ts) : undefined;
  };
  const hook = at('webhook');
  // The first instance changed is logged once the revision is fetched, loaded and planned.
  const planned = at('instance-changed');
  return {
    ...(hook !== undefined ? { delivery: hook - pushedAt } : {}),
    ...(planned !== undefined ? { toPlanned: planned - (hook ?? pushedAt), apply: appliedTs - planned } : {}),
  };
}

interface Latency {
  ms: number[];
  stages: Stages[];
}

async function latency(lab: Lab, git: GitHost, base: string, mode: 'webhook' | 'poll'): Promise<Latency> {
  const dir = join(base, mode);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'webhook-secret'), `${SECRET}\n`, { mode: 0o600 });
  // Each push moves one VIP of one instance between 192.0.2.1xx and 192.0.2.1xx+50.
  const vips = SMALL_BASE.map((n) => `192.0.2.${n}`);
  await git.setHooks([], SECRET);
  await git.push(smallRepo(vips), `${mode}: start`);
  await git.setHooks(mode === 'webhook' ? ['lb1', 'lb2'].map((h) => hookUrl(lab, h)) : [], SECRET);
  const opts = mode === 'webhook' ? { interval: '1h', webhook: true } : { interval: '1s', webhook: false };
  const agents = ['lb1', 'lb2'].map((h) => startAgent(lab, dir, h, git.url, opts));
  const out: Latency = { ms: [], stages: [] };
  try {
    await waitFor(
      'lb1 to hold the four VIPs, both agents listening',
      async () => {
        for (const a of agents) if (!alive(a)) throw new Error(`${a.host} exited${describeRun(a)}`);
        if (!agents.every((a) => a.lines.some((l) => l.event === 'listening'))) return false;
        const have = await addresses(lab, 'lb1');
        return vips.every((v) => have.has(v));
      },
      60_000,
    );
    await sleep(2000);
    for (let c = 0; c < COMMITS; c++) {
      await sleep(Math.random() * 1000);
      const k = c % vips.length;
      const n = SMALL_BASE[k] as number;
      vips[k] = vips[k] === `192.0.2.${n}` ? `192.0.2.${n + 50}` : `192.0.2.${n}`;
      const marks = agents.map((a) => a.lines.length);
      const p = await git.push(smallRepo(vips), `${mode} ${c + 1}: vi${k} to ${vips[k]}`);
      for (const h of p.hooks)
        if (h.status !== 202) throw new Error(`webhook to ${h.url}: ${h.status ?? h.error}`);
      const done = await Promise.all(agents.map((a) => applied(a, p.commit, 30_000)));
      const ms = Math.max(...done.map((d) => d.ts)) - p.pushedAt;
      out.ms.push(ms);
      agents.forEach((a, i) => {
        out.stages.push(stages(a, marks[i] ?? 0, p.pushedAt, (done[i] as { ts: number }).ts));
      });
      console.log(
        `  ${mode.padEnd(7)} commit ${String(c + 1).padStart(2)}: applied on both ${ms} ms after the push`,
      );
    }
    await waitFor(
      'lb1 to hold the last VIPs',
      async () => {
        const have = await addresses(lab, 'lb1');
        return vips.every((v) => have.has(v));
      },
      10_000,
    );
    return out;
  } finally {
    await stopAgents(agents);
  }
}

const describeStages = (st: Stages) =>
  `webhook in after ${fmt(st.delivery)}, fetched+loaded+planned ${fmt(st.toPlanned)}, applied ${fmt(st.apply)} ms later`;

// ---------------------------------------------------------------- cpu

interface Reload {
  /** CPU ms from the trigger to done: own + reaped children. */
  cpuMs: number;
  childrenMs: number;
  /** cpuMs less the idle rate over the same window. */
  netMs: number;
  /** Trigger (webhook sent / SIGHUP) to done. */
  wallMs: number;
  idlePct: number;
}

const variantOf = (r: number): 'a' | 'b' => (r % 2 === 0 ? 'b' : 'a');
const fleetVips = () => FLEET.map((f) => f.vip);

async function idleRate(pids: () => readonly number[]): Promise<number> {
  const t0 = Date.now();
  const s0 = sumTicks(pids());
  await sleep(IDLE_S * 1000);
  const s1 = sumTicks(pids());
  return ((s1.self + s1.children - s0.self - s0.children) * TICK_MS) / (Date.now() - t0);
}

async function waitAllVips(lab: Lab, what: string, check: () => void): Promise<void> {
  const want = fleetVips();
  await waitFor(
    `${what} to hold all ${want.length} VIPs`,
    async () => {
      check();
      const have = await addresses(lab, 'lb1');
      return want.every((v) => have.has(v));
    },
    180_000,
  );
}

async function keepgitReloads(lab: Lab, git: GitHost, base: string): Promise<Reload[]> {
  const dir = join(base, 'cpu-keepgit');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'webhook-secret'), `${SECRET}\n`, { mode: 0o600 });
  await git.setHooks([], SECRET);
  await git.push(fleetRepo(FLEET, 'a'), `fleet of ${FLEET.length}`);
  await git.setHooks([hookUrl(lab, 'lb1')], SECRET);
  const agent = startAgent(lab, dir, 'lb1', git.url, { interval: '1h', webhook: true });
  const pid = agent.child.pid as number;
  const out: Reload[] = [];
  try {
    await waitAllVips(lab, 'keepgit lb1', () => {
      if (!alive(agent)) throw new Error(`lb1 exited${describeRun(agent).slice(-4000)}`);
    });
    // Past start-up and the second GARP round (5 s): an idle master is measured, not a new one.
    await sleep(6000);
    for (let r = 0; r < RUNS; r++) {
      const v = variantOf(r);
      const idle = await idleRate(() => [pid]);
      const mark = agent.lines.length;
      const s0 = cpuTicks(pid);
      const t0 = Date.now();
      const p = await git.push(fleetRepo(FLEET, v), `vi0 to ${FLEET_VIP0[v]}`);
      for (const h of p.hooks)
        if (h.status !== 202) throw new Error(`webhook to ${h.url}: ${h.status ?? h.error}`);
      const done = await applied(agent, p.commit, 120_000);
      const s1 = cpuTicks(pid);
      const cpuMs = (s1.self + s1.children - s0.self - s0.children) * TICK_MS;
      const have = await addresses(lab, 'lb1');
      const gone = FLEET_VIP0[v === 'a' ? 'b' : 'a'];
      if (!have.has(FLEET_VIP0[v]) || have.has(gone))
        throw new Error(`keepgit applied ${p.commit} but lb1 does not hold ${FLEET_VIP0[v]} alone`);
      const reload: Reload = {
        cpuMs,
        childrenMs: (s1.children - s0.children) * TICK_MS,
        netMs: cpuMs - idle * (done.seenAt - t0),
        wallMs: done.ts - p.sentAt,
        idlePct: idle * 100,
      };
      out.push(reload);
      console.log(
        `  keepgit    run ${r + 1}: CPU ${fmt(reload.cpuMs)} ms (loader child ${fmt(reload.childrenMs)}), ` +
          `net of idle ${fmt(reload.netMs)} ms, wall ${reload.wallMs} ms (${describeStages(stages(agent, mark, p.sentAt, done.ts))}), ` +
          `idle ${reload.idlePct.toFixed(2)} % of a core`,
      );
    }
    return out;
  } finally {
    await stopAgents([agent], 60_000);
  }
}

function exportConf(base: string, variant: 'a' | 'b'): string {
  const repo = join(base, `export-${variant}`);
  for (const [path, text] of Object.entries(fleetRepo(FLEET, variant) as Files)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  const file = join(base, `keepalived-${variant}.conf`);
  const r = spawnSync(process.execPath, ['bin/keepgit.js', 'export', repo, '--node', 'lb1', '-o', file], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, KEEPGIT_RUNTIME: RUNTIME },
  });
  if (r.status !== 0) throw new Error(`keepgit export failed (${r.status}): ${r.stderr}`);
  return file;
}

async function keepalivedReloads(lab: Lab, base: string): Promise<Reload[]> {
  const dir = join(base, 'cpu-keepalived');
  mkdirSync(dir, { recursive: true });
  const confs = { a: exportConf(dir, 'a'), b: exportConf(dir, 'b') };
  const conf = join(dir, 'keepalived.conf');
  copyFileSync(confs.a, conf);
  const check = lab.execSync('lb1', KEEPALIVED, ['-t', '-f', conf]);
  if (check.status !== 0)
    throw new Error(`keepalived -t refused the exported configuration: ${check.stderr}${check.stdout}`);
  const vrrpPid = join(dir, 'vrrp.pid');
  const child = lab.spawn(
    'lb1',
    KEEPALIVED,
    ['-n', '-l', '-P', '-f', conf, '-p', join(dir, 'keepalived.pid'), '-r', vrrpPid],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: { at: number; text: string }[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.setEncoding('utf8').on('data', (d: string) => {
      const at = Date.now();
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const text of parts) lines.push({ at, text });
    });
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const tail = () =>
    `\nkeepalived log:\n${lines
      .slice(-40)
      .map((l) => l.text)
      .join('\n')}`;
  const vrrp = () => {
    const pid = existsSync(vrrpPid) ? Number(readFileSync(vrrpPid, 'utf8').trim()) : 0;
    return pid > 0 ? pid : undefined;
  };
  const out: Reload[] = [];
  try {
    await waitAllVips(lab, 'keepalived lb1', () => {
      if (!running()) throw new Error(`keepalived exited${tail()}`);
    }).catch((e: Error) => {
      throw new Error(e.message + tail());
    });
    await sleep(6000);
    const parent = child.pid as number;
    const pids = () => {
      const v = vrrp();
      if (v === undefined) throw new Error(`keepalived's VRRP child is gone${tail()}`);
      return [parent, v];
    };
    for (let r = 0; r < RUNS; r++) {
      const v = variantOf(r);
      const vip = FLEET_VIP0[v];
      const gone = FLEET_VIP0[v === 'a' ? 'b' : 'a'];
      copyFileSync(confs[v], conf);
      const idle = await idleRate(pids);
      const mark = lines.length;
      const watched = pids();
      const s0 = sumTicks(watched);
      const t0 = Date.now();
      signal(parent, 'SIGHUP');
      const garp = new RegExp(`gratuitous ARPs on eth0 for ${vip.replaceAll('.', '\\.')}$`);
      let vipAt: number | undefined;
      const doneAt = await waitFor(
        `keepalived to reload (vi0 to ${vip})`,
        async () => {
          if (!running()) throw new Error(`keepalived exited${tail()}`);
          const since = lines.slice(mark);
          if (!since.some((l) => /Reload complete/.test(l.text))) return false;
          if (vipAt === undefined) {
            const have = await addresses(lab, 'lb1');
            if (have.has(vip) && !have.has(gone)) vipAt = Date.now();
          }
          return vipAt !== undefined;
        },
        120_000,
      ).catch((e: Error) => {
        throw new Error(e.message + tail());
      });
      const s1 = sumTicks(watched);
      const since = lines.slice(mark);
      const complete = since.find((l) => /Reload complete/.test(l.text))?.at ?? doneAt;
      const garpAt = since.find((l) => garp.test(l.text))?.at;
      const end = Math.max(complete, garpAt ?? vipAt ?? doneAt);
      const cpuMs = (s1.self + s1.children - s0.self - s0.children) * TICK_MS;
      const reload: Reload = {
        cpuMs,
        childrenMs: (s1.children - s0.children) * TICK_MS,
        netMs: cpuMs - idle * (doneAt - t0),
        wallMs: end - t0,
        idlePct: idle * 100,
      };
      out.push(reload);
      console.log(
        `  keepalived run ${r + 1}: CPU ${fmt(reload.cpuMs)} ms (parent + VRRP child), net of idle ${fmt(reload.netMs)} ms, ` +
          `wall ${reload.wallMs} ms (done by ${garpAt !== undefined ? 'its GARP line' : 'the address on eth0'}), idle ${reload.idlePct.toFixed(2)} % of a core`,
      );
    }
    return out;
  } finally {
    const v = vrrp();
    if (running()) signal(child.pid, 'SIGTERM');
    await Promise.race([exited, sleep(60_000, undefined, { ref: false })]);
    signal(v, 'SIGKILL');
    if (running()) signal(child.pid, 'SIGKILL');
  }
}

// ---------------------------------------------------------------- main

const RUNTIME = keepgitRuntime('and loads the repository in-process');
const prefix = `kgr${process.pid.toString(36)}`;
const base = mkdtempSync(join(tmpdir(), 'keepgit-bench-reconcile-'));
let lab: Lab | undefined;

const stopCleaningUp = cleanUpOnSignal(base, () => lab);

let failed = false;
try {
  lab = createLab({ prefix, hosts: ['lb1', 'lb2', 'git'] });
  const l = lab;
  addEth1(l);
  const kaVersion = run(KEEPALIVED, ['--version']).stderr.split('\n')[0]?.trim() ?? 'keepalived';
  console.log(
    `reconcile bench: node ${process.version}; keepgit from ${RUNTIME === 'dist' ? 'dist/ (compiled)' : 'src/ through tsx'}; ` +
      `${kaVersion}; ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, load average ${load()}`,
  );
  const git = await startGitHost(l, 'git');
  try {
    const lat: Partial<Record<'webhook' | 'poll', Latency>> = {};
    for (const mode of ['webhook', 'poll'] as const) {
      if (!ONLY.has(mode)) continue;
      console.log(
        `\n${mode === 'webhook' ? 'webhook' : 'polling at 1 s'}: ${COMMITS} commits, two agents (lb1, lb2)`,
      );
      lat[mode] = await latency(l, git, base, mode);
    }
    const cpu: { keepgit?: Reload[]; keepalived?: Reload[] } = {};
    if (ONLY.has('cpu')) {
      console.log(
        `\nreconcile of a one-VIP change in ${FLEET.length} instances (VRRPv3, 1 s; lb1 alone, master of all), ${RUNS} run(s), idle measured over ${IDLE_S} s before each`,
      );
      cpu.keepgit = await keepgitReloads(l, git, base);
      cpu.keepalived = await keepalivedReloads(l, base);
    }

    if (lat.webhook || lat.poll) {
      const row = (name: string, l: Latency | undefined) => {
        const xs = l?.ms;
        return [
          name,
          String(xs?.length ?? 0),
          fmt(xs && percentile(xs, 50)),
          fmt(xs && percentile(xs, 95)),
          fmt(xs && Math.min(...xs)),
          fmt(xs && Math.max(...xs)),
        ];
      };
      const stageRow = (name: string, l: Latency | undefined, f: (st: Stages) => number | undefined) => {
        const xs = (l?.stages ?? []).flatMap((st) => {
          const v = f(st);
          return v === undefined ? [] : [v];
        });
        return [name, String(xs.length), fmt(percentile(xs, 50)), fmt(percentile(xs, 95))];
      };
      console.log(
        `\npush → applied on lb1 and lb2 (end of git push → the later revision-applied ts), ms:\n${table(
          ['trigger', 'commits', 'p50', 'p95', 'min', 'max'],
          [row('webhook', lat.webhook), row('poll 1 s', lat.poll)],
        )}`,
      );
      console.log(
        `\nwhere it went, per node and commit (each agent's own log ts), ms:\n${table(
          ['stage', 'samples', 'p50', 'p95'],
          [
            stageRow('webhook: push end → webhook received', lat.webhook, (st) => st.delivery),
            stageRow('webhook: received → fetched, loaded, planned', lat.webhook, (st) => st.toPlanned),
            stageRow('webhook: planned → revision-applied', lat.webhook, (st) => st.apply),
            stageRow('poll: push end → fetched, loaded, planned', lat.poll, (st) => st.toPlanned),
            stageRow('poll: planned → revision-applied', lat.poll, (st) => st.apply),
          ],
        )}`,
      );
      if (lat.webhook && lat.poll)
        console.log(
          `webhook / poll: p50 ${ratio(percentile(lat.webhook.ms, 50), percentile(lat.poll.ms, 50))}, p95 ${ratio(
            percentile(lat.webhook.ms, 95),
            percentile(lat.poll.ms, 95),
          )}`,
        );
      if (lat.webhook) {
        const p95 = percentile(lat.webhook.ms, 95) ?? Number.POSITIVE_INFINITY;
        console.log(
          `target: webhook p95 under 500 ms for a small change: ${p95 < 500 ? 'met' : 'NOT met'} (${fmt(p95)} ms)`,
        );
      }
    }
    if (cpu.keepgit && cpu.keepalived) {
      const med = (rs: Reload[] | undefined, f: (r: Reload) => number) => median((rs ?? []).map(f));
      const line = (label: string, f: (r: Reload) => number, d = 0) => {
        const kg = med(cpu.keepgit, f);
        const ka = med(cpu.keepalived, f);
        return [label, fmt(kg, d), fmt(ka, d), ratio(kg, ka)];
      };
      console.log(
        `\none-VIP change in ${FLEET.length} instances, medians of ${RUNS} run(s):\n${table(
          ['', 'keepgit', 'keepalived', 'ratio'],
          [
            line('CPU ms, trigger → done', (r) => r.cpuMs),
            line('  of which reaped children', (r) => r.childrenMs),
            line('CPU ms net of idle', (r) => r.netMs),
            line('wall ms, trigger → done', (r) => r.wallMs),
            line('idle CPU, % of a core', (r) => r.idlePct, 2),
          ],
        )}`,
      );
      console.log(
        'keepgit: webhook from the Git host → fetch → load (child) → plan → apply → revision-applied;\n' +
          'keepalived: SIGHUP → re-read keepalived.conf (parent and VRRP child) → "Reload complete" and the new VIP set',
      );
    }
    console.log(`\nload average at the end: ${load()}`);
  } finally {
    await git.stop();
  }
} catch (e) {
  failed = true;
  console.error(`bench/reconcile.ts failed: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  if (lab) {
    killNamespacePids(lab.namespaces);
    await lab.destroy();
  }
  rmSync(base, { recursive: true, force: true });
  stopCleaningUp();
}
process.exitCode = failed ? 1 : 0;
