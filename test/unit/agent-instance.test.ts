import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredFor } from '../../src/agent/load-desired.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import {
  FakeSegment,
  type OpenTransport,
  type Transport,
} from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { ViewInstance } from '../../src/model/node-view.ts';
import { VrrpInstance } from '../../src/vrrp/instance.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../src/vrrp/timers.ts';

// Two VRRP instances on one fake segment, each with its own fake address driver, under a
// fake clock that fires timers at their exact protocol times: elections, make-before-break
// stop and crash takeover, timed to the microsecond, in milliseconds of real time.

const LB1 = '192.0.2.11';
const LB2 = '192.0.2.12';
const VIP = '192.0.2.100/24';
const PASSWORD = 's3cr3t-pw';

interface RepoOptions {
  version?: 2 | 3;
  interval?: string;
  auth?: boolean;
  extra?: string;
}

function repositoryFiles(o: RepoOptions = {}): Map<string, string> {
  const auth = o.auth ? '    auth: { type: PASS, secretRef: { env: VRRP_PASS } }\n' : '';
  const cluster = `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lab }
instances:
  - name: vi51
    vrid: 51
    version: ${o.version ?? 3}
    interface: eth0
    advertInterval: ${o.interval ?? '100ms'}
    priority: { lb1: 110, lb2: 100 }
    vips: [${VIP}]
${auth}${o.extra ?? ''}`;
  const node = (name: string, addr: string) =>
    `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${name} }\ninterfaces:\n  eth0:\n    addresses: [${addr}/24]\n`;
  return new Map([
    ['keepgit.yaml', cluster],
    ['nodes/lb1.yaml', node('lb1', LB1)],
    ['nodes/lb2.yaml', node('lb2', LB2)],
  ]);
}

function viewFor(node: string, o: RepoOptions = {}): ViewInstance {
  const loaded = loadRepository(repositoryFiles(o));
  assert.ok(loaded.repository, JSON.stringify(loaded.diagnostics));
  const d = desiredFor(loaded.repository, node);
  assert.ok(d.ok, d.ok ? '' : JSON.stringify(d.diagnostics));
  const v = d.view.instances[0];
  assert.ok(v);
  return v;
}

interface Logged extends LogEntry {
  node: string;
  at: number;
}

interface Sent {
  node: string;
  at: number;
  priority: number;
}

/** One world: a segment, a clock, a shared log and the adverts sent, in order. */
function world() {
  const segment = new FakeSegment();
  const time = new FakeTime();
  const logs: Logged[] = [];
  const sent: Sent[] = [];

  const node = (name: string, address: string, o: RepoOptions & { password?: string } = {}) => {
    const addresses = new FakeAddressDriver();
    addresses.outside.addAddress({ address: `${address}/24`, dev: 'eth0' });
    let transport: Transport | undefined;
    // Records every advert handed to the transport, with the fake time it left at.
    const open: OpenTransport = async (options) => {
      const t = await segment.open(options);
      transport = t;
      return {
        options: t.options,
        send: (advert) => {
          sent.push({ node: name, at: time.now(), priority: advert.priority });
          return t.send(advert);
        },
        onAdvert: (l) => t.onAdvert(l),
        counters: () => t.counters(),
        close: () => t.close(),
      };
    };
    const inst = new VrrpInstance({
      view: viewFor(name, o),
      address,
      openTransport: open,
      addresses,
      clock: time,
      timers: time,
      log: (e) => logs.push({ ...e, node: name, at: time.now() }),
      ...(o.password !== undefined ? { password: o.password } : {}),
    });
    return {
      inst,
      addresses,
      transport: () => transport,
      hasVip: async () => (await addresses.list('eth0')).some((a) => a.address === VIP),
    };
  };

  const transitionAt = (name: string, to: string, after = -1): number | undefined =>
    logs.find((l) => l.node === name && l.event === 'transition' && l.to === to && l.at > after)?.at;

  return { segment, time, logs, sent, node, transitionAt };
}

const close = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) < 1e-6;

