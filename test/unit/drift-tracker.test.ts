import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LiveAddress } from '../../src/drivers/addresses/address-driver.ts';
import type { DataplaneContent, Service } from '../../src/drivers/dataplane/dataplane.ts';
import { addressDrift, type InstanceAddresses } from '../../src/reconcile/address-drift.ts';
import { dataplaneDrift } from '../../src/reconcile/dataplane-drift.ts';
import { type DriftObservation, updateDrift } from '../../src/reconcile/drift-tracker.ts';
import {
  liveRivals,
  nextRivalExpiry,
  type Rivals,
  rivalHeard,
  splitBrainDrift,
  splitBrainSources,
} from '../../src/reconcile/split-brain.ts';

// The pure halves of drift detection: the tracker that keeps items with their first-seen
// time, and the three comparisons (addresses, dataplane, split brain).

const vipMissing = (vip: string): DriftObservation => ({
  kind: 'vip-missing',
  subject: `instance web VIP ${vip}`,
  expected: 'present on eth0',
  actual: 'absent',
});

describe('updateDrift', () => {
  it('keeps since from the first sighting, and reports each appearance and resolution once', () => {
    const a = vipMissing('192.0.2.100/32');
    const b = vipMissing('192.0.2.101/32');
    const first = updateDrift([], [a], 'T1');
    assert.deepEqual(first.items, [{ ...a, since: 'T1' }]);
    assert.deepEqual(first.appeared, [{ ...a, since: 'T1' }]);
    assert.deepEqual(first.resolved, []);

    const second = updateDrift(first.items, [a, b], 'T2');
    assert.deepEqual(second.items, [
      { ...a, since: 'T1' },
      { ...b, since: 'T2' },
    ]);
    assert.deepEqual(
      second.appeared.map((d) => d.subject),
      [b.subject],
    );
    assert.deepEqual(second.resolved, []);

    // Still there: nothing appears again, since does not move.
    const third = updateDrift(second.items, [b, a], 'T3');
    assert.deepEqual(third.appeared, []);
    assert.deepEqual(
      third.items.map((d) => d.since),
      ['T1', 'T2'],
    );

    const fourth = updateDrift(third.items, [b], 'T4');
    assert.deepEqual(fourth.resolved, [{ ...a, since: 'T1' }]);
    assert.deepEqual(fourth.items, [{ ...b, since: 'T2' }]);
    assert.deepEqual(updateDrift(fourth.items, [], 'T5').resolved, [{ ...b, since: 'T2' }]);
  });

  it('is keyed by kind and subject: new expected/actual values update the item without a new sighting', () => {
    const a: DriftObservation = { kind: 'dataplane', subject: 'service www', expected: 'x', actual: 'y' };
    const one = updateDrift([], [a], 'T1');
    const two = updateDrift(one.items, [{ ...a, actual: 'z' }], 'T2');
    assert.deepEqual(two.items, [{ ...a, actual: 'z', since: 'T1' }]);
    assert.deepEqual([two.appeared, two.resolved], [[], []]);
    // Same subject, another kind: another item.
    const three = updateDrift(
      two.items,
      [
        { ...a, actual: 'z' },
        { ...a, kind: 'split-brain' },
      ],
      'T3',
    );
    assert.equal(three.items.length, 2);
    assert.equal(three.appeared[0]?.kind, 'split-brain');
  });

  it('keeps only the item fields of a richer finding (what /status shows)', () => {
    const finding = { ...vipMissing('192.0.2.100/32'), instance: 'web', vip: { address: 'x', dev: 'eth0' } };
    assert.deepEqual(Object.keys(updateDrift([], [finding], 'T1').items[0] ?? {}).sort(), [
      'actual',
      'expected',
      'kind',
      'since',
      'subject',
    ]);
  });

  it('counts a thing observed twice once', () => {
    const a = vipMissing('192.0.2.100/32');
    const u = updateDrift([], [a, { ...a, actual: 'other' }], 'T1');
    assert.deepEqual(u.items, [{ ...a, since: 'T1' }]);
  });
});

