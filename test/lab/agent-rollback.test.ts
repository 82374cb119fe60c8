import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLab } from '../../src/lab/topology.ts';
import {
  deadline,
  describeRun,
  hasVip,
  killAgents,
  nodeDoc,
  type Running,
  startAgentWith,
  waitFor,
  writeRepo,
} from './agent-harness.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// Rollback and the apply journal with a real agent and a real kernel, in a lab namespace.
//
// 1. The kernel refuses a VIP in the middle of an apply: IPv6 is switched off on lb1's eth0
//    (net.ipv6.conf.eth0.disable_ipv6=1, inside the lab namespace), and a revision gives the
//    IPv4 instance a new IPv4 VIP and an IPv6 excluded VIP, and drops one IPv4 VIP. After
//    SIGHUP the new IPv4 VIP is not on the node, the dropped one is back, and the log says
//    rolled back with the kernel's words.
// 2. kill -9 during an apply: a revision adds 50 VIPs; the agent is killed after it added
//    them and before it deleted its journal (KEEPGIT_TEST_HOLD_JOURNAL_MS holds it there), and
//    restarted on the old repository: none of the 50 is left, each logged leftover-removed.
//
// Root only; everything is torn down in `finally`.

const why = labUnavailable(['sysctl']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const CLUSTER = (vips: string[], excluded: string[] = []) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: rollback-lab }
defaults:
  vrrp: { version: 3, advertInterval: 100ms, preempt: true }
instances:
  - name: a
    vrid: 51
    interface: eth0
    priority: { lb1: 110 }
    vips: [${vips.join(', ')}]
