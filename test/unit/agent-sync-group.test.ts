import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runAgent } from '../../src/agent/run-agent.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { ScriptCommand } from '../../src/track/argv.ts';
import type { RunResult } from '../../src/track/run-script.ts';
import type { InstanceTransition } from '../../src/vrrp/instance.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import type { VrrpStateName } from '../../src/vrrp/state-machine.ts';
import { createSyncGroup, type SyncMember, syncFaultReason } from '../../src/vrrp/sync-group.ts';
import { fakeAgentDeps, repositoryOf, viewOf } from './agent-fakes.ts';

// Sync groups: the coordinator alone with fake members, then two agents on a fake segment
// whose outside and inside instances must always be master on the same node.

function fakeMember(name: string, initial: VrrpStateName = 'Backup') {
  const calls: string[] = [];
  let state = initial;
  const m: SyncMember & { calls: string[]; set(s: VrrpStateName): void } = {
    name,
    calls,
    set: (s) => {
      state = s;
    },
    state: () => state,
    syncMaster: () => {
      calls.push('syncMaster');
      state = 'Master';
    },
    syncBackup: () => {
      calls.push('syncBackup');
      state = 'Backup';
    },
    fault: (r) => calls.push(`fault ${r}`),
    clearFault: (r) => calls.push(`clear ${r}`),
  };
  return m;
}

const tr = (
  from: VrrpStateName,
  to: VrrpStateName,
  reason: InstanceTransition['reason'],
): InstanceTransition => ({
  from,
  to,
  reason,
  priority: 100,
});

describe('sync group coordinator', () => {
  it('takes the other members to master, and back to backup, once per event', () => {
    const a = fakeMember('a');
    const b = fakeMember('b');
    const c = fakeMember('c');
    const states: string[] = [];
    const g = createSyncGroup('gw', [a, b, c], { log: () => {}, onGroupState: (s) => states.push(s) });
    a.set('Master');
    g.transition('a', tr('Backup', 'Master', 'master-down'));
    assert.deepEqual(a.calls, []);
    assert.deepEqual(b.calls, ['syncMaster']);
    assert.deepEqual(c.calls, ['syncMaster']);
    // The followers' own transitions carry the group's reason and are not propagated again.
    g.transition('b', tr('Backup', 'Master', 'sync-group'));
    assert.deepEqual(c.calls, ['syncMaster']);

    b.set('Backup');
    g.transition('b', tr('Master', 'Backup', 'higher-priority'));
    assert.deepEqual(a.calls, ['syncBackup']);
    assert.deepEqual(c.calls, ['syncMaster', 'syncBackup']);
    assert.deepEqual(states, ['Master', 'Backup']);
    assert.equal(g.state(), 'Backup');
  });

  it('holds every other member in fault while any member has a fault of its own', () => {
    const a = fakeMember('a');
    const b = fakeMember('b');
    const g = createSyncGroup('gw', [a, b], { log: () => {} });
    const r = syncFaultReason('gw');
    g.ownFault('a', true);
    assert.deepEqual(a.calls, []);
    assert.deepEqual(b.calls, [`fault ${r}`]);
    assert.equal(g.state(), 'Fault');
    // Both faulty: each holds the other, so neither leaves Fault alone.
    g.ownFault('b', true);
    assert.deepEqual(a.calls, [`fault ${r}`]);
    assert.deepEqual(b.calls, [`fault ${r}`]);
    // a recovers: b no longer needs the group's fault (its own keeps it in Fault), a does.
    g.ownFault('a', false);
    assert.deepEqual(a.calls, [`fault ${r}`]);
    assert.deepEqual(b.calls, [`fault ${r}`, `clear ${r}`]);
    g.ownFault('b', false);
    assert.deepEqual(a.calls, [`fault ${r}`, `clear ${r}`]);
    assert.equal(g.state(), 'Fault', 'the group leaves Fault through its members’ transitions');
    // Reporting the same thing twice changes nothing.
    g.ownFault('b', false);
    assert.equal(b.calls.length, 2);
    assert.equal(a.calls.length, 2);
  });
});

