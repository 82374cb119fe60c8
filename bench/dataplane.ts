// bench/dataplane.ts — how long the nftables dataplane takes to program the kernel:
// 1,000 services × 10 real servers from empty, 10,000 × 10 from empty, and a one-server
// change to the 1,000 set (targets 200 ms, 2 s, 30 ms), each beside the hand-written
// one-map design of shared/PLATFORM.md (one rule, one map keyed by
// `ip daddr . tcp dport . numgen inc mod 10`), timed with `nft -f` in the same run.
// Median of 5 runs each (every run of "from empty" with a fresh driver, so the first ones
// include Node's JIT warming up, as an agent's first apply does). Root only; everything
// happens in a network namespace this process creates and deletes (also on an error or
// SIGINT). Machines here are shared: the load average is printed, and only the ratio to
// the peer measured in the same run means much. Run by hand:
//
//   node --import tsx bench/dataplane.ts [--runs 5] [--verbose]
//
// --verbose prints every run as total/nft-alone in ms.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { DataplaneContent, Destination, Service } from '../src/drivers/dataplane/dataplane.ts';
import { createNftDataplane } from '../src/drivers/dataplane/nft-dataplane.ts';
import { nftRunner } from '../src/drivers/dataplane/nft-runner.ts';
import { onProcessEnd } from '../src/lab/cleanup.ts';
import { addNamespace, removeNamespacesSync } from '../src/lab/namespaces.ts';
import { isRoot, missingTool, run } from '../src/lab/run.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, verbose: { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
const REAL_SERVERS = 10;

if (!isRoot()) {
  console.error('bench/dataplane.ts needs root (it works in a network namespace of its own)');
  process.exit(1);
}
const missing = missingTool(['ip', 'nft']);
if (missing) {
  console.error(
    `bench/dataplane.ts needs ${missing} (apt-get install ${missing === 'ip' ? 'iproute2' : 'nftables'})`,
  );
  process.exit(1);
}

// Documentation addresses only: VIPs in 203.0.113.0/24 (250 of them, then the next port),
// real servers in 198.51.100.0/24.
const vip = (i: number) => `203.0.113.${(i % 250) + 1}`;
const vport = (i: number) => 1000 + Math.floor(i / 250);
const real = (i: number, k: number) => `198.51.100.${((i + k * 7) % 250) + 1}`;

function content(n: number): DataplaneContent {
  const services: Service[] = [];
  for (let i = 0; i < n; i++) {
    const destinations: Destination[] = [];
    for (let k = 0; k < REAL_SERVERS; k++)
      destinations.push({ address: real(i, k), port: 8000 + k, weight: 1, forwarding: 'nat' });
    services.push({
      key: `svc-${i}`,
      family: 4,
      protocol: 'TCP',
      address: vip(i),
      port: vport(i),
      scheduler: 'rr',
      destinations,
    });
  }
  return { services };
}

/** The peer: PLATFORM.md's hand-written one-map table, as one nft script. */
function peerScript(n: number): string {
  const elements: string[] = [];
  for (let i = 0; i < n; i++)
    for (let k = 0; k < REAL_SERVERS; k++)
      elements.push(`${vip(i)} . ${vport(i)} . ${k} : ${real(i, k)} . ${8000 + k}`);
  return [
    'table ip peer {}',
    'delete table ip peer',
    'table ip peer {',
    '  map m {',
    `    typeof ip daddr . tcp dport . numgen inc mod ${REAL_SERVERS} : ip daddr . tcp dport`,
    `    elements = { ${elements.join(',\n      ')} }`,
    '  }',
    '  chain pre {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    dnat ip to ip daddr . tcp dport . numgen inc mod ${REAL_SERVERS} map @m`,
    '  }',
    '}',
    '',
  ].join('\n');
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);

