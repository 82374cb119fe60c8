import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AgentDeps, runAgent } from '../../src/agent/run-agent.ts';
import { agentStatusSource } from '../../src/api/agent-status-source.ts';
import type { NodeStatus } from '../../src/api/node-status.ts';
import { statusApp } from '../../src/api/status-app.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { createFakeDataplane, type FakeKernel } from '../../src/drivers/dataplane/fake-dataplane.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { fakeAgentDeps, repositoryOf, viewOf } from './agent-fakes.ts';

// Drift on the agent, with fakes: a VIP deleted on the master (healed, or only reported with
// selfHeal off), a VIP added by hand on a backup (removed), two masters that cannot hear
// each other's adverts (split brain, from adverts dropped for another password), and the
// dataplane changed behind the reconciler's back (applied again).

const WALL0 = 1_700_000_000_000;

const cluster = (
  o: { version?: 2 | 3; interval?: string; auth?: boolean; lb?: boolean } = {},
) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: drift }
instances:
  - name: web
    vrid: 51
    version: ${o.version ?? 3}
    interface: eth0
    advertInterval: ${o.interval ?? '100ms'}
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.100/24]
${o.auth ? '    auth: { type: PASS, secretRef: { env: VRRP_PASS } }\n' : ''}${
  o.lb
    ? `virtualServers:
  - name: www
    address: 192.0.2.100
    port: 80
    scheduler: rr
    realServers:
      - { address: 198.51.100.11 }
      - { address: 198.51.100.12 }
`
    : ''
}`;

interface Node {
  agent: Awaited<ReturnType<typeof startNode>>['agent'];
  addresses: FakeAddressDriver;
}

async function startNode(
  node: 'lb1' | 'lb2',
  text: string,
  segment: FakeSegment,
  time: FakeTime,
  logs: LogEntry[],
  extra: Partial<AgentDeps> = {},
) {
  const repository = repositoryOf(text, ['lb1', 'lb2']);
  const addresses = new FakeAddressDriver();
  addresses.outside.addAddress({ address: `192.0.2.${node === 'lb1' ? 11 : 12}/24`, dev: 'eth0' });
  const r = await runAgent(
    { node, repository, view: viewOf(repository, node), revision: 'test' },
    fakeAgentDeps(time, logs, {
      openTransport: segment.open,
      addresses,
      wallClock: () => WALL0 + time.now(),
      log: (e) => logs.push({ ...e, node }),
      ...extra,
    }),
  );
  assert.ok(r.ok, r.ok ? '' : r.message);
  return { agent: r.agent, addresses };
}

const has = async (n: Node, address = '192.0.2.100/24') =>
  (await n.addresses.list('eth0')).some((a) => a.address === address);
const events = (logs: LogEntry[], node: string, names: readonly string[]) =>
  logs
    .filter((l) => l.node === node && names.includes(l.event))
    .map((l) => `${l.event}:${l.kind ?? l.reason ?? ''}`);
const driftLines = (logs: LogEntry[], node: string) =>
  logs
    .filter((l) => l.node === node && (l.event === 'drift-detected' || l.event === 'drift-resolved'))
    .map((l) => ({
      level: l.level,
      event: l.event,
      kind: l.kind,
      subject: l.subject,
      expected: l.expected,
      actual: l.actual,
    }));

describe('agent drift (fakes)', () => {
  it('a VIP deleted on the master: drift-detected, healed (vip-healed), drift-resolved, once each', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const logs: LogEntry[] = [];
    const a = await startNode('lb1', cluster(), segment, time, logs);
    const b = await startNode('lb2', cluster(), segment, time, logs);
    try {
      await time.advance(1000);
      assert.equal(a.agent.status().instances[0]?.state, 'Master');
      assert.deepEqual(a.agent.drift(), []);

      assert.ok(a.addresses.outside.removeAddress('eth0', '192.0.2.100/24'));
      await time.advance(10);
      assert.ok(await has(a), 'the master put it back');
      assert.deepEqual(events(logs, 'lb1', ['drift-detected', 'vip-healed', 'drift-resolved']), [
        'drift-detected:vip-missing',
        'vip-healed:',
        'drift-resolved:vip-missing',
      ]);
      assert.deepEqual(driftLines(logs, 'lb1')[0], {
        level: 'warn',
        event: 'drift-detected',
        kind: 'vip-missing',
        subject: 'instance web VIP 192.0.2.100/24',
        expected: 'present on eth0',
        actual: 'absent',
      });
      assert.equal(driftLines(logs, 'lb1')[1]?.level, 'info');
      assert.equal(a.agent.status().instances[0]?.counters.vipsHealed, 1);
      assert.deepEqual(a.agent.drift(), []);
      // The periodic resync finds nothing more to say.
      await time.advance(61_000);
      assert.equal(driftLines(logs, 'lb1').length, 2);
      assert.deepEqual(driftLines(logs, 'lb2'), []);
    } finally {
      await Promise.all([a.agent.abandon(), b.agent.abandon()]);
    }
  });

  it('with selfHeal false a deleted VIP is reported (in GET /status too) and left alone', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const logs: LogEntry[] = [];
    const a = await startNode('lb1', cluster(), segment, time, logs, { selfHeal: false, resyncMs: 5000 });
    try {
      await time.advance(1000);
      assert.ok(a.addresses.outside.removeAddress('eth0', '192.0.2.100/24'));
      await time.advance(10);
      assert.equal(await has(a), false, 'not healed');
      assert.equal(logs.filter((l) => l.event === 'vip-healed').length, 0);
      assert.equal(a.agent.status().instances[0]?.counters.vipsHealed, 0);
      const since = new Date(WALL0 + 1000).toISOString();
      assert.deepEqual(a.agent.drift(), [
        {
          kind: 'vip-missing',
          subject: 'instance web VIP 192.0.2.100/24',
          expected: 'present on eth0',
          actual: 'absent',
          since,
        },
      ]);
      const detected = logs.find((l) => l.event === 'drift-detected');
      assert.equal(detected?.message, 'selfHeal is off: reported only');

      const api = statusApp(
        agentStatusSource({
          agent: a.agent,
          source: { kind: 'dir', url: '/repo', ref: null, lastFetchAt: null },
          drift: () => a.agent.drift(),
          wallClock: () => WALL0 + time.now(),
        }),
      );
      const status = (await (await api.request('/status')).json()) as NodeStatus;
      assert.deepEqual(
        status.drift.map((d) => [d.kind, d.subject, d.since]),
        [['vip-missing', 'instance web VIP 192.0.2.100/24', since]],
      );
      const ready = status.conditions.find((c) => c.type === 'Ready');
      assert.deepEqual([ready?.status, ready?.reason], ['False', 'Drifted']);
      assert.match(await (await api.request('/metrics')).text(), /^keepgit_drift_items 1$/m);

      // Resyncs keep it, with its first `since`, and do not log it again.
      await time.advance(12_000);
      assert.equal(a.agent.drift()[0]?.since, since);
      assert.equal(logs.filter((l) => l.event === 'drift-detected').length, 1);
      assert.equal(await has(a), false);

      // Put back by hand: resolved.
      a.addresses.outside.addAddress({ address: '192.0.2.100/24', dev: 'eth0' });
      await time.advance(10);
      assert.deepEqual(a.agent.drift(), []);
      assert.deepEqual(
        driftLines(logs, 'lb1').map((l) => l.event),
        ['drift-detected', 'drift-resolved'],
      );
    } finally {
      await a.agent.abandon();
    }
  });

  it('a VIP added by hand on the backup is reported and removed (reported only with selfHeal false)', async () => {
    for (const selfHeal of [true, false]) {
      const segment = new FakeSegment();
      const time = new FakeTime();
      const logs: LogEntry[] = [];
      const a = await startNode('lb1', cluster(), segment, time, logs);
      const b = await startNode('lb2', cluster(), segment, time, logs, { selfHeal });
      try {
        await time.advance(1000);
        assert.equal(b.agent.status().instances[0]?.state, 'Backup');
        b.addresses.outside.addAddress({ address: '192.0.2.100/24', dev: 'eth0' });
        await time.advance(10);
        const lines = driftLines(logs, 'lb2');
        assert.deepEqual(lines[0], {
          level: 'warn',
          event: 'drift-detected',
          kind: 'vip-unexpected',
          subject: 'instance web VIP 192.0.2.100/24',
          expected: 'absent (this node is Backup)',
          actual: 'present on eth0',
        });
        if (selfHeal) {
          assert.equal(await has(b), false, 'the backup took it off');
          assert.deepEqual(events(logs, 'lb2', ['drift-detected', 'vip-removed', 'drift-resolved']), [
            'drift-detected:vip-unexpected',
            'vip-removed:drift',
            'drift-resolved:vip-unexpected',
          ]);
          assert.deepEqual(b.agent.drift(), []);
        } else {
          await time.advance(40_000);
          assert.equal(await has(b), true, 'left alone');
          assert.deepEqual(
            b.agent.drift().map((d) => d.kind),
            ['vip-unexpected'],
          );
          assert.equal(lines.length, 1);
        }
        // The master is not disturbed either way.
        assert.ok(await has(a));
        assert.deepEqual(a.agent.drift(), []);
      } finally {
        await Promise.all([a.agent.abandon(), b.agent.abandon()]);
      }
    }
  });

  it('split brain: two masters that drop each other for another password both report it, until one goes', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const logs: LogEntry[] = [];
    const text = cluster({ version: 2, interval: '1s', auth: true });
    const secret = (p: string) => ({ secrets: { env: { VRRP_PASS: p }, readFile: () => '' } });
    const a = await startNode('lb1', text, segment, time, logs, secret('one-pass'));
    const b = await startNode('lb2', text, segment, time, logs, secret('two-pass'));
    try {
      await time.advance(4000);
      // Both became master, neither heard the other; a short while is not yet split brain.
      assert.deepEqual(
        [a, b].map((n) => n.agent.status().instances[0]?.state),
        ['Master', 'Master'],
      );
      assert.deepEqual([...a.agent.drift(), ...b.agent.drift()], []);

      await time.advance(6000);
      assert.ok((a.agent.status().instances[0]?.counters.dropped['auth-mismatch'] ?? 0) > 3);
      assert.deepEqual(
        a.agent.drift().map(({ kind, subject, expected, actual }) => ({ kind, subject, expected, actual })),
        [
          {
            kind: 'split-brain',
            subject: 'instance web VRID 51',
            expected: 'this node the only master',
            actual: 'another master at 192.0.2.12',
          },
        ],
      );
      assert.deepEqual(
        b.agent.drift().map((d) => [d.kind, d.actual]),
        [['split-brain', 'another master at 192.0.2.11']],
      );
      // No healing for this one: nothing but the report (both still hold the VIP).
      assert.ok((await has(a)) && (await has(b)));

      // lb2 goes silent (a crash): lb1 clears it after 3 silent intervals, not before.
      await b.agent.abandon();
      await time.advance(2000);
      assert.equal(a.agent.drift().length, 1);
      await time.advance(2000);
      assert.deepEqual(a.agent.drift(), []);
      assert.deepEqual(
        driftLines(logs, 'lb1').map((l) => `${l.event}:${l.kind}`),
        ['drift-detected:split-brain', 'drift-resolved:split-brain'],
      );
    } finally {
      await Promise.all([a.agent.abandon(), b.agent.abandon()]);
    }
  });

  it('no split brain in a healthy election, nor when the backup preempts the master', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const logs: LogEntry[] = [];
    // lb2 first, as master alone; lb1 (higher priority) joins and preempts.
    const b = await startNode('lb2', cluster(), segment, time, logs);
    await time.advance(1000);
    const a = await startNode('lb1', cluster(), segment, time, logs);
    try {
      await time.advance(3000);
      assert.deepEqual(
        [a, b].map((n) => n.agent.status().instances[0]?.state),
        ['Master', 'Backup'],
      );
      assert.deepEqual(
        logs.filter((l) => l.event === 'drift-detected'),
        [],
      );
    } finally {
      await Promise.all([a.agent.abandon(), b.agent.abandon()]);
    }
  });

  it('the dataplane changed behind the reconciler: reported on resync and applied again', async () => {
    for (const selfHeal of [true, false]) {
      const kernel: FakeKernel = { services: [] };
      const nftables = createFakeDataplane({ kernel });
      const time = new FakeTime();
      const logs: LogEntry[] = [];
      const a = await startNode('lb1', cluster({ lb: true }), new FakeSegment(), time, logs, {
        selfHeal,
        resyncMs: 2000,
        runner: async () => ({ kind: 'exit', code: 0 }),
        readSysctl: () => '1',
        dataplanes: {
          ipvs: createFakeDataplane({ kind: 'ipvs', unavailable: 'kernel has no IPVS' }),
          nftables,
        },
      });
      try {
        await time.advance(1000);
        const want = structuredClone(kernel.services);
        assert.equal(want[0]?.destinations.length, 2);
        const applies = nftables.applied.length;
        // Someone deletes a real server from keepgit's table by hand.
        const svc = want[0];
        assert.ok(svc);
        nftables.tamper({ services: [{ ...svc, destinations: svc.destinations.slice(0, 1) }] });
        await time.advance(1500);
        const lines = driftLines(logs, 'lb1');
        assert.deepEqual(lines[0], {
          level: 'warn',
          event: 'drift-detected',
          kind: 'dataplane',
          subject: 'service www',
          expected: '198.51.100.11:80 w1, 198.51.100.12:80 w1',
          actual: '198.51.100.11:80 w1',
        });
        if (selfHeal) {
          assert.deepEqual(kernel.services, want, 'the reconciler applied its content again');
          assert.equal(nftables.applied.length, applies + 1);
          assert.deepEqual(
            lines.map((l) => l.event),
            ['drift-detected', 'drift-resolved'],
          );
          assert.deepEqual(a.agent.drift(), []);
        } else {
          await time.advance(10_000);
          assert.equal(kernel.services[0]?.destinations.length, 1, 'left as found');
          assert.equal(nftables.applied.length, applies);
          assert.deepEqual(
            a.agent.drift().map((d) => [d.kind, d.subject]),
            [['dataplane', 'service www']],
          );
          assert.equal(lines.length, 1);
        }
      } finally {
        await a.agent.abandon();
      }
    }
  });
});
