import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import {
  agentStatus,
  badLines,
  count,
  deadline,
  describeRun,
  hasVip,
  killAgents,
  type Running,
  startAgent,
  transitions,
  waitFor,
  writeRepo,
} from './agent-harness.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// The acceptance scenarios of issue 3 that agent-lab.test.ts does not already cover, each
// with two real `keepgit agent` processes (lb1 priority 110, lb2 priority 100) and a
// client in a lab of its own:
//   1. VRRPv2 at 1 s: election (lb2 first, lb1 preempts), SIGKILL failover;
//   2. nopreempt: lb1 stopped → lb2 master; lb1 restarted → lb2 keeps the VIP;
//   3. link down on the master: Fault, takeover; link up: Backup, then preemption back;
//   4. unicast with VRRP multicast dropped at the bridge: election and failover;
//   5. a vrrp_script (weight -20) failing on lb1: lb2 preempts; passing again: lb1 takes back,
//      with notify_master scripts run as user nobody;
//   6. a sync group of two instances: a weight-0 script failing on one member of lb1's takes
//      both to Fault and both VIPs to lb2; passing again, lb1 takes both back.
// (Preemption back with preempt on and the priority-0 release are in agent-lab.test.ts.)
// The assertions are on who holds the VIP and on the transitions and reasons the agents
// log; durations only bound waitFor. Root only; everything is torn down in `finally`.

const why = labUnavailable(['ping', 'nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const VIP = '192.0.2.100';
const LB1 = '192.0.2.11';
const LB2 = '192.0.2.12';

const cluster = (vrrp: string, instance: string, top = '') => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: agent-scenarios }
defaults:
  vrrp: ${vrrp}
${top}instances:
  - name: web4
    vrid: 51
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP}/24]
${instance}`;

const node = (name: string, n: number, extra = '') => `apiVersion: keepgit/v1
kind: Node
metadata: { name: ${name} }
interfaces:
  eth0:
    addresses: [192.0.2.${10 + n}/24]
