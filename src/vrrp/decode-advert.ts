import {
  type Advert,
  type AuthType,
  addressBytes,
  addressLength,
  addressText,
  type Family,
  V2_AUTH_LENGTH,
  VRRP_HEADER_LENGTH,
  VRRP_PROTOCOL,
} from './advert.ts';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader, vrrpChecksum } from './checksum.ts';

// Decoding runs on whatever arrives on the VRRP group, so it never throws, does a bounded
// amount of work per input byte, and says precisely why a packet is refused: the reason
// is what an operator reads when two routers do not see each other.
//
// Checks run in the order that names the real cause: first what decides how to checksum
// (length, version), then the checksum, and only then the meaning of the fields, so a
// corrupted byte is reported as corruption, not as a strange but valid-looking field.

export type DecodeError =
  | { kind: 'short-packet'; length: number; minimum: number; message: string }
  | { kind: 'bad-version'; version: number; message: string }
  | { kind: 'v2-over-ipv6'; message: string }
  | { kind: 'no-pseudo-header'; message: string }
  | { kind: 'bad-context-address'; field: 'src' | 'dst'; value: string; message: string }
  | { kind: 'bad-checksum'; expected: number; actual: number; message: string }
  | { kind: 'bad-type'; type: number; message: string }
  | { kind: 'count-mismatch'; count: number; length: number; expectedLength: number; message: string }
  | { kind: 'bad-auth-length'; expected: number; actual: number; message: string }
  | { kind: 'unknown-auth-type'; authType: number; message: string }
  | { kind: 'bad-vrid'; vrid: number; message: string }
  | { kind: 'zero-interval'; message: string };

export type DecodeResult = { ok: true; advert: Advert } | { ok: false; reason: DecodeError };

export interface DecodeContext {
  family: Family;
  /** IP source and destination of the packet; v3 needs both for its pseudo-header. */
  src?: string;
  dst?: string;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;
const fail = (reason: DecodeError): DecodeResult => ({ ok: false, reason });

/** The VRRP message (the IP payload, exactly) of a packet of `ctx.family`. */
export function decodeAdvert(bytes: Uint8Array, ctx: DecodeContext): DecodeResult {
  const length = bytes.length;
  if (length < VRRP_HEADER_LENGTH) {
    return fail({
      kind: 'short-packet',
      length,
      minimum: VRRP_HEADER_LENGTH,
      message: `VRRP message of ${length} bytes is shorter than the ${VRRP_HEADER_LENGTH}-byte header`,
    });
  }
  const b0 = bytes[0] as number;
  const version = b0 >> 4;
  if (version !== 2 && version !== 3) {
    return fail({ kind: 'bad-version', version, message: `VRRP version ${version}, expected 2 or 3` });
  }
  if (version === 2 && ctx.family === 6) {
    return fail({
      kind: 'v2-over-ipv6',
      message: 'VRRPv2 advert over IPv6: VRRPv2 is IPv4 only (set vrrp_version 3 on the sender)',
    });
  }
  const actual = ((bytes[6] as number) << 8) | (bytes[7] as number);
  let pseudo: Buffer | undefined;
  if (version === 3) {
    const p = pseudoHeader(ctx, length);
    if ('kind' in p) return fail(p);
    pseudo = p.header;
  }
  const expected = vrrpChecksum(bytes, pseudo);
  if (expected !== actual) {
    const why = version === 3 ? ' (VRRPv3 sums the IP source and destination too)' : '';
    return fail({
      kind: 'bad-checksum',
      expected,
      actual,
      message: `VRRP checksum ${hex(actual)} in the packet, ${hex(expected)} computed${why}`,
    });
  }
  const type = b0 & 0x0f;
  if (type !== 1) {
    return fail({
      kind: 'bad-type',
      type,
      message: `VRRP packet type ${type}, only 1 (advertisement) exists`,
    });
  }
  const count = bytes[3] as number;
  const size = addressLength(ctx.family);
  const auth = version === 2 ? V2_AUTH_LENGTH : 0;
  const expectedLength = VRRP_HEADER_LENGTH + count * size + auth;
  if (length !== expectedLength) {
    // Which field is wrong is a guess; guess the one the length itself contradicts least.
    const trail = length - VRRP_HEADER_LENGTH - count * size;
    const rest = length - VRRP_HEADER_LENGTH - auth;
    const fitsAnotherCount = rest >= 0 && rest % size === 0;
    if (version === 2 && trail >= 0 && !fitsAnotherCount) {
      return fail({
        kind: 'bad-auth-length',
        expected: V2_AUTH_LENGTH,
        actual: trail,
        message: `VRRPv2 authentication data of ${trail} bytes after the addresses, expected ${V2_AUTH_LENGTH}`,
      });
    }
    return fail({
      kind: 'count-mismatch',
      count,
      length,
      expectedLength,
      message: `VRRP message of ${length} bytes announces ${count} IPv${ctx.family} addresses, which take ${expectedLength}`,
    });
  }
  const authType = bytes[4] as number;
  if (version === 2 && authType > 2) {
    return fail({
      kind: 'unknown-auth-type',
      authType,
      message: `VRRPv2 authentication type ${authType}, expected 0 (none), 1 (PASS) or 2 (AH)`,
    });
  }
  const vrid = bytes[1] as number;
  if (vrid === 0) {
    return fail({ kind: 'bad-vrid', vrid, message: 'VRRP virtual router id 0, expected 1..255' });
  }
  const interval =
    version === 2 ? (bytes[5] as number) : (((bytes[4] as number) & 0x0f) << 8) | (bytes[5] as number);
  if (interval === 0) return fail({ kind: 'zero-interval', message: 'VRRP advertisement interval 0' });

  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    addresses.push(addressText(bytes, VRRP_HEADER_LENGTH + i * size, ctx.family));
  }
  const common = { type: 1 as const, vrid, priority: bytes[2] as number, addresses, checksum: actual };
  if (version === 2) {
    const data = Buffer.from(bytes.subarray(length - V2_AUTH_LENGTH));
    return {
      ok: true,
      advert: {
        ...common,
        version: 2,
        family: 4,
        advertIntervalS: interval,
        auth: { type: authType as AuthType, data },
      },
    };
  }
  // The 4 reserved bits are ignored on receipt (RFC 5798 5.2.5); the checksum has already
  // shown they were sent that way.
  return { ok: true, advert: { ...common, version: 3, family: ctx.family, advertIntervalCs: interval } };
}

