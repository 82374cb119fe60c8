import assert from 'node:assert/strict';
import { it } from 'node:test';
import type {
  ReceivedAdvert,
  TransportCounters,
  TransportOptions,
} from '../../src/drivers/vrrp-socket/transport.ts';
import { type AdvertFields, passwordAuth, VRRP_GROUP_V4 } from '../../src/vrrp/advert.ts';
import type { Step } from '../lab/vrrp-transport-wire.ts';

// The behaviour every VRRP transport owes the layers above, run against the in-memory
// fake (test/unit/vrrp-transport-fake.test.ts) and against raw sockets in two network
// namespaces (test/lab/vrrp-transport-real.test.ts). A harness runs one exchange: the
// receiver opens and listens, the sender opens and runs its steps, and the result is what
// the receiver heard plus both sides' counters.

export interface Endpoint {
  ifname: string;
  ipv4: string;
  linkLocal: string;
  global: string;
}

export interface Exchange {
  receiver: TransportOptions;
  sender: TransportOptions;
  steps: Step[];
  /** Adverts the receiver should deliver; it stops listening after that many. */
  expect: number;
}

export interface ExchangeResult {
  received: ReceivedAdvert[];
  receiver: TransportCounters;
  sender: TransportCounters;
}

export interface ContractHarness {
  /** The sending side's addresses. */
  a: Endpoint;
  /** The receiving side's addresses. */
  b: Endpoint;
  exchange(x: Exchange): Promise<ExchangeResult>;
}

export const V2_PASS: AdvertFields = {
  version: 2,
  type: 1,
  family: 4,
  vrid: 51,
  priority: 110,
  addresses: ['192.0.2.10'],
  advertIntervalS: 1,
  auth: passwordAuth('secret'),
};
export const V3_IPV4: AdvertFields = {
  version: 3,
  type: 1,
  family: 4,
  vrid: 52,
  priority: 100,
  addresses: ['192.0.2.10', '192.0.2.20'],
  advertIntervalCs: 100,
};
export const V3_IPV6: AdvertFields = {
  version: 3,
  type: 1,
  family: 6,
  vrid: 53,
  priority: 120,
  addresses: ['2001:db8::10', 'fe80::10'],
  advertIntervalCs: 10,
};

const fieldsOf = (r: ReceivedAdvert): AdvertFields => {
  const { checksum: _, ...fields } = r.advert;
  return fields;
};

const send = (advert: AdvertFields): Step => ({ kind: 'advert', advert });