${extra}`;

const nodes = (extra: (n: number) => string = () => '') => ({
  lb1: node('lb1', 1, extra(1)),
  lb2: node('lb2', 2, extra(2)),
});

interface Scene {
  lab: Lab;
  run(host: string): Running;
  /** VIP on `holder` and on no other lb. */
  vipOnlyOn(holder: Running, other: Running, timeoutMs: number): Promise<void>;
}

/** A lab (lb1, lb2, client) and a repository for one scenario, torn down whatever happens. */
async function scene(
  tag: string,
  repoFiles: { cluster: string; nodes: Record<string, string> },
  body: (s: Scene) => Promise<void>,
): Promise<void> {
  if (why) assert.fail(`lab test cannot run: ${why}`);
  const repo = writeRepo(repoFiles.cluster, repoFiles.nodes);
  const lab = createLab({ prefix: `${RUN_PREFIX}-${tag}`, hosts: ['lb1', 'lb2', 'client'] });
  const agents: Running[] = [];
  try {
    await body({
      lab,
      run: (host) => {
        const r = startAgent(lab, host, repo);
        agents.push(r);
        return r;
      },
      vipOnlyOn: async (holder, other, timeoutMs) => {
        await waitFor(
          `${VIP} on ${holder.host} only`,
          async () => (await hasVip(lab, holder.host, VIP)) && !(await hasVip(lab, other.host, VIP)),
          timeoutMs,
        ).catch((e: Error) => assert.fail(e.message + describeRun(holder) + describeRun(other)));
      },
    });
  } finally {
    killAgents(agents);
    await lab.destroy();
    rmSync(repo, { recursive: true, force: true });
  }
}

/** Until the agent has started its instance and serves GET /status (logged last). */
async function waitStarted(r: Running): Promise<void> {
  await waitFor(
    `${r.host} to start its instance and listen`,
    () => count(r, (l) => l.event === 'started') > 0 && count(r, (l) => l.event === 'listening') > 0,
    15000,
  ).catch((e: Error) => assert.fail(e.message + describeRun(r)));
}

/** Waits for `n` transitions after log line `from`, then compares them all. */
async function expectTransitions(r: Running, from: number, expected: string[], timeoutMs: number) {
  await waitFor(
    `${r.host}: ${expected.join(', ')}`,
    () => transitions(r, from).length >= expected.length,
    timeoutMs,
  ).catch((e: Error) => assert.fail(e.message + describeRun(r)));
  assert.deepEqual(transitions(r, from), expected, describeRun(r));
}

/** The instance's state and the master it hears, from GET /status. */
async function seen(lab: Lab, r: Running): Promise<[string, string | null]> {
  const body = await agentStatus(lab, r);
  const web4 = body.instances.find((i) => i.name === 'web4');
  assert.ok(web4, describeRun(r));
  return [web4.state, web4.master];
}

/** lb2 starts first and holds the VIP until lb1 (higher) preempts it; then lb1 alone holds it. */
async function expectLb1Elected(
  lab: Lab,
  vipOnlyOn: (holder: Running, other: Running, timeoutMs: number) => Promise<void>,
  lb1: Running,
  lb2: Running,
  timeoutMs: number,
): Promise<void> {
  await expectTransitions(lb1, 0, ['Initialize>Backup:start', 'Backup>Master:preempt'], timeoutMs);
  await expectTransitions(
    lb2,
    0,
    ['Initialize>Backup:start', 'Backup>Master:master-down', 'Master>Backup:higher-priority'],
    5000,
  );
  await vipOnlyOn(lb1, lb2, 5000);
  assert.deepEqual(await seen(lab, lb2), ['Backup', LB1]);
  assert.ok(await lab.ping('client', VIP, 4), 'the client reaches the VIP');
}

/** lb1 cut off at the bridge and SIGKILLed (a killed agent leaves its VIP): lb2 takes over by timeout. */
async function crashLb1(lab: Lab, lb1: Running, lb2: Running, timeoutMs: number): Promise<void> {
  const mark = lb2.lines.length;
  lab.isolate('lb1');
  lb1.child.kill('SIGKILL');
  await lb1.exited;
  await expectTransitions(lb2, mark, ['Backup>Master:master-down'], timeoutMs);
  await waitFor(`${VIP} on lb2`, () => hasVip(lab, 'lb2', VIP), 5000);
  assert.ok(await lab.ping('client', VIP, 4), 'the client reaches the VIP on lb2');
}

describe('keepgit agent scenarios in the lab', { skip }, () => {
  it('VRRPv2 at 1 s: elects the higher priority, fails over by timeout after SIGKILL', async () => {
    const files = { cluster: cluster('{ version: 2, advertInterval: 1s }', ''), nodes: nodes() };
    await scene('v2', files, async ({ lab, run, vipOnlyOn }) => {
      // lb2 first: it times out its Master_Down_Interval (3 s + skew) and takes the VIP;
      // lb1, started later, hears a lower priority and preempts when its own timer ends.
      const lb2 = run('lb2');
      await waitStarted(lb2);
      const lb1 = run('lb1');
      await waitStarted(lb1);
      for (const r of [lb1, lb2])
        assert.equal(r.lines.find((l) => l.event === 'started')?.version, 2, describeRun(r));
      await expectLb1Elected(lab, vipOnlyOn, lb1, lb2, 20000);

      // Crash: lb1 cut off at the bridge and SIGKILLed; lb2 takes over by timeout.
      await crashLb1(lab, lb1, lb2, 10000);
      for (const r of [lb1, lb2]) assert.deepEqual(badLines(r), [], describeRun(r));
    });
  });

  it('nopreempt: a restarted higher-priority node leaves the VIP where it is', async () => {
    const files = {
      cluster: cluster('{ version: 3, advertInterval: 100ms }', '    state: BACKUP\n    preempt: false\n'),
      nodes: nodes(),
    };
    await scene('np', files, async ({ lab, run, vipOnlyOn }) => {
      // lb1 alone first: it becomes master (with nopreempt, whoever is first keeps it).
      let lb1 = run('lb1');
      await expectTransitions(lb1, 0, ['Initialize>Backup:start', 'Backup>Master:master-down'], 15000);
      await waitStarted(lb1);
      const lb2 = run('lb2');
      await waitStarted(lb2);
      await vipOnlyOn(lb1, lb2, 5000);
      await waitFor('lb2 to hear lb1', async () => (await seen(lab, lb2))[1] === LB1, 5000);
      assert.deepEqual(transitions(lb2), ['Initialize>Backup:start'], describeRun(lb2));

      // lb1 stopped (SIGTERM: priority 0): lb2 takes over.
      let mark = lb2.lines.length;
      lb1.child.kill('SIGTERM');
      assert.equal(await Promise.race([lb1.exited, deadline(5000)]), 0, describeRun(lb1));
      await expectTransitions(lb2, mark, ['Backup>Master:master-resigned'], 5000);
      await vipOnlyOn(lb2, lb1, 5000);

      // lb1 restarted: it hears lb2 (lower priority) and stays a backup, however long we wait.
      mark = lb2.lines.length;
      lb1 = run('lb1');
      await waitStarted(lb1);
      await waitFor('lb1 to hear lb2', async () => (await seen(lab, lb1))[1] === LB2, 5000);
      await sleep(1500); // 15 advert intervals, four Master_Down_Intervals
      assert.deepEqual(await seen(lab, lb1), ['Backup', LB2]);
      assert.deepEqual(transitions(lb1), ['Initialize>Backup:start'], describeRun(lb1));
      assert.deepEqual(transitions(lb2, mark), [], describeRun(lb2));
      assert.equal(await hasVip(lab, 'lb2', VIP), true);
      assert.equal(await hasVip(lab, 'lb1', VIP), false);
      assert.ok(await lab.ping('client', VIP, 4), 'the client reaches the VIP on lb2');
      for (const r of [lb1, lb2]) assert.deepEqual(badLines(r), [], describeRun(r));
    });
  });

  it('link down on the master: Fault and takeover; link up: Backup, then preemption', async () => {
    const files = { cluster: cluster('{ version: 3, advertInterval: 100ms }', ''), nodes: nodes() };
    await scene('ld', files, async ({ lab, run, vipOnlyOn }) => {
      const lb1 = run('lb1');
      await expectTransitions(lb1, 0, ['Initialize>Backup:start', 'Backup>Master:master-down'], 15000);
      await waitStarted(lb1);
      const lb2 = run('lb2');
      await waitStarted(lb2);
      await vipOnlyOn(lb1, lb2, 5000);
      await waitFor('lb2 to hear lb1', async () => (await seen(lab, lb2))[1] === LB1, 5000);

      // Link down: lb1's instance goes to Fault and drops the VIP; its priority-0 advert
      // cannot leave a link that is down, so lb2 takes over by timeout.
      let mark1 = lb1.lines.length;
      let mark2 = lb2.lines.length;
      lab.setLink('lb1', 'down');
      await expectTransitions(lb1, mark1, ['Master>Fault:fault'], 5000);
      await expectTransitions(lb2, mark2, ['Backup>Master:master-down'], 5000);
      await vipOnlyOn(lb2, lb1, 5000);
      const down = await agentStatus(lab, lb1);
      assert.deepEqual(
        down.instances.map((i) => [i.state, i.faults]),
        [['Fault', ['interface eth0 down']]],
      );
      assert.ok(await lab.ping('client', VIP, 4), 'the client reaches the VIP on lb2');

      // Link up: lb1 back to Backup with a fresh timer, hears lb2's lower priority and preempts.
      mark1 = lb1.lines.length;
      mark2 = lb2.lines.length;
      lab.setLink('lb1', 'up');
      await expectTransitions(lb1, mark1, ['Fault>Backup:fault-cleared', 'Backup>Master:preempt'], 5000);
      await expectTransitions(lb2, mark2, ['Master>Backup:higher-priority'], 5000);
      await vipOnlyOn(lb1, lb2, 5000);
      assert.ok(await lab.ping('client', VIP, 4), 'the client reaches the VIP on lb1');
      assert.deepEqual(badLines(lb2), [], describeRun(lb2));
      // The priority-0 advert on the way to Fault fails on the down link: one send-error line.
      assert.deepEqual(
        badLines(lb1).filter((l) => l.event !== 'send-error'),
        [],
        describeRun(lb1),
      );
    });
  });

  it('unicast with VRRP multicast dropped at the bridge: elects and fails over', async () => {
    const files = {
      cluster: cluster('{ version: 3, advertInterval: 100ms }', '    unicast: {}\n'),
      nodes: nodes((n) => `    unicastSource: 192.0.2.${10 + n}\n`),
    };
    await scene('uc', files, async ({ lab, run, vipOnlyOn }) => {
      lab.blockMulticast();
      // lb2 first, then lb1: lb1 can only preempt (and lb2 only yield) if each hears the other.
      const lb2 = run('lb2');
      await waitStarted(lb2);
      const lb1 = run('lb1');
      await waitStarted(lb1);
      for (const [r, address] of [
        [lb1, LB1],
        [lb2, LB2],
      ] as const)
        assert.equal(r.lines.find((l) => l.event === 'started')?.address, address, describeRun(r));
      await expectLb1Elected(lab, vipOnlyOn, lb1, lb2, 15000);

      // Crash: lb1 cut off and SIGKILLed; lb2 takes over by timeout.
      await crashLb1(lab, lb1, lb2, 5000);
      for (const r of [lb1, lb2]) assert.deepEqual(badLines(r), [], describeRun(r));
    });
  });

  it('vrrp_script: a failing check lowers lb1 below lb2, which preempts; passing again, lb1 takes back', async () => {
    // The flag lives in a fresh directory both scripts (run as nobody) can use. The check is
    // lb1's only: on lb2 (the address 192.0.2.12 on eth0) it always passes.
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-agent-track-'));
    chmodSync(dir, 0o777);
    const flag = join(dir, 'ok');
    const notified = join(dir, 'notify.log');
    writeFileSync(flag, '');
    const scripts = `scripts:
  - name: chk
    script: "ip -o -4 addr show dev eth0 | grep -q ' ${LB2}/' || test -f ${flag}"
    interval: 100ms
    weight: -20
    rise: 1
    fall: 1
