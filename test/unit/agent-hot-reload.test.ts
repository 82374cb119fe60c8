import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type GatedRevision, runAgent } from '../../src/agent/run-agent.ts';
import type { AddressChange, Vip } from '../../src/drivers/addresses/address-driver.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { ScriptCommand } from '../../src/track/argv.ts';
import type { RunResult } from '../../src/track/run-script.ts';
import { classifyInstance } from '../../src/vrrp/instance-changes.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { fakeAgentDeps, gated, repositoryOf } from './agent-fakes.ts';

// Hot reload of VRRP instances on fakes: two agents (lb1 preferred) on one fake segment,
// instances A and B. A revision that touches A must leave B exactly as it was (no
// transition, no VIP operation, no notify, no re-run script), and A must take what can be
// taken running (VIPs, priority) without a transition; what cannot (the VRID) re-creates A
// make-before-break; what cannot be done at all refuses the revision with nothing changed.

const CHECK = '/usr/local/bin/check-web';
const NOTIFY = '/usr/local/bin/notify';
const VIP_A = '192.0.2.100/24';
const VIP_A2 = '192.0.2.101/24';
const VIP_B = '192.0.2.200/24';

interface ClusterOptions {
  vipsA?: string[];
  prioA?: string;
  vridA?: number;
  extra?: string;
  instanceB?: boolean;
  checkInterval?: string;
}

const cluster = (o: ClusterOptions = {}) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: reload }
scripts:
  - name: chk
    script: ${CHECK}
    interval: ${o.checkInterval ?? '1s'}
    weight: 5
instances:
  - name: a
    vrid: ${o.vridA ?? 51}
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: ${o.prioA ?? '{ lb1: 110, lb2: 100 }'}
    vips: [${(o.vipsA ?? [VIP_A]).join(', ')}]
    notify: { master: ${NOTIFY} a }
