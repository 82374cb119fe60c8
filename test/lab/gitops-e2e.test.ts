import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import {
  badLines,
  deadline,
  describeRun,
  hasVip,
  killAgents,
  nodeDoc,
  type Running,
  startAgentWith,
  transitions,
  waitFor,
} from './agent-harness.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// The GitOps loop end to end, in the lab: a Git smart-HTTP server (git http-backend behind
// a small Node server) runs in its own lab host; two agents follow its main branch with
// signature verification on (an SSH key), polling only hourly, so every change they make
// comes from a webhook POSTed to them as GitHub would. A client pings instance B's VIP all
// along. Pushed in turn:
//   1. a signed commit adding a VIP to instance A  → both apply it, the master holds it;
//   2. a signed commit with invalid YAML           → refused, reason in /status and the log;
//   3. a signed commit breaking a policy           → refused;
//   4. an unsigned commit (valid content)          → refused: not signed;
//   5. a signed commit again                        → applied;
//   6. a signed commit without a webhook            → `keepgit reconcile --once` on each
//      node hands it to the agent and exits 0 once applied;
//   7. the Git server stopped                       → both nodes keep running and report the
//      unreachable remote; a restarted agent starts from its cache.
// B sees no transition and the client loses no ping to B's VIP throughout.

const why = labUnavailable(['ping', 'git', 'ssh-keygen']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const ROOT = resolve(import.meta.dirname, '../..');
const SECRET = 'e2e-webhook-secret';
const VIP_A = '192.0.2.100';
const VIP_A2 = '192.0.2.101';
const VIP_A3 = '192.0.2.102';
const VIP_B = '192.0.2.200';

const CLUSTER = (vipsA: string[], priorities = '{ lb1: 110, lb2: 100 }') => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: e2e }
defaults:
  vrrp: { version: 3, advertInterval: 100ms, preempt: true }
instances:
  - name: a
    vrid: 61
    interface: eth0
    priority: ${priorities}
    vips: [${vipsA.map((v) => `${v}/24`).join(', ')}]
  - name: b
    vrid: 62
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP_B}/24]
`;

interface GitServer {
  url: string;
  push(files: Record<string, string>, message: string, sign?: boolean): Promise<string>;
  child: ChildProcess;
}

async function startGitServer(lab: Lab, key: string): Promise<GitServer> {
  const child = lab.spawn(
    'git',
    process.execPath,
    ['--import', 'tsx', 'test/lab/git-http-serve.ts', lab.address('git', 4), key],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const nextLine = () => new Promise<string>((r) => waiting.push(r));
  const ready = await Promise.race([nextLine(), deadline(30000)]);
  assert.ok(ready.startsWith('READY '), `git server: ${ready}`);
  const { url } = JSON.parse(ready.slice(6)) as { url: string };
  return {
    url,
    child,
    push: async (files, message, sign = true) => {
      const answer = nextLine();
      child.stdin?.write(`${JSON.stringify({ push: { files, message, sign } })}\n`);
      const line = await answer;
      assert.ok(line.startsWith('PUSHED '), `push failed: ${line}`);
      return line.slice(7);
    },
  };
}

/** What GitHub POSTs on a push, signed with the webhook secret, sent inside the host. */
async function webhook(lab: Lab, r: Running, after: string): Promise<number> {
  const port = r.lines.find((l) => l.event === 'listening')?.port;
  assert.ok(port, `${r.host} does not listen${describeRun(r)}`);
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after,
    repository: { clone_url: 'http://git.example/repo.git' },
  });
  const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const script = `fetch('http://127.0.0.1:${port}/hooks/git',{method:'POST',headers:{'content-type':'application/json','x-github-event':'push','x-hub-signature-256':${JSON.stringify(sig)}},body:${JSON.stringify(body)}}).then(r=>process.stdout.write(String(r.status)))`;
  const res = await lab.exec(r.host, process.execPath, ['-e', script], { timeoutMs: 10000 });
  return Number(res.stdout);
}

async function status(
  lab: Lab,
  r: Running,
): Promise<{
  source: { lastError?: string };
  revision: { applied: string | null; refused: { rev: string; reason: string }[] };
}> {
  const port = r.lines.find((l) => l.event === 'listening')?.port;
  const res = await lab.exec(
    r.host,
    process.execPath,
    ['-e', `fetch('http://127.0.0.1:${port}/status').then(r=>r.text()).then(t=>process.stdout.write(t))`],
    { timeoutMs: 10000 },
  );
  return JSON.parse(res.stdout);
}

const settled = (r: Running, commit: string) =>
  r.lines.find(
    (l) => (l.event === 'revision-applied' || l.event === 'revision-refused') && l.revision === commit,
  );

describe('GitOps end to end', { skip }, () => {
  it('follows a Git server over smart HTTP: webhook-driven applies, refusals kept out, B undisturbed', async (t) => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-e2e-'));
    const key = join(dir, 'signer');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'e2e@keepgit', '-f', key]);
    writeFileSync(join(dir, 'webhook-secret'), `${SECRET}\n`, { mode: 0o600 });
    const lab = createLab({ prefix: `${RUN_PREFIX}-e2e`, hosts: ['lb1', 'lb2', 'client', 'git'] });
    const agents: Running[] = [];
    let pinger: ChildProcess | undefined;
    try {
      const git = await startGitServer(lab, key);
      const first = await git.push(
        {
          'keepgit.yaml': CLUSTER([VIP_A]),
          'nodes/lb1.yaml': nodeDoc('lb1', 1),
          'nodes/lb2.yaml': nodeDoc('lb2', 2),
        },
        'initial',
      );
      for (const host of ['lb1', 'lb2']) {
        const config = join(dir, `${host}.yaml`);
        writeFileSync(
          config,
          `node: ${host}