`;
    const instance = `    track: { scripts: [chk] }
    notify: { master: "/bin/sh -c 'echo master >> ${notified}'" }
`;
    const files = {
      cluster: cluster('{ version: 3, advertInterval: 100ms }', instance, scripts),
      nodes: nodes(() => 'scriptUser: nobody\nenableScriptSecurity: false\n'),
    };
    const masterLines = () =>
      existsSync(notified)
        ? readFileSync(notified, 'utf8')
            .split('\n')
            .filter((l) => l === 'master').length
        : 0;
    try {
      await scene('tr', files, async ({ lab, run, vipOnlyOn }) => {
        const priority = async (r: Running) =>
          (await agentStatus(lab, r)).instances.find((i) => i.name === 'web4')?.effectivePriority;
        const lb1 = run('lb1');
        await expectTransitions(lb1, 0, ['Initialize>Backup:start', 'Backup>Master:master-down'], 15000);
        await waitStarted(lb1);
        const lb2 = run('lb2');
        await waitStarted(lb2);
        await vipOnlyOn(lb1, lb2, 5000);
        assert.equal(await priority(lb1), 110);
        await waitFor('notify_master of lb1', () => masterLines() === 1, 5000);

        // The check fails on lb1: 110 - 20 = 90 < 100, and lb2 preempts.
        let mark1 = lb1.lines.length;
        let mark2 = lb2.lines.length;
        rmSync(flag);
        await expectTransitions(lb2, mark2, ['Backup>Master:preempt'], 5000);
        await expectTransitions(lb1, mark1, ['Master>Backup:higher-priority'], 5000);
        await vipOnlyOn(lb2, lb1, 5000);
        assert.equal(await priority(lb1), 90);
        assert.equal(await priority(lb2), 100);
        await waitFor('notify_master of lb2', () => masterLines() === 2, 5000);

        // Passing again: lb1 back at 110 preempts lb2.
        mark1 = lb1.lines.length;
        mark2 = lb2.lines.length;
        writeFileSync(flag, '');
        await expectTransitions(lb1, mark1, ['Backup>Master:preempt'], 5000);
        await expectTransitions(lb2, mark2, ['Master>Backup:higher-priority'], 5000);
        await vipOnlyOn(lb1, lb2, 5000);
        assert.equal(await priority(lb1), 110);
        await waitFor('notify_master of lb1 again', () => masterLines() === 3, 5000);
        assert.ok(await lab.ping('client', VIP, 4), 'the client reaches the VIP on lb1');
        for (const r of [lb1, lb2]) assert.deepEqual(badLines(r), [], describeRun(r));
        assert.ok(
          lb1.lines.some((l) => l.event === 'notify' && l.kind === 'result' && l.level === 'info'),
          describeRun(lb1),
        );
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sync group: one member failing on lb1 moves both instances to lb2, and both come back', async () => {
    const VIP2 = '192.0.2.101';
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-agent-sync-'));
    chmodSync(dir, 0o777);
    const flag = join(dir, 'ok');
    writeFileSync(flag, '');
    // Only web4b tracks the script, and only lb1 can fail it; the group takes web4 along.
    const top = `scripts:
  - name: chk
    script: "ip -o -4 addr show dev eth0 | grep -q ' ${LB2}/' || test -f ${flag}"
    interval: 100ms
    rise: 1
    fall: 1