const live = (address: string, ifname = 'eth0'): LiveAddress => ({
  address,
  family: address.includes(':') ? 6 : 4,
  ifname,
  ifindex: 2,
  scope: 'global',
});

const inst = (o: Partial<InstanceAddresses> & Pick<InstanceAddresses, 'state'>): InstanceAddresses => ({
  instance: 'web',
  holds: o.state === 'Master',
  vips: [{ address: '192.0.2.100/24', dev: 'eth0' }],
  ...o,
});

describe('addressDrift', () => {
  it('a master missing a VIP: vip-missing, with the address as the kernel names it', () => {
    const found = addressDrift(
      [inst({ state: 'Master', vips: [{ address: '2001:DB8::0100', dev: 'eth0' }] })],
      [live('192.0.2.11/24')],
    );
    assert.deepEqual(
      found.map(({ kind, subject, expected, actual, address }) => ({
        kind,
        subject,
        expected,
        actual,
        address,
      })),
      [
        {
          kind: 'vip-missing',
          subject: 'instance web VIP 2001:db8::100/128',
          expected: 'present on eth0',
          actual: 'absent',
          address: '2001:db8::100/128',
        },
      ],
    );
  });

  it('a master holding its VIPs, a backup without them: no drift', () => {
    assert.deepEqual(addressDrift([inst({ state: 'Master' })], [live('192.0.2.100/24')]), []);
    assert.deepEqual(addressDrift([inst({ state: 'Backup' })], [live('192.0.2.11/24')]), []);
  });

  it('a backup or a faulty instance holding a VIP: vip-unexpected', () => {
    for (const state of ['Backup', 'Fault'] as const) {
      const found = addressDrift([inst({ state })], [live('192.0.2.100/24')]);
      assert.deepEqual(
        found.map((f) => [f.kind, f.expected, f.actual]),
        [['vip-unexpected', `absent (this node is ${state})`, 'present on eth0']],
      );
    }
  });

  it('the same address on another interface, or with another prefix, is not the VIP', () => {
    assert.equal(addressDrift([inst({ state: 'Master' })], [live('192.0.2.100/24', 'eth1')]).length, 1);
    assert.equal(addressDrift([inst({ state: 'Master' })], [live('192.0.2.100/32')]).length, 1);
    assert.equal(addressDrift([inst({ state: 'Backup' })], [live('192.0.2.100/32')]).length, 0);
  });

  it('says nothing in Initialize or while stopping after the VIPs went; a stopping master still holds', () => {
    assert.deepEqual(addressDrift([inst({ state: 'Initialize' })], [live('192.0.2.100/24')]), []);
    assert.deepEqual(addressDrift([inst({ state: 'Stopping', holds: false })], []), []);
    assert.equal(addressDrift([inst({ state: 'Stopping', holds: true })], [])[0]?.kind, 'vip-missing');
  });

  it('a VIP another instance holds as master is not a backup stray', () => {
    const found = addressDrift(
      [inst({ state: 'Backup' }), inst({ instance: 'other', state: 'Master' })],
      [live('192.0.2.100/24')],
    );
    assert.deepEqual(found, []);
  });
});

const svc = (o: Partial<Service> = {}): Service => ({
  key: 'www',
  family: 4,
  protocol: 'TCP',
  address: '203.0.113.10',
  port: 80,
  scheduler: 'wrr',
  destinations: [
    { address: '198.51.100.11', port: 80, weight: 2, forwarding: 'nat' },
    { address: '198.51.100.12', port: 80, weight: 1, forwarding: 'nat' },
  ],
  ...o,
});
const content = (...services: Service[]): DataplaneContent => ({ services });

