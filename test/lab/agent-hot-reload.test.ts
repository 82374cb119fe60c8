import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab } from '../../src/lab/topology.ts';
import {
  badLines,
  deadline,
  describeRun,
  hasVip,
  killAgents,
  nodeDoc,
  type Running,
  startAgent,
  transitions,
  waitFor,
  writeRepo,
} from './agent-harness.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// Hot reload with real agents: lb1 and lb2 run instances A and B (VRRPv3, 100 ms adverts,
// lb1 preferred); a client pings B's VIP every 10 ms while the repository is rewritten so
// that A's VIP list changes (one VIP added, one removed) and both agents get SIGHUP. B must
// not notice: no transition on either node, not one ping lost. A's new VIP answers from
// the master, its removed one is gone, and the backup holds neither. Root only; everything
// is torn down in `finally`.

const why = labUnavailable(['ping']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const VIP_A_OLD = '192.0.2.100';
const VIP_A_KEPT = '192.0.2.101';
const VIP_A_NEW = '192.0.2.102';
const VIP_B = '192.0.2.200';

const CLUSTER = (vipsA: string[]) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: reload-lab }
defaults:
  vrrp: { version: 3, advertInterval: 100ms, preempt: true }
instances:
  - name: a
    vrid: 51
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${vipsA.map((v) => `${v}/24`).join(', ')}]
  - name: b
    vrid: 52
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP_B}/24]
`;

describe('hot reload in the lab', { skip }, () => {
  it("changes A's VIP list on SIGHUP without B losing a transition or a ping", async (t) => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const repo = writeRepo(CLUSTER([VIP_A_OLD, VIP_A_KEPT]), {
      lb1: nodeDoc('lb1', 1),
      lb2: nodeDoc('lb2', 2),
    });
    const lab = createLab({ prefix: `${RUN_PREFIX}-hr`, hosts: ['lb1', 'lb2', 'client'] });
    const agents: Running[] = [];
    let pinger: ReturnType<typeof lab.spawn> | undefined;
    try {
      const lb1 = startAgent(lab, 'lb1', repo);
      const lb2 = startAgent(lab, 'lb2', repo);
      agents.push(lb1, lb2);
      await waitFor(
        'lb1 master of A and B',
        async () => (await hasVip(lab, 'lb1', VIP_A_OLD)) && (await hasVip(lab, 'lb1', VIP_B)),
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1) + describeRun(lb2)));
      await waitFor(
        'lb2 backup of both',
        () => lb2.lines.filter((l) => l.event === 'started').length === 2,
        15000,
      );
      await sleep(500);
      assert.ok(await lab.ping('client', VIP_B, 4), 'the client reaches B');
      const mark1 = lb1.lines.length;
      const mark2 = lb2.lines.length;

      // 400 pings 10 ms apart (about 4 s), each waiting up to 1 s for its reply.
      pinger = lab.spawn('client', 'ping', ['-n', '-q', '-i', '0.01', '-W', '1', '-c', '400', VIP_B], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let pingOut = '';
      pinger.stdout?.on('data', (b: Buffer) => {
        pingOut += b.toString('utf8');
      });
      const pingDone = new Promise<number | null>((res) => pinger?.on('exit', (code) => res(code)));
      await sleep(1000);

      writeFileSync(join(repo, 'keepgit.yaml'), CLUSTER([VIP_A_KEPT, VIP_A_NEW]));
      for (const a of [lb1, lb2]) {
        assert.ok(a.child.pid);
        process.kill(a.child.pid, 'SIGHUP');
      }
      for (const a of [lb1, lb2])
        await waitFor(
          `${a.host} to apply the revision`,
          () => a.lines.some((l) => l.event === 'revision-applied' || l.event === 'revision-refused'),
          15000,
        ).catch((e: Error) => assert.fail(e.message + describeRun(a)));
      for (const a of [lb1, lb2]) {
        const applied = a.lines.find((l) => l.event === 'revision-applied');
        assert.ok(applied, describeRun(a));
        assert.deepEqual(applied.changed, ['a'], describeRun(a));
        assert.deepEqual(applied.unchanged, ['b'], describeRun(a));
      }

      const code = await Promise.race([pingDone, deadline(20000)]);
      const summary = /(\d+) packets transmitted, (\d+) received/.exec(pingOut);
      assert.ok(summary, `ping printed no summary (exit ${code}): ${pingOut}`);
      t.diagnostic(`ping to B's VIP during the reload: ${summary[0]}`);
      assert.equal(summary[1], '400');
      assert.equal(summary[2], '400', `replies lost while A was reloaded: ${pingOut}`);

      // Nothing moved on either node, for A or B.
      assert.deepEqual(transitions(lb1, mark1), [], describeRun(lb1));
      assert.deepEqual(transitions(lb2, mark2), [], describeRun(lb2));
      // A's new VIP on the master only, reachable; the removed one gone everywhere.
      await waitFor('the new VIP on lb1', () => hasVip(lab, 'lb1', VIP_A_NEW), 5000);
      assert.equal(await hasVip(lab, 'lb1', VIP_A_OLD), false);
      assert.equal(await hasVip(lab, 'lb1', VIP_A_KEPT), true);
      assert.equal(await hasVip(lab, 'lb2', VIP_A_NEW), false);
      assert.equal(await hasVip(lab, 'lb2', VIP_A_OLD), false);
      assert.ok(await lab.ping('client', VIP_A_NEW, 4), "the client reaches A's new VIP");
      assert.equal(await lab.ping('client', VIP_A_OLD, 4), false, "A's removed VIP no longer answers");
      assert.ok(
        lb1.lines.some(
          (l) => l.event === 'vip-added' && l.reason === 'reload' && l.address === `${VIP_A_NEW}/24`,
        ),
        describeRun(lb1),
      );
      for (const a of agents) assert.deepEqual(badLines(a, { rollout: true }), [], describeRun(a));

      for (const a of agents) a.child.kill('SIGTERM');
      for (const a of agents) assert.equal(await Promise.race([a.exited, deadline(5000)]), 0, describeRun(a));
    } finally {
      if (pinger?.pid !== undefined && pinger.exitCode === null && pinger.signalCode === null)
        process.kill(pinger.pid, 'SIGKILL');
      killAgents(agents);
      await lab.destroy();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
