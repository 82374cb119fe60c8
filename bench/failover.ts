// bench/failover.ts — client-visible failover of a keepgit pair beside a keepalived pair
// (Debian's keepalived 2.2.x), in one lab and in the same run, the advert-level failover
// read from a capture, plus the idle cost (RSS and CPU) of a master with 1 and 200
// instances at 1 s and at 0.1 s. Run by hand, as root; never by npm test:
//
//   node --import tsx bench/failover.ts [--runs 5] [--idle 30] [--quick] [--skip-idle]
//                                       [--only crash-v2,sigterm-v3,...] [--idle-adverts 1s,100ms]
//
// keepgit runs as installed: compiled (dist/). The bench builds dist/ first when it is
// missing or older than the sources, and pins every agent it starts to that build
// (KEEPGIT_RUNTIME=dist), so that an edit made elsewhere during the run cannot switch
// later runs to the TypeScript loader; if the build fails it says so and runs from source.
//
// The lab: lb1 (priority 110, the master), lb2 (100) and a client on one bridge; VIP
// 192.0.2.100/24. Each run starts from nothing (no process, no VIP anywhere): lb1 is started
// alone and waited for until it holds the VIP, then lb2 until it reports BACKUP, and the
// election is left to settle. The client then pings the VIP every 5 ms (bench/failover-probe.ts);
// 1 s later the event hits lb1:
//   crash    lb1 cut off at the bridge (nftables drop) and its processes SIGKILLed
//   sigterm  SIGTERM to lb1's agent / keepalived parent (graceful stop)
//   linkdown lb1's eth0 set down
// The bench waits until lb2 holds the VIP and the client has a reply again, then 1 s more,
// and stops the prober. Outage = the longest gap between two consecutive replies from 1 s
// before the event to the end. Transition = the event to lb2's switch to MASTER, from
// keepgit's JSON log (its own timestamp) or from the time keepalived's "Entering MASTER
// STATE" line reached us. Advert-level failover = lb1's last advert to lb2's first advert,
// and to lb2's first gratuitous ARP for the VIP, from a capture of what the bridge sent to
// the client (bench/failover-capture.c, an AF_PACKET socket with kernel timestamps, in
// the switch namespace; no capture tool needed). Everything runs in namespaces this
// process creates; all of it is removed at the end, on an error and on SIGINT/SIGTERM, and
// every process is ended by PID.

