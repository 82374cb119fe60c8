import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AdvertFields,
  type AdvertV3Fields,
  addressBytes,
  addressText,
  advertIntervalMs,
  authPassword,
  noAuth,
  passwordAuth,
} from '../../src/vrrp/advert.ts';
import {
  internetChecksum,
  ipv4PseudoHeader,
  ipv6PseudoHeader,
  vrrpChecksum,
} from '../../src/vrrp/checksum.ts';
import { type DecodeContext, decodeAdvert, decodeIpv4Packet } from '../../src/vrrp/decode-advert.ts';
import { encodeAdvert, encodeIpv4Header } from '../../src/vrrp/encode-advert.ts';

// One example per refusal, so each reason a peer's packet can be dropped for is pinned to
// the kind and fields an operator will see. The bytes are keepalived's own (README of
// test/fixtures/vectors), edited and re-checksummed where a test needs a valid checksum.

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
/** vrrp2-ipv4-auth-pass.pcap frame 1: IPv4 header + VRRPv2 with PASS "ka-pass1". */
const V2_PACKET = hex('45c0002800020000ff701886c000020be000001221336e0101014049c000020a6b612d7061737331');
const V2 = V2_PACKET.subarray(20);
/** vrrp3-ipv4.pcap frame 1, VRRP message. */
const V3 = hex('31336e010064fbc1c000020a');
const V3_CTX: DecodeContext = { family: 4, src: '192.0.2.11', dst: '224.0.0.18' };
/** vrrp3-ipv6.pcap frame 1, VRRP message. */
const V3_6 = hex('313d6e010064e385fd4b4100000000010000000000000010');
const V3_6_CTX: DecodeContext = { family: 6, src: 'fe80::4b:41ff:fe00:11', dst: 'ff02::12' };

/** A copy cut to `length`, with bytes `set`, and the checksum made right again for `ctx`. */
function edited(
  bytes: Buffer,
  ctx: DecodeContext,
  set: Record<number, number>,
  length = bytes.length,
): Buffer {
  const b = patch(bytes.subarray(0, length), set);
  let pseudo: Buffer | undefined;
  if ((b[0] as number) >> 4 === 3) {
    const src = addressBytes(ctx.src ?? '', ctx.family) as Buffer;
    const dst = addressBytes(ctx.dst ?? '', ctx.family) as Buffer;
    pseudo = ctx.family === 4 ? ipv4PseudoHeader(src, dst, b.length) : ipv6PseudoHeader(src, dst, b.length);
  }
  b.writeUInt16BE(vrrpChecksum(b, pseudo), 6);
  return b;
}

/** A copy of an IPv4 packet with bytes `set` and its header checksum made right again. */
function editedIp(packet: Buffer, set: Record<number, number>): Buffer {
  const b = patch(packet, set);
  const ihl = ((b[0] as number) & 0x0f) * 4;
  b.writeUInt16BE(0, 10);
  b.writeUInt16BE(internetChecksum(b.subarray(0, ihl)), 10);
  return b;
}

function patch(bytes: Buffer, set: Record<number, number>): Buffer {
  const b = Buffer.from(bytes);
  for (const [at, value] of Object.entries(set)) b[Number(at)] = value;
  return b;
}

function reason(r: { ok: true } | { ok: false; reason: { kind: string; message: string } }): object {
  assert.ok(!r.ok, 'accepted');
  assert.ok(r.reason.message.length > 10, 'a message a person can read');
  const { message: _, ...rest } = r.reason as { message: string };
  return rest;
}