export function transportContract(harness: () => ContractHarness): void {
  const v4 = (
    h: ContractHarness,
    side: 'a' | 'b',
    more: Partial<TransportOptions> = {},
  ): TransportOptions => ({
    family: 4,
    ifname: h[side].ifname,
    sourceAddress: h[side].ipv4,
    ...more,
  });
  const v6 = (
    h: ContractHarness,
    side: 'a' | 'b',
    more: Partial<TransportOptions> = {},
  ): TransportOptions => ({
    family: 6,
    ifname: h[side].ifname,
    sourceAddress: h[side].linkLocal,
    ...more,
  });

  it('delivers a VRRPv2 advert with PASS auth over IPv4 multicast, TTL 255, fields intact', async () => {
    const h = harness();
    const r = await h.exchange({
      receiver: v4(h, 'b'),
      sender: v4(h, 'a'),
      steps: [send(V2_PASS)],
      expect: 1,
    });
    assert.equal(r.received.length, 1);
    const got = r.received[0] as ReceivedAdvert;
    assert.deepEqual(fieldsOf(got), V2_PASS);
    assert.equal(got.source, h.a.ipv4);
    assert.equal(got.destination, VRRP_GROUP_V4);
    assert.equal(got.ttl, 255);
    assert.equal(r.sender.sent, 1);
    assert.equal(r.receiver.received, 1);
    assert.deepEqual(r.receiver.dropped, {});
  });

  it('delivers VRRPv3 over IPv4 multicast', async () => {
    const h = harness();
    const steps = [send(V3_IPV4), send({ ...V3_IPV4, priority: 0 })];
    const r = await h.exchange({ receiver: v4(h, 'b'), sender: v4(h, 'a'), steps, expect: 2 });
    assert.deepEqual(r.received.map(fieldsOf), [V3_IPV4, { ...V3_IPV4, priority: 0 }]);
    assert.equal(r.received[0]?.ttl, 255);
    assert.equal(r.sender.sent, 2);
    assert.equal(r.receiver.received, 2);
  });

  it('delivers VRRPv3 over IPv6 multicast from the link-local source; hop limit counted as unchecked', async () => {
    const h = harness();
    const r = await h.exchange({
      receiver: v6(h, 'b'),
      sender: v6(h, 'a'),
      steps: [send(V3_IPV6)],
      expect: 1,
    });
    assert.equal(r.received.length, 1);
    const got = r.received[0] as ReceivedAdvert;
    assert.deepEqual(fieldsOf(got), V3_IPV6);
    assert.equal(got.source, h.a.linkLocal);
    assert.equal(got.ttl, undefined);
    assert.equal(r.receiver.hopLimitUnchecked, 1);
    assert.deepEqual(r.receiver.dropped, {});
  });

  it('sends to unicast peers instead of the group (IPv4)', async () => {
    const h = harness();
    const r = await h.exchange({
      receiver: v4(h, 'b', { unicastPeers: [h.a.ipv4] }),
      sender: v4(h, 'a', { unicastPeers: [h.b.ipv4] }),
      steps: [send(V3_IPV4)],
      expect: 1,
    });
    assert.equal(r.received.length, 1);
    assert.deepEqual(fieldsOf(r.received[0] as ReceivedAdvert), V3_IPV4);
    assert.equal(r.received[0]?.destination, h.b.ipv4);
    assert.equal(r.received[0]?.source, h.a.ipv4);
  });

  it('sends to unicast peers instead of the group (IPv6, global addresses)', async () => {
    const h = harness();
    const r = await h.exchange({
      receiver: v6(h, 'b', { sourceAddress: h.b.global, unicastPeers: [h.a.global] }),
      sender: v6(h, 'a', { sourceAddress: h.a.global, unicastPeers: [h.b.global] }),
      steps: [send(V3_IPV6)],
      expect: 1,
    });
    assert.equal(r.received.length, 1);
    assert.deepEqual(fieldsOf(r.received[0] as ReceivedAdvert), V3_IPV6);
    assert.equal(r.received[0]?.source, h.a.global);
  });

  it('a unicast transport does not hear the group', async () => {
    const h = harness();
    const r = await h.exchange({
      receiver: v4(h, 'b', { unicastPeers: [h.a.ipv4] }),
      sender: v4(h, 'a'),
      steps: [send(V3_IPV4)],
      expect: 0,
    });
    assert.equal(r.sender.sent, 1);
    assert.deepEqual(r.received, []);
    assert.equal(r.receiver.received, 0);
  });

  it('drops and counts an IPv4 advert whose TTL is not 255', async () => {
    const h = harness();
    const steps: Step[] = [{ kind: 'crafted-ttl', ttl: 64, advert: V3_IPV4 }, send(V2_PASS)];
    const r = await h.exchange({ receiver: v4(h, 'b'), sender: v4(h, 'a'), steps, expect: 1 });
    assert.deepEqual(r.received.map(fieldsOf), [V2_PASS]);
    assert.deepEqual(r.receiver.dropped, { ttl: 1 });
    assert.equal(r.receiver.received, 1);
  });

  it('drops and counts adverts for another VRID when filtering', async () => {
    const h = harness();
    const steps = [send({ ...V3_IPV4, vrid: 99 }), send(V3_IPV4)];
    const r = await h.exchange({
      receiver: v4(h, 'b', { vrid: V3_IPV4.vrid }),
      sender: v4(h, 'a'),
      steps,
      expect: 1,
    });
    assert.deepEqual(r.received.map(fieldsOf), [V3_IPV4]);
    assert.deepEqual(r.receiver.dropped, { 'wrong-vrid': 1 });
  });

  it('refuses to send an advert of the other family', async () => {
    const h = harness();
    await assert.rejects(
      h.exchange({ receiver: v4(h, 'b'), sender: v4(h, 'a'), steps: [send(V3_IPV6)], expect: 0 }),
      /IPv6 advert sent on an IPv4 VRRP transport/,
    );
  });
}
