import { canonicalIp } from '../model/ip.ts';
import { addressBytes } from '../vrrp/advert.ts';

// ICMP echo (RFC 792) and ICMPv6 echo (RFC 4443) as PING_CHECK sends and reads them on
// raw sockets. Pure: the socket lives in icmp-socket.ts.
//
// What a raw socket hands over differs by family: an IPv4 one gives the whole datagram,
// IP header first; an IPv6 one gives the ICMPv6 message alone, and the sender comes from
// recvfrom. The ICMPv4 checksum is ours to compute; for ICMPv6 the kernel computes it on
// every raw ICMPv6 socket (RFC 3542 section 3.1; seen here: a request sent with 0 there
// was answered), because it covers a pseudo-header with a source only routing decides.

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const IPPROTO_ICMP = 1;
export const IPPROTO_ICMPV6 = 58;
const ECHO_HEADER = 8;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;

/** The RFC 1071 one's-complement sum over `parts`, folded and complemented. */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      const byte = p[i] ?? 0;
      if (odd === undefined) odd = byte;
      else {
        sum += (odd << 8) | byte;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An echo request: IPv4 with its checksum, IPv6 with 0 there for the kernel to fill. */
export function echoRequest(family: 4 | 6, id: number, seq: number, payload: Uint8Array): Buffer {
  const p = Buffer.alloc(ECHO_HEADER + payload.length);
  p[0] = family === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
  p.writeUInt16BE(id & 0xffff, 4);
  p.writeUInt16BE(seq & 0xffff, 6);
  p.set(payload, ECHO_HEADER);
  if (family === 4) p.writeUInt16BE(internetChecksum(p), 2);
  return p;
}

/**
 * An IPv4 header carrying ICMP from `src` to `dst` (for IP_HDRINCL, the only way to pin a
 * raw socket's source without bind(2)): TTL 64, DF clear, identification 0 so the kernel
 * picks one. The kernel rewrites total length and checksum anyway; they are right here
 * too, so the frame is whole as built. Undefined when either is not an IPv4 address.
 */
export function ipv4Header(src: string, dst: string, payloadLength: number): Buffer | undefined {
  const s = addressBytes(src, 4);
  const d = addressBytes(dst, 4);
  if (!s || !d) return undefined;
  const h = Buffer.alloc(IPV4_HEADER);
  h[0] = 0x45;
  h.writeUInt16BE(IPV4_HEADER + payloadLength, 2);
  h[8] = 64;
  h[9] = IPPROTO_ICMP;
  s.copy(h, 12);
  d.copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}

/**
 * An ICMPv6 message behind the IPv6 header that carries it from `src` to `dst` (for
 * IPV6_HDRINCL, see icmp-socket.ts), its checksum computed here, since with our own
 * header the kernel no longer does: hop limit 64, traffic class and flow label 0.
 * Undefined when either is not an IPv6 address.
 */
export function ipv6Packet(src: string, dst: string, message: Uint8Array): Buffer | undefined {
  const s = addressBytes(src, 6);
  const d = addressBytes(dst, 6);
  if (!s || !d) return undefined;
  const p = Buffer.alloc(IPV6_HEADER + message.length);
  p[0] = 0x60;
  p.writeUInt16BE(message.length, 4);
  p[6] = IPPROTO_ICMPV6;
  p[7] = 64;
  s.copy(p, 8);
  d.copy(p, 24);
  p.set(message, IPV6_HEADER);
  p.writeUInt16BE(0, IPV6_HEADER + 2);
  p.writeUInt16BE(icmpv6Checksum(s, d, p.subarray(IPV6_HEADER)), IPV6_HEADER + 2);
  return p;
}

/** The ICMPv6 checksum over the RFC 8200 section 8.1 pseudo-header and the message. */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, message: Uint8Array): number {
  const pseudo = Buffer.alloc(8);
  pseudo.writeUInt32BE(message.length, 0);
  pseudo[7] = IPPROTO_ICMPV6;
  return internetChecksum(src, dst, pseudo, message);
}

export type IcmpEvent =
  | { kind: 'echo-reply'; id: number; seq: number; from: string }
  | {
      kind: 'unreachable' | 'time-exceeded';
      code: number;
      /** Who reported it: the target itself, a router on the way, or this node. */
      from: string;
      /** The echo request it is about: its id, sequence and destination. */
      id: number;
      seq: number;
      to: string;
    };