`;
    const instance = `  - name: web4b
    vrid: 52
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP2}/24]
    track: { scripts: [chk] }
syncGroups:
  - name: web
    instances: [web4, web4b]
`;
    const files = {
      cluster: cluster('{ version: 3, advertInterval: 100ms }', instance, top),
      nodes: nodes(() => 'scriptUser: nobody\nenableScriptSecurity: false\n'),
    };
    const states = async (lab: Lab, r: Running) =>
      Object.fromEntries((await agentStatus(lab, r)).instances.map((i) => [i.name, i.state]));
    const holds = async (lab: Lab, host: string) =>
      [(await hasVip(lab, host, VIP)) ? VIP : '', (await hasVip(lab, host, VIP2)) ? VIP2 : '']
        .join(' ')
        .trim();
    const both = `${VIP} ${VIP2}`;
    try {
      await scene('sg', files, async ({ lab, run }) => {
        const lb1 = run('lb1');
        await waitStarted(lb1);
        const lb2 = run('lb2');
        await waitStarted(lb2);
        const expectHolder = async (holder: Running, other: Running) =>
          waitFor(
            `both VIPs on ${holder.host} only`,
            async () => (await holds(lab, holder.host)) === both && (await holds(lab, other.host)) === '',
            8000,
          ).catch((e: Error) => assert.fail(e.message + describeRun(holder) + describeRun(other)));
        await expectHolder(lb1, lb2);
        assert.deepEqual(await states(lab, lb1), { web4: 'Master', web4b: 'Master' });

        rmSync(flag);
        await expectHolder(lb2, lb1);
        assert.deepEqual(await states(lab, lb1), { web4: 'Fault', web4b: 'Fault' });
        assert.deepEqual(await states(lab, lb2), { web4: 'Master', web4b: 'Master' });
        const faults = (await agentStatus(lab, lb1)).instances.find((i) => i.name === 'web4')?.faults;
        assert.deepEqual(faults, ['sync-group:web']);

        writeFileSync(flag, '');
        await expectHolder(lb1, lb2);
        assert.deepEqual(await states(lab, lb2), { web4: 'Backup', web4b: 'Backup' });
        assert.ok(await lab.ping('client', VIP2, 4), 'the client reaches the second VIP on lb1');
        for (const r of [lb1, lb2]) assert.deepEqual(badLines(r), [], describeRun(r));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
