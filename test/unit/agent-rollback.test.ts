import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AgentDeps, type RevisionOutcome, runAgent } from '../../src/agent/run-agent.ts';
import type { AddressChange, Vip } from '../../src/drivers/addresses/address-driver.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { createFakeDataplane, type FakeKernel } from '../../src/drivers/dataplane/fake-dataplane.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { JournalEntry } from '../../src/reconcile/apply-journal.ts';
import { memoryApplyJournal } from '../../src/reconcile/memory-apply-journal.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { fakeAgentDeps, gated, repositoryOf } from './agent-fakes.ts';

// Rollback of a revision that fails while it is applied, the apply journal around it, and
// the clean-up at start after an agent was killed in the middle of an apply. One agent on
// fakes, master of its instances; the fake address driver refuses the VIPs a test names
// (or holds an add forever, for a kill), the fake dataplane rejects an apply on request.

const PRIMARY = '192.0.2.11/24';
const V1 = '192.0.2.100/24';
const V2 = '192.0.2.101/24';
const V3 = '192.0.2.102/24';
const V4 = '192.0.2.103/24';
const VB = '192.0.2.200/24';
const VB2 = '192.0.2.201/24';
const VC = '192.0.2.210/24';

interface Shape {
  a: string[];
  b?: string[];
  /** Instance c (added by a revision). */
  c?: boolean;
  realServers?: string[];
}

const cluster = (s: Shape) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: rollback }
instances:
  - name: a
    vrid: 51
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110 }
    vips: [${s.a.join(', ')}]
  - name: b
    vrid: 52
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110 }
    vips: [${(s.b ?? [VB]).join(', ')}]
