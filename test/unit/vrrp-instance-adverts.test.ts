import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredFor } from '../../src/agent/load-desired.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { FakeSegment, type OpenTransport } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { ViewInstance } from '../../src/model/node-view.ts';
import type { AdvertFields } from '../../src/vrrp/advert.ts';
import { VrrpInstance } from '../../src/vrrp/instance.ts';
import type { LogEntry } from '../../src/vrrp/instance-log.ts';
import { FakeTime, systemTimers, type TimerHandle, type Timers } from '../../src/vrrp/instance-timers.ts';
import { masterDownIntervalMs } from '../../src/vrrp/timers.ts';

// What the instance does per advert, made cheap without changing what it does: one
// advert object per priority (the transport keeps its encoding), a timer set once per
// master-down interval on a backup instead of once per advert heard, and keepalived's
// second gratuitous ARP burst garp_master_delay after becoming master.

const LB1 = '192.0.2.11';
const LB2 = '192.0.2.12';

function view(node: string, interval = '100ms'): ViewInstance {
  const cluster = `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lab }
instances:
  - name: vi51
    vrid: 51
    version: 3
    interface: eth0
    advertInterval: ${interval}
    priority: { lb1: 110, lb2: 100 }
    vips: [192.0.2.100/24]
`;
  const nodeDoc = (name: string, addr: string) =>
    `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${name} }\ninterfaces:\n  eth0:\n    addresses: [${addr}/24]\n`;
  const loaded = loadRepository(
    new Map([
      ['keepgit.yaml', cluster],
      ['nodes/lb1.yaml', nodeDoc('lb1', LB1)],
      ['nodes/lb2.yaml', nodeDoc('lb2', LB2)],
    ]),
  );
  assert.ok(loaded.repository);
  const d = desiredFor(loaded.repository, node);
  assert.ok(d.ok);
  const v = d.view.instances[0];
  assert.ok(v);
  return v;
}

function world() {
  const segment = new FakeSegment();
  const time = new FakeTime();
  const logs: (LogEntry & { node: string; at: number })[] = [];
  const node = (name: string, address: string, interval?: string) => {
    const sent: AdvertFields[] = [];
    const heard: number[] = [];
    const announced: number[] = [];
    let timersSet = 0;
    // Counts the timers this instance sets; time itself is the shared fake.
    const timers: Timers = {
      set: (fn: () => void, ms: number): TimerHandle => {
        timersSet++;
        return time.set(fn, ms);
      },
      clear: (h) => time.clear(h),
    };
    const open: OpenTransport = async (options) => {
      const t = await segment.open(options);
      t.onAdvert(() => heard.push(time.now()));
      return {
        options: t.options,
        send: (advert) => {
          sent.push(advert);
          return t.send(advert);
        },
        onAdvert: (l) => t.onAdvert(l),
        counters: () => t.counters(),
        close: () => t.close(),
      };
    };
    const addresses = new FakeAddressDriver();
    addresses.outside.addAddress({ address: `${address}/24`, dev: 'eth0' });
    const inst = new VrrpInstance({
      view: view(name, interval),
      address,
      openTransport: open,
      addresses,
      announcer: {
        announce: async () => {
          announced.push(time.now());
        },
      },
      clock: time,
      timers,
      log: (e) => logs.push({ ...e, node: name, at: time.now() }),
    });
    return { inst, sent, heard, announced, timersSet: () => timersSet };
  };
  const becameMaster = (name: string) =>
    logs.find((l) => l.node === name && l.event === 'transition' && l.to === 'Master')?.at;
  return { time, node, becameMaster };
}

describe('VRRP instance: per-advert work', () => {
  it('hands the transport one frozen advert object per priority', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1);
    await lb1.inst.start();
    await w.time.advance(2000);
    const atPriority = lb1.sent.filter((a) => a.priority === 110);
    assert.ok(atPriority.length > 10, `${atPriority.length} adverts sent`);
    assert.ok(atPriority.every((a) => a === atPriority[0]));
    assert.ok(Object.isFrozen(atPriority[0]));
    assert.deepEqual(atPriority[0], {
      type: 1,
      vrid: 51,
      priority: 110,
      addresses: ['192.0.2.100'],
      version: 3,
      family: 4,
      advertIntervalCs: 10,
    });
    const stopping = lb1.inst.stop();
    await w.time.advance(1000);
    await stopping;
    const last = lb1.sent.at(-1);
    assert.equal(last?.priority, 0);
    assert.notEqual(last, atPriority[0]);
  });

  it('a backup sets its timer about once per master-down interval, and still takes over on time', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1);
    const lb2 = w.node('lb2', LB2);
    await lb1.inst.start();
    await w.time.advance(1000);
    await lb2.inst.start();
    await w.time.advance(5000);
    assert.equal(lb2.inst.status().state, 'Backup');
    assert.ok(lb2.heard.length >= 49, `${lb2.heard.length} adverts heard`);
    // One per 3 × 100 ms + skew (~361 ms) instead of one per advert (every 100 ms).
    assert.ok(lb2.timersSet() <= 20, `${lb2.timersSet()} timers set for ${lb2.heard.length} adverts heard`);

    const last = lb1.sent.at(-1);
    const lastAt = w.time.now();
    assert.ok(last);
    await lb1.inst.abandon();
    await w.time.advance(1000);
    const took = w.becameMaster('lb2');
    const expected = (lb2.heard.at(-1) ?? lastAt) + masterDownIntervalMs(3, 100, 100);
    assert.ok(
      took !== undefined && Math.abs(took - expected) < 1e-6,
      `took over at ${took}, expected ${expected}`,
    );
    await lb2.inst.abandon();
  });

  it('announces again garp_master_delay (5 s) after becoming master, once', async () => {
    const w = world();
    const lb1 = w.node('lb1', LB1, '1s');
    await lb1.inst.start();
    await w.time.advance(20_000);
    const became = w.becameMaster('lb1');
    assert.ok(became !== undefined);
    assert.deepEqual(lb1.announced, [became, became + 5000]);
    await lb1.inst.abandon();
  });

  it('leaves out the second burst when mastership ended before it', async () => {
    const w = world();
    const lb2 = w.node('lb2', LB2, '1s');
    await lb2.inst.start();
    await w.time.advance(4000);
    const became = w.becameMaster('lb2');
    assert.ok(became !== undefined);
    // A higher priority arrives and preempts within the 5 s.
    const lb1 = w.node('lb1', LB1, '1s');
    await lb1.inst.start();
    await w.time.advance(10_000);
    assert.equal(lb2.inst.status().state, 'Backup');
    assert.deepEqual(lb2.announced, [became]);
    await Promise.all([lb1.inst.abandon(), lb2.inst.abandon()]);
  });
});

describe('systemTimers', () => {
  it('fires a timer once, and a cleared timer never', async () => {
    const timers = systemTimers();
    const fired: string[] = [];
    timers.set(() => fired.push('kept'), 20.2);
    const cancelled = timers.set(() => fired.push('cleared'), 10);
    timers.clear(cancelled);
    timers.clear(cancelled); // twice is harmless
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(fired, ['kept']);
  });
});