describe('Internet checksum', () => {
  it('matches RFC 1071 section 3', () => {
    // The RFC's example sums to 0xddf2; the field carries its complement.
    assert.equal(internetChecksum(hex('0001f203f4f5f6f7')), 0x220d);
  });
  it('pads an odd trailing byte with zero, and sums chunks as one buffer', () => {
    assert.equal(internetChecksum(hex('01')), 0xfeff);
    assert.equal(internetChecksum(hex('0001'), hex('f203f4f5'), hex('f6f7')), 0x220d);
  });
  it('lays out the VRRPv3 pseudo-headers of RFC 5798 5.2.8', () => {
    const a4 = addressBytes('192.0.2.11', 4) as Buffer;
    const g4 = addressBytes('224.0.0.18', 4) as Buffer;
    assert.equal(ipv4PseudoHeader(a4, g4, 12).toString('hex'), 'c000020be00000120070000c');
    const a6 = addressBytes('fe80::1', 6) as Buffer;
    const g6 = addressBytes('ff02::12', 6) as Buffer;
    assert.equal(
      ipv6PseudoHeader(a6, g6, 24).toString('hex'),
      // src, dst, 32-bit length, 3 zero bytes, next header 112.
      ['fe80', '0'.repeat(26), '01', 'ff02', '0'.repeat(26), '12', '00000018', '000000', '70'].join(''),
    );
  });
  it('verifies keepalived checksums: v2 without, v3 with the pseudo-header', () => {
    assert.equal(vrrpChecksum(V2), 0x4049);
    const p = ipv4PseudoHeader(
      addressBytes('192.0.2.11', 4) as Buffer,
      addressBytes('224.0.0.18', 4) as Buffer,
      12,
    );
    assert.equal(vrrpChecksum(V3, p), 0xfbc1);
    assert.equal(internetChecksum(editedIp(V2_PACKET, {}).subarray(0, 20)), 0);
  });
});

describe('VRRP decode refusals', () => {
  it('short packet', () => {
    assert.deepEqual(reason(decodeAdvert(V3.subarray(0, 7), V3_CTX)), {
      kind: 'short-packet',
      length: 7,
      minimum: 8,
    });
  });
  it('bad version', () => {
    assert.deepEqual(reason(decodeAdvert(edited(V3, V3_CTX, { 0: 0x11 }), V3_CTX)), {
      kind: 'bad-version',
      version: 1,
    });
  });
  it('VRRPv2 over IPv6', () => {
    assert.deepEqual(reason(decodeAdvert(V2, { family: 6 })), { kind: 'v2-over-ipv6' });
  });
  it('v3 without the addresses its checksum needs', () => {
    assert.deepEqual(reason(decodeAdvert(V3, { family: 4, src: '192.0.2.11' })), {
      kind: 'no-pseudo-header',
    });
    assert.deepEqual(reason(decodeAdvert(V3, { ...V3_CTX, src: 'fe80::1' })), {
      kind: 'bad-context-address',
      field: 'src',
      value: 'fe80::1',
    });
    assert.deepEqual(reason(decodeAdvert(V3_6, { ...V3_6_CTX, dst: 'ff02::zz' })), {
      kind: 'bad-context-address',
      field: 'dst',
      value: 'ff02::zz',
    });
  });
  it('bad checksum, with both values', () => {
    assert.deepEqual(reason(decodeAdvert(V3, { ...V3_CTX, src: '192.0.2.12' })), {
      kind: 'bad-checksum',
      expected: 0xfbc0,
      actual: 0xfbc1,
    });
    const damaged = Buffer.from(V2);
    damaged[2] = 111;
    assert.deepEqual(reason(decodeAdvert(damaged, { family: 4 })), {
      kind: 'bad-checksum',
      expected: 0x3f49,
      actual: 0x4049,
    });
  });
  it('bad type', () => {
    assert.deepEqual(reason(decodeAdvert(edited(V3, V3_CTX, { 0: 0x32 }), V3_CTX)), {
      kind: 'bad-type',
      type: 2,
    });
  });
  it('address count against length', () => {
    assert.deepEqual(reason(decodeAdvert(edited(V3, V3_CTX, { 3: 2 }), V3_CTX)), {
      kind: 'count-mismatch',
      count: 2,
      length: 12,
      expectedLength: 16,
    });
    assert.deepEqual(reason(decodeAdvert(edited(V3_6, V3_6_CTX, {}, 20), V3_6_CTX)), {
      kind: 'count-mismatch',
      count: 1,
      length: 20,
      expectedLength: 24,
    });
    // keepalived's 3 VIPs in a message whose count says 2: the length fits 3, not the auth.
    const three = encodeAdvert(
      { ...v2Fields(), addresses: ['192.0.2.10', '192.0.2.20', '192.0.2.21'] },
      { src: '192.0.2.11', dst: '224.0.0.18' },
    );
    assert.deepEqual(reason(decodeAdvert(edited(three, { family: 4 }, { 3: 2 }), { family: 4 })), {
      kind: 'count-mismatch',
      count: 2,
      length: 28,
      expectedLength: 24,
    });
  });
  it('v2 authentication data missing or cut', () => {
    for (const keep of [0, 5]) {
      const b = edited(V2, { family: 4 }, {}, 12 + keep);
      assert.deepEqual(reason(decodeAdvert(b, { family: 4 })), {
        kind: 'bad-auth-length',
        expected: 8,
        actual: keep,
      });
    }
  });
  it('unknown auth type', () => {
    assert.deepEqual(reason(decodeAdvert(edited(V2, { family: 4 }, { 4: 3 }), { family: 4 })), {
      kind: 'unknown-auth-type',
      authType: 3,
    });
  });
  it('virtual router id 0', () => {
    assert.deepEqual(reason(decodeAdvert(edited(V3, V3_CTX, { 1: 0 }), V3_CTX)), {
      kind: 'bad-vrid',
      vrid: 0,
    });
  });
  it('zero interval, in either version; v3 reserved bits do not count', () => {
    assert.deepEqual(reason(decodeAdvert(edited(V2, { family: 4 }, { 5: 0 }), { family: 4 })), {
      kind: 'zero-interval',
    });
    const v3 = edited(V3, V3_CTX, { 4: 0xf0, 5: 0 });
    assert.deepEqual(reason(decodeAdvert(v3, V3_CTX)), { kind: 'zero-interval' });
  });
  it('ignores the v3 reserved bits, as RFC 5798 5.2.5 says', () => {
    const r = decodeAdvert(edited(V3, V3_CTX, { 4: 0xa0 }), V3_CTX);
    assert.ok(r.ok && r.advert.version === 3);
    assert.equal(r.advert.advertIntervalCs, 100);
  });
  it('accepts a v2 advert without addresses', () => {
    const bytes = encodeAdvert({ ...v2Fields(), addresses: [] }, { src: '', dst: '' });
    const r = decodeAdvert(bytes, { family: 4 });
    assert.ok(r.ok);
    assert.deepEqual(r.advert.addresses, []);
  });
});