import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { run, runAsync } from '../src/lab/run.ts';
import { createLab, type Lab } from '../src/lab/topology.ts';
import { cleanUpOnSignal, keepgitRuntime, killNamespacePids, signal } from './bench-lab.ts';
import { advertFailover, type Capture, compileCapture, startCapture } from './failover-capture.ts';
import { longestGap, startProbe } from './failover-probe.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    idle: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'skip-idle': { type: 'boolean', default: false },
    only: { type: 'string' },
    'idle-adverts': { type: 'string', default: '1s,100ms' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: node --import tsx bench/failover.ts [--runs N (5)] [--idle SECONDS (30)] [--quick (1 run, 5 s idle)]\n' +
      '       [--skip-idle] [--only crash-v2,crash-v3,sigterm-v2,sigterm-v3,linkdown-v2] [--idle-adverts 1s,100ms (both)]',
  );
  process.exit(0);
}
const RUNS = Number(values.runs ?? (values.quick ? 1 : 5));
const IDLE_S = Number(values.idle ?? (values.quick ? 5 : 30));
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`--runs ${values.runs}: expected a positive integer`);
if (!(IDLE_S > 0)) throw new Error(`--idle ${values.idle}: expected a positive number of seconds`);
if (process.getuid?.() !== 0) {
  console.error('bench/failover.ts needs root (network namespaces)');
  process.exit(1);
}
for (const tool of ['ip', 'nft', 'ping', 'keepalived'])
  if (run('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0) {
    console.error(`bench/failover.ts needs ${tool}`);
    process.exit(1);
  }

const ROOT = resolve(import.meta.dirname, '..');

const RUNTIME = keepgitRuntime('whose loader and esbuild count in its RSS');
const MASTER = 'lb1';
const BACKUP = 'lb2';
const CLIENT = 'client';
const VIP = '192.0.2.100';
const VRID = 51;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

type Impl = 'keepgit' | 'keepalived';
const IMPLS: readonly Impl[] = ['keepgit', 'keepalived'];
type Event = 'crash' | 'sigterm' | 'linkdown';

interface Advert {
  version: 2 | 3;
  /** keepgit's advertInterval, keepalived's advert_int, and the same in ms. */
  keepgit: string;
  keepalived: string;
  ms: number;
}
const V2_1S: Advert = { version: 2, keepgit: '1s', keepalived: '1', ms: 1000 };
const V3_100MS: Advert = { version: 3, keepgit: '100ms', keepalived: '0.1', ms: 100 };
const V3_1S: Advert = { version: 3, keepgit: '1s', keepalived: '1', ms: 1000 };

interface Scenario {
  id: string;
  title: string;
  event: Event;
  advert: Advert;
}
const ALL_SCENARIOS: readonly Scenario[] = [
  { id: 'crash-v2', title: 'crash, v2 1 s', event: 'crash', advert: V2_1S },
  { id: 'crash-v3', title: 'crash, v3 0.1 s', event: 'crash', advert: V3_100MS },
  { id: 'sigterm-v2', title: 'SIGTERM, v2 1 s', event: 'sigterm', advert: V2_1S },
  { id: 'sigterm-v3', title: 'SIGTERM, v3 0.1 s', event: 'sigterm', advert: V3_100MS },
  { id: 'linkdown-v2', title: 'link down, v2 1 s', event: 'linkdown', advert: V2_1S },
];
const only = values.only?.split(',').map((s) => s.trim());
const SCENARIOS = only ? ALL_SCENARIOS.filter((s) => only.includes(s.id)) : ALL_SCENARIOS;
if (only && SCENARIOS.length !== only.length)
  throw new Error(`--only: known scenarios are ${ALL_SCENARIOS.map((s) => s.id).join(', ')}`);
const IDLE_ADVERTS = (values['idle-adverts'] ?? '1s,100ms').split(',').map((a) => {
  if (a === '1s') return V3_1S;
  if (a === '100ms') return V3_100MS;
  throw new Error(`--idle-adverts ${a}: expected 1s or 100ms`);
});

// ---------------------------------------------------------------- configuration files

interface InstanceSpec {
  name: string;
  vrid: number;
  vip: string;
  prefix: number;
}
/** n instances: one is the bench's VIP; 200 use vrid 1..n and 198.51.100.1..n (documentation addresses). */
const instances = (n: number): InstanceSpec[] =>
  n === 1
    ? [{ name: 'vi1', vrid: VRID, vip: VIP, prefix: 24 }]
    : Array.from({ length: n }, (_, i) => ({
        name: `vi${i + 1}`,
        vrid: i + 1,
        vip: `198.51.100.${i + 1}`,
        prefix: 24,
      }));

const clusterYaml = (a: Advert, specs: readonly InstanceSpec[]) =>
  [
    'apiVersion: keepgit/v1',
    'kind: Cluster',
    'metadata: { name: bench }',
    'defaults:',
    `  vrrp: { version: ${a.version}, advertInterval: ${a.keepgit}, preempt: true }`,
    'instances:',
    ...specs.flatMap((s) => [
      `  - name: ${s.name}`,
      `    vrid: ${s.vrid}`,
      '    interface: eth0',
      `    priority: { ${MASTER}: 110, ${BACKUP}: 100 }`,
      `    vips: [${s.vip}/${s.prefix}]`,
    ]),
    '',
  ].join('\n');

const nodeYaml = (name: string, n: number) => `apiVersion: keepgit/v1
kind: Node
metadata: { name: ${name} }
interfaces:
  eth0:
    addresses: [192.0.2.${10 + n}/24, 2001:db8::${10 + n}/64]
`;

const keepalivedConf = (host: string, a: Advert, specs: readonly InstanceSpec[]) =>
  [
    'global_defs {',
    `    router_id ka-${host}`,
    '}',
    ...specs.flatMap((s) => [
      `vrrp_instance VI_${s.name} {`,
      `    version ${a.version}`,
      '    state BACKUP',
      '    interface eth0',
      `    virtual_router_id ${s.vrid}`,
      `    priority ${host === MASTER ? 110 : 100}`,
      `    advert_int ${a.keepalived}`,
      '    virtual_ipaddress {',
      `        ${s.vip}/${s.prefix} dev eth0`,
      '    }',
      '}',
    ]),
    '',
  ].join('\n');

/** A directory holding the keepgit repository and both keepalived.conf for one configuration. */
function writeConfig(base: string, tag: string, a: Advert, specs: readonly InstanceSpec[]): string {
  const dir = join(base, tag);
  mkdirSync(join(dir, 'repo', 'nodes'), { recursive: true });
  writeFileSync(join(dir, 'repo', 'keepgit.yaml'), clusterYaml(a, specs));
  writeFileSync(join(dir, 'repo', 'nodes', `${MASTER}.yaml`), nodeYaml(MASTER, 1));
  writeFileSync(join(dir, 'repo', 'nodes', `${BACKUP}.yaml`), nodeYaml(BACKUP, 2));
  for (const h of [MASTER, BACKUP])
    writeFileSync(join(dir, `keepalived-${h}.conf`), keepalivedConf(h, a, specs));
  return dir;
}

// ---------------------------------------------------------------- processes

interface Line {
  at: number;
  text: string;
}
interface Peer {
  impl: Impl;
  host: string;
  child: ChildProcess;
  lines: Line[];
  exited: Promise<void>;
  /** keepalived's VRRP child, read from its pid file (-r). */
  vrrpPidFile?: string;
}

const alive = (n: Peer) => n.child.exitCode === null && n.child.signalCode === null;

function vrrpChildPid(n: Peer): number | undefined {
  if (!n.vrrpPidFile || !existsSync(n.vrrpPidFile)) return undefined;
  const pid = Number(readFileSync(n.vrrpPidFile, 'utf8').trim());
  return pid > 0 ? pid : undefined;
}

let pidFiles = 0;
function startNode(lab: Lab, impl: Impl, host: string, dir: string): Peer {
  let child: ChildProcess;
  let vrrpPidFile: string | undefined;
  if (impl === 'keepgit') {
    child = lab.spawn(
      host,
      process.execPath,
      ['bin/keepgit.js', 'agent', '--repo-dir', join(dir, 'repo'), '--node', host, '--log', 'json'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KEEPGIT_RUNTIME: RUNTIME } },
    );
  } else {
    const base = join(dir, `ka-${host}-${pidFiles++}`);
    vrrpPidFile = `${base}-vrrp.pid`;
    child = lab.spawn(
      host,
      'keepalived',
      [
        '-n',
        '-l',
        '-D',
        '-P',
        '-f',
        join(dir, `keepalived-${host}.conf`),
        '-p',
        `${base}.pid`,
        '-r',
        vrrpPidFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  }
  const lines: Line[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.setEncoding('utf8').on('data', (d: string) => {
      const at = Date.now();
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const text of parts) if (text.trim() !== '') lines.push({ at, text });
    });
  }
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  return { impl, host, child, lines, exited, vrrpPidFile };
}

/** SIGTERM by PID, SIGKILL by PID after `ms`; keepalived's VRRP child too. */
async function stopNode(n: Peer, ms = 5000): Promise<void> {
  if (alive(n)) {
    signal(n.child.pid, 'SIGTERM');
    await Promise.race([n.exited, sleep(ms, undefined, { ref: false })]);
  }
  signal(vrrpChildPid(n), 'SIGKILL');
  if (alive(n)) {
    signal(n.child.pid, 'SIGKILL');
    await n.exited;
  }
}

/** The hosts' namespaces: between runs, everything but the capture helper in the switch's. */
const hostNamespaces = (lab: Lab): string[] => lab.hosts.map((h) => h.ns);

interface KeepgitLog {
  ts?: string;
  event?: string;
  to?: string;
  from?: string;
  reason?: string;
  instance?: string;
}
const keepgitEvents = (n: Peer): (KeepgitLog & { at: number })[] =>
  n.lines.flatMap((l) => {
    if (!l.text.startsWith('{')) return [];
    try {
      return [{ ...(JSON.parse(l.text) as KeepgitLog), at: l.at }];
    } catch {
      return [];
    }
  });

/** When the node reported entering `state` after `since` (epoch ms): keepgit's own timestamp, keepalived's line arrival. */
function enteredAt(n: Peer, state: 'Master' | 'Backup', since: number): number | undefined {
  if (n.impl === 'keepgit') {
    for (const e of keepgitEvents(n)) {
      if (e.event !== 'transition' || e.to !== state) continue;
      const t = Date.parse(String(e.ts));
      if (t >= since) return t;
    }
    return undefined;
  }
  const re = state === 'Master' ? /Entering MASTER STATE/ : /Entering BACKUP STATE/;
  return n.lines.find((l) => l.at >= since && re.test(l.text))?.at;
}

// ---------------------------------------------------------------- lab helpers

async function addresses(lab: Lab, host: string): Promise<string[]> {
  const r = await runAsync('ip', ['-n', lab.nsName(host), '-o', 'addr', 'show', 'dev', 'eth0'], {
    timeoutMs: 5000,
  });
  return r.stdout.split('\n').flatMap((line) => {
    const m = /\binet6? (\S+)/.exec(line);
    return m?.[1] ? [m[1]] : [];
  });
}
const hasVip = async (lab: Lab, host: string, vip = VIP) =>
  (await addresses(lab, host)).some((a) => a.startsWith(`${vip}/`));

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Back to nothing: lb1 connected and up, no VIP of ours on any host, the client's neighbours forgotten. */
async function cleanState(lab: Lab, specs: readonly InstanceSpec[]): Promise<void> {
  lab.reconnect(MASTER);
  lab.setLink(MASTER, 'up');
  for (const h of [MASTER, BACKUP]) {
    const have = await addresses(lab, h);
    for (const s of specs)
      if (have.some((a) => a.startsWith(`${s.vip}/`)))
        run('ip', ['-n', lab.nsName(h), 'addr', 'del', `${s.vip}/${s.prefix}`, 'dev', 'eth0']);
  }
  run('ip', ['-n', lab.nsName(CLIENT), 'neigh', 'flush', 'dev', 'eth0']);
}

// ---------------------------------------------------------------- one failover run

interface RunResult {
  outageMs?: number;
  transitionMs?: number;
  /** From the capture: the old master's last advert (any priority) to the new master's first advert, and to its first GARP. */
  advertMs?: number;
  garpMs?: number;
  error?: string;
}

async function failoverRun(
  lab: Lab,
  impl: Impl,
  sc: Scenario,
  dir: string,
  capture: Capture | undefined,
): Promise<RunResult> {
  const specs = instances(1);
  const nodes: Peer[] = [];
  let probe: ReturnType<typeof startProbe> | undefined;
  const a = sc.advert;
  const describe = () =>
    nodes
      .map((n) => `--- ${n.impl} ${n.host} (pid ${n.child.pid}):\n${n.lines.map((l) => l.text).join('\n')}`)
      .join('\n');
  try {
    await cleanState(lab, specs);
    const held = [];
    for (const h of [MASTER, BACKUP]) if (await hasVip(lab, h)) held.push(h);
    if (held.length > 0) throw new Error(`VIP still on ${held.join(', ')} before the run`);

    // lb1 alone until it is master, then lb2 until it is backup; then let adverts flow.
    const startedAt = Date.now();
    const master = startNode(lab, impl, MASTER, dir);
    nodes.push(master);
    await waitFor(`${impl} ${MASTER} to hold the VIP`, () => hasVip(lab, MASTER), 20_000);
    const backup = startNode(lab, impl, BACKUP, dir);
    nodes.push(backup);
    await waitFor(
      `${impl} ${BACKUP} to enter BACKUP`,
      () => enteredAt(backup, 'Backup', startedAt) !== undefined,
      20_000,
    );
    await sleep(Math.max(3 * a.ms, 500));
    if (!(await hasVip(lab, MASTER)) || (await hasVip(lab, BACKUP)))
      throw new Error('the election did not settle on lb1 alone');

    probe = startProbe(lab, CLIENT, VIP);
    const p = probe;
    await waitFor('a first reply from the VIP', () => p.last() !== undefined, 5000);
    // 1 s, plus a random part of an advert interval: the event must not fall at the same
    // phase of the master's advert cycle in every run (the outage of a crash depends on it).
    await sleep(1000 + Math.random() * a.ms);

    // The event.
    const t0 = Date.now();
    if (sc.event === 'crash') {
      lab.isolate(MASTER);
      signal(vrrpChildPid(master), 'SIGKILL');
      signal(master.child.pid, 'SIGKILL');
    } else if (sc.event === 'sigterm') {
      signal(master.child.pid, 'SIGTERM');
    } else {
      lab.setLink(MASTER, 'down');
    }

    // Recovery: lb2 holds the VIP and the client has had a reply since.
    let lb2Since: number | undefined;
    await waitFor(
      'the VIP to answer from lb2',
      async () => {
        if (lb2Since === undefined && (await hasVip(lab, BACKUP))) lb2Since = Date.now();
        const last = p.last() ?? 0;
        return lb2Since !== undefined && last > Math.max(t0, lb2Since);
      },
      30_000,
    );
    await sleep(1000);
    await p.stop();
    const gap = longestGap(p.replies, t0 - 1000);
    const became = enteredAt(backup, 'Master', t0);
    const adverts = capture
      ? advertFailover(capture.frames, {
          oldIp: lab.address(MASTER, 4),
          newIp: lab.address(BACKUP, 4),
          newMac: lab.mac(BACKUP),
          vrid: VRID,
          vip: VIP,
          since: t0,
        })
      : {};
    return {
      outageMs: gap?.ms,
      transitionMs: became === undefined ? undefined : became - t0,
      advertMs: adverts.advertMs,
      garpMs: adverts.garpMs,
    };
  } catch (e) {
    return { error: `${e instanceof Error ? e.message : String(e)}\n${describe()}` };
  } finally {
    await probe?.stop();
    for (const n of nodes) await stopNode(n);
    killNamespacePids(hostNamespaces(lab));
    await cleanState(lab, specs);
  }
}

// ---------------------------------------------------------------- idle cost

interface Usage {
  rssMb: number;
  cpuPct: number;
  procs: number;
}

/** utime+stime (ticks) and VmRSS (kB) of a process, or undefined once it is gone. */
function procStat(pid: number): { ticks: number; rssKb: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, utime 14, stime 15 → indices 11 and 12 here.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { ticks, rssKb };
  } catch {
    return undefined;
  }
}