describe('VRRP instance on a fake segment', () => {
  it('elects the higher priority and puts the VIP on the master only', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1);
    const lb2 = w.node('lb2', LB2);
    await Promise.all([lb1.inst.start(), lb2.inst.start()]);
    await w.time.advance(1000);
    assert.equal(lb1.inst.status().state, 'Master');
    assert.equal(lb2.inst.status().state, 'Backup');
    assert.equal(await lb1.hasVip(), true);
    assert.equal(await lb2.hasVip(), false);
    // lb1's master-down timer ran out first: 3 × 100 ms + (256 − 110) × 100 / 256 ms.
    assert.ok(close(w.transitionAt('lb1', 'Master'), masterDownIntervalMs(3, 110, 100)));
    assert.equal(w.transitionAt('lb2', 'Master'), undefined);
    const s2 = lb2.inst.status();
    assert.equal(s2.master, LB1);
    assert.equal(s2.effectivePriority, 100);
    assert.equal(lb1.inst.status().master, 'self');
    const t = w.logs.find((l) => l.node === 'lb1' && l.event === 'transition' && l.to === 'Master');
    assert.equal(t?.from, 'Backup');
    assert.equal(t?.reason, 'master-down');
    assert.equal(t?.instance, 'vi51');
    await Promise.all([lb1.inst.abandon(), lb2.inst.abandon()]);
  });

  it('stop: the backup takes over after its skew, the old master releases only after hearing it', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1);
    const lb2 = w.node('lb2', LB2);
    await Promise.all([lb1.inst.start(), lb2.inst.start()]);
    await w.time.advance(1000);
    assert.equal(lb1.inst.status().state, 'Master');

    const stopAt = w.time.now();
    let stopped = false;
    const stopping = lb1.inst.stop().then(() => {
      stopped = true;
    });
    await w.time.advance(50);
    assert.equal(lb1.inst.status().state, 'Stopping');
    assert.equal(lb2.inst.status().state, 'Backup');
    assert.equal(await lb1.hasVip(), true, 'the stopping master keeps its VIP until the successor speaks');
    assert.equal(stopped, false);
    assert.deepEqual(
      w.sent.filter((s) => s.node === 'lb1' && s.at === stopAt).map((s) => s.priority),
      [0],
    );

    await w.time.advance(30);
    await stopping;
    assert.equal(stopped, true);
    const takeover = w.transitionAt('lb2', 'Master');
    // Priority 0 heard: lb2 waits only its skew, (256 − 100) × 100 / 256 ms.
    assert.ok(close(takeover, stopAt + skewTimeMs(3, 100, 100)), `takeover at ${takeover}`);
    assert.equal(await lb2.hasVip(), true);
    assert.equal(await lb1.hasVip(), false);
    // Make-before-break: lb1's VIP went after lb2 took the role, never before.
    const removed = w.logs.findIndex((l) => l.node === 'lb1' && l.event === 'vip-removed');
    const became = w.logs.findIndex((l) => l.node === 'lb2' && l.event === 'transition' && l.to === 'Master');
    assert.ok(
      became >= 0 && removed > became,
      `lb2 master at log #${became}, lb1 VIP removed at #${removed}`,
    );
    const released = w.logs[removed];
    assert.ok(released !== undefined && released.at >= (takeover ?? 0));
    assert.equal(
      w.logs.find((l) => l.node === 'lb1' && l.event === 'transition' && l.to === 'Initialize')?.reason,
      'successor-heard',
    );
    assert.equal(lb1.transport()?.counters().sent, w.sent.filter((s) => s.node === 'lb1').length);
    await lb2.inst.abandon();
  });

  it('crash: the backup takes over one master-down interval after the last advert', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1);
    const lb2 = w.node('lb2', LB2);
    await Promise.all([lb1.inst.start(), lb2.inst.start()]);
    await w.time.advance(1000);
    const last = w.sent.filter((s) => s.node === 'lb1').at(-1);
    assert.ok(last);
    await lb1.inst.abandon(); // no priority 0, VIP left in place: what SIGKILL leaves
    await w.time.advance(300);
    assert.equal(lb2.inst.status().state, 'Backup');
    await w.time.advance(200);
    assert.equal(lb2.inst.status().state, 'Master');
    const takeover = w.transitionAt('lb2', 'Master');
    assert.ok(close(takeover, last.at + masterDownIntervalMs(3, 100, 100)), `takeover at ${takeover}`);
    assert.equal(
      w.logs.find((l) => l.node === 'lb2' && l.event === 'transition' && l.to === 'Master')?.reason,
      'master-down',
    );
    assert.equal(await lb2.hasVip(), true);
    assert.equal(await lb1.hasVip(), true, 'a crashed node keeps its VIP, as with keepalived');
    await lb2.inst.abandon();
  });

  it('preempts: a returning higher priority takes the VIP back', async () => {
    const w = world();
    const lb2 = w.node('lb2', LB2);
    await lb2.inst.start();
    await w.time.advance(1000);
    assert.equal(lb2.inst.status().state, 'Master');
    const lb1 = w.node('lb1', LB1);
    await lb1.inst.start();
    await w.time.advance(1000);
    assert.equal(lb1.inst.status().state, 'Master');
    assert.equal(lb2.inst.status().state, 'Backup');
    assert.equal(await lb1.hasVip(), true);
    assert.equal(await lb2.hasVip(), false);
    await Promise.all([lb1.inst.abandon(), lb2.inst.abandon()]);
  });

  it('releases a VIP left over by a crashed run when it starts as backup', async () => {
    const w = world();
    const lb2 = w.node('lb2', LB2);
    lb2.addresses.outside.addAddress({ address: VIP, dev: 'eth0' });
    await lb2.inst.start();
    await w.time.advance(10);
    assert.equal(await lb2.hasVip(), false);
    assert.equal(w.logs.find((l) => l.event === 'vip-removed')?.reason, 'left-over');
    await lb2.inst.abandon();
  });

  it('survives bad packets and driver errors: logs and counts them', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1);
    lb1.addresses.outside.failNext({ op: 'add', errno: 'EPERM' });
    await lb1.inst.start();
    // Garbage, a v2 advert on a v3 instance and a wrong-VRID advert, as some other host would send.
    w.segment.inject(4, '192.0.2.99', '224.0.0.18', Buffer.from([0x45, 0, 0, 1, 2, 3]));
    const peer = await w.segment.open({ family: 4, ifname: 'eth0', sourceAddress: '192.0.2.99' });
    await peer.send({
      type: 1,
      version: 2,
      family: 4,
      vrid: 51,
      priority: 200,
      addresses: ['192.0.2.100'],
      advertIntervalS: 1,
      auth: { type: 0, data: Buffer.alloc(8) },
    });
    await w.time.advance(1000);
    const s = lb1.inst.status();
    assert.equal(s.state, 'Master', 'a v2 advert of priority 200 must not make a v3 instance yield');
    assert.equal(s.counters.dropped['version-mismatch'], 1);
    assert.ok(
      (s.counters.transport?.receiveErrors ?? 0) + Object.keys(s.counters.transport?.dropped ?? {}).length >
        0,
    );
    assert.equal(s.counters.vipErrors, 1);
    const err = w.logs.find((l) => l.event === 'vip-error');
    assert.equal(err?.reason, 'not-permitted');
    await peer.close();
    await lb1.inst.abandon();
  });

  it('v2 PASS: peers with the same password elect; a wrong password is dropped; the password is never logged', async () => {
    const w = world();
    const o = { version: 2 as const, interval: '1s', auth: true };
    const lb1 = w.node('lb1', LB1, { ...o, password: PASSWORD });
    const lb2 = w.node('lb2', LB2, { ...o, password: PASSWORD });
    const intruder = w.node('lb1', '192.0.2.99', { ...o, password: 'wrong' });
    await Promise.all([lb1.inst.start(), lb2.inst.start()]);
    await w.time.advance(5000);
    assert.equal(lb1.inst.status().state, 'Master');
    assert.equal(lb2.inst.status().state, 'Backup');
    await intruder.inst.start();
    await w.time.advance(5000);
    assert.equal(lb2.inst.status().state, 'Backup');
    assert.ok((lb2.inst.status().counters.dropped['auth-mismatch'] ?? 0) > 0);
    assert.equal(lb2.inst.status().master, LB1);
    assert.ok(w.logs.some((l) => l.event === 'advert-dropped' && l.reason === 'auth-mismatch'));
    assert.ok(!JSON.stringify(w.logs).includes(PASSWORD));
    assert.ok(!JSON.stringify(w.logs).includes('wrong'));
    await Promise.all([lb1.inst.abandon(), lb2.inst.abandon(), intruder.inst.abandon()]);
  });

  it('a stopping backup stops at once and a fault takes a master down to Fault', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1);
    const lb2 = w.node('lb2', LB2);
    await Promise.all([lb1.inst.start(), lb2.inst.start()]);
    await w.time.advance(1000);
    await lb2.inst.stop();
    assert.equal(lb2.inst.status().state, 'Initialize');
    lb1.inst.fault('interface eth0 down');
    await w.time.advance(10);
    assert.equal(lb1.inst.status().state, 'Fault');
    assert.equal(await lb1.hasVip(), false);
    lb1.inst.clearFault('interface eth0 down');
    await w.time.advance(1000);
    assert.equal(lb1.inst.status().state, 'Master');
    assert.equal(await lb1.hasVip(), true);
    const stopping = lb1.inst.stop();
    await w.time.advance(400);
    await stopping;
    assert.equal(await lb1.hasVip(), false, 'with nobody to answer, the release bound lets the VIP go');
  });
});
