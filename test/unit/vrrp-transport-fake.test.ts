import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import type { ReceivedAdvert } from '../../src/drivers/vrrp-socket/transport.ts';
import { VRRP_GROUP_V4, VRRP_GROUP_V6 } from '../../src/vrrp/advert.ts';
import { decodeIpv4Packet } from '../../src/vrrp/decode-advert.ts';
import { encodeAdvert } from '../../src/vrrp/encode-advert.ts';
import { craftIpv4 } from '../lab/vrrp-transport-wire.ts';
import {
  type ContractHarness,
  transportContract,
  V2_PASS,
  V3_IPV4,
  V3_IPV6,
} from './vrrp-transport-contract.ts';

const A = { ifname: 'eth0', ipv4: '192.0.2.11', linkLocal: 'fe80::11', global: '2001:db8::11' };
const B = { ifname: 'eth0', ipv4: '192.0.2.12', linkLocal: 'fe80::12', global: '2001:db8::12' };

/** Lets every queued delivery run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const fakeHarness = (): ContractHarness => ({
  a: A,
  b: B,
  async exchange(x) {
    const segment = new FakeSegment();
    const rx = await segment.open(x.receiver);
    const tx = await segment.open(x.sender);
    const received: ReceivedAdvert[] = [];
    rx.onAdvert((r) => received.push(r));
    try {
      for (const s of x.steps) {
        if (s.kind === 'advert') await tx.send(s.advert);
        else
          segment.inject(
            4,
            x.sender.sourceAddress,
            VRRP_GROUP_V4,
            craftIpv4(s.advert, x.sender.sourceAddress, VRRP_GROUP_V4, s.ttl),
          );
      }
      await settle();
      return { received, receiver: rx.counters(), sender: tx.counters() };
    } finally {
      await rx.close();
      await tx.close();
    }
  },
});

describe('VRRP transport contract: in-memory fake', () => {
  transportContract(fakeHarness);
});

describe('fake VRRP transport', () => {
  it('puts the bytes keepalived would on the segment: IPv4 header with Identification from 1', async () => {
    const segment = new FakeSegment();
    const tx = await segment.open({ family: 4, ifname: 'eth0', sourceAddress: A.ipv4 });
    await tx.send(V2_PASS);
    await tx.send(V2_PASS);
    const ids = segment.frames.map((f) => {
      const r = decodeIpv4Packet(f.bytes);
      assert.ok(r.ok);
      assert.equal(r.ip.ttl, 255);
      assert.equal(r.ip.tos, 0xc0);
      return r.ip.identification;
    });
    assert.deepEqual(ids, [1, 2]);
  });

  it('counts its own packet when it comes back, and a corrupted one by the decoder reason', async () => {
    const segment = new FakeSegment();
    const rx = await segment.open({ family: 4, ifname: 'eth0', sourceAddress: B.ipv4 });
    const own = craftIpv4(V3_IPV4, B.ipv4, VRRP_GROUP_V4, 255);
    segment.inject(4, B.ipv4, VRRP_GROUP_V4, own);
    const bad = craftIpv4(V3_IPV4, A.ipv4, VRRP_GROUP_V4, 255);
    bad.writeUInt8((bad.at(-1) ?? 0) ^ 0xff, bad.length - 1);
    segment.inject(4, A.ipv4, VRRP_GROUP_V4, bad);
    await settle();
    assert.deepEqual(rx.counters().dropped, { 'own-packet': 1, 'bad-checksum': 1 });
    assert.equal(rx.counters().received, 0);
  });

  it('drops an IPv6 frame with a bad checksum unseen, as the kernel does with IPV6_CHECKSUM', async () => {
    const segment = new FakeSegment();
    const rx = await segment.open({ family: 6, ifname: 'eth0', sourceAddress: B.linkLocal });
    const bytes = encodeAdvert(V3_IPV6, { src: A.linkLocal, dst: VRRP_GROUP_V6 });
    bytes.writeUInt8((bytes[2] ?? 0) ^ 1, 2);
    segment.inject(6, A.linkLocal, VRRP_GROUP_V6, bytes);
    await settle();
    assert.deepEqual(rx.counters(), { ...rx.counters(), received: 0, dropped: {} });
  });

  it('stops delivering after close', async () => {
    const segment = new FakeSegment();
    const rx = await segment.open({ family: 4, ifname: 'eth0', sourceAddress: B.ipv4 });
    const tx = await segment.open({ family: 4, ifname: 'eth0', sourceAddress: A.ipv4 });
    const got: ReceivedAdvert[] = [];
    rx.onAdvert((r) => got.push(r));
    await rx.close();
    await tx.send(V3_IPV4);
    await settle();
    assert.deepEqual(got, []);
    await assert.rejects(rx.send(V3_IPV4), /closed/);
  });
});