/**
 * What one received packet means for a pinger, or undefined when it is none of its
 * business (other ICMP types, truncated or malformed packets, not an echo it could have
 * sent). `source` is the sender as recvfrom(2) gave it; for IPv4 the header's is used.
 */
export function parseIcmp(family: 4 | 6, packet: Uint8Array, source: string): IcmpEvent | undefined {
  let icmp: Buffer;
  let from: string;
  const b = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
  if (family === 4) {
    const ip = ipv4Payload(b, IPPROTO_ICMP);
    if (!ip) return undefined;
    icmp = ip.payload;
    from = ip.src;
  } else {
    icmp = b;
    from = canonicalIp(source.split('%')[0] ?? source);
  }
  if (icmp.length < ECHO_HEADER) return undefined;
  const type = icmp[0];
  const code = icmp[1] ?? 0;
  if (type === (family === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY) && code === 0)
    return { kind: 'echo-reply', id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6), from };
  const kind =
    type === (family === 4 ? ICMP_DEST_UNREACH : ICMPV6_DEST_UNREACH)
      ? 'unreachable'
      : type === (family === 4 ? ICMP_TIME_EXCEEDED : ICMPV6_TIME_EXCEEDED)
        ? 'time-exceeded'
        : undefined;
  if (!kind) return undefined;
  // The invoking packet follows the 8-byte error header: its IP header, then at least
  // the first 8 bytes of our echo request (RFC 792; RFC 4443 sends as much as fits).
  const quoted = icmp.subarray(ECHO_HEADER);
  const inner = family === 4 ? ipv4Payload(quoted, IPPROTO_ICMP, true) : ipv6Payload(quoted, IPPROTO_ICMPV6);
  if (!inner || inner.payload.length < ECHO_HEADER) return undefined;
  if (inner.payload[0] !== (family === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) return undefined;
  return {
    kind,
    code,
    from,
    id: inner.payload.readUInt16BE(4),
    seq: inner.payload.readUInt16BE(6),
    to: inner.dst,
  };
}

interface Carried {
  src: string;
  dst: string;
  payload: Buffer;
}

/** The payload of an IPv4 datagram of `protocol`; a quoted one may be cut short after it. */
function ipv4Payload(b: Buffer, protocol: number, quoted = false): Carried | undefined {
  if (b.length < IPV4_HEADER || (b[0] ?? 0) >> 4 !== 4) return undefined;
  const ihl = ((b[0] ?? 0) & 0x0f) * 4;
  if (ihl < IPV4_HEADER || b.length < ihl || b[9] !== protocol) return undefined;
  const total = b.readUInt16BE(2);
  const end = quoted ? b.length : Math.min(b.length, Math.max(total, ihl));
  return {
    src: Array.from(b.subarray(12, 16)).join('.'),
    dst: Array.from(b.subarray(16, 20)).join('.'),
    payload: b.subarray(ihl, end),
  };
}

/** The payload of a quoted IPv6 packet whose next header is `protocol` (no extension headers). */
function ipv6Payload(b: Buffer, protocol: number): Carried | undefined {
  if (b.length < IPV6_HEADER || (b[0] ?? 0) >> 4 !== 6 || b[6] !== protocol) return undefined;
  return {
    src: v6Text(b.subarray(8, 24)),
    dst: v6Text(b.subarray(24, 40)),
    payload: b.subarray(IPV6_HEADER),
  };
}

function v6Text(b: Buffer): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return canonicalIp(words.join(':'));
}

/** Words for an ICMP error code, for the check's reason. */
export function describeIcmpError(
  family: 4 | 6,
  kind: 'unreachable' | 'time-exceeded',
  code: number,
): string {
  if (kind === 'time-exceeded') return 'time exceeded (TTL ran out on the way: a routing loop?)';
  const v4: Record<number, string> = {
    0: 'network unreachable',
    1: 'host unreachable',
    2: 'protocol unreachable',
    3: 'port unreachable',
    4: 'fragmentation needed',
    6: 'destination network unknown',
    7: 'destination host unknown',
    9: 'network administratively prohibited',
    10: 'host administratively prohibited',
    13: 'communication administratively prohibited',
  };
  const v6: Record<number, string> = {
    0: 'no route to destination',
    1: 'communication administratively prohibited',
    2: 'beyond scope of source address',
    3: 'address unreachable',
    4: 'port unreachable',
    5: 'source address failed policy',
    6: 'reject route to destination',
  };
  return (family === 4 ? v4 : v6)[code] ?? `destination unreachable, code ${code}`;
}