${
  o.instanceB === false
    ? ''
    : `  - name: b
    vrid: 52
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP_B}]
    track: { scripts: [chk] }
    notify: { master: ${NOTIFY} b, backup: ${NOTIFY} b }
`
}${o.extra ?? ''}`;

/** The fake driver, with every add and remove the agent asks for, in order. */
class RecordingAddresses extends FakeAddressDriver {
  readonly ops: string[] = [];
  override async add(vip: Vip): Promise<AddressChange> {
    this.ops.push(`add ${vip.address}`);
    return super.add(vip);
  }
  override async remove(vip: Vip): Promise<AddressChange> {
    this.ops.push(`remove ${vip.address}`);
    return super.remove(vip);
  }
}

async function startNode(node: string, n: number, segment: FakeSegment, time: FakeTime, text = cluster()) {
  const repository = repositoryOf(text, ['lb1', 'lb2']);
  const addresses = new RecordingAddresses([{ name: 'lo' }, { name: 'eth0' }, { name: 'eth1' }]);
  addresses.outside.addAddress({ address: `192.0.2.${10 + n}/24`, dev: 'eth0' });
  const logs: LogEntry[] = [];
  const announced: string[][] = [];
  const runs: string[] = [];
  const runner = async (cmd: ScriptCommand): Promise<RunResult> => {
    runs.push(cmd.argv.join(' '));
    return { kind: 'exit', code: 0 };
  };
  const r = await runAgent(
    { node, repository, view: gated(repository, node).view, revision: 'r1' },
    fakeAgentDeps(time, logs, {
      openTransport: segment.open,
      addresses,
      runner,
      announcer: {
        announce: async (vips) => {
          announced.push(vips.map((v) => v.address));
        },
      },
      secrets: { env: { VRRP_PASS: 'pw' }, readFile: () => '' },
    }),
  );
  assert.ok(r.ok, r.ok ? '' : r.message);
  const agent = r.agent;
  /** Marks now: what happened after is what the next calls return. */
  let mark = { logs: 0, ops: 0, announced: 0, runs: 0 };
  const since = {
    reset: () => {
      mark = { logs: logs.length, ops: addresses.ops.length, announced: announced.length, runs: runs.length };
    },
    transitions: (instance?: string) =>
      logs
        .slice(mark.logs)
        .filter((l) => l.event === 'transition' && (instance === undefined || l.instance === instance))
        .map((l) => `${l.instance} ${l.from}>${l.to}:${l.reason}`),
    ops: () => addresses.ops.slice(mark.ops),
    announced: () => announced.slice(mark.announced),
    runs: () => runs.slice(mark.runs),
    logs: (event: string) => logs.slice(mark.logs).filter((l) => l.event === event),
  };
  const state = (name: string) => agent.status().instances.find((i) => i.name === name);
  const vips = async () =>
    (await addresses.list('eth0'))
      .map((a) => a.address)
      .filter((a) => a !== `192.0.2.${10 + n}/24`)
      .sort();
  return { agent, addresses, logs, since, state, vips, runs };
}

type Node = Awaited<ReturnType<typeof startNode>>;

async function pair(text = cluster()) {
  const segment = new FakeSegment();
  const time = new FakeTime();
  const lb1 = await startNode('lb1', 1, segment, time, text);
  const lb2 = await startNode('lb2', 2, segment, time, text);
  await time.advance(1500);
  assert.equal(lb1.state('a')?.state, 'Master');
  assert.equal(lb1.state('b')?.state, 'Master');
  assert.equal(lb2.state('a')?.state, 'Backup');
  lb1.since.reset();
  lb2.since.reset();
  return { segment, time, lb1, lb2 };
}

/** Applies a revision while time runs (a stop waits for the successor or its bound). */
async function applyBoth(time: FakeTime, nodes: Node[], revision: GatedRevision[], name: string, ms = 3000) {
  const outcomes = Promise.all(
    nodes.map((n, i) => n.agent.applyRevision(revision[i] as GatedRevision, name)),
  );
  await time.advance(ms);
  return outcomes;
}

const revisionFor = (text: string, node: string) => gated(repositoryOf(text, ['lb1', 'lb2']), node);

async function stopAll(time: FakeTime, ...nodes: Node[]) {
  const stopped = Promise.all(nodes.map((n) => n.agent.stop()));
  await time.advance(5000);
  await stopped;
}

describe('hot reload of VRRP instances (fakes)', () => {
  it('a new VIP on A: the master adds and announces only it; B is not touched at all', async () => {
    const { time, lb1, lb2 } = await pair();
    const bSince = lb1.state('b')?.since;
    const text = cluster({ vipsA: [VIP_A, VIP_A2] });
    const out = await applyBoth(
      time,
      [lb1, lb2],
      [revisionFor(text, 'lb1'), revisionFor(text, 'lb2')],
      'r2',
      1000,
    );
    assert.deepEqual(out, [
      { applied: true, revision: 'r2' },
      { applied: true, revision: 'r2' },
    ]);
    // lb1 (master of A): one add, one announcement of the new VIP alone.
    assert.deepEqual(lb1.since.ops(), [`add ${VIP_A2}`]);
    assert.deepEqual(lb1.since.announced(), [[VIP_A2]]);
    assert.deepEqual(await lb1.vips(), [VIP_A, VIP_A2, VIP_B]);
    // lb2 (backup of A) only records the list.
    assert.deepEqual(lb2.since.ops(), []);
    assert.deepEqual(await lb2.vips(), []);
    // Nobody moved; no notify ran; B's tracker script was not run because of the reload.
    for (const n of [lb1, lb2]) {
      assert.deepEqual(n.since.transitions(), []);
      assert.deepEqual(
        n.since.runs().filter((r) => r.startsWith(NOTIFY)),
        [],
      );
      const applied = n.since.logs('revision-applied')[0];
      assert.deepEqual(applied?.changed, ['a']);
      assert.deepEqual(applied?.unchanged, ['b']);
      assert.deepEqual(
        n.since.logs('instance-changed').map((l) => l.fields),
        [['vips']],
      );
    }
    assert.equal(lb1.state('b')?.since, bSince);
    assert.equal(lb1.state('b')?.effectivePriority, 115, "B keeps its tracker's result");
    assert.equal(lb1.agent.status().revision, 'r2');

    // Removing a VIP removes only it, announces nothing, moves nobody.
    lb1.since.reset();
    lb2.since.reset();
    const text3 = cluster({ vipsA: [VIP_A2] });
    await applyBoth(time, [lb1, lb2], [revisionFor(text3, 'lb1'), revisionFor(text3, 'lb2')], 'r3', 1000);
    assert.deepEqual(lb1.since.ops(), [`remove ${VIP_A}`]);
    assert.deepEqual(lb1.since.announced(), []);
    assert.deepEqual(await lb1.vips(), [VIP_A2, VIP_B]);
    assert.deepEqual(lb2.since.ops(), [], 'a backup only records the list');
    assert.deepEqual(lb1.since.transitions(), []);
    assert.deepEqual(lb2.since.transitions(), []);
    assert.equal(lb2.since.logs('address-mismatch').length, 0, 'both lists changed together');
    await stopAll(time, lb1, lb2);
  });

  it('a higher priority for the backup of A: it preempts per the protocol; B stays', async () => {
    const { time, lb1, lb2 } = await pair();
    const text = cluster({ prioA: '{ lb1: 110, lb2: 120 }' });
    // Only lb2 gets the revision yet: the takeover must come from the protocol, not from lb1.
    const out = await applyBoth(time, [lb2], [revisionFor(text, 'lb2')], 'r2', 2000);
    assert.deepEqual(out, [{ applied: true, revision: 'r2' }]);
    assert.deepEqual(lb2.since.transitions(), ['a Backup>Master:preempt']);
    assert.deepEqual(lb1.since.transitions(), ['a Master>Backup:higher-priority']);
    assert.equal(lb2.state('a')?.priority, 120);
    assert.deepEqual(await lb2.vips(), [VIP_A]);
    assert.deepEqual(await lb1.vips(), [VIP_B]);
    assert.ok(lb2.since.runs().includes(`${NOTIFY} a`), 'notify_master of A ran');
    assert.ok(!lb2.since.runs().some((r) => r.endsWith(' b')), 'nothing of B ran');
    await stopAll(time, lb1, lb2);
  });

  it('a master given a new priority advertises it at once, without a transition', async () => {
    const { segment, time, lb1, lb2 } = await pair();
    const text = cluster({ prioA: '{ lb1: 105, lb2: 100 }' });
    const before = segment.frames.length;
    const done = lb1.agent.applyRevision(revisionFor(text, 'lb1'), 'r2');
    await time.advance(0);
    assert.deepEqual(await done, { applied: true, revision: 'r2' });
    // IPv4 frames carry their header; the VRRP priority is the third byte after it.
    const priorities = segment.frames.slice(before).map((f) => {
      const ihl = ((f.bytes[0] ?? 0) & 0x0f) * 4;
      return [f.bytes[ihl + 1], f.bytes[ihl + 2]];
    });
    assert.deepEqual(priorities, [[51, 105]], 'one advert of A (VRID 51) with 105, at once');
    await time.advance(1000);
    assert.equal(lb1.state('a')?.effectivePriority, 105);
    assert.equal(lb1.state('a')?.state, 'Master');
    assert.deepEqual(lb1.since.transitions(), []);
    assert.deepEqual(lb2.since.transitions(), []);
    await stopAll(time, lb1, lb2);
  });

  it('adds and removes instances: the new one starts, the removed master hands over first', async () => {
    const { time, lb1, lb2 } = await pair();
    const extra = `  - name: c
    vrid: 53
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.150/24]
`;
    // lb1 drops B and gains C; lb2 still runs B, so lb1's B hands over to it.
    const text = cluster({ instanceB: false, extra });
    const out = await applyBoth(time, [lb1], [revisionFor(text, 'lb1')], 'r2', 3000);
    assert.deepEqual(out, [{ applied: true, revision: 'r2' }]);
    assert.deepEqual(lb1.since.transitions('b'), [
      'b Master>Stopping:stop',
      'b Stopping>Initialize:successor-heard',
    ]);
    assert.deepEqual(lb2.since.transitions('b'), ['b Backup>Master:master-resigned']);
    assert.deepEqual(lb1.since.transitions('c'), [
      'c Initialize>Backup:start',
      'c Backup>Master:master-down',
    ]);
    assert.deepEqual(lb1.since.transitions('a'), []);
    assert.deepEqual(lb2.since.transitions('a'), []);
    assert.deepEqual(
      lb1.agent.status().instances.map((i) => [i.name, i.state]),
      [
        ['a', 'Master'],
        ['c', 'Master'],
      ],
    );
    assert.deepEqual(await lb1.vips(), [VIP_A, '192.0.2.150/24']);
    assert.deepEqual(await lb2.vips(), [VIP_B]);
    const applied = lb1.since.logs('revision-applied')[0];
    assert.deepEqual(
      [applied?.added, applied?.removed, applied?.recreated, applied?.changed, applied?.unchanged],
      [['c'], ['b'], [], [], ['a']],
    );
    await stopAll(time, lb1, lb2);
  });

  it('a new VRID re-creates A make-before-break and says so; B stays', async () => {
    const { time, lb1, lb2 } = await pair();
    const text = cluster({ vridA: 61 });
    const out = await applyBoth(
      time,
      [lb1, lb2],
      [revisionFor(text, 'lb1'), revisionFor(text, 'lb2')],
      'r2',
      5000,
    );
    assert.deepEqual(out, [
      { applied: true, revision: 'r2' },
      { applied: true, revision: 'r2' },
    ]);
    for (const n of [lb1, lb2]) {
      assert.deepEqual(
        n.since.logs('instance-recreated').map((l) => [l.instance, l.fields]),
        [['a', ['vrid']]],
      );
      assert.deepEqual(n.since.transitions('b'), []);
      assert.equal(n.state('a')?.vrid, 61);
    }
    const a1 = lb1.since.transitions('a');
    assert.deepEqual(a1.slice(0, 2), ['a Master>Stopping:stop', 'a Stopping>Initialize:release-bound']);
    // lb2's old A, a backup, stopped at once and its new one started first: lb1's new A
    // preempts it when it starts after its hand-over.
    assert.deepEqual(a1.slice(2), ['a Initialize>Backup:start', 'a Backup>Master:preempt']);
    assert.equal(lb1.state('a')?.state, 'Master');
    assert.equal(lb2.state('a')?.state, 'Backup');
    assert.deepEqual(await lb1.vips(), [VIP_A, VIP_B]);
    assert.ok(!lb1.since.ops().some((o) => o.includes(VIP_B)), "B's VIP was not touched");
    await stopAll(time, lb1, lb2);
  });

  it('refuses a revision it cannot apply whole, with nothing changed', async () => {
    const { time, lb1, lb2 } = await pair();
    // A's VIP list changes (could be done) and a new instance C on eth1, which has no
    // address to speak from (cannot): nothing of it happens.
    const extra = `  - name: c
    vrid: 53
    version: 3
    interface: eth1
    advertInterval: 100ms
    priority: { lb1: 110, lb2: 100 }
    vips: [198.51.100.150/24]