${
  s.c
    ? `  - name: c
    vrid: 53
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110 }
    vips: [${VC}]
`
    : ''
}${
  s.realServers
    ? `virtualServers:
  - name: www
    address: 192.0.2.100
    port: 80
    scheduler: rr
    realServers:
${s.realServers.map((r) => `      - { address: ${r} }`).join('\n')}
`
    : ''
}`;

/** The fake driver that records every add and remove, refuses the adds of `refuse`, and holds the adds of `hold`. */
class Addresses extends FakeAddressDriver {
  readonly ops: string[] = [];
  readonly refuse = new Set<string>();
  readonly hold = new Set<string>();
  /** Adds that answer success and do nothing: only reading back shows it. */
  readonly lie = new Set<string>();
  override async add(vip: Vip): Promise<AddressChange> {
    this.ops.push(`add ${vip.address}`);
    if (this.hold.has(vip.address)) return new Promise<AddressChange>(() => {});
    if (this.lie.has(vip.address)) return { ok: true };
    if (this.refuse.has(vip.address)) this.outside.failNext({ op: 'add', errno: 'EADDRNOTAVAIL' });
    return super.add(vip);
  }
  override async remove(vip: Vip): Promise<AddressChange> {
    this.ops.push(`remove ${vip.address}`);
    return super.remove(vip);
  }
}

interface Setup {
  selfHeal?: boolean;
  addresses?: Addresses;
  journal?: ReturnType<typeof memoryApplyJournal>;
  kernel?: FakeKernel;
  time?: FakeTime;
}

async function start(shape: Shape, o: Setup = {}) {
  const time = o.time ?? new FakeTime();
  const addresses = o.addresses ?? new Addresses([{ name: 'lo' }, { name: 'eth0' }]);
  if (!(await addresses.list('eth0')).some((a) => a.address === PRIMARY))
    addresses.outside.addAddress({ address: PRIMARY, dev: 'eth0' });
  const journal = o.journal ?? memoryApplyJournal();
  const kernel = o.kernel ?? { services: [] };
  const nftables = createFakeDataplane({ kernel });
  const logs: LogEntry[] = [];
  const repository = repositoryOf(cluster(shape));
  const deps: AgentDeps = fakeAgentDeps(time, logs, {
    openTransport: new FakeSegment().open,
    addresses,
    journal,
    ...(o.selfHeal !== undefined ? { selfHeal: o.selfHeal } : {}),
    runner: async () => ({ kind: 'exit', code: 0 }),
    ...(shape.realServers
      ? {
          dataplanes: {
            ipvs: createFakeDataplane({ kind: 'ipvs', unavailable: 'kernel has no IPVS' }),
            nftables,
          },
          readSysctl: () => '1',
        }
      : {}),
  });
  const r = await runAgent({ node: 'lb1', repository, view: gated(repository).view, revision: 'r1' }, deps);
  assert.ok(r.ok, r.ok ? '' : r.message);
  const agent = r.agent;
  await time.advance(1500);
  const vips = async () =>
    (await addresses.list('eth0'))
      .map((a) => a.address)
      .filter((a) => a !== PRIMARY)
      .sort();
  let mark = { logs: 0, ops: 0 };
  const since = {
    reset: () => {
      mark = { logs: logs.length, ops: addresses.ops.length };
    },
    ops: () => addresses.ops.slice(mark.ops),
    logs: (event: string) => logs.slice(mark.logs).filter((l) => l.event === event),
  };
  /** Applies `next` as revision `name` while fake time runs. */
  const apply = async (next: Shape, name: string): Promise<RevisionOutcome> => {
    const out = agent.applyRevision(gated(repositoryOf(cluster(next))), name);
    await time.advance(1000);
    return out;
  };
  const stop = async () => {
    const stopped = agent.stop();
    await time.advance(5000);
    await stopped;
  };
  return { agent, addresses, journal, kernel, nftables, logs, time, vips, since, apply, stop };
}

const held = (k: FakeKernel) =>
  k.services.flatMap((s) => s.destinations.map((d) => `${d.address}:${d.port}=${d.weight}`)).sort();

describe('rollback of a revision that fails while applied (fakes)', () => {
  it('a VIP the kernel refuses: every changed instance goes back, the new instance never starts', async () => {
    const n = await start({ a: [V1, V2] });
    assert.deepEqual(await n.vips(), [V1, V2, VB].sort());
    assert.equal(n.agent.status().instances.find((i) => i.name === 'a')?.state, 'Master');
    n.addresses.refuse.add(V4);
    n.since.reset();

    // r2: A loses V1 and gains V3 and V4 (refused); B gains VB2; C is new.
    const out = await n.apply({ a: [V2, V3, V4], b: [VB, VB2], c: true }, 'r2');

    assert.equal(out.applied, false);
    assert.equal(out.revision, 'r2');
    assert.match(
      out.applied ? '' : out.reason,
      /^revision r2 rolled back: cannot add 192\.0\.2\.103\/24 to eth0: the kernel refused \(EADDRNOTAVAIL\)/,
    );
    // What the revision added is gone again, what it removed is back.
    assert.deepEqual(await n.vips(), [V1, V2, VB].sort());
    const ops = n.since.ops();
    for (const op of [
      `remove ${V1}`,
      `add ${V3}`,
      `add ${V4}`,
      `add ${VB2}`,
      `remove ${V3}`,
      `remove ${VB2}`,
      `add ${V1}`,
    ])
      assert.ok(ops.includes(op), `${op} in ${JSON.stringify(ops)}`);
    assert.ok(ops.indexOf(`remove ${V3}`) > ops.indexOf(`add ${V4}`), 'undone after the refusal');
    // The node still runs r1, with its two instances; C was never started, nobody moved.
    const status = n.agent.status();
    assert.equal(status.revision, 'r1');
    assert.deepEqual(
      status.instances.map((i) => `${i.name} ${i.state}`),
      ['a Master', 'b Master'],
    );
    assert.deepEqual(n.since.logs('transition'), []);
    assert.deepEqual(n.since.logs('started'), []);
    assert.deepEqual(n.since.logs('revision-applied'), []);
    const rolled = n.since.logs('revision-rolled-back');
    assert.equal(rolled.length, 1);
    assert.equal(rolled[0]?.revision, 'r2');
    assert.equal(rolled[0]?.running, 'r1');
    assert.match(String(rolled[0]?.message), /EADDRNOTAVAIL.*rolled back$/);
    // (The drift watch may ask once more for the missing VIP before the rollback: same refusal.)
    const vipErrors = n.since.logs('vip-error').map((l) => l.address);
    assert.ok(vipErrors.length >= 1 && vipErrors.every((a) => a === V4), JSON.stringify(vipErrors));

    // The journal named every address the apply could touch (old and new, C's too), and is gone.
    const written = n.journal.written.at(-1);
    assert.equal(written?.revision, 'r2');
    assert.equal(written?.running, 'r1');
    assert.deepEqual(
      written?.addresses.map((a) => `${a.dev} ${a.address}`).sort(),
      [V1, V2, V3, V4, VB, VB2, VC].map((v) => `eth0 ${v}`).sort(),
    );
    assert.deepEqual(await n.journal.read(), { ok: true, entry: undefined });

    // The instances really run r1's views again: r2 without the refused VIP plans from them.
    n.since.reset();
    const again = await n.apply({ a: [V2, V3], b: [VB, VB2] }, 'r3');
    assert.deepEqual(again, { applied: true, revision: 'r3' });
    assert.deepEqual(await n.vips(), [V2, V3, VB, VB2].sort());
    assert.deepEqual(n.since.ops().sort(), [`add ${V3}`, `add ${VB2}`, `remove ${V1}`].sort());
    assert.equal(n.agent.status().revision, 'r3');
    await n.stop();
  });

  it('verify: an add the kernel reported done but that is not on the node rolls the revision back', async () => {
    const n = await start({ a: [V1, V2] });
    n.addresses.lie.add(V3);
    n.since.reset();
    const out = await n.apply({ a: [V1, V2, V3] }, 'r2');
    assert.equal(out.applied, false);
    assert.match(
      out.applied ? '' : out.reason,
      /^revision r2 rolled back: verify: instance a VIP 192\.0\.2\.102\/24 is absent, expected present on eth0/,
    );
    assert.equal(n.agent.status().revision, 'r1');
    assert.deepEqual(await n.vips(), [V1, V2, VB].sort());
    assert.equal(n.since.logs('revision-rolled-back').length, 1);
    // Without the lie, the same revision applies and is verified.
    n.addresses.lie.clear();
    const again = await n.apply({ a: [V1, V2, V3] }, 'r3');
    assert.equal(again.applied, true, again.applied ? '' : again.reason);
    assert.deepEqual(await n.vips(), [V1, V2, V3, VB].sort());
    await n.stop();
  });

  it("a revision is applied against the node as it is: a changed master's VIP deleted by hand comes back", async () => {
    // selfHeal off, so only the apply can put it back.
    const n = await start({ a: [V1, V2] }, { selfHeal: false });
    assert.ok(n.addresses.outside.removeAddress('eth0', V1));
    await n.time.advance(100);
    assert.deepEqual(await n.vips(), [V2, VB].sort(), 'drift is only reported');
    const out = await n.apply({ a: [V1, V2, V3] }, 'r2');
    assert.equal(out.applied, true, out.applied ? '' : out.reason);
    assert.deepEqual(await n.vips(), [V1, V2, V3, VB].sort());
    await n.stop();
  });

  it('a VRRP rollback puts the load balancer back on the previous view', async () => {
    const n = await start({ a: [V1], realServers: ['198.51.100.11'] });
    assert.deepEqual(held(n.kernel), ['198.51.100.11:80=1']);
    n.addresses.refuse.add(V2);
    n.since.reset();
    const out = await n.apply({ a: [V1, V2], realServers: ['198.51.100.11', '198.51.100.12'] }, 'r2');
    assert.equal(out.applied, false);
    assert.match(out.applied ? '' : out.reason, /rolled back: cannot add 192\.0\.2\.101\/24/);
    // The new real server came and went with the revision; the checks follow r1 again.
    await n.time.advance(5000);
    assert.deepEqual(held(n.kernel), ['198.51.100.11:80=1']);
    assert.deepEqual(
      n.agent.status().loadBalancer?.services.map((s) => s.destinations.length),
      [1],
    );
    assert.deepEqual(await n.vips(), [V1, VB].sort());
    assert.equal(n.since.logs('revision-rolled-back').length, 1);
    await n.stop();
  });

  it('a dataplane apply the kernel refuses rolls back before any VIP changes', async () => {
    const n = await start({ a: [V1], realServers: ['198.51.100.11'] });
    n.nftables.rejectNextApply('Error: Could not process rule: No space left on device');
    n.since.reset();
    const out = await n.apply({ a: [V1, V2], realServers: ['198.51.100.11', '198.51.100.12'] }, 'r2');
    assert.equal(out.applied, false);
    assert.match(
      out.applied ? '' : out.reason,
      /^revision r2 rolled back: the nftables dataplane refused it: .*No space left/,
    );
    assert.deepEqual(n.since.ops(), [], 'no VIP was touched');
    assert.deepEqual(await n.vips(), [V1, VB].sort());
    await n.time.advance(5000);
    assert.deepEqual(held(n.kernel), ['198.51.100.11:80=1']);
    assert.equal(n.agent.status().revision, 'r1');
    assert.equal(n.since.logs('revision-rolled-back').length, 1);
    assert.deepEqual(await n.journal.read(), { ok: true, entry: undefined });
    await n.stop();
  });

  it('a journal that cannot be written refuses the revision with nothing changed', async () => {
    const n = await start({ a: [V1] });
    n.journal.failNextWrite('cannot write /var/lib/keepgit/apply-journal.json: ENOSPC');
    n.since.reset();
    const out = await n.apply({ a: [V1, V2], c: true }, 'r2');
    assert.equal(out.applied, false);
    assert.match(
      out.applied ? '' : out.reason,
      /cannot write the apply journal: .*ENOSPC.*nothing was changed/,
    );
    assert.deepEqual(n.since.ops(), []);
    assert.deepEqual(n.since.logs('started'), []);
    assert.equal(n.since.logs('revision-refused').length, 1);
    await n.stop();
  });
});

describe('the apply journal after a killed agent (fakes)', () => {
  it('an agent killed in the middle of an apply: the next start removes what the apply added', async () => {
    const addresses = new Addresses([{ name: 'lo' }, { name: 'eth0' }]);
    const journal = memoryApplyJournal();
    const first = await start({ a: [V1] }, { addresses, journal });
    // r2 adds V2 and V3; the "kernel" never answers for V3, and the agent dies there.
    addresses.hold.add(V3);
    void first.agent.applyRevision(gated(repositoryOf(cluster({ a: [V1, V2, V3] }))), 'r2');
    await first.time.advance(500);
    assert.deepEqual(await first.vips(), [V1, V2, VB].sort());
    const pending = await journal.read();
    assert.ok(pending.ok && pending.entry?.revision === 'r2', JSON.stringify(pending));
    await first.agent.abandon();
    addresses.hold.clear();

    // The next agent starts on the old repository (r1 does not know V2).
    const second = await start({ a: [V1] }, { addresses, journal });
    const removed = second.logs.filter((l) => l.event === 'leftover-removed');
    assert.deepEqual(removed.map((l) => l.address).sort(), [V1, V2, VB].sort());
    assert.ok(removed.every((l) => l.revision === 'r2'));
    const started = second.logs.findIndex((l) => l.event === 'agent-started');
    assert.ok(
      second.logs.findIndex((l) => l.event === 'leftover-removed') < started,
      'before anything starts',
    );
    assert.equal(second.logs.filter((l) => l.event === 'journal-recovered').length, 1);
    assert.deepEqual(await journal.read(), { ok: true, entry: undefined });
    // Only r1's VIPs, held again by the new master; V2 is gone for good.
    assert.deepEqual(await second.vips(), [V1, VB].sort());
    await second.stop();
  });

  it("a journal written by another node's agent is left alone", async () => {
    const addresses = new Addresses([{ name: 'lo' }, { name: 'eth0' }]);
    addresses.outside.addAddress({ address: '198.51.100.50/24', dev: 'eth0' });
    const foreign: JournalEntry = {
      node: 'lb2',
      revision: 'x',
      running: 'w',
      at: '2025-01-01T00:00:00.000Z',
      addresses: [{ address: '198.51.100.50/24', dev: 'eth0' }],
    };
    const journal = memoryApplyJournal(foreign);
    const n = await start({ a: [V1] }, { addresses, journal });
    assert.equal(n.logs.filter((l) => l.event === 'journal-foreign').length, 1);
    assert.deepEqual(
      n.logs.filter((l) => l.event === 'leftover-removed'),
      [],
    );
    assert.ok((await addresses.list('eth0')).some((a) => a.address === '198.51.100.50/24'));
    assert.deepEqual(await journal.read(), { ok: true, entry: foreign });
    await n.stop();
  });
});
