import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalIp } from '../../src/model/ip.ts';
import {
  type AdvertFields,
  type AdvertV2Fields,
  type AdvertV3Fields,
  addressBytes,
  type Family,
  noAuth,
  passwordAuth,
  type V2Auth,
} from '../../src/vrrp/advert.ts';
import { ipv4PseudoHeader, ipv6PseudoHeader, vrrpChecksum } from '../../src/vrrp/checksum.ts';
import {
  type DecodeContext,
  type DecodeResult,
  decodeAdvert,
  decodeIpv4Packet,
} from '../../src/vrrp/decode-advert.ts';
import { type AdvertAddresses, encodeAdvert, encodeIpv4Header } from '../../src/vrrp/encode-advert.ts';

// Properties of the codec over arbitrary adverts and arbitrary bytes: what we send reads
// back the same, nothing we receive makes the decoder throw, and damage is reported,
// never read as a different advert.

// fc.record builds null-prototype objects, which deepEqual tells from what the decoder returns.
const plain = <T extends object>(o: T): T => ({ ...o });
const byte = fc.integer({ min: 0, max: 255 });
const v4 = fc.ipV4();
const v6 = fc.ipV6().map(canonicalIp);
const addressOf = (family: Family) => (family === 4 ? v4 : v6);

const auth: fc.Arbitrary<V2Auth> = fc.oneof(
  fc.constant(noAuth()),
  fc.string({ maxLength: 12 }).map(passwordAuth),
  fc
    .record({
      type: fc.constantFrom(0 as const, 1 as const, 2 as const),
      data: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)),
    })
    .map(plain),
);

const v2Advert: fc.Arbitrary<AdvertV2Fields> = fc
  .record({
    version: fc.constant(2 as const),
    type: fc.constant(1 as const),
    family: fc.constant(4 as const),
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: byte,
    addresses: fc.array(v4, { minLength: 1, maxLength: 20 }),
    advertIntervalS: fc.integer({ min: 1, max: 255 }),
    auth,
  })
  .map(plain);

const v3Advert = (family: Family): fc.Arbitrary<AdvertV3Fields> =>
  fc
    .record({
      version: fc.constant(3 as const),
      type: fc.constant(1 as const),
      family: fc.constant(family),
      vrid: fc.integer({ min: 1, max: 255 }),
      priority: byte,
      addresses: fc.array(addressOf(family), { minLength: 1, maxLength: 20 }),
      advertIntervalCs: fc.integer({ min: 1, max: 4095 }),
    })
    .map(plain);

interface Valid {
  advert: AdvertFields;
  ip: AdvertAddresses;
  bytes: Buffer;
}

const withIp = (advert: fc.Arbitrary<AdvertFields>, family: Family): fc.Arbitrary<Valid> =>
  fc
    .tuple(advert, addressOf(family), addressOf(family))
    .map(([a, src, dst]) => ({ advert: a, ip: { src, dst }, bytes: encodeAdvert(a, { src, dst }) }));

const valid: fc.Arbitrary<Valid> = fc.oneof(
  withIp(v2Advert, 4),
  withIp(v3Advert(4), 4),
  withIp(v3Advert(6), 6),
);

const ctxOf = (v: Valid): DecodeContext => ({ family: v.advert.family, ...v.ip });

/** A decode that succeeded must mean exactly the bytes it was given. */
function assertFaithful(bytes: Uint8Array, ctx: DecodeContext, r: DecodeResult): void {
  if (!r.ok) {
    assert.equal(typeof r.reason.kind, 'string');
    assert.ok(r.reason.message.length > 0);
    return;
  }
  // v3's 4 reserved bits are ignored on receipt, so only a clean field re-encodes bytewise.
  if (r.advert.version === 3 && ((bytes[4] as number) & 0xf0) !== 0) return;
  const again = encodeAdvert(r.advert, { src: ctx.src ?? '', dst: ctx.dst ?? '' });
  assert.equal(again.toString('hex'), Buffer.from(bytes).toString('hex'));
}

/** Recomputes the checksum as a sender of whatever version the bytes now claim would. */
function fixChecksum(bytes: Buffer, ctx: DecodeContext): void {
  if (bytes.length < 8) return;
  let pseudo: Buffer | undefined;
  if ((bytes[0] as number) >> 4 === 3) {
    const src = addressBytes(ctx.src ?? '', ctx.family) as Buffer;
    const dst = addressBytes(ctx.dst ?? '', ctx.family) as Buffer;
    pseudo =
      ctx.family === 4 ? ipv4PseudoHeader(src, dst, bytes.length) : ipv6PseudoHeader(src, dst, bytes.length);
  }
  bytes.writeUInt16BE(vrrpChecksum(bytes, pseudo), 6);
}

type Mutation =
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'remove'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: byte }),
  // The header fields, with the values that sit on their edges, so field checks get reached.
  fc.record({
    op: fc.constant('set' as const),
    at: fc.integer({ min: 0, max: 5 }),
    value: fc.oneof(byte, fc.constantFrom(0, 1, 2, 3, 0x21, 0x22, 0x31, 0x32, 0xff)),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ op: fc.constant('remove' as const), at: fc.nat() }),
);

function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : 'at' in m ? m.at % b.length : 0;
    if (m.op === 'set' && b.length > 0) b[at] = m.value;
    else if (m.op === 'truncate') b = b.subarray(0, at);
    else if (m.op === 'append') b = Buffer.concat([b, m.bytes]);
    else if (m.op === 'remove') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
  }
  return Buffer.from(b);
}

