import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DriftItem } from '../../src/api/node-status.ts';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import {
  agentStatus,
  describeRun,
  hasVip,
  killAgents,
  type Running,
  startAgentWith,
  waitFor,
  writeRepo,
} from './agent-harness.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// Drift with real `keepgit agent` processes in a lab: a VIP deleted by hand with `ip addr
// del` on a master (healed; with selfHeal false only reported, in GET /status), two agents
// with different VRRP passwords (both master, both report split brain), and an element of
// keepgit's nftables table deleted by hand (reported on the resync and healed). Root only;
// namespaces, state directories and repositories are removed in `finally`.

const why = labUnavailable(['nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const NODE = (name: string) => `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${name} }\n`;

interface Scratch {
  dirs: string[];
  agents: Running[];
}

/** An agent configuration for `host` following `repo`, and the agent started with it. */
function startWith(
  lab: Lab,
  host: string,
  repo: string,
  s: Scratch,
  extra: string,
  env: Record<string, string> = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'keepgit-drift-lab-'));
  s.dirs.push(dir);
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, `source:\n  dir: { path: ${repo} }\n${extra}`);
  const r = startAgentWith(
    lab,
    host,
    ['--config', config, '--node', host, '--listen', '127.0.0.1:0', '--state-dir', join(dir, 'state')],
    env,
  );
  s.agents.push(r);
  return r;
}

const driftOf = async (lab: Lab, r: Running): Promise<DriftItem[]> =>
  ((await agentStatus(lab, r)) as unknown as { drift: DriftItem[] }).drift;

/** The drift in GET /status; none while the agent is not listening yet. */
const driftSoFar = async (lab: Lab, r: Running): Promise<DriftItem[]> =>
  r.lines.some((l) => l.event === 'listening') ? driftOf(lab, r) : [];

const lineIndex = (r: Running, pred: (l: Running['lines'][number]) => boolean) => r.lines.findIndex(pred);

async function cleanUp(lab: Lab, s: Scratch): Promise<void> {
  killAgents(s.agents);
  await Promise.all(s.agents.map((a) => a.exited));
  await lab.destroy();
  for (const d of s.dirs) rmSync(d, { recursive: true, force: true });
}