const ns = `kgbench${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'keepgit-bench-dp-'));
const cleanup = () => {
  removeNamespacesSync([ns]);
  rmSync(dir, { recursive: true, force: true });
};
const unregister = onProcessEnd(cleanup);

const nftIn = (args: string[]) => run('ip', ['netns', 'exec', ns, 'nft', ...args]);
/** `nft -f` on a script, timed (writing the file is not counted). */
function timedFile(name: string, text: string): number {
  const file = join(dir, name);
  writeFileSync(file, text);
  const t0 = performance.now();
  const r = nftIn(['-f', file]);
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`peer script ${name}: ${r.stderr.slice(0, 500)}`);
  return t;
}

interface Row {
  what: string;
  ours: number[];
  kernel: number[];
  peer: number[];
  target: number;
}

try {
  addNamespace(ns);
  const runner = nftRunner(['ip', 'netns', 'exec', ns, 'nft']);
  const rows: Row[] = [];

  for (const n of [1000, 10_000]) {
    const c = content(n);
    const peer = peerScript(n);
    const row: Row = {
      what: `${n.toLocaleString('en')} × ${REAL_SERVERS} from empty`,
      ours: [],
      kernel: [],
      peer: [],
      target: n === 1000 ? 200 : 2000,
    };
    for (let r = 0; r < runs; r++) {
      // A fresh driver (no copy of a previous apply) on an empty namespace each time.
      nftIn(['flush', 'ruleset']);
      const dp = createNftDataplane({ runner });
      const t0 = performance.now();
      const stats = await dp.apply(c);
      row.ours.push(performance.now() - t0);
      row.kernel.push(stats.ms);
      if (stats.added !== n) throw new Error(`expected ${n} services added, got ${JSON.stringify(stats)}`);
      nftIn(['flush', 'ruleset']);
      row.peer.push(timedFile(`peer-${n}.nft`, peer));
    }
    console.log(row.what, row.ours.map((x, i) => `${x.toFixed(0)}/${row.kernel[i]?.toFixed(0)}`).join(' '));
    rows.push(row);
  }

  // One real server changed in the 1,000 set, back and forth.
  {
    nftIn(['flush', 'ruleset']);
    const a = content(1000);
    const b = structuredClone(a);
    const changed = b.services[500]?.destinations[3];
    if (!changed) throw new Error('unreachable');
    changed.address = '198.51.100.254';
    const dp = createNftDataplane({ runner });
    await dp.apply(a);
    timedFile('peer-1000.nft', peerScript(1000));
    const key = `${vip(500)} . ${vport(500)} . 3`;
    const peerChange = (to: string) =>
      `delete element ip peer m { ${key} }\nadd element ip peer m { ${key} : ${to} . 8003 }\n`;
    const row: Row = {
      what: 'one real server changed (of 1,000 × 10)',
      ours: [],
      kernel: [],
      peer: [],
      target: 30,
    };
    for (let r = 0; r < runs; r++) {
      const next = r % 2 === 0 ? b : a;
      const t0 = performance.now();
      const stats = await dp.apply(next);
      row.ours.push(performance.now() - t0);
      row.kernel.push(stats.ms);
      if (stats.changed !== 1 || stats.added + stats.removed !== 0)
        throw new Error(`expected one changed service, got ${JSON.stringify(stats)}`);
      const to = r % 2 === 0 ? '198.51.100.254' : (a.services[500]?.destinations[3]?.address ?? '');
      row.peer.push(timedFile('peer-change.nft', peerChange(to)));
    }
    console.log(row.what, row.ours.map((x, i) => `${x.toFixed(0)}/${row.kernel[i]?.toFixed(0)}`).join(' '));
    rows.push(row);
  }

  console.log(
    `nftables dataplane (nft ${nftIn(['--version'])
      .stdout.trim()
      .replace(/^nftables /, '')}), median of ${runs} runs`,
  );
  console.log(
    '  keepgit = apply() wall time (check, diff, render, nft -f - with the batch on stdin); in () the nft -f - alone',
  );
  console.log("  peer    = nft -f on PLATFORM.md's hand-written one-map script (no metadata, no read-back)");
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  console.log(`  load average at the end: ${load} (${cpus().length} CPUs)`);
  for (const r of rows) {
    if (values.verbose)
      console.log(
        `  ${r.what}: keepgit ${r.ours.map((x, i) => `${x.toFixed(0)}/${r.kernel[i]?.toFixed(0)}`).join(' ')}; peer ${r.peer.map((x) => x.toFixed(0)).join(' ')}`,
      );
    const ours = median(r.ours);
    const peer = median(r.peer);
    const verdict = ours <= r.target ? 'within target' : 'OVER target';
    console.log(
      `${r.what.padEnd(42)} keepgit ${ms(ours).padStart(8)} (${ms(median(r.kernel))})   peer ${ms(peer).padStart(8)}   ratio ${(ours / peer).toFixed(2)}   target ${ms(r.target)}: ${verdict}`,
    );
  }
} finally {
  cleanup();
  unregister();
}