function pseudoHeader(ctx: DecodeContext, length: number): { header: Buffer } | DecodeError {
  if (ctx.src === undefined || ctx.dst === undefined) {
    return {
      kind: 'no-pseudo-header',
      message: 'VRRPv3 checksum needs the IP source and destination, and the caller gave none',
    };
  }
  const src = addressBytes(ctx.src, ctx.family);
  if (!src) return badContext('src', ctx.src, ctx.family);
  const dst = addressBytes(ctx.dst, ctx.family);
  if (!dst) return badContext('dst', ctx.dst, ctx.family);
  return {
    header: ctx.family === 4 ? ipv4PseudoHeader(src, dst, length) : ipv6PseudoHeader(src, dst, length),
  };
}

function badContext(field: 'src' | 'dst', value: string, family: Family): DecodeError {
  return {
    kind: 'bad-context-address',
    field,
    value,
    message: `IP ${field} ${JSON.stringify(value)} given for the VRRP checksum is not an IPv${family} address`,
  };
}

export type Ipv4DecodeError =
  | { kind: 'short-ip-header'; length: number; message: string }
  | { kind: 'not-ipv4'; version: number; message: string }
  | { kind: 'bad-ihl'; ihl: number; message: string }
  | { kind: 'bad-total-length'; totalLength: number; length: number; message: string }
  | { kind: 'bad-ip-checksum'; expected: number; actual: number; message: string }
  | { kind: 'ip-fragment'; message: string }
  | { kind: 'not-vrrp'; protocol: number; message: string };

export interface Ipv4Info {
  src: string;
  dst: string;
  /** RFC 3768/5798 receivers must drop adverts whose TTL is not 255: the caller checks. */
  ttl: number;
  tos: number;
  identification: number;
  headerLength: number;
}

export type Ipv4DecodeResult =
  | { ok: true; advert: Advert; ip: Ipv4Info }
  | { ok: false; reason: Ipv4DecodeError | DecodeError };

/**
 * A whole IPv4 packet, as a raw IPPROTO_VRRP socket hands it over. Bytes past the total
 * length are ignored: they are Ethernet padding when the packet came off a link layer
 * (a 46-byte VRRPv3 frame is padded to 60 on a real wire).
 */
export function decodeIpv4Packet(bytes: Uint8Array): Ipv4DecodeResult {
  const ipFail = (reason: Ipv4DecodeError): Ipv4DecodeResult => ({ ok: false, reason });
  if (bytes.length < 20) {
    return ipFail({
      kind: 'short-ip-header',
      length: bytes.length,
      message: `IPv4 packet of ${bytes.length} bytes is shorter than a 20-byte header`,
    });
  }
  const b0 = bytes[0] as number;
  const version = b0 >> 4;
  if (version !== 4) {
    return ipFail({ kind: 'not-ipv4', version, message: `IP version ${version}, expected 4` });
  }
  const ihl = b0 & 0x0f;
  const headerLength = ihl * 4;
  if (ihl < 5 || headerLength > bytes.length) {
    return ipFail({
      kind: 'bad-ihl',
      ihl,
      message: `IPv4 header length ${headerLength} bytes does not fit a ${bytes.length}-byte packet`,
    });
  }
  const word = (at: number): number => ((bytes[at] as number) << 8) | (bytes[at + 1] as number);
  const totalLength = word(2);
  if (totalLength < headerLength || totalLength > bytes.length) {
    return ipFail({
      kind: 'bad-total-length',
      totalLength,
      length: bytes.length,
      message: `IPv4 total length ${totalLength} with a ${headerLength}-byte header and ${bytes.length} bytes received`,
    });
  }
  const actual = word(10);
  const header = bytes.subarray(0, headerLength);
  const expected = internetChecksum(header.subarray(0, 10), header.subarray(12));
  if (expected !== actual) {
    return ipFail({
      kind: 'bad-ip-checksum',
      expected,
      actual,
      message: `IPv4 header checksum ${hex(actual)} in the packet, ${hex(expected)} computed`,
    });
  }
  if ((word(6) & 0x3fff) !== 0) {
    return ipFail({ kind: 'ip-fragment', message: 'IPv4 fragment: VRRP adverts are never fragmented' });
  }
  const protocol = bytes[9] as number;
  if (protocol !== VRRP_PROTOCOL) {
    return ipFail({
      kind: 'not-vrrp',
      protocol,
      message: `IP protocol ${protocol}, expected ${VRRP_PROTOCOL} (VRRP)`,
    });
  }
  const ip: Ipv4Info = {
    src: addressText(bytes, 12, 4),
    dst: addressText(bytes, 16, 4),
    ttl: bytes[8] as number,
    tos: bytes[1] as number,
    identification: word(4),
    headerLength,
  };
  const r = decodeAdvert(bytes.subarray(headerLength, totalLength), { family: 4, src: ip.src, dst: ip.dst });
  return r.ok ? { ok: true, advert: r.advert, ip } : r;
}