${excluded.length > 0 ? `    excludedVips: [${excluded.join(', ')}]\n` : ''}`;

const stateOf = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
    applied: { revision: string } | null;
    refused: { revision: string; reason: string }[];
  };

describe('rollback and the apply journal in the lab', { skip }, () => {
  it('a VIP the kernel refuses mid-apply rolls the revision back', async (t) => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const repo = writeRepo(CLUSTER(['192.0.2.100/24', '192.0.2.101/24']), { lb1: nodeDoc('lb1', 1) });
    const state = mkdtempSync(join(tmpdir(), 'keepgit-rollback-state-'));
    const lab = createLab({ prefix: `${RUN_PREFIX}-rb`, hosts: ['lb1'] });
    const agents: Running[] = [];
    try {
      const lb1 = startAgentWith(lab, 'lb1', ['--repo-dir', repo, '--node', 'lb1'], {
        KEEPGIT_STATE_DIR: state,
      });
      agents.push(lb1);
      await waitFor(
        'lb1 master of A',
        async () => (await hasVip(lab, 'lb1', '192.0.2.100')) && (await hasVip(lab, 'lb1', '192.0.2.101')),
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1)));
      await waitFor('state.json', () => existsSync(join(state, 'state.json')), 5000);
      const before = stateOf(state).applied?.revision;
      assert.ok(before);

      const off = await lab.exec('lb1', 'sysctl', ['-w', 'net.ipv6.conf.eth0.disable_ipv6=1'], {
        timeoutMs: 5000,
      });
      assert.equal(off.status, 0, off.stderr);
      // The kept VIP, a new IPv4 one, and an IPv6 one the kernel must refuse; .101 dropped.
      writeFileSync(
        join(repo, 'keepgit.yaml'),
        CLUSTER(['192.0.2.100/24', '192.0.2.102/24'], ['2001:db8::100/64']),
      );
      const mark = lb1.lines.length;
      assert.ok(lb1.child.pid);
      process.kill(lb1.child.pid, 'SIGHUP');
      await waitFor(
        'the revision to be rolled back',
        () =>
          lb1.lines
            .slice(mark)
            .some((l) => l.event === 'revision-rolled-back' || l.event === 'revision-applied'),
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1)));
      const after = lb1.lines.slice(mark);
      const rolled = after.find((l) => l.event === 'revision-rolled-back');
      assert.ok(rolled, describeRun(lb1));
      t.diagnostic(`rolled back: ${String(rolled.message)}`);
      assert.match(String(rolled.message), /cannot add 2001:db8::100\/64 to eth0/, describeRun(lb1));
      assert.match(String(rolled.message), /rolled back$/, describeRun(lb1));
      assert.match(String(rolled.message), /EACCES\): IPv6 is switched off on eth0/, describeRun(lb1));
      assert.equal(
        after.some((l) => l.event === 'revision-applied'),
        false,
      );
      // The kernel's answer is in the line: the errno it gave for an address on a link without IPv6.
      const error = after.find((l) => l.event === 'vip-error');
      assert.ok(error, describeRun(lb1));
      assert.match(
        String(rolled.message),
        new RegExp(String(error.errno ?? error.reason ?? '').replace(/\W/g, '.')),
      );

      // Back as it was: the new IPv4 VIP gone, the dropped one there again.
      assert.equal(await hasVip(lab, 'lb1', '192.0.2.102'), false);
      assert.equal(await hasVip(lab, 'lb1', '192.0.2.100'), true);
      assert.equal(await hasVip(lab, 'lb1', '192.0.2.101'), true);
      assert.ok(
        after.some((l) => l.event === 'vip-added' && l.address === '192.0.2.102/24'),
        'the new VIP was really added before the refusal',
      );
      // The record: still the old revision, the refusal with its reason; no journal left.
      await waitFor('the refusal recorded', () => stateOf(state).refused.length > 0, 5000);
      const recorded = stateOf(state);
      assert.equal(recorded.applied?.revision, before);
      assert.match(recorded.refused[0]?.reason ?? '', /rolled back: cannot add 2001:db8::100\/64/);
      assert.equal(existsSync(join(state, 'apply-journal.json')), false);

      lb1.child.kill('SIGTERM');
      assert.equal(await Promise.race([lb1.exited, deadline(5000)]), 0, describeRun(lb1));
    } finally {
      killAgents(agents);
      await lab.destroy();
      rmSync(repo, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('kill -9 in the middle of an apply: the next start removes what it added', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const OLD = ['192.0.2.100/24'];
    const NEW = Array.from({ length: 50 }, (_, i) => `192.0.2.${120 + i}`);
    const repo = writeRepo(CLUSTER(OLD), { lb1: nodeDoc('lb1', 1) });
    const state = mkdtempSync(join(tmpdir(), 'keepgit-rollback-state-'));
    const lab = createLab({ prefix: `${RUN_PREFIX}-rk`, hosts: ['lb1'] });
    const agents: Running[] = [];
    try {
      const first = startAgentWith(lab, 'lb1', ['--repo-dir', repo, '--node', 'lb1'], {
        KEEPGIT_STATE_DIR: state,
        KEEPGIT_TEST_HOLD_JOURNAL_MS: '60000',
      });
      agents.push(first);
      await waitFor('lb1 master', () => hasVip(lab, 'lb1', '192.0.2.100'), 15000).catch((e: Error) =>
        assert.fail(e.message + describeRun(first)),
      );
      writeFileSync(join(repo, 'keepgit.yaml'), CLUSTER([...OLD, ...NEW.map((v) => `${v}/24`)]));
      assert.ok(first.child.pid);
      process.kill(first.child.pid, 'SIGHUP');
      await waitFor(
        'the 50 VIPs added',
        () =>
          first.lines.filter((l) => l.event === 'vip-added' && l.reason === 'reload').length === NEW.length,
        20000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(first)));
      assert.ok(existsSync(join(state, 'apply-journal.json')), 'the journal is still there');
      process.kill(first.child.pid, 'SIGKILL');
      await Promise.race([first.exited, deadline(5000)]);
      assert.equal(first.child.signalCode, 'SIGKILL');
      for (const v of NEW.slice(0, 3))
        assert.ok(await hasVip(lab, 'lb1', v), `${v} left by the killed agent`);

      // Restarted on the old repository, which does not know the 50.
      writeFileSync(join(repo, 'keepgit.yaml'), CLUSTER(OLD));
      const second = startAgentWith(lab, 'lb1', ['--repo-dir', repo, '--node', 'lb1'], {
        KEEPGIT_STATE_DIR: state,
      });
      agents.push(second);
      await waitFor(
        'the agent to start',
        () => second.lines.some((l) => l.event === 'agent-started'),
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(second)));
      const removed = second.lines.filter((l) => l.event === 'leftover-removed').map((l) => l.address);
      for (const v of NEW)
        assert.ok(removed.includes(`${v}/24`), `${v} logged leftover-removed${describeRun(second)}`);
      const ip = await lab.exec('lb1', 'ip', ['-o', 'addr', 'show', 'dev', 'eth0'], { timeoutMs: 5000 });
      for (const v of NEW)
        assert.equal(ip.stdout.includes(` ${v}/`), false, `${v} still on the node:\n${ip.stdout}`);
      assert.equal(existsSync(join(state, 'apply-journal.json')), false);
      await waitFor('lb1 master again', () => hasVip(lab, 'lb1', '192.0.2.100'), 15000);

      second.child.kill('SIGTERM');
      assert.equal(await Promise.race([second.exited, deadline(5000)]), 0, describeRun(second));
    } finally {
      killAgents(agents);
      await lab.destroy();
      rmSync(repo, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    }
  });
});
