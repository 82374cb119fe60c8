// bench/checks.ts — the CPU and memory cost of keepgit's health checkers beside HAProxy's
// running the same checks, in one lab and in the same run. Run by hand, as root; never by
// npm test:
//
//   node --import tsx bench/checks.ts [--runs 3] [--seconds 30] [--warmup 10] [--tcp 2000] [--http 500]
//                                     [--only keepgit,haproxy,floor] [--cpu-prof DIR] [--tsx]
//
// The lab (namespaces named with a per-run prefix, removed at the end, on an error and on
// SIGINT/SIGTERM): an lb namespace and backend namespaces on one bridge. Each backend holds
// up to 20 documentation addresses (198.51.100.0/24 for TCP, 203.0.113.0/24 for HTTP) and
// listens on 50 ports on all of them (bench/checks-backend.ts), so the checks go to
// --tcp + --http distinct address:port targets (2,000 + 500 by default), all answering.
//
// keepgit: bench/checks-runner.ts in the lb namespace — the CheckScheduler over the
// scheduledServers of node lb1's view of a generated repository (one TCP_CHECK or HTTP_GET
// per real server, delay_loop 1 s, connect_timeout 1 s), as the agent runs it, compiled to
// JavaScript first (bench/checks-compile.ts) so that tsx's loader is not measured (--tsx
// measures it under tsx instead). HAProxy: Debian's /usr/sbin/haproxy -db in the lb namespace,
// one backend per service, every server `check inter 1s` (TCP connect checks; `option
// httpchk GET /` for HTTP). floor: bench/checks-floor.ts, the least a Node process can do
// to make the same connections (no scheduler, timeouts or results), to show how much of
// keepgit's cost is Node's net module and the kernel. Each runs alone, in turn, --runs times
// (the machine is shared: medians are printed, and every run's CPU): started, left --warmup
// seconds, then measured for --seconds: CPU = (utime + stime) delta from /proc/PID/stat over
// the wall time, as % of one core (every thread of the process counts); RSS = VmRSS at the
// end. The backends count what they receive (SYNs by an nftables counter in their namespace,
// completed handshakes by the kernel's Tcp PassiveOpens, HTTP requests by the server), so
// every checker's rate is measured by the same witness. Every process is started by this
// bench and ended by its PID.
//
// The lab's network is the kernel's: a packet sent through a veth is carried across the
// bridge and handled by the receiving namespace's TCP stack in the sender's system call, so
// the sender's CPU includes the backend's and the bridge's kernel work, for every contender
// alike. HAProxy's TCP checks never complete the handshake (it answers the SYN-ACK with a
// reset), which also spares it that work; Node cannot do that.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { must, run } from '../src/lab/run.ts';
import { createLab, type Lab } from '../src/lab/topology.ts';
import { type Lines, lines, stopChild } from './checks-child.ts';
import { type Compiled, compile } from './checks-compile.ts';
import { FIRST_PORT, haproxyConfig, haproxyUp, NODE, PORTS, plan, repository } from './checks-targets.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '10' },
    tcp: { type: 'string', default: '2000' },
    http: { type: 'string', default: '500' },
    only: { type: 'string', default: 'keepgit,haproxy,floor' },
    'cpu-prof': { type: 'string' },
    tsx: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: node --import tsx bench/checks.ts [--runs 3] [--seconds 30] [--warmup 10] [--tcp 2000] [--http 500]\n' +
      '       [--only keepgit,haproxy,floor] [--cpu-prof DIR (profile keepgit with node --cpu-prof)] [--tsx (run keepgit under tsx)]',
  );
  process.exit(0);
}
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1)
  throw new Error(`--runs ${values.runs}: expected a positive integer`);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const TCP = Number(values.tcp);
const HTTP = Number(values.http);
const ONLY = new Set(values.only.split(','));
for (const [flag, v] of [
  ['--seconds', SECONDS],
  ['--warmup', WARMUP],
] as const)
  if (!(v > 0)) throw new Error(`${flag}: expected a positive number of seconds`);
for (const [flag, v] of [
  ['--tcp', TCP],
  ['--http', HTTP],
] as const)
  if (!Number.isInteger(v) || v < 0 || v % PORTS !== 0)
    throw new Error(`${flag} ${v}: expected a multiple of ${PORTS} (targets are addresses × ${PORTS} ports)`);
const CONTENDERS = ['keepgit', 'haproxy', 'floor'] as const;
type Contender = (typeof CONTENDERS)[number];
for (const o of ONLY)
  if (!(CONTENDERS as readonly string[]).includes(o))
    throw new Error(`--only ${o}: expected some of ${CONTENDERS.join(',')}`);