describe('drift in the lab', { skip }, () => {
  it('ip addr del of the VIP on a master: detected and healed; with selfHeal false reported in /status', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    // lb1 is master of web (.100), lb2 of web-b (.101); lb2 runs with selfHeal false.
    const repo = writeRepo(
      `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: drift-lab }
defaults:
  vrrp: { version: 3, advertInterval: 100ms, preempt: true }
instances:
  - name: web
    vrid: 71
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.100/24]
  - name: web-b
    vrid: 72
    interface: eth0
    priority: { lb1: 100, lb2: 110 }
    vips: [192.0.2.101/24]
`,
      { lb1: NODE('lb1'), lb2: NODE('lb2') },
    );
    const s: Scratch = { dirs: [repo], agents: [] };
    const lab = createLab({ prefix: `${RUN_PREFIX}-dv`, hosts: ['lb1', 'lb2'] });
    try {
      const lb1 = startWith(lab, 'lb1', repo, s, '');
      const lb2 = startWith(lab, 'lb2', repo, s, 'selfHeal: false\nresync: 1s\n');
      const both = () => describeRun(lb1) + describeRun(lb2);
      await waitFor(
        'lb1 holding .100 and lb2 holding .101',
        async () => (await hasVip(lab, 'lb1', '192.0.2.100')) && (await hasVip(lab, 'lb2', '192.0.2.101')),
        15000,
      ).catch((e: Error) => assert.fail(e.message + both()));

      // Healing on: detected, healed, resolved, in that order.
      await lab.exec('lb1', 'ip', ['addr', 'del', '192.0.2.100/24', 'dev', 'eth0']);
      await waitFor(
        'lb1 to log drift-resolved',
        () => lb1.lines.some((l) => l.event === 'drift-resolved'),
        10000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1)));
      assert.ok(await hasVip(lab, 'lb1', '192.0.2.100'), describeRun(lb1));
      const detected = lineIndex(lb1, (l) => l.event === 'drift-detected');
      const healed = lineIndex(lb1, (l) => l.event === 'vip-healed');
      const resolved = lineIndex(lb1, (l) => l.event === 'drift-resolved');
      assert.ok(detected >= 0 && detected < healed && healed < resolved, describeRun(lb1));
      assert.deepEqual(
        [lb1.lines[detected]?.level, lb1.lines[detected]?.kind, lb1.lines[detected]?.subject],
        ['warn', 'vip-missing', 'instance web VIP 192.0.2.100/24'],
      );
      assert.deepEqual(await driftOf(lab, lb1), []);

      // Healing off: the VIP stays gone, GET /status says so, and resyncs do not log it again.
      await lab.exec('lb2', 'ip', ['addr', 'del', '192.0.2.101/24', 'dev', 'eth0']);
      await waitFor(
        'lb2 to report the missing VIP in /status',
        async () => (await driftOf(lab, lb2)).some((d) => d.kind === 'vip-missing'),
        10000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb2)));
      const items = await driftOf(lab, lb2);
      assert.deepEqual(
        items.map((d) => [d.kind, d.subject, d.expected, d.actual]),
        [['vip-missing', 'instance web-b VIP 192.0.2.101/24', 'present on eth0', 'absent']],
      );
      assert.match(items[0]?.since ?? '', /^\d{4}-\d\d-\d\dT/);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await hasVip(lab, 'lb2', '192.0.2.101'), false, describeRun(lb2));
      assert.equal(lb2.lines.filter((l) => l.event === 'vip-healed').length, 0);
      assert.equal(lb2.lines.filter((l) => l.event === 'drift-detected').length, 1, describeRun(lb2));
    } finally {
      await cleanUp(lab, s);
    }
  });

  it('two agents with different VRRP passwords: both master, both report split-brain in /status', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const repo = writeRepo(
      `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: split-lab }
instances:
  - name: web
    vrid: 73
    version: 2
    interface: eth0
    advertInterval: 1s
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.100/24]
    auth: { type: PASS, secretRef: { env: KEEPGIT_LAB_VRRP_PASS } }
`,
      { lb1: NODE('lb1'), lb2: NODE('lb2') },
    );
    const s: Scratch = { dirs: [repo], agents: [] };
    const lab = createLab({ prefix: `${RUN_PREFIX}-ds`, hosts: ['lb1', 'lb2'] });
    try {
      const lb1 = startWith(lab, 'lb1', repo, s, '', { KEEPGIT_LAB_VRRP_PASS: 'one-pass' });
      const lb2 = startWith(lab, 'lb2', repo, s, '', { KEEPGIT_LAB_VRRP_PASS: 'two-pass' });
      const both = () => describeRun(lb1) + describeRun(lb2);
      const split = async (r: Running) => (await driftSoFar(lab, r)).filter((d) => d.kind === 'split-brain');
      await waitFor(
        'both agents to report split brain',
        async () => (await split(lb1)).length === 1 && (await split(lb2)).length === 1,
        30000,
      ).catch((e: Error) => assert.fail(e.message + both()));
      assert.deepEqual(
        (await split(lb1)).map((d) => [d.subject, d.actual]),
        [['instance web VRID 73', 'another master at 192.0.2.12']],
      );
      assert.deepEqual(
        (await split(lb2)).map((d) => [d.subject, d.actual]),
        [['instance web VRID 73', 'another master at 192.0.2.11']],
      );
      const body = (await agentStatus(lab, lb1)) as unknown as {
        instances: { state: string }[];
        conditions: { type: string; status: string; reason: string }[];
      };
      assert.equal(body.instances[0]?.state, 'Master');
      assert.deepEqual(
        body.conditions.filter((c) => c.type === 'Ready').map((c) => [c.status, c.reason]),
        [['False', 'Drifted']],
      );
      assert.ok(
        lb1.lines.some((l) => l.event === 'advert-dropped' && l.reason === 'auth-mismatch'),
        describeRun(lb1),
      );
    } finally {
      await cleanUp(lab, s);
    }
  });

  it('an element of keepgit nftables table deleted by hand: reported on resync and healed', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const repo = writeRepo(
      `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: nft-drift-lab }
instances:
  - name: web
    vrid: 74
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110 }
    vips: [192.0.2.100/24]
virtualServers:
  - name: www
    address: 192.0.2.100
    port: 80
    scheduler: rr
    realServers:
      - { address: 198.51.100.11, port: 8080 }
      - { address: 198.51.100.12, port: 8080 }
`,
      { lb1: NODE('lb1') },
    );
    const s: Scratch = { dirs: [repo], agents: [] };
    const lab = createLab({ prefix: `${RUN_PREFIX}-dn`, hosts: ['lb1'] });
    const slots = async () =>
      (await lab.exec('lb1', 'nft', ['list', 'map', 'inet', 'keepgit_lb', 'slots4_tcp'], { timeoutMs: 5000 }))
        .stdout;
    try {
      const lb1 = startWith(lab, 'lb1', repo, s, 'resync: 1s\n');
      await waitFor(
        'both real servers in keepgit_lb',
        async () => {
          const text = await slots();
          return text.includes('198.51.100.11') && text.includes('198.51.100.12');
        },
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1)));

      const r = await lab.exec('lb1', 'nft', [
        'delete',
        'element',
        'inet',
        'keepgit_lb',
        'slots4_tcp',
        '{ 192.0.2.100 . 80 . 0 }',
      ]);
      assert.equal(r.status, 0, r.stderr);
      await waitFor(
        'lb1 to log drift-resolved for the dataplane',
        () => lb1.lines.some((l) => l.event === 'drift-resolved' && l.kind === 'dataplane'),
        10000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1)));
      const detected = lb1.lines.find((l) => l.event === 'drift-detected' && l.kind === 'dataplane');
      assert.deepEqual(
        [detected?.subject, detected?.expected],
        ['service www', '198.51.100.11:8080 w1, 198.51.100.12:8080 w1'],
        describeRun(lb1),
      );
      const text = await slots();
      assert.ok(text.includes('198.51.100.11') && text.includes('198.51.100.12'), text);
      assert.deepEqual(await driftOf(lab, lb1), []);
    } finally {
      await cleanUp(lab, s);
    }
  });
});
