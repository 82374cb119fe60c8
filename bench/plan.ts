// bench/plan.ts — time to load + validate + policy + plan a generated fleet
// (default 1,000 instances, 10,000 real servers, 20 nodes), beside the time keepalived
// itself takes to load and check the same configuration (`keepalived -t`, one run per
// node, as each node of a keepalived fleet parses its own file).
//
//   npm run bench:plan [-- --pairs 10 --instances 100 --real-servers 10 --runs 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { exportKeepalived } from '../src/config/export-keepalived.ts';
import { loadRepository } from '../src/config/load-repository.ts';
import { hasErrors } from '../src/model/diagnostic.ts';
import { nodeView } from '../src/model/node-view.ts';
import { planRepositories } from '../src/plan/plan-revisions.ts';
import { runPolicies } from '../src/policy/run-policies.ts';
import { generateFleet } from './generate-fleet.ts';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '10' },
    instances: { type: 'string', default: '100' },
    'real-servers': { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
  },
});
const shape = {
  pairs: Number(values.pairs),
  instancesPerPair: Number(values.instances),
  realServers: Number(values['real-servers']),
};
const runs = Number(values.runs);
const before = generateFleet(shape);
const after = generateFleet(shape, { reweight: 25, addVip: 5 });
const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const instances = shape.pairs * shape.instancesPerPair;
console.log(
  `fleet: ${shape.pairs * 2} nodes, ${instances} instances, ${instances} virtual servers, ${instances * shape.realServers} real servers; ${runs} runs, median`,
);

const t = { load: [] as number[], policy: [] as number[], plan: [] as number[], total: [] as number[] };
let changes = 0;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const a = loadRepository(before);
  const b = loadRepository(after);
  const t1 = performance.now();
  if (!a.repository || !b.repository || hasErrors(a.diagnostics) || hasErrors(b.diagnostics)) {
    console.error('generated fleet does not load:', [...a.diagnostics, ...b.diagnostics].slice(0, 5));
    process.exit(1);
  }
  const policy = runPolicies(b.repository);
  const t2 = performance.now();
  if (hasErrors(policy)) {
    console.error('generated fleet violates policy:', policy.slice(0, 5));
    process.exit(1);
  }
  const plan = planRepositories(a.repository, b.repository);
  const t3 = performance.now();
  changes = plan.nodes.reduce((s, n) => s + n.changes.length, 0);
  t.load.push(t1 - t0);
  t.policy.push(t2 - t1);
  t.plan.push(t3 - t2);
  t.total.push(t3 - t0);
}
const f = (ms: number) => `${ms.toFixed(0)} ms`;
console.log(
  `keepgit  load+validate (2 revisions) ${f(median(t.load))}, policy ${f(median(t.policy))}, plan ${f(median(t.plan))} (${changes} changes)`,
);
console.log(
  `keepgit  total: ${f(median(t.total))}  (target < 1000 ms; first, cold run: ${f(t.total[0] ?? Number.NaN)})`,
);

// The peer: keepalived parsing and checking each node's configuration.
const dir = mkdtempSync(join(tmpdir(), 'keepgit-bench-'));
try {
  const repo = loadRepository(after).repository;
  if (!repo) throw new Error('unreachable');
  const confs = repo.nodes.map((n) => {
    const file = join(dir, `${n.doc.metadata.name}.conf`);
    writeFileSync(
      file,
      exportKeepalived(
        nodeView(
          repo.cluster.doc,
          repo.nodes.map((x) => x.doc),
          n.doc.metadata.name,
        ),
      ),
    );
    return file;
  });
  const probe = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    console.log('keepalived: not installed (apt-get install keepalived) — no peer figure');
  } else {
    const ka: number[] = [];
    let rc = 0;
    for (let r = 0; r < runs; r++) {
      const s = performance.now();
      for (const conf of confs) {
        // -t: parse and check the configuration, then exit; -l: messages to the console.
        rc = Math.max(rc, spawnSync('keepalived', ['-t', '-f', conf], { stdio: 'ignore' }).status ?? 1);
      }
      ka.push(performance.now() - s);
    }
    const k = median(ka);
    console.log(
      `keepalived -t on the same ${confs.length} node configurations: ${f(k)}${rc ? ` (exit ${rc})` : ''}`,
    );
    console.log(
      `ratio keepgit/keepalived: ${(median(t.total) / k).toFixed(2)}  (keepgit also diffs two revisions and runs policies)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