const ipv4Packet = (v: Valid, identification: number): Buffer =>
  Buffer.concat([encodeIpv4Header({ ...v.ip, identification, payloadLength: v.bytes.length }), v.bytes]);

describe('VRRP codec properties', () => {
  it('decodes what it encodes, and encodes it back to the same bytes', () => {
    fc.assert(
      fc.property(valid, (v) => {
        const r = decodeAdvert(v.bytes, ctxOf(v));
        assert.ok(r.ok, r.ok ? '' : r.reason.message);
        assert.deepEqual(r.advert, { ...v.advert, checksum: v.bytes.readUInt16BE(6) });
        assert.deepEqual(encodeAdvert(r.advert, v.ip), v.bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes whole IPv4 packets it builds, with or without Ethernet padding', () => {
    const v4Valid = fc.oneof(withIp(v2Advert, 4), withIp(v3Advert(4), 4));
    fc.assert(
      fc.property(v4Valid, fc.integer({ min: 0, max: 0xffff }), fc.nat({ max: 30 }), (v, id, pad) => {
        const packet = Buffer.concat([ipv4Packet(v, id), Buffer.alloc(pad)]);
        const r = decodeIpv4Packet(packet);
        assert.ok(r.ok, r.ok ? '' : r.reason.message);
        assert.deepEqual(r.advert, { ...v.advert, checksum: v.bytes.readUInt16BE(6) });
        assert.deepEqual(
          { src: r.ip.src, dst: r.ip.dst, ttl: r.ip.ttl, id: r.ip.identification },
          { ...v.ip, ttl: 255, id },
        );
      }),
    );
  });

  it('never throws on arbitrary bytes', () => {
    const ctx: fc.Arbitrary<DecodeContext> = fc.oneof(
      fc.constant({ family: 4 as const }),
      fc.constant({ family: 6 as const }),
      fc.record({ family: fc.constant(4 as const), src: v4, dst: v4 }),
      fc.record({ family: fc.constant(6 as const), src: v6, dst: v6 }),
      fc.record({ family: fc.constantFrom(4 as const, 6 as const), src: fc.string(), dst: fc.string() }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), ctx, (bytes, c) => {
        assertFaithful(bytes, c, decodeAdvert(bytes, c));
        const ip = decodeIpv4Packet(bytes);
        if (!ip.ok) assert.ok(ip.reason.message.length > 0);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on a valid IPv4 header followed by arbitrary bytes', () => {
    fc.assert(
      fc.property(v4, fc.uint8Array({ maxLength: 600 }), (src, payload) => {
        const header = encodeIpv4Header({
          src,
          dst: '224.0.0.18',
          identification: 1,
          payloadLength: payload.length,
        });
        const r = decodeIpv4Packet(Buffer.concat([header, payload]));
        if (r.ok) assertFaithful(payload, { family: 4, src, dst: '224.0.0.18' }, r);
        else assert.ok(r.reason.message.length > 0);
      }),
    );
  });

  it('never throws on mutated packets, and accepts one only for what it says', () => {
    fc.assert(
      fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }), (v, ms) => {
        const bytes = mutate(v.bytes, ms);
        assertFaithful(bytes, ctxOf(v), decodeAdvert(bytes, ctxOf(v)));
      }),
      { numRuns: 300 },
    );
  });

  it('names a field, not the checksum, when mutated bytes carry a correct checksum', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }), (v, ms) => {
        const bytes = mutate(v.bytes, ms);
        fixChecksum(bytes, ctxOf(v));
        const r = decodeAdvert(bytes, ctxOf(v));
        seen.add(r.ok ? 'ok' : r.reason.kind);
        if (!r.ok) assert.notEqual(r.reason.kind, 'bad-checksum', r.reason.message);
        assertFaithful(bytes, ctxOf(v), r);
      }),
      { numRuns: 400 },
    );
    // Past the checksum, or the property above says nothing.
    for (const kind of ['ok', 'count-mismatch', 'bad-type', 'bad-auth-length']) {
      assert.ok(seen.has(kind), `never reached ${kind}`);
    }
  });

  it('reports any flipped bit in a VRRP message', () => {
    fc.assert(
      fc.property(valid, fc.nat(), (v, n) => {
        const bit = n % (v.bytes.length * 8);
        const bytes = Buffer.from(v.bytes);
        bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (0x80 >> (bit & 7));
        const r = decodeAdvert(bytes, ctxOf(v));
        assert.ok(!r.ok, `bit ${bit} flipped and still accepted`);
        // Only the version nibble decides how to checksum; everything else is covered by it.
        const expected = bit < 4 ? ['bad-version', 'v2-over-ipv6', 'bad-checksum'] : ['bad-checksum'];
        assert.ok(expected.includes(r.reason.kind), `bit ${bit}: ${r.reason.kind}`);
      }),
      { numRuns: 500 },
    );
  });

  it('reports any flipped bit in a whole IPv4 packet', () => {
    const v4Valid = fc.oneof(withIp(v2Advert, 4), withIp(v3Advert(4), 4));
    fc.assert(
      fc.property(v4Valid, fc.integer({ min: 0, max: 0xffff }), fc.nat(), (v, id, n) => {
        const packet = ipv4Packet(v, id);
        const bit = n % (packet.length * 8);
        packet[bit >> 3] = (packet[bit >> 3] as number) ^ (0x80 >> (bit & 7));
        const r = decodeIpv4Packet(packet);
        assert.ok(!r.ok, `bit ${bit} flipped and still accepted`);
      }),
      { numRuns: 500 },
    );
  });
});