describe('dataplaneDrift', () => {
  it('the same content, written in another order or form: no drift', () => {
    const s = svc();
    const reordered = svc({ destinations: [...s.destinations].reverse() });
    assert.deepEqual(dataplaneDrift('nftables', content(s), content(reordered)), []);
    assert.deepEqual(dataplaneDrift('ipvs', content(s), content(reordered)), []);
  });

  it('a real server gone: expected and actual name the destinations', () => {
    const s = svc();
    const found = dataplaneDrift(
      'nftables',
      content(s),
      content(svc({ destinations: s.destinations.slice(0, 1) })),
    );
    assert.deepEqual(found, [
      {
        kind: 'dataplane',
        subject: 'service www',
        expected: '198.51.100.11:80 w2, 198.51.100.12:80 w1',
        actual: '198.51.100.11:80 w2',
      },
    ]);
  });

  it('a service missing, and one keepgit does not want', () => {
    const found = dataplaneDrift('ipvs', content(svc()), content(svc({ key: 'extra', port: 8080 })));
    assert.deepEqual(
      found.map((f) => [f.subject, f.expected, f.actual]),
      [
        ['service www', 'present: wrr, 198.51.100.11:80 w2, 198.51.100.12:80 w1', 'absent'],
        ['service extra', 'absent', 'present: wrr, 198.51.100.11:80 w2, 198.51.100.12:80 w1'],
      ],
    );
  });

  it('another scheduler is named as such', () => {
    const found = dataplaneDrift('ipvs', content(svc()), content(svc({ scheduler: 'rr' })));
    assert.deepEqual(
      found.map((f) => [f.expected, f.actual]),
      [['scheduler wrr', 'scheduler rr']],
    );
  });
});

describe('split brain', () => {
  const I = 1000;
  const hear = (r: Rivals, source: string, at: number) => rivalHeard(r, source, I, at);

  it('counts a router heard for 3 advert intervals, and lets go after 3 silent ones', () => {
    let r: Rivals = new Map();
    for (const at of [0, 1000, 2000]) {
      r = hear(r, '192.0.2.12', at);
      assert.deepEqual(splitBrainSources(r, at), [], `not yet at ${at}`);
    }
    r = hear(r, '192.0.2.12', 3000);
    assert.deepEqual(splitBrainSources(r, 3000), ['192.0.2.12']);
    // Silent from 3000 on: still counted up to 3 intervals later, gone after.
    assert.deepEqual(splitBrainSources(r, 6000), ['192.0.2.12']);
    assert.equal(nextRivalExpiry(r), 6001);
    assert.deepEqual(splitBrainSources(r, 6001), []);
    assert.equal(liveRivals(r, 6001).size, 0);
  });

  it('a gap longer than 3 intervals starts a new run', () => {
    let r: Rivals = new Map();
    for (const at of [0, 1000, 2000]) r = hear(r, '192.0.2.12', at);
    r = hear(r, '192.0.2.12', 5001);
    assert.deepEqual(splitBrainSources(r, 5001), []);
    r = hear(r, '192.0.2.12', 8001);
    assert.deepEqual(splitBrainSources(r, 8001), ['192.0.2.12']);
  });

  it('a router advertising more slowly is measured by its own interval', () => {
    let r: Rivals = new Map();
    for (const at of [0, 3000, 6000, 9000]) r = rivalHeard(r, '192.0.2.13', 3000, at);
    assert.deepEqual(splitBrainSources(r, 9000), ['192.0.2.13']);
    assert.deepEqual(splitBrainSources(r, 17000), ['192.0.2.13']);
  });

  it('names every other master in the item', () => {
    assert.deepEqual(splitBrainDrift('web', 51, ['192.0.2.12']), {
      kind: 'split-brain',
      subject: 'instance web VRID 51',
      expected: 'this node the only master',
      actual: 'another master at 192.0.2.12',
    });
    assert.equal(splitBrainDrift('web', 51, ['a', 'b']).actual, 'other masters at a, b');
  });
});