const NOTIFY = '/usr/local/bin/notify-gw';
const cluster = `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: gw }
scripts:
  - name: chk
    script: /usr/local/bin/check-gw
    interval: 1s
instances:
  - name: outside
    vrid: 51
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.100/24]
  - name: inside
    vrid: 52
    version: 3
    interface: eth1
    advertInterval: 100ms
    priority: { lb1: 110, lb2: 100 }
    vips: [198.51.100.100/24]
syncGroups:
  - name: gw
    instances: [outside, inside]
    notify: { notify: ${NOTIFY} }
    track: { scripts: [chk] }
`;

async function startNode(
  node: string,
  n: number,
  segment: FakeSegment,
  time: FakeTime,
  check: { ok: boolean },
) {
  const repository = repositoryOf(cluster, ['lb1', 'lb2']);
  const addresses = new FakeAddressDriver();
  addresses.outside.addLink({ name: 'eth1' });
  addresses.outside.addAddress({ address: `192.0.2.${10 + n}/24`, dev: 'eth0' });
  addresses.outside.addAddress({ address: `198.51.100.${10 + n}/24`, dev: 'eth1' });
  const logs: LogEntry[] = [];
  const notified: string[] = [];
  const runner = async (cmd: ScriptCommand): Promise<RunResult> => {
    if (cmd.argv[0] === NOTIFY) notified.push(cmd.argv.slice(1).join(' '));
    return { kind: 'exit', code: cmd.argv[0] === NOTIFY || check.ok ? 0 : 1 };
  };
  const r = await runAgent(
    { node, repository, view: viewOf(repository, node), revision: 'test' },
    fakeAgentDeps(time, logs, { openTransport: segment.open, addresses, runner }),
  );
  assert.ok(r.ok, r.ok ? '' : r.message);
  const states = () => Object.fromEntries(r.agent.status().instances.map((i) => [i.name, i.state]));
  const vips = async () =>
    (await addresses.list())
      .map((a) => a.address)
      .filter((a) => a.includes('.100/'))
      .sort();
  return { agent: r.agent, addresses, logs, notified, states, vips };
}

describe('sync groups in the agent (fakes)', () => {
  it('moves both instances together when one member faults, and back when it recovers', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const lb1check = { ok: true };
    const lb1 = await startNode('lb1', 1, segment, time, lb1check);
    const lb2 = await startNode('lb2', 2, segment, time, { ok: true });
    await time.advance(2000);
    assert.deepEqual(lb1.states(), { outside: 'Master', inside: 'Master' });
    assert.deepEqual(lb2.states(), { outside: 'Backup', inside: 'Backup' });
    assert.deepEqual(await lb1.vips(), ['192.0.2.100/24', '198.51.100.100/24']);
    assert.ok(lb1.notified.includes('GROUP gw MASTER 0'), lb1.notified.join('; '));

    // Only the inside link fails: the whole group leaves lb1.
    lb1.addresses.outside.setCarrier('eth1', false);
    await time.advance(1000);
    assert.deepEqual(lb1.states(), { outside: 'Fault', inside: 'Fault' });
    const outside = lb1.agent.status().instances.find((i) => i.name === 'outside');
    assert.deepEqual(outside?.faults, [syncFaultReason('gw')]);
    assert.deepEqual(lb2.states(), { outside: 'Master', inside: 'Master' });
    assert.deepEqual(await lb1.vips(), []);
    assert.deepEqual(await lb2.vips(), ['192.0.2.100/24', '198.51.100.100/24']);
    assert.ok(lb1.notified.includes('GROUP gw FAULT 0'), lb1.notified.join('; '));

    // Back up: both leave Fault together and, being preferred, take both back.
    lb1.addresses.outside.setCarrier('eth1', true);
    await time.advance(2000);
    assert.deepEqual(lb1.states(), { outside: 'Master', inside: 'Master' });
    assert.deepEqual(lb2.states(), { outside: 'Backup', inside: 'Backup' });

    // The group's own track list applies to every member: its script failing faults both.
    lb1check.ok = false;
    await time.advance(3000);
    assert.deepEqual(lb1.states(), { outside: 'Fault', inside: 'Fault' });
    assert.deepEqual(lb2.states(), { outside: 'Master', inside: 'Master' });
    lb1check.ok = true;
    await time.advance(3000);
    assert.deepEqual(lb1.states(), { outside: 'Master', inside: 'Master' });

    await Promise.all([lb1.agent.abandon(), lb2.agent.abandon()]);
  });
});