const nsPids = (lab: Lab, host: string) =>
  run('ip', ['netns', 'pids', lab.nsName(host)])
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);

async function idleRun(lab: Lab, impl: Impl, n: number, dir: string): Promise<Usage | string> {
  const specs = instances(n);
  let node: Peer | undefined;
  try {
    await cleanState(lab, specs);
    node = startNode(lab, impl, MASTER, dir);
    const nd = node;
    await waitFor(
      `${impl} to hold all ${n} VIPs`,
      async () => {
        const have = await addresses(lab, MASTER);
        return specs.every((s) => have.some((x) => x.startsWith(`${s.vip}/`)));
      },
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${nd.lines.map((l) => l.text).join('\n')}`);
    });
    // Past the start-up work and keepalived's second GARP round (garp_master_delay 5 s), as
    // an idle master is measured, not a new one.
    await sleep(6000);
    // Every process in lb1's namespace is the implementation's: keepalived's parent and VRRP
    // child, or node (and any helper it started).
    const pids = nsPids(lab, MASTER);
    const before = new Map(pids.map((p) => [p, procStat(p)]));
    const t0 = performance.now();
    await sleep(IDLE_S * 1000);
    const secs = (performance.now() - t0) / 1000;
    let ticks = 0;
    let rssKb = 0;
    for (const p of pids) {
      const b = before.get(p);
      const e = procStat(p);
      if (!b || !e) return `process ${p} went away during the idle measure`;
      ticks += e.ticks - b.ticks;
      rssKb += e.rssKb;
    }
    if (!alive(nd)) return 'the master exited during the idle measure';
    return { rssMb: rssKb / 1024, cpuPct: (ticks / CLK_TCK / secs) * 100, procs: pids.length };
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    if (node) await stopNode(node, 10_000);
    killNamespacePids(hostNamespaces(lab));
    await cleanState(lab, specs);
  }
}

// ---------------------------------------------------------------- report

const median = (xs: readonly number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const ms = (x: number | undefined) => (x === undefined ? '—' : `${Math.round(x)}`);
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

// ---------------------------------------------------------------- main

const prefix = `kgb${process.pid.toString(36)}`;
const base = mkdtempSync(join(tmpdir(), 'keepgit-bench-failover-'));
let lab: Lab | undefined;

const stopCleaningUp = cleanUpOnSignal(base, () => lab);

try {
  lab = createLab({ prefix, hosts: [MASTER, BACKUP, CLIENT] });
  const l = lab;
  const kaVersion = run('keepalived', ['--version']).stderr.split('\n')[0]?.trim() ?? 'keepalived';
  console.log(
    `failover bench: ${RUNS} run(s) per scenario and implementation, median; ${kaVersion}; node ${process.version}; ` +
      `keepgit from ${RUNTIME === 'dist' ? 'dist/ (compiled)' : 'src/ through tsx'}`,
  );
  console.log("outage = longest gap in the client's ping replies (5 ms probe, ~10 ms resolution);");
  console.log(
    'transition = event → lb2 enters MASTER (keepgit: its JSON log ts; keepalived: log line arrival);',
  );

  // One capture for the whole bench, on the switch's port to the client; each run reads
  // the frames after its own event.
  let capture: Capture | undefined;
  const compiled = compileCapture(base);
  if (compiled.ok) {
    const c = startCapture(l, compiled.path, CLIENT);
    await waitFor('the capture helper', () => c.ready() || c.failed() !== undefined, 10_000);
    if (c.failed()) console.log(`advert-level: not measured (${c.failed()})`);
    else capture = c;
  } else console.log(`advert-level: not measured (${compiled.why})`);
  if (capture)
    console.log(
      "advert-level = lb1's last advert → lb2's first advert / first gratuitous ARP for the VIP, from a capture\n" +
        '  of what the bridge sent to the client (AF_PACKET, kernel timestamps; bench/failover-capture.c)\n',
    );

  const results = new Map<string, Record<Impl, RunResult[]>>();
  for (const sc of SCENARIOS) {
    const dir = writeConfig(base, sc.id, sc.advert, instances(1));
    const res: Record<Impl, RunResult[]> = { keepgit: [], keepalived: [] };
    results.set(sc.id, res);
    for (let r = 0; r < RUNS; r++)
      for (const impl of IMPLS) {
        const out = await failoverRun(l, impl, sc, dir, capture);
        res[impl].push(out);
        console.log(
          `  ${sc.id.padEnd(11)} run ${r + 1} ${impl.padEnd(10)} ${
            out.error
              ? `FAILED: ${out.error}`
              : `outage ${ms(out.outageMs)} ms, transition ${ms(out.transitionMs)} ms, ` +
                `advert-level ${ms(out.advertMs)} ms, to GARP ${ms(out.garpMs)} ms`
          }`,
        );
      }
  }
  if (capture?.failed()) console.log(`WARNING: ${capture.failed()}`);

  type Figure = 'outageMs' | 'transitionMs' | 'advertMs' | 'garpMs';
  const pick = (rs: readonly RunResult[], k: Figure) =>
    rs.flatMap((r) => (r[k] === undefined ? [] : [r[k] as number]));
  const cells = (r: Record<Impl, RunResult[]>, k: Figure) => {
    const kg = median(pick(r.keepgit, k));
    const ka = median(pick(r.keepalived, k));
    return [ms(kg), ms(ka), ratio(kg, ka)];
  };
  const byScenario = SCENARIOS.map((sc) => ({ sc, r: results.get(sc.id) as Record<Impl, RunResult[]> }));
  console.log(
    `\nclient view:\n${table(
      [
        'scenario',
        'keepgit outage ms',
        'keepalived outage ms',
        'ratio',
        'keepgit transition ms',
        'keepalived transition ms',
        'ratio',
        '',
      ],
      byScenario.map(({ sc, r }) => {
        const fails = r.keepgit.filter((x) => x.error).length + r.keepalived.filter((x) => x.error).length;
        return [
          sc.title,
          ...cells(r, 'outageMs'),
          ...cells(r, 'transitionMs'),
          fails === 0 ? '' : `${fails} failed`,
        ];
      }),
    )}\n`,
  );
  if (capture)
    console.log(
      `advert-level failover (capture):\n${table(
        [
          'scenario',
          'keepgit advert ms',
          'keepalived advert ms',
          'ratio',
          'keepgit to GARP ms',
          'keepalived to GARP ms',
          'ratio',
        ],
        byScenario.map(({ sc, r }) => [sc.title, ...cells(r, 'advertMs'), ...cells(r, 'garpMs')]),
      )}\n`,
    );

  if (!values['skip-idle']) {
    console.log(`idle master, v3, ${IDLE_S} s (RSS summed over the processes in lb1's namespace):`);
    const idleRows: string[][] = [];
    for (const a of IDLE_ADVERTS)
      for (const n of [1, 200]) {
        const dir = writeConfig(base, `idle-${n}-${a.keepgit}`, a, instances(n));
        const u: Record<Impl, Usage | string> = {
          keepgit: await idleRun(l, 'keepgit', n, dir),
          keepalived: await idleRun(l, 'keepalived', n, dir),
        };
        for (const impl of IMPLS) {
          const v = u[impl];
          if (typeof v === 'string') console.log(`  ${impl} ${n} × ${a.keepgit} FAILED: ${v}`);
        }
        const kg = typeof u.keepgit === 'string' ? undefined : u.keepgit;
        const ka = typeof u.keepalived === 'string' ? undefined : u.keepalived;
        idleRows.push([
          `${n} × ${a.keepgit}`,
          kg ? `${kg.rssMb.toFixed(1)} (${kg.procs})` : '—',
          ka ? `${ka.rssMb.toFixed(1)} (${ka.procs})` : '—',
          ratio(kg?.rssMb, ka?.rssMb),
          kg ? kg.cpuPct.toFixed(2) : '—',
          ka ? ka.cpuPct.toFixed(2) : '—',
          ratio(kg?.cpuPct, ka?.cpuPct),
        ]);
      }
    console.log(
      table(
        [
          'instances',
          'keepgit RSS MB (procs)',
          'keepalived RSS MB (procs)',
          'ratio',
          'keepgit CPU %',
          'keepalived CPU %',
          'ratio',
        ],
        idleRows,
      ),
    );
  }
} finally {
  if (lab) {
    killNamespacePids(lab.namespaces);
    await lab.destroy();
  }
  rmSync(base, { recursive: true, force: true });
  stopCleaningUp();
}