if (process.getuid?.() !== 0) {
  console.error('bench/checks.ts needs root (network namespaces)');
  process.exit(1);
}
const HAPROXY = '/usr/sbin/haproxy';
if (ONLY.has('haproxy') && !existsSync(HAPROXY)) {
  console.error(`bench/checks.ts needs ${HAPROXY} (apt-get install haproxy), or --only keepgit`);
  process.exit(1);
}

const ROOT = resolve(import.meta.dirname, '..');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const RUNNER = 'bench/checks-runner.ts';
const FLOOR = 'bench/checks-floor.ts';
const BACKEND = 'bench/checks-backend.ts';

interface Figures {
  name: string;
  pid: number;
  cpuPercent: number;
  /** The part of cpuPercent spent in the kernel on the process's behalf (system calls). */
  systemPercent: number;
  /** The part of cpuPercent used by the main thread (the rest: V8's GC helpers, libuv's pool). */
  mainPercent: number;
  rssMb: number;
  threads: number;
  tcpPerS: number;
  tcpEstablishedPerS: number;
  httpPerS: number;
  /** What the checker itself says about its servers at the end. */
  status: string;
  load: string;
}

/** utime+stime and stime alone (ticks), VmRSS (kB) and thread count of a process. */
function procStat(pid: number): {
  ticks: number;
  systemTicks: number;
  mainTicks: number;
  rssKb: number;
  threads: number;
} {
  // After "pid (comm) " the state is field 3; utime and stime are fields 14 and 15.
  const times = (path: string) => {
    const stat = readFileSync(path, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]), system: Number(f[12]) };
  };
  const all = times(`/proc/${pid}/stat`);
  const main = times(`/proc/${pid}/task/${pid}/stat`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    ticks: all.user + all.system,
    systemTicks: all.system,
    mainTicks: main.user + main.system,
    rssKb: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0),
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0),
  };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** HAProxy's `show stat` over its stats socket (a path: reachable from any namespace). */
function haproxyStat(socket: string): Promise<string> {
  return new Promise((resolveStat, reject) => {
    let out = '';
    const s = connect(socket, () => s.write('show stat\n'));
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      out += d;
    });
    s.on('end', () => resolveStat(out));
    s.on('error', reject);
  });
}

interface Counts {
  /** Connection attempts (SYNs) the TCP backends received: one per check. */
  tcp: number;
  /** Handshakes the TCP backends' kernels completed (Tcp PassiveOpens of their namespaces). */
  tcpEstablished: number;
  /** Requests the HTTP backends answered. */
  http: number;
}

interface Backends {
  count(): Promise<Counts>;
}

const COUNTERS = 'keepgit_bench_checks';

