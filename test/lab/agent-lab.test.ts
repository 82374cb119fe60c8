import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab } from '../../src/lab/topology.ts';
import {
  agentStatus,
  badLines,
  deadline,
  describeRun,
  hasVip,
  killAgents,
  type Running,
  startAgent,
  waitFor,
  writeRepo,
} from './agent-harness.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// Two real `keepgit agent` processes in a lab (lb1, lb2 and a client on one bridge), one
// VRRPv3 IPv4 instance and one VRRPv3 IPv6 instance at 100 ms adverts: election, VIPs on
// the master only, a crash (cut off and SIGKILLed: the peer takes over by timeout), a
// restart that preempts back, and a SIGTERM (priority 0: the peer takes over within its
// skew and the old master's VIPs go). Root only; everything is torn down in `finally`.

const why = labUnavailable(['ping', 'nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const VIP4 = '192.0.2.100';
const VIP6 = '2001:db8::100';

const CLUSTER = `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: agent-lab }
defaults:
  vrrp: { version: 3, advertInterval: 100ms, preempt: true }
instances:
  - name: web4
    vrid: 51
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP4}/24]
  - name: web6
    vrid: 52
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP6}/64]
`;
const NODE = (name: string, n: number) => `apiVersion: keepgit/v1
kind: Node
metadata: { name: ${name} }
interfaces:
  eth0:
    addresses: [192.0.2.${10 + n}/24, 2001:db8::${10 + n}/64]
`;

describe('keepgit agent in the lab', { skip }, () => {
  it('elects, fails over on crash and on SIGTERM, and preempts back after a restart', async (t) => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const repo = writeRepo(CLUSTER, { lb1: NODE('lb1', 1), lb2: NODE('lb2', 2) });
    const lab = createLab({ prefix: `${RUN_PREFIX}-ag`, hosts: ['lb1', 'lb2', 'client'] });
    const agents: Running[] = [];
    const run = (host: string) => {
      const r = startAgent(lab, host, repo);
      agents.push(r);
      return r;
    };
    try {
      let lb1 = run('lb1');
      const lb2 = run('lb2');

      // Election: lb1 (110) holds both VIPs, lb2 none.
      await waitFor(
        'the VIPs on lb1',
        async () => (await hasVip(lab, 'lb1', VIP4)) && (await hasVip(lab, 'lb1', VIP6)),
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1) + describeRun(lb2)));
      await waitFor(
        'lb2 to be a backup of both',
        () => lb2.lines.filter((l) => l.event === 'started').length === 2,
        15000,
      );
      await sleep(500);
      assert.equal(await hasVip(lab, 'lb2', VIP4), false, describeRun(lb2));
      assert.equal(await hasVip(lab, 'lb2', VIP6), false, describeRun(lb2));
      assert.ok(await lab.ping('client', VIP4, 4), 'the client reaches the IPv4 VIP');
      assert.ok(await lab.ping('client', VIP6, 6), 'the client reaches the IPv6 VIP');

      // GET /status, from inside lb1's namespace (the API listens on lb1's own loopback).
      const body = await agentStatus(lab, lb1);
      assert.deepEqual(
        body.instances.map((i) => [i.name, i.state, i.master]),
        [
          ['web4', 'Master', 'self'],
          ['web6', 'Master', 'self'],
        ],
      );

      // Drift: the IPv4 VIP deleted by hand on the master is put back (and announced).
      await lab.exec('lb1', 'ip', ['addr', 'del', `${VIP4}/24`, 'dev', 'eth0']);
      await waitFor('lb1 to put the deleted VIP back', () => hasVip(lab, 'lb1', VIP4), 5000).catch(
        (e: Error) => assert.fail(e.message + describeRun(lb1)),
      );
      assert.ok(
        lb1.lines.some((l) => l.event === 'vip-healed' && l.address === `${VIP4}/24`),
        describeRun(lb1),
      );
      assert.ok(await lab.ping('client', VIP4, 4), 'the client reaches the healed VIP');

      // Crash: lb1 cut off and killed. Its VIPs stay behind (as with keepalived); lb2 takes
      // over one master-down interval (3 × 100 ms + skew) after lb1's last advert.
      const beforeCrash = lb2.lines.length;
      lab.isolate('lb1');
      lb1.child.kill('SIGKILL');
      await lb1.exited;
      const crashTakeover = await waitFor(
        'the VIPs on lb2 after the crash',
        async () => (await hasVip(lab, 'lb2', VIP4)) && (await hasVip(lab, 'lb2', VIP6)),
        3000,
      );
      assert.ok(await lab.ping('client', VIP4, 4));
      const downs = lb2.lines.slice(beforeCrash).filter((l) => l.event === 'transition' && l.to === 'Master');
      assert.deepEqual(
        downs.map((l) => l.reason),
        ['master-down', 'master-down'],
      );

      // Restart: lb1 comes back, drops the VIPs the crash left behind while it listens, and
      // preempts lb2 (higher priority, preempt on).
      lab.reconnect('lb1');
      lb1 = run('lb1');
      await waitFor(
        'lb1 to preempt',
        () => lb1.lines.filter((l) => l.event === 'transition' && l.to === 'Master').length === 2,
        15000,
      ).catch((e: Error) => assert.fail(e.message + describeRun(lb1)));
      await waitFor(
        'lb2 to release',
        async () => !(await hasVip(lab, 'lb2', VIP4)) && !(await hasVip(lab, 'lb2', VIP6)),
        3000,
      );
      assert.ok(await hasVip(lab, 'lb1', VIP4));
      assert.ok(await lab.ping('client', VIP4, 4));

      // SIGTERM: priority 0; lb2 takes over within its skew; lb1 releases after hearing it and exits 0.
      const before = lb2.lines.length;
      lb1.child.kill('SIGTERM');
      await waitFor(
        'the VIPs on lb2 after SIGTERM',
        async () => (await hasVip(lab, 'lb2', VIP4)) && (await hasVip(lab, 'lb2', VIP6)),
        3000,
      );
      const code = await Promise.race([lb1.exited, deadline(3000)]);
      assert.equal(code, 0, describeRun(lb1));
      assert.equal(await hasVip(lab, 'lb1', VIP4), false);
      assert.equal(await hasVip(lab, 'lb1', VIP6), false);
      const resigned = lb2.lines.slice(before).filter((l) => l.event === 'transition' && l.to === 'Master');
      assert.deepEqual(
        resigned.map((l) => l.reason),
        ['master-resigned', 'master-resigned'],
        describeRun(lb2),
      );
      const released = lb1.lines.filter((l) => l.event === 'transition' && l.from === 'Stopping');
      assert.deepEqual(
        released.map((l) => l.reason),
        ['successor-heard', 'successor-heard'],
        describeRun(lb1),
      );
      assert.ok(await lab.ping('client', VIP4, 4));
      assert.ok(await lab.ping('client', VIP6, 6));

      // Signal received on lb1 → lb2 master, from the two agents' own (same-host) clocks.
      const signalAt = Date.parse(String(lb1.lines.find((l) => l.event === 'signal')?.ts));
      const gaps = resigned.map((l) => Date.parse(l.ts) - signalAt);
      t.diagnostic(`crash: VIPs seen on lb2 ${crashTakeover} ms after SIGKILL (polling every 20 ms)`);
      t.diagnostic(`SIGTERM: lb2 master ${gaps.join(' and ')} ms after lb1 got the signal`);
      for (const r of agents) {
        assert.deepEqual(badLines(r), [], describeRun(r));
      }
      lb2.child.kill('SIGTERM');
      assert.equal(await Promise.race([lb2.exited, deadline(5000)]), 0, describeRun(lb2));
      assert.equal(
        await hasVip(lab, 'lb2', VIP4),
        false,
        'with no successor, the release bound lets the VIP go',
      );
    } finally {
      killAgents(agents);
      await lab.destroy();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