stateDir: ${join(dir, `${host}-state`)}
source:
  git: { url: ${git.url}, branch: main, interval: 1h }
webhook: { secretFile: ${join(dir, 'webhook-secret')} }
trust:
  keys: [ { file: ${key}.pub } ]
`,
        );
        agents.push(startAgentWith(lab, host, ['--config', config, '--listen', '127.0.0.1:0']));
      }
      const [lb1, lb2] = agents as [Running, Running];
      await waitFor(
        'lb1 master of A and B',
        async () => (await hasVip(lab, 'lb1', VIP_A)) && (await hasVip(lab, 'lb1', VIP_B)),
        30000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1) + describeRun(lb2)));
      await waitFor(
        'both listening',
        () => agents.every((a) => a.lines.some((l) => l.event === 'listening')),
        10000,
      );
      for (const a of agents)
        assert.equal(
          (await status(lab, a)).revision.applied,
          first,
          `runs the first commit${describeRun(a)}`,
        );

      await sleep(500);
      const mark1 = lb1.lines.length;
      const mark2 = lb2.lines.length;
      pinger = lab.spawn('client', 'ping', ['-n', '-q', '-i', '0.01', '-W', '1', '-w', '600', VIP_B], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let pingOut = '';
      pinger.stdout?.on('data', (b: Buffer) => {
        pingOut += b.toString('utf8');
      });
      const pingDone = new Promise<void>((res) => pinger?.on('exit', () => res()));

      const push = async (files: Record<string, string>, message: string, sign = true) => {
        const commit = await git.push(files, message, sign);
        const t0 = Date.now();
        for (const a of agents) assert.equal(await webhook(lab, a, commit), 202, describeRun(a));
        for (const a of agents)
          await waitFor(
            `${a.host} to settle ${message}`,
            () => settled(a, commit) !== undefined,
            20000,
          ).catch((e: Error) => assert.fail(e.message + describeRun(a)));
        t.diagnostic(`${message}: settled on both nodes ${Date.now() - t0} ms after the webhook`);
        return commit;
      };
      const refusedOn = async (a: Running, commit: string, pattern: RegExp) => {
        const line = settled(a, commit);
        assert.equal(line?.event, 'revision-refused', describeRun(a));
        assert.match(String(line?.message), pattern, describeRun(a));
        const s = await status(lab, a);
        assert.equal(s.revision.refused[0]?.rev, commit);
        assert.match(s.revision.refused[0]?.reason ?? '', pattern);
      };

      // 1. A VIP added to A.
      const added = await push({ 'keepgit.yaml': CLUSTER([VIP_A, VIP_A2]) }, 'add a VIP to A');
      for (const a of agents) assert.equal(settled(a, added)?.event, 'revision-applied', describeRun(a));
      await waitFor('the new VIP on the master', () => hasVip(lab, 'lb1', VIP_A2), 5000);
      assert.equal(await hasVip(lab, 'lb2', VIP_A2), false, 'the backup holds no VIP');
      assert.ok(await lab.ping('client', VIP_A2, 4), 'the new VIP answers');
      for (const a of agents) assert.equal((await status(lab, a)).revision.applied, added);

      // 2. Invalid YAML.
      const broken = await push({ 'keepgit.yaml': 'instances: [ {name: a\n' }, 'break the YAML');
      for (const a of agents) await refusedOn(a, broken, /keepgit\.yaml/);

      // 3. A policy violation: two nodes with the same priority for A.
      const tie = await push(
        { 'keepgit.yaml': CLUSTER([VIP_A, VIP_A2], '{ lb1: 100, lb2: 100 }') },
        'tie the priorities',
      );
      for (const a of agents) await refusedOn(a, tie, /priorit/i);

      // 4. Unsigned, with content that would otherwise pass.
      const unsigned = await push({ 'keepgit.yaml': CLUSTER([VIP_A, VIP_A2, VIP_A3]) }, 'unsigned', false);
      for (const a of agents) {
        // Refused before the gate: the log says so, /status lists it.
        await waitFor(
          'the refusal in /status',
          async () => (await status(lab, a)).revision.refused[0]?.rev === unsigned,
          5000,
        );
        const s = await status(lab, a);
        assert.match(s.revision.refused[0]?.reason ?? '', /not signed/);
        assert.equal(s.revision.applied, added, 'the last good revision still runs');
      }
      assert.equal(await hasVip(lab, 'lb1', VIP_A3), false, 'nothing of the unsigned commit was applied');
      assert.equal(await hasVip(lab, 'lb1', VIP_A2), true, 'the last good revision is kept');

      // 5. Signed again: applied.
      const fixed = await push({ 'keepgit.yaml': CLUSTER([VIP_A, VIP_A3]) }, 'signed again');
      for (const a of agents) assert.equal(settled(a, fixed)?.event, 'revision-applied', describeRun(a));
      await waitFor('A3 on the master', () => hasVip(lab, 'lb1', VIP_A3), 5000);
      assert.equal(await hasVip(lab, 'lb1', VIP_A2), false);

      // 6. No webhook: `keepgit reconcile --once` on each node hands the head to its agent.
      const viaOnce = await git.push({ 'keepgit.yaml': CLUSTER([VIP_A, VIP_A2]) }, 'reconcile --once');
      for (const a of agents) {
        const port = a.lines.find((l) => l.event === 'listening')?.port;
        const r = await lab.exec(
          a.host,
          process.execPath,
          [
            join(ROOT, 'bin/keepgit.js'),
            'reconcile',
            '--once',
            '--config',
            join(dir, `${a.host}.yaml`),
            '--agent',
            `http://127.0.0.1:${port}`,
          ],
          { timeoutMs: 60000 },
        );
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}${describeRun(a)}`);
        assert.match(r.stdout, new RegExp(`applied ${viaOnce}`));
      }
      await waitFor('A2 back on the master', () => hasVip(lab, 'lb1', VIP_A2), 5000);

      // B never moved, and its VIP never stopped answering.
      if (pinger.pid !== undefined) process.kill(pinger.pid, 'SIGINT');
      await Promise.race([pingDone, deadline(5000)]);
      const summary = /(\d+) packets transmitted, (\d+) received/.exec(pingOut);
      assert.ok(summary, `ping printed no summary: ${pingOut}`);
      t.diagnostic(`ping to B's VIP through every revision: ${summary[0]}`);
      assert.equal(summary[1], summary[2], `replies to B's VIP lost: ${pingOut}`);
      assert.deepEqual(transitions(lb1, mark1), [], describeRun(lb1));
      assert.deepEqual(transitions(lb2, mark2), [], describeRun(lb2));
      for (const a of agents) assert.deepEqual(badLines(a, { rollout: true }), [], describeRun(a));

      // 7. The Git server goes away: the nodes keep what they run and say why in /status; a
      // restarted agent starts from its last good revision in the cache, without the network.
      git.child.stdin?.end();
      await new Promise((r) => git.child.once('exit', r));
      for (const a of agents) assert.equal(await webhook(lab, a, viaOnce), 202);
      for (const a of agents)
        await waitFor(
          `${a.host} to report the unreachable remote`,
          async () => /cannot reach/.test((await status(lab, a)).source.lastError ?? ''),
          10000,
        );
      assert.equal(await hasVip(lab, 'lb1', VIP_A2), true, 'the master keeps its VIPs');
      lb2.child.kill('SIGTERM');
      assert.equal(await Promise.race([lb2.exited, deadline(5000)]), 0, describeRun(lb2));
      const again = startAgentWith(lab, 'lb2', [
        '--config',
        join(dir, 'lb2.yaml'),
        '--listen',
        '127.0.0.1:0',
      ]);
      agents.push(again);
      await waitFor(
        'lb2 back, listening',
        () => again.lines.some((l) => l.event === 'listening'),
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(again)));
      const restarted = await status(lab, again);
      assert.equal(restarted.revision.applied, viaOnce, `starts from the cache${describeRun(again)}`);

      for (const a of [lb1, again]) a.child.kill('SIGTERM');
      for (const a of [lb1, again])
        assert.equal(await Promise.race([a.exited, deadline(5000)]), 0, describeRun(a));
    } finally {
      if (pinger?.pid !== undefined && pinger.exitCode === null && pinger.signalCode === null)
        process.kill(pinger.pid, 'SIGKILL');
      killAgents(agents);
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