describe('IPv4 packet decode', () => {
  it('reads keepalived frame', () => {
    const r = decodeIpv4Packet(V2_PACKET);
    assert.ok(r.ok);
    assert.deepEqual(r.ip, {
      src: '192.0.2.11',
      dst: '224.0.0.18',
      ttl: 255,
      tos: 0xc0,
      identification: 2,
      headerLength: 20,
    });
    assert.equal(authPassword(r.advert.version === 2 ? r.advert.auth : noAuth()), 'ka-pass1');
  });
  it('skips Ethernet padding and IP options, and hands the TTL up', () => {
    assert.ok(decodeIpv4Packet(Buffer.concat([V2_PACKET, Buffer.alloc(6)])).ok);
    const withOption = Buffer.concat([V2_PACKET.subarray(0, 20), hex('94040000'), V2_PACKET.subarray(20)]);
    const routerAlert = editedIp(withOption, { 0: 0x46, 3: withOption.length });
    const r = decodeIpv4Packet(routerAlert);
    assert.ok(r.ok, r.ok ? '' : r.reason.message);
    assert.equal(r.ip.headerLength, 24);
    const ttl64 = decodeIpv4Packet(editedIp(V2_PACKET, { 8: 64 }));
    assert.ok(ttl64.ok);
    assert.equal(ttl64.ip.ttl, 64, 'the caller, not the codec, drops TTL != 255');
  });
  it('refuses what is not one VRRP packet', () => {
    assert.deepEqual(reason(decodeIpv4Packet(V2_PACKET.subarray(0, 19))), {
      kind: 'short-ip-header',
      length: 19,
    });
    assert.deepEqual(reason(decodeIpv4Packet(editedIp(V2_PACKET, { 0: 0x65 }))), {
      kind: 'not-ipv4',
      version: 6,
    });
    assert.deepEqual(reason(decodeIpv4Packet(editedIp(V2_PACKET, { 0: 0x44 }))), {
      kind: 'bad-ihl',
      ihl: 4,
    });
    assert.deepEqual(reason(decodeIpv4Packet(editedIp(V2_PACKET, { 2: 0, 3: 41 }))), {
      kind: 'bad-total-length',
      totalLength: 41,
      length: 40,
    });
    const damaged = Buffer.from(V2_PACKET);
    damaged[8] = 64;
    assert.deepEqual(reason(decodeIpv4Packet(damaged)), {
      kind: 'bad-ip-checksum',
      expected: 0xd786,
      actual: 0x1886,
    });
    assert.deepEqual(reason(decodeIpv4Packet(editedIp(V2_PACKET, { 6: 0x20 }))), {
      kind: 'ip-fragment',
    });
    assert.deepEqual(reason(decodeIpv4Packet(editedIp(V2_PACKET, { 9: 17 }))), {
      kind: 'not-vrrp',
      protocol: 17,
    });
  });
  it('passes VRRP refusals through', () => {
    const cut = editedIp(V2_PACKET.subarray(0, 30), { 3: 30 });
    assert.equal((reason(decodeIpv4Packet(cut)) as { kind: string }).kind, 'bad-checksum');
  });
});