/** A counter of the SYNs a backend receives, in an nftables table of its own namespace. */
function countSyns(lab: Lab, host: string): void {
  must(
    'ip',
    ['netns', 'exec', lab.nsName(host), 'nft', '-f', '-'],
    [
      `table inet ${COUNTERS} {`,
      '  counter syns {}',
      '  chain input {',
      '    type filter hook input priority 0; policy accept;',
      '    tcp flags & (syn | ack) == syn counter name "syns"',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
}

function syns(lab: Lab, host: string): number {
  const out = must('ip', [
    'netns',
    'exec',
    lab.nsName(host),
    'nft',
    'list',
    'counter',
    'inet',
    COUNTERS,
    'syns',
  ]);
  return Number(/packets (\d+)/.exec(out)?.[1] ?? Number.NaN);
}

/** Tcp PassiveOpens of a namespace: handshakes its kernel completed, whatever the application did. */
function passiveOpens(lab: Lab, host: string): number {
  const snmp = must('ip', ['netns', 'exec', lab.nsName(host), 'cat', '/proc/net/snmp']);
  const [names, numbers] = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  const i = names?.split(' ').indexOf('PassiveOpens') ?? -1;
  return Number(numbers?.split(' ')[i] ?? Number.NaN);
}

async function startBackends(
  lab: Lab,
  p: ReturnType<typeof plan>,
  node: (ts: string) => string[],
): Promise<Backends> {
  const talk: { host: string; mode: 'tcp' | 'http'; io: Lines }[] = [];
  for (const b of p.backends) {
    const ns = lab.nsName(b.host);
    must('ip', ['-n', ns, '-batch', '-'], b.addresses.map((a) => `addr add ${a}/32 dev eth0\n`).join(''));
    must('ip', ['-n', lab.nsName('lb'), 'route', 'add', b.route, 'via', lab.address(b.host, 4)]);
    if (b.mode === 'tcp') countSyns(lab, b.host);
    const child = lab.spawn(
      b.host,
      process.execPath,
      [...node(BACKEND), b.mode, String(FIRST_PORT), String(PORTS)],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const io = lines(child);
    await io.next('READY', 30_000);
    talk.push({ host: b.host, mode: b.mode, io });
  }
  return {
    count: async () => {
      const answers = await Promise.all(talk.map((t) => t.io.ask('count', 'COUNT', 10_000)));
      const total: Counts = { tcp: 0, tcpEstablished: 0, http: 0 };
      answers.forEach((a, i) => {
        const t = talk[i] as (typeof talk)[number];
        if (t.mode === 'tcp') {
          total.tcp += syns(lab, t.host);
          total.tcpEstablished += passiveOpens(lab, t.host);
        } else total.http += Number(a.split(' ')[2] ?? 0);
      });
      return total;
    },
  };
}

/** Leaves `pid` to settle, then measures it for SECONDS with the backends as witnesses. */
async function measure(
  name: string,
  pid: number,
  backends: Backends,
  status: () => Promise<string>,
): Promise<Figures> {
  await sleep(WARMUP * 1000);
  const c0 = await backends.count();
  const s0 = procStat(pid);
  const t0 = performance.now();
  const load0 = load();
  await sleep(SECONDS * 1000);
  const c1 = await backends.count();
  const s1 = procStat(pid);
  const wall = (performance.now() - t0) / 1000;
  return {
    name,
    pid,
    cpuPercent: ((s1.ticks - s0.ticks) / CLK_TCK / wall) * 100,
    systemPercent: ((s1.systemTicks - s0.systemTicks) / CLK_TCK / wall) * 100,
    mainPercent: ((s1.mainTicks - s0.mainTicks) / CLK_TCK / wall) * 100,
    rssMb: s1.rssKb / 1024,
    threads: s1.threads,
    tcpPerS: (c1.tcp - c0.tcp) / wall,
    tcpEstablishedPerS: (c1.tcpEstablished - c0.tcpEstablished) / wall,
    httpPerS: (c1.http - c0.http) / wall,
    status: await status(),
    load: `${load0} → ${load()}`,
  };
}

/** A Node contender: READY once loaded, "report" answered with REPORT <json>, "exit" to end. */
async function runNode(
  lab: Lab,
  name: Contender,
  args: string[],
  backends: Backends,
  describe: (report: Record<string, unknown>) => string,
): Promise<Figures> {
  const prof =
    name === 'keepgit' && values['cpu-prof']
      ? ['--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`]
      : [];
  const child = lab.spawn('lb', process.execPath, [...prof, ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const io = lines(child);
  try {
    await io.next('READY', 60_000);
    return await measure(name, child.pid as number, backends, async () =>
      describe(JSON.parse((await io.ask('report', 'REPORT', 10_000)).slice(7)) as Record<string, unknown>),
    );
  } finally {
    // "exit" lets --cpu-prof write its profile; the PID is the fallback.
    child.stdin?.write('exit\n');
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
    await stopChild(child);
  }
}

function describeKeepgit(report: Record<string, unknown>): string {
  const r = report as {
    servers: number;
    up: number;
    tried: number;
    checks: number;
    reasons: Record<string, number>;
    sockets: string;
  };
  const failing = Object.entries(r.reasons)
    .map(([k, v]) => `${v}× ${k}`)
    .join('; ');
  return `${r.up}/${r.servers} real servers up, ${r.tried}/${r.checks} checks attempted, ${r.sockets} sockets${failing ? `, last failed: ${failing}` : ''}`;
}

async function runHaproxy(lab: Lab, dir: string, backends: Backends): Promise<Figures> {
  const socket = join(dir, 'haproxy.sock');
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(plan(TCP, HTTP).targets, socket));
  const check = run(HAPROXY, ['-c', '-q', '-f', cfg]);
  if (check.status !== 0) throw new Error(`haproxy refused the generated configuration: ${check.stderr}`);
  const child = lab.spawn('lb', HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  const io = lines(child);
  try {
    const until = Date.now() + 30_000;
    while (!existsSync(socket)) {
      if (child.exitCode !== null || Date.now() > until)
        throw new Error(`haproxy did not start: ${io.stderr()}`);
      await sleep(100);
    }
    return await measure('haproxy', child.pid as number, backends, async () => {
      const { up, total } = haproxyUp(await haproxyStat(socket));
      return `${up}/${total} servers UP`;
    });
  } finally {
    await stopChild(child);
  }
}

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
};

function table(runs: Map<Contender, Figures[]>): void {
  const med = (c: Contender, f: (x: Figures) => number): number | undefined => {
    const rs = runs.get(c);
    return rs && rs.length > 0 ? median(rs.map(f)) : undefined;
  };
  const fmt = (n: number | undefined, d = 1) => (n === undefined ? '—' : n.toFixed(d));
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? '—' : (a / b).toFixed(2);
  const line = (label: string, f: (x: Figures) => number, d = 1) => {
    const [k, h, fl] = CONTENDERS.map((c) => med(c, f));
    console.log(
      `${label.padEnd(36)} ${fmt(k, d).padStart(9)} ${fmt(h, d).padStart(9)} ${ratio(k, h).padStart(7)} ${fmt(fl, d).padStart(9)}`,
    );
  };
  const checks = (x: Figures) => x.tcpPerS + x.httpPerS;
  console.log(
    `\n${`medians of ${RUNS} run(s)`.padEnd(36)} ${'keepgit'.padStart(9)} ${'haproxy'.padStart(9)} ${'ratio'.padStart(7)} ${'floor'.padStart(9)}`,
  );
  line('CPU, % of one core', (x) => x.cpuPercent);
  line('  of which in the kernel (stime)', (x) => x.systemPercent);
  line('  of which on the main thread', (x) => x.mainPercent);
  line('RSS at the end, MB', (x) => x.rssMb);
  line('TCP checks/s (SYNs at the backends)', (x) => x.tcpPerS, 0);
  line('  handshakes completed/s', (x) => x.tcpEstablishedPerS, 0);
  line('HTTP checks/s (requests answered)', (x) => x.httpPerS, 0);
  line('CPU ms per 1,000 checks', (x) => (checks(x) > 0 ? (x.cpuPercent * 10 * 1000) / checks(x) : 0), 2);
  line('threads', (x) => x.threads, 0);
  for (const [c, rs] of runs)
    for (const [i, r] of rs.entries())
      console.log(
        `${c} run ${i + 1}: CPU ${r.cpuPercent.toFixed(1)} %, RSS ${r.rssMb.toFixed(1)} MB; ${r.status}; load average ${r.load}`,
      );
  const cpu = med('keepgit', (x) => x.cpuPercent);
  const rss = med('keepgit', (x) => x.rssMb);
  if (cpu !== undefined && rss !== undefined)
    console.log(
      `keepgit against the target (under 25 % of one core, under 150 MB RSS): CPU ${cpu < 25 ? 'met' : 'NOT met'}, RSS ${rss < 150 ? 'met' : 'NOT met'}`,
    );
}

const p = plan(TCP, HTTP);
const dir = mkdtempSync(join(tmpdir(), 'keepgit-bench-checks-'));
let lab: Lab | undefined;
try {
  let node: (ts: string) => string[] = (ts) => ['--import', 'tsx', join(ROOT, ts)];
  let how = 'under tsx (--tsx): the loader is part of the figures';
  if (!values.tsx) {
    const built: Compiled | { error: string } = compile([RUNNER, BACKEND, FLOOR], join(dir, 'build'));
    if ('error' in built) console.log(`could not compile, measuring under tsx instead: ${built.error}`);
    else {
      node = (ts) => [built.js(ts)];
      how = built.note;
    }
  }
  const haproxyVersion = run(HAPROXY, ['-v']).stdout.split('\n')[0] ?? '';
  console.log(
    `bench/checks: ${TCP} TCP + ${HTTP} HTTP checks at 1 s against ${p.targets.length} distinct targets in ` +
      `${p.backends.length} backend namespaces; ${RUNS} run(s) of ${[...ONLY].join(', ')} in turn, each ` +
      `left ${WARMUP} s to settle and measured for ${SECONDS} s\n` +
      `keepgit and floor: node ${process.version}, ${how}\nhaproxy: ${haproxyVersion}\n` +
      `machine: ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, load average ${load()}`,
  );
  lab = createLab({
    prefix: `kgbc${process.pid.toString(36)}`,
    hosts: ['lb', ...p.backends.map((b) => b.host)],
  });
  const backends = await startBackends(lab, p, node);
  const filesPath = join(dir, 'repository.json');
  writeFileSync(filesPath, JSON.stringify(repository(p.targets)));
  const runs = new Map<Contender, Figures[]>();
  for (let r = 0; r < RUNS; r++)
    for (const c of CONTENDERS) {
      if (!ONLY.has(c)) continue;
      const figures =
        c === 'keepgit'
          ? await runNode(lab, c, [...node(RUNNER), filesPath, NODE], backends, describeKeepgit)
          : c === 'floor'
            ? await runNode(
                lab,
                c,
                [...node(FLOOR), String(TCP), String(HTTP)],
                backends,
                (x) => `${x.attempts} connections made`,
              )
            : await runHaproxy(lab, dir, backends);
      runs.set(c, [...(runs.get(c) ?? []), figures]);
      console.log(
        `run ${r + 1}, ${c}: CPU ${figures.cpuPercent.toFixed(1)} % of one core, RSS ${figures.rssMb.toFixed(1)} MB`,
      );
    }
  table(runs);
} finally {
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
}