`;
    const text = cluster({ vipsA: [VIP_A, VIP_A2], extra });
    const [out] = await applyBoth(time, [lb1], [revisionFor(text, 'lb1')], 'r2', 1000);
    assert.equal(out?.applied, false);
    assert.match(
      out?.applied === false ? out.reason : '',
      /instance c: interface eth1 has no IPv4 address.*nothing was changed/,
    );
    assert.deepEqual(lb1.since.ops(), []);
    assert.deepEqual(lb1.since.announced(), []);
    assert.deepEqual(lb1.since.transitions(), []);
    assert.deepEqual(await lb1.vips(), [VIP_A, VIP_B]);
    assert.equal(lb1.agent.status().revision, 'r1');
    assert.deepEqual(
      lb1.agent.status().instances.map((i) => i.name),
      ['a', 'b'],
    );
    assert.equal(lb1.since.logs('revision-refused').length, 1);

    // A v2 instance whose secret is missing refuses the revision the same way.
    const v2 = `  - name: d
    vrid: 54
    version: 2
    interface: eth0
    advertInterval: 1s
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.160/24]
    auth: { type: PASS, secretRef: { env: NO_SUCH_SECRET } }
`;
    const [out2] = await applyBoth(
      time,
      [lb1],
      [revisionFor(cluster({ vipsA: [VIP_A, VIP_A2], extra: v2 }), 'lb1')],
      'r3',
      1000,
    );
    assert.equal(out2?.applied, false);
    assert.match(out2?.applied === false ? out2.reason : '', /NO_SUCH_SECRET/);
    assert.deepEqual(lb1.since.ops(), []);
    assert.deepEqual(lb1.since.transitions(), []);
    assert.equal(lb1.agent.status().revision, 'r1');
    await stopAll(time, lb1, lb2);
  });

  it('keeps a tracker running with its result unless its definition changed', async () => {
    const { time, lb1, lb2 } = await pair();
    const checks = () => lb1.runs.filter((r) => r === CHECK).length;
    await time.advance(250);
    const before = checks();
    // A's VIPs change: the script B weighs is not run again, its +5 stays.
    const done = lb1.agent.applyRevision(revisionFor(cluster({ vipsA: [VIP_A, VIP_A2] }), 'lb1'), 'r2');
    await time.advance(0);
    assert.equal((await done).applied, true);
    assert.equal(checks(), before, 'no run because of the reload');
    assert.equal(lb1.state('b')?.effectivePriority, 115);
    // The script's interval changes: it is started again (runs at once), B keeps its result meanwhile.
    const done2 = lb1.agent.applyRevision(
      revisionFor(cluster({ vipsA: [VIP_A, VIP_A2], checkInterval: '2s' }), 'lb1'),
      'r3',
    );
    await time.advance(0);
    assert.equal((await done2).applied, true);
    assert.equal(checks(), before + 1);
    assert.equal(lb1.state('b')?.effectivePriority, 115);
    assert.deepEqual(lb1.since.transitions(), []);
    await stopAll(time, lb1, lb2);
  });
});

describe('instance change classification', () => {
  it('in place for VIPs, priority, timers and peers; re-created for identity fields', () => {
    const text = cluster();
    const a = gated(repositoryOf(text, ['lb1', 'lb2']), 'lb1').view.instances[0];
    assert.ok(a);
    assert.deepEqual(classifyInstance(a, a), { kind: 'unchanged' });
    assert.deepEqual(classifyInstance(a, { ...a, priority: 90, advertIntervalMs: 200 }), {
      kind: 'changed',
      fields: ['advertIntervalMs', 'priority'],
    });
    assert.deepEqual(classifyInstance(a, { ...a, unicast: { peers: ['192.0.2.12'] } }), {
      kind: 'changed',
      fields: ['unicast'],
    });
    assert.deepEqual(classifyInstance(a, { ...a, unicast: { source: '192.0.2.99', peers: [] } }), {
      kind: 'recreated',
      fields: ['unicast.source'],
    });
    assert.deepEqual(classifyInstance(a, { ...a, interface: 'eth1', vrid: 9, priority: 1 }), {
      kind: 'recreated',
      fields: ['interface', 'vrid'],
    });
  });
});