function v2Fields(): AdvertFields {
  return {
    version: 2,
    type: 1,
    family: 4,
    vrid: 51,
    priority: 110,
    addresses: ['192.0.2.10'],
    advertIntervalS: 1,
    auth: noAuth(),
  };
}

describe('VRRP encode', () => {
  it('cuts a PASS password to keepalived 8 bytes and pads a short one', () => {
    assert.deepEqual(passwordAuth('ka-pass1-and-more').data, Buffer.from('ka-pass1'));
    assert.deepEqual(passwordAuth('abc').data, hex('6162630000000000'));
    assert.equal(authPassword(passwordAuth('abc')), 'abc');
  });
  it('builds keepalived IPv4 header', () => {
    const h = encodeIpv4Header({
      src: '192.0.2.11',
      dst: '224.0.0.18',
      identification: 2,
      payloadLength: 20,
    });
    assert.deepEqual(h, V2_PACKET.subarray(0, 20));
  });
  it('carries 255 IPv6 addresses, the most a count fits', () => {
    const advert: AdvertV3Fields = {
      version: 3,
      type: 1,
      family: 6,
      vrid: 1,
      priority: 255,
      addresses: Array.from({ length: 255 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`),
      advertIntervalCs: 4095,
    };
    const bytes = encodeAdvert(advert, { src: 'fe80::1', dst: 'ff02::12' });
    assert.equal(bytes.length, 8 + 255 * 16);
    const r = decodeAdvert(bytes, { family: 6, src: 'fe80::1', dst: 'ff02::12' });
    assert.ok(r.ok);
    assert.deepEqual(r.advert.addresses, advert.addresses);
    assert.equal(advertIntervalMs(r.advert), 40_950);
  });
  it('refuses fields that do not fit the wire, naming them', () => {
    const ip = { src: '192.0.2.11', dst: '224.0.0.18' };
    const v3: AdvertV3Fields = {
      ...(v2Fields() as object),
      version: 3,
      family: 4,
      advertIntervalCs: 100,
    } as AdvertV3Fields;
    const bad: [AdvertFields, RegExp][] = [
      [{ ...v2Fields(), vrid: 0 }, /vrid/],
      [{ ...v2Fields(), priority: 256 }, /priority/],
      [{ ...v2Fields(), addresses: ['2001:db8::1'] }, /address/],
      [{ ...v2Fields(), addresses: new Array(256).fill('192.0.2.1') }, /count/],
      [{ ...v2Fields(), advertIntervalS: 0 } as AdvertFields, /advertIntervalS/],
      [{ ...v2Fields(), auth: { type: 1, data: Buffer.alloc(7) } } as AdvertFields, /auth data/],
      [{ ...v3, advertIntervalCs: 4096 }, /advertIntervalCs/],
    ];
    for (const [advert, message] of bad)
      assert.throws(() => encodeAdvert(advert, ip), { name: 'RangeError', message });
    assert.throws(() => encodeAdvert(v3, { src: 'fe80::1', dst: '224.0.0.18' }), /source/);
  });
});

describe('address text and bytes', () => {
  it('reads any IPv6 spelling and writes canonical text', () => {
    const cases: [string, string][] = [
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::ffff:192.0.2.1', '::ffff:c000:201'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::', '::'],
      ['1::', '1::'],
    ];
    for (const [text, canonical] of cases) {
      const b = addressBytes(text, 6);
      assert.ok(b, text);
      assert.equal(addressText(b, 0, 6), canonical, text);
    }
    assert.equal(addressBytes('192.0.2.1', 6), undefined);
    assert.equal(addressBytes('2001:db8::1', 4), undefined);
    assert.equal(addressBytes('1.2.3', 4), undefined);
  });
});
