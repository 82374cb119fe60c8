import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runAgent } from '../../src/agent/run-agent.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { createFakeDataplane, type FakeKernel } from '../../src/drivers/dataplane/fake-dataplane.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { fakeAgentDeps, gated, repositoryOf, viewOf } from './agent-fakes.ts';

// The agent's load balancing with fakes: the dataplane chosen by probing (no IPVS here →
// nftables), checks turned into facts, facts into the dataplane's content, a revision that
// needs IPVS refused on a node without it, and the services removed on a graceful stop.

const cluster = (scheduler: string, extra = '') => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lb }
instances:
  - name: web
    vrid: 51
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110 }
    vips: [203.0.113.10/32]
virtualServers:
  - name: www
    address: 203.0.113.10
    port: 80
    scheduler: ${scheduler}
    realServers:
      - { address: 198.51.100.11 }
      - address: 198.51.100.12
        checks: [{ type: misc, script: /usr/local/bin/check-12, delayLoop: 1s, connectTimeout: 1s }]
${extra}`;

async function start(scheduler: string, kernel: FakeKernel, health: { ok: boolean }) {
  const repository = repositoryOf(cluster(scheduler));
  const addresses = new FakeAddressDriver();
  addresses.outside.addAddress({ address: '192.0.2.11/24', dev: 'eth0' });
  const time = new FakeTime();
  const logs: LogEntry[] = [];
  const r = await runAgent(
    { node: 'lb1', repository, view: viewOf(repository, 'lb1'), revision: 'test' },
    fakeAgentDeps(time, logs, {
      openTransport: new FakeSegment().open,
      addresses,
      runner: async () => ({ kind: 'exit', code: 0 }),
      dataplanes: {
        ipvs: createFakeDataplane({
          kind: 'ipvs',
          unavailable: 'kernel has no IPVS (family not registered); use dataplane: nftables',
        }),
        nftables: createFakeDataplane({ kernel }),
      },
      readSysctl: (path) => (path === '/proc/sys/net/ipv4/ip_forward' ? '0' : '1'),
      probeEnv: {
        miscProbe: async () =>
          health.ok ? { ok: true, latencyMs: 1 } : { ok: false, latencyMs: 1, reason: 'exit status 1' },
      },
    }),
  );
  return { r, time, logs };
}

const held = (k: FakeKernel) =>
  k.services.flatMap((s) => s.destinations.map((d) => `${s.key} ${d.address}:${d.port}=${d.weight}`));

describe('agent load balancing (fakes)', () => {
  it('picks nftables on a kernel without IPVS, follows the checks, and clears on stop', async () => {
    const kernel: FakeKernel = { services: [] };
    const health = { ok: true };
    const { r, time, logs } = await start('rr', kernel, health);
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.deepEqual(held(kernel), ['www 198.51.100.11:80=1', 'www 198.51.100.12:80=1']);
    const lb = r.agent.status().loadBalancer;
    assert.equal(lb?.dataplane, 'nftables');
    assert.equal(lb?.dataplaneReason, 'auto: kernel has no IPVS, using nftables');
    assert.deepEqual(lb?.warnings, [
      'net.ipv4.ip_forward is 0: connections to the IPv4 virtual servers are translated but not forwarded; set it to 1 (sysctl -w net.ipv4.ip_forward=1, and in /etc/sysctl.d/ to keep it)',
    ]);
    assert.ok(logs.some((l) => l.event === 'forwarding-off' && l.level === 'warn'));
    assert.deepEqual(
      lb?.realServers.map((s) => [s.realServer, s.up]),
      [
        ['198.51.100.11:80', true],
        ['198.51.100.12:80', true],
      ],
    );

    health.ok = false;
    await time.advance(2500);
    assert.deepEqual(held(kernel), ['www 198.51.100.11:80=1']);
    const down = r.agent.status().loadBalancer?.realServers.find((s) => s.realServer === '198.51.100.12:80');
    assert.equal(down?.up, false);
    assert.equal(down?.checks[0]?.last?.ok, false);
    assert.ok(logs.some((l) => l.event === 'real-server-down' && l.address === '198.51.100.12:80'));

    health.ok = true;
    await time.advance(1500);
    assert.deepEqual(held(kernel), ['www 198.51.100.11:80=1', 'www 198.51.100.12:80=1']);

    const stopped = r.agent.stop();
    await time.advance(3000);
    await stopped;
    assert.deepEqual(kernel.services, []);
  });

  it('refuses a revision that needs IPVS on a node whose kernel has none, naming the field', async () => {
    const kernel: FakeKernel = { services: [] };
    const { r } = await start('wlc', kernel, { ok: true });
    assert.equal(r.ok, false);
    assert.match(
      r.ok ? '' : r.message,
      /^auto: kernel has no IPVS, using nftables, and this revision needs IPVS:\n {2}virtual server www: scheduler wlc needs IPVS; with dataplane nftables use one of rr, wrr, sh, dh, random$/,
    );
    assert.deepEqual(kernel.services, []);
  });

  it('applies a revision that only changes real servers in place: added at once, removed after draining', async () => {
    const kernel: FakeKernel = { services: [] };
    const { r, time, logs } = await start('rr', kernel, { ok: true });
    assert.ok(r.ok, r.ok ? '' : r.message);
    const added = await r.agent.applyRevision(
      gated(repositoryOf(cluster('rr', '      - { address: 198.51.100.13 }\n'))),
      'add-13',
    );
    assert.deepEqual(added, { applied: true, revision: 'add-13' });
    assert.deepEqual(held(kernel), [
      'www 198.51.100.11:80=1',
      'www 198.51.100.12:80=1',
      'www 198.51.100.13:80=1',
    ]);
    // Back to the first revision: .13 drains at weight 0 for drainTime (default 10 s), then goes.
    assert.equal((await r.agent.applyRevision(gated(repositoryOf(cluster('rr'))), 'drop-13')).applied, true);
    assert.ok(held(kernel).includes('www 198.51.100.13:80=0'));
    await time.advance(10_000);
    assert.deepEqual(held(kernel), ['www 198.51.100.11:80=1', 'www 198.51.100.12:80=1']);
    // A revision the dataplane cannot run is refused whole: the kernel keeps what it had.
    const refused = await r.agent.applyRevision(gated(repositoryOf(cluster('wlc'))), 'wlc');
    assert.equal(refused.applied, false);
    assert.match(refused.applied ? '' : refused.reason, /scheduler wlc needs IPVS/);
    assert.deepEqual(held(kernel), ['www 198.51.100.11:80=1', 'www 198.51.100.12:80=1']);
    assert.equal(r.agent.status().revision, 'drop-13');
    assert.ok(logs.some((l) => l.event === 'revision-refused' && l.revision === 'wlc'));
    await r.agent.abandon();
  });

  it('omega: a graceful stop runs the down notifiers of live servers and quorum_down', async () => {
    const text = `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lb }
virtualServers:
  - name: www
    address: 203.0.113.10
    port: 80
    scheduler: rr
    omega: true
    quorum: { up: /usr/local/bin/q-up, down: /usr/local/bin/q-down }
    realServers:
      - { address: 198.51.100.11, notifyDown: /usr/local/bin/rs-down }
`;
    const repository = repositoryOf(text);
    const ran: string[] = [];
    const time = new FakeTime();
    const r = await runAgent(
      { node: 'lb1', repository, view: viewOf(repository, 'lb1'), revision: 'test' },
      fakeAgentDeps(time, [], {
        openTransport: new FakeSegment().open,
        addresses: new FakeAddressDriver(),
        runner: async (cmd) => {
          ran.push(cmd.text);
          return { kind: 'exit', code: 0 };
        },
        dataplanes: {
          ipvs: createFakeDataplane({ kind: 'ipvs', unavailable: 'kernel has no IPVS' }),
          nftables: createFakeDataplane(),
        },
        readSysctl: () => '1',
      }),
    );
    assert.ok(r.ok, r.ok ? '' : r.message);
    await r.agent.stop();
    await time.advance(10);
    assert.deepEqual(ran.sort(), ['/usr/local/bin/q-down', '/usr/local/bin/rs-down']);
  });
});
