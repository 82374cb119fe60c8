import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFrame, stampIdentification } from '../../src/drivers/vrrp-socket/frame.ts';
import { RepeatCache } from '../../src/drivers/vrrp-socket/repeat-cache.ts';
import type { ReceivedAdvert, TransportOptions } from '../../src/drivers/vrrp-socket/transport.ts';
import { type AdvertFields, passwordAuth, VRRP_GROUP_V4, VRRP_GROUP_V6 } from '../../src/vrrp/advert.ts';
import { decodeIpv4Packet } from '../../src/vrrp/decode-advert.ts';

// A frame is encoded once per advert and only its IPv4 Identification and header checksum
// are rewritten per send; received repeats of a peer's advert are recognised without a
// decode. Both must be invisible: the bytes on the wire and the adverts delivered are
// exactly those of encoding and decoding every packet afresh.

const V4: TransportOptions = { family: 4, ifname: 'eth0', sourceAddress: '192.0.2.11' };
const V3: AdvertFields = {
  version: 3,
  type: 1,
  family: 4,
  vrid: 51,
  priority: 110,
  addresses: ['192.0.2.100', '198.51.100.7'],
  advertIntervalCs: 10,
};
const V2: AdvertFields = {
  version: 2,
  type: 1,
  family: 4,
  vrid: 9,
  priority: 100,
  addresses: ['203.0.113.5'],
  advertIntervalS: 1,
  auth: passwordAuth('secret'),
};

describe('stampIdentification', () => {
  for (const advert of [V3, V2])
    it(`gives the bytes of a frame built with that Identification (v${advert.version})`, () => {
      const frame = buildFrame(advert, V4, VRRP_GROUP_V4, 0);
      for (const id of [1, 2, 255, 256, 0x7fff, 0xfffe, 0xffff, 0]) {
        stampIdentification(frame, id);
        assert.deepEqual(frame, buildFrame(advert, V4, VRRP_GROUP_V4, id), `identification ${id}`);
        const d = decodeIpv4Packet(frame);
        assert.ok(d.ok, `identification ${id} decodes`);
        assert.equal(d.ok && d.ip.identification, id);
      }
    });
});

describe('RepeatCache', () => {
  const received = (bytes: Buffer): ReceivedAdvert => {
    const d = decodeIpv4Packet(bytes);
    assert.ok(d.ok);
    return { advert: d.advert, source: d.ip.src, destination: d.ip.dst, ttl: d.ip.ttl };
  };

  it('recognises the next copy of an IPv4 advert, whose Identification and checksum differ', () => {
    const cache = new RepeatCache(4);
    const first = buildFrame(V3, V4, VRRP_GROUP_V4, 1);
    assert.equal(cache.repeated(first, V4.sourceAddress), undefined);
    const r = received(first);
    cache.accepted(first, V4.sourceAddress, r);
    // The socket reuses its buffer: what was accepted must have been copied.
    first.fill(0);
    assert.equal(cache.repeated(buildFrame(V3, V4, VRRP_GROUP_V4, 2), V4.sourceAddress), r);
    assert.equal(cache.repeated(buildFrame(V3, V4, VRRP_GROUP_V4, 0xffff), V4.sourceAddress), r);
  });

  it('does not take a changed advert, a bad header checksum or another VRID for a repeat', () => {
    const cache = new RepeatCache(4);
    const first = buildFrame(V3, V4, VRRP_GROUP_V4, 1);
    cache.accepted(first, V4.sourceAddress, received(first));
    assert.equal(
      cache.repeated(buildFrame({ ...V3, priority: 0 }, V4, VRRP_GROUP_V4, 2), V4.sourceAddress),
      undefined,
    );
    assert.equal(
      cache.repeated(buildFrame({ ...V3, vrid: 52 }, V4, VRRP_GROUP_V4, 2), V4.sourceAddress),
      undefined,
    );
    const other = { ...V4, sourceAddress: '192.0.2.12' };
    assert.equal(cache.repeated(buildFrame(V3, other, VRRP_GROUP_V4, 2), other.sourceAddress), undefined);
    const corrupt = buildFrame(V3, V4, VRRP_GROUP_V4, 2);
    corrupt[10] = (corrupt[10] ?? 0) ^ 0x01;
    assert.equal(cache.repeated(corrupt, V4.sourceAddress), undefined);
    const ttl = buildFrame(V3, V4, VRRP_GROUP_V4, 2);
    ttl[8] = 64;
    assert.equal(cache.repeated(ttl, V4.sourceAddress), undefined);
  });

  it('keeps one advert per VRID', () => {
    const cache = new RepeatCache(4);
    const a = buildFrame(V3, V4, VRRP_GROUP_V4, 1);
    const b = buildFrame({ ...V3, vrid: 52 }, V4, VRRP_GROUP_V4, 1);
    const ra = received(a);
    const rb = received(b);
    cache.accepted(a, V4.sourceAddress, ra);
    cache.accepted(b, V4.sourceAddress, rb);
    assert.equal(cache.repeated(buildFrame(V3, V4, VRRP_GROUP_V4, 9), V4.sourceAddress), ra);
    assert.equal(cache.repeated(buildFrame({ ...V3, vrid: 52 }, V4, VRRP_GROUP_V4, 9), V4.sourceAddress), rb);
  });

  it('IPv6: every byte and the source must match (the source is in the checksum)', () => {
    const cache = new RepeatCache(6);
    const v6: TransportOptions = { family: 6, ifname: 'eth0', sourceAddress: 'fe80::11' };
    const advert: AdvertFields = { ...V3, family: 6, addresses: ['2001:db8::10'] };
    const bytes = buildFrame(advert, v6, VRRP_GROUP_V6, 0);
    const r = { advert: { ...advert, checksum: bytes.readUInt16BE(6) }, source: 'fe80::11' };
    cache.accepted(bytes, 'fe80::11', r);
    assert.equal(cache.repeated(Buffer.from(bytes), 'fe80::11'), r);
    assert.equal(cache.repeated(Buffer.from(bytes), 'fe80::12'), undefined);
    const changed = Buffer.from(bytes);
    changed[2] = 90;
    assert.equal(cache.repeated(changed, 'fe80::11'), undefined);
  });
});
