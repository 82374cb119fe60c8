import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredFor } from '../../src/agent/load-desired.ts';
import { createLogger } from '../../src/agent/log.ts';
import { primaryAddress } from '../../src/agent/primary-address.ts';
import { type AgentDeps, runAgent } from '../../src/agent/run-agent.ts';
import { agentStatusSource } from '../../src/api/agent-status-source.ts';
import { parseListen } from '../../src/api/listen.ts';
import type { NodeStatus } from '../../src/api/node-status.ts';
import { statusApp } from '../../src/api/status-app.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { gated } from './agent-fakes.ts';

// The agent around the instances: repository → view → running instances, status over
// Hono, link faults from the address driver, refusal with a message instead of a start.

const cluster = (auth = '') => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lab }
instances:
  - name: v4
    vrid: 51
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.100/24]
${auth}  - name: v6
    vrid: 52
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 100, lb2: 110 }
    vips: [2001:db8::100/64]
`;
const nodeFile = (name: string) => `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${name} }\n`;

function repository(text = cluster()) {
  const loaded = loadRepository(
    new Map([
      ['keepgit.yaml', text],
      ['nodes/lb1.yaml', nodeFile('lb1')],
      ['nodes/lb2.yaml', nodeFile('lb2')],
    ]),
  );
  assert.ok(loaded.repository, JSON.stringify(loaded.diagnostics));
  return loaded.repository;
}

function host(n: number) {
  const d = new FakeAddressDriver();
  d.outside.addAddress({ address: `192.0.2.${10 + n}/24`, dev: 'eth0' });
  d.outside.addAddress({ address: `2001:db8::${10 + n}/64`, dev: 'eth0' });
  d.outside.addAddress({ address: `fe80::${n}/64`, dev: 'eth0', scope: 'link' });
  return d;
}

async function start(
  node: string,
  n: number,
  segment: FakeSegment,
  time: FakeTime,
  logs: LogEntry[],
  extra: Partial<AgentDeps> = {},
) {
  const repo = repository();
  const desired = desiredFor(repo, node);
  assert.ok(desired.ok);
  const addresses = host(n);
  const r = await runAgent(
    { node, repository: repo, view: desired.view, revision: 'test' },
    {
      openTransport: segment.open,
      addresses,
      clock: time,
      timers: time,
      log: (e) => logs.push({ ...e, node }),
      secrets: { env: {}, readFile: () => '' },
      wallClock: () => 1_700_000_000_000 + time.now(),
      ...extra,
    },
  );
  assert.ok(r.ok, r.ok ? '' : r.message);
  return { agent: r.agent, addresses };
}

describe('keepgit agent (fakes)', () => {
  it('runs every instance of the view, IPv4 and IPv6, and reports them on GET /status', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const logs: LogEntry[] = [];
    const a = await start('lb1', 1, segment, time, logs);
    const b = await start('lb2', 2, segment, time, logs);
    await time.advance(1000);

    const api = statusApp(
      agentStatusSource({
        agent: a.agent,
        source: { kind: 'dir', url: '/repo', ref: null, lastFetchAt: null },
      }),
    );
    const res = await api.request('/status');
    assert.equal(res.status, 200);
    const status = (await res.json()) as NodeStatus;
    assert.equal(status.node, 'lb1');
    const byName = new Map(status.instances.map((i) => [i.name, i]));
    assert.equal(byName.get('v4')?.state, 'Master');
    assert.equal(byName.get('v4')?.master, 'self');
    assert.equal(byName.get('v4')?.vrid, 51);
    assert.equal(byName.get('v4')?.effectivePriority, 110);
    assert.equal(byName.get('v6')?.state, 'Backup');
    // IPv6 speaks from the link-local address (RFC 5798 5.1.2.1).
    assert.equal(byName.get('v6')?.master, 'fe80::2');
    assert.match(byName.get('v4')?.since ?? '', /^2023-/);
    assert.equal((await api.request('/healthz')).status, 200);

    const addrs = async (d: FakeAddressDriver) => (await d.list('eth0')).map((x) => x.address);
    assert.ok((await addrs(a.addresses)).includes('192.0.2.100/24'));
    assert.ok(!(await addrs(a.addresses)).includes('2001:db8::100/64'));
    assert.ok((await addrs(b.addresses)).includes('2001:db8::100/64'));

    // A revision that leaves VRRP as it is applies at once; one that changes an instance's
    // VRID re-creates that instance (test/unit/agent-hot-reload.test.ts has the rest).
    assert.deepEqual(await a.agent.applyRevision(gated(repository()), 'same'), {
      applied: true,
      revision: 'same',
    });
    assert.equal(a.agent.status().revision, 'same');
    const changed = a.agent.applyRevision(
      gated(repository(cluster().replace('vrid: 52', 'vrid: 53'))),
      'next',
    );
    await time.advance(1000);
    assert.deepEqual(await changed, { applied: true, revision: 'next' });
    assert.deepEqual(
      logs.filter((l) => l.event === 'instance-recreated').map((l) => [l.node, l.instance, l.fields]),
      [['lb1', 'v6', ['vrid']]],
    );
    assert.equal(a.agent.status().revision, 'next');
    assert.equal(a.agent.status().instances.find((i) => i.name === 'v6')?.vrid, 53);

    const stopped = Promise.all([a.agent.stop(), b.agent.stop()]);
    await time.advance(1000);
    await stopped;
    assert.deepEqual(
      (await addrs(a.addresses)).filter((x) => x.includes('100')),
      [],
    );
    assert.deepEqual(
      (await addrs(b.addresses)).filter((x) => x.includes('100')),
      [],
    );
  });

  it('takes the interface down as a fault, and back up as a fresh backup', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const logs: LogEntry[] = [];
    const a = await start('lb1', 1, segment, time, logs);
    await time.advance(1000);
    assert.equal(a.agent.status().instances.find((i) => i.name === 'v4')?.state, 'Master');
    a.addresses.outside.setCarrier('eth0', false);
    await time.advance(10);
    const v4 = a.agent.status().instances.find((i) => i.name === 'v4');
    assert.equal(v4?.state, 'Fault');
    assert.deepEqual(v4?.faults, ['interface eth0 down']);
    a.addresses.outside.setCarrier('eth0', true);
    await time.advance(1000);
    assert.equal(a.agent.status().instances.find((i) => i.name === 'v4')?.state, 'Master');
    await a.agent.abandon();
  });

  it('installs the IPv6 hop-limit check when an instance speaks IPv6, and removes it on stop', async () => {
    const calls: string[] = [];
    const guard = {
      install: async () => {
        calls.push('install');
        return { ok: true as const };
      },
      dropped: async () => 0,
      remove: async () => {
        calls.push('remove');
      },
    };
    const time = new FakeTime();
    const a = await start('lb1', 1, new FakeSegment(), time, [], { hopLimitGuard: guard });
    assert.deepEqual(a.agent.status().ipv6HopLimitCheck, { installed: true });
    const stopped = a.agent.stop();
    await time.advance(3000);
    await stopped;
    assert.deepEqual(calls, ['install', 'remove']);

    const logs: LogEntry[] = [];
    const failing = {
      ...guard,
      install: async () => ({ ok: false as const, message: 'nft is not installed' }),
    };
    const b = await start('lb1', 1, new FakeSegment(), new FakeTime(), logs, { hopLimitGuard: failing });
    assert.deepEqual(b.agent.status().ipv6HopLimitCheck, {
      installed: false,
      message: 'nft is not installed',
    });
    assert.ok(logs.some((l) => l.event === 'hop-limit-check-missing' && l.level === 'warn'));
    await b.agent.abandon();
  });

  it('puts back a VIP deleted by hand on the master, and leaves a backup alone', async () => {
    const segment = new FakeSegment();
    const time = new FakeTime();
    const logs: LogEntry[] = [];
    const a = await start('lb1', 1, segment, time, logs);
    const b = await start('lb2', 2, segment, time, logs);
    await time.advance(1000);
    const addrs = async (d: FakeAddressDriver) => (await d.list('eth0')).map((x) => x.address);
    assert.ok(a.addresses.outside.removeAddress('eth0', '192.0.2.100/24'));
    await time.advance(10);
    assert.ok((await addrs(a.addresses)).includes('192.0.2.100/24'), 'the master added it back');
    const healed = logs.filter((l) => l.event === 'vip-healed');
    assert.deepEqual(
      healed.map((l) => [l.node, l.instance, l.address]),
      [['lb1', 'v4', '192.0.2.100/24']],
    );
    assert.equal(a.agent.status().instances.find((i) => i.name === 'v4')?.counters.vipsHealed, 1);
    // lb2 is backup of v4 and master of v6: an outside address lb2 does not hold as master stays gone.
    b.addresses.outside.addAddress({ address: '192.0.2.100/24', dev: 'eth0' });
    assert.ok(b.addresses.outside.removeAddress('eth0', '192.0.2.100/24'));
    await time.advance(10);
    assert.ok(!(await addrs(b.addresses)).includes('192.0.2.100/24'));
    assert.equal(logs.filter((l) => l.event === 'vip-healed').length, 1);
    await Promise.all([a.agent.abandon(), b.agent.abandon()]);
  });

  it('refuses to start with a message when a secret or an address is missing', async () => {
    const repo = repository(
      cluster().replace('version: 3', 'version: 2').replace('advertInterval: 100ms', 'advertInterval: 1s') +
        '',
    );
    const text = cluster('    auth: { type: PASS, secretRef: { env: KG_TEST_PASS } }\n')
      .replace('version: 3', 'version: 2')
      .replace('advertInterval: 100ms', 'advertInterval: 1s');
    const withAuth = repository(text);
    const desired = desiredFor(withAuth, 'lb1');
    assert.ok(desired.ok);
    const time = new FakeTime();
    const deps = {
      openTransport: new FakeSegment().open,
      addresses: host(1),
      clock: time,
      timers: time,
      log: () => {},
      secrets: { env: {}, readFile: () => '' },
    };
    const r = await runAgent({ node: 'lb1', repository: withAuth, view: desired.view, revision: 't' }, deps);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.message, /KG_TEST_PASS.*not set/);

    const plain = desiredFor(repo, 'lb1');
    assert.ok(plain.ok);
    const r2 = await runAgent(
      { node: 'lb1', repository: repo, view: plain.view, revision: 't' },
      { ...deps, addresses: new FakeAddressDriver() },
    );
    assert.equal(r2.ok, false);
    assert.match(r2.ok ? '' : r2.message, /eth0 has no IPv4 address/);
  });

  it('picks the primary address as keepalived does, never a VIP', () => {
    const repo = repository();
    const d = desiredFor(repo, 'lb1');
    assert.ok(d.ok);
    const [v4, v6] = [
      d.view.instances.find((i) => i.name === 'v4'),
      d.view.instances.find((i) => i.name === 'v6'),
    ];
    assert.ok(v4 && v6);
    const live = [
      { address: '192.0.2.100/24', family: 4 as const, ifname: 'eth0', ifindex: 2, scope: 'global' as const },
      { address: '192.0.2.11/24', family: 4 as const, ifname: 'eth0', ifindex: 2, scope: 'global' as const },
      {
        address: '2001:db8::11/64',
        family: 6 as const,
        ifname: 'eth0',
        ifindex: 2,
        scope: 'global' as const,
      },
      { address: 'fe80::1/64', family: 6 as const, ifname: 'eth0', ifindex: 2, scope: 'link' as const },
    ];
    assert.deepEqual(primaryAddress(v4, live), { ok: true, address: '192.0.2.11' });
    assert.deepEqual(primaryAddress(v6, live), { ok: true, address: 'fe80::1' });
  });

  it('writes one JSON object per line, or one human line', () => {
    const lines: string[] = [];
    const e: LogEntry = {
      level: 'info',
      event: 'transition',
      instance: 'v4',
      from: 'Backup',
      to: 'Master',
      reason: 'master-down',
    };
    createLogger({ format: 'json', write: (l) => lines.push(l), now: () => 0 })(e);
    createLogger({ format: 'text', write: (l) => lines.push(l), now: () => 0 })(e);
    createLogger({ format: 'json', write: (l) => lines.push(l), level: 'warn' })(e);
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[0] ?? ''), {
      ts: '1970-01-01T00:00:00.000Z',
      level: 'info',
      event: 'transition',
      instance: 'v4',
      from: 'Backup',
      to: 'Master',
      reason: 'master-down',
    });
    assert.equal(lines[1], '1970-01-01T00:00:00.000Z INFO  [v4] transition Backup -> Master (master-down)');
  });

  it('parses --listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:9742'), { host: '127.0.0.1', port: 9742 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.equal(parseListen('9742'), undefined);
    assert.equal(parseListen('127.0.0.1:99999'), undefined);
  });
});
