// The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 adds to it
// (RFC 5798 5.2.8). VRRPv2 (RFC 3768 5.3.8) sums the VRRP message alone.

import { VRRP_PROTOCOL } from './advert.ts';

/**
 * One's-complement sum of `bytes` as big-endian 16-bit words, added to `sum` and folded
 * to 16 bits. An odd trailing byte counts as if followed by a zero byte, so only the
 * last chunk of a multi-chunk sum may have an odd length.
 */
export function onesComplementSum(bytes: Uint8Array, sum = 0): number {
  let acc = sum;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) acc += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (even < bytes.length) acc += (bytes[even] as number) << 8;
  // A double holds the running sum exactly for anything shorter than 2^37 words, so
  // folding once at the end is enough.
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** The checksum field value for data summed over `chunks` (field itself taken as 0). */
export function internetChecksum(...chunks: Uint8Array[]): number {
  let sum = 0;
  for (const c of chunks) sum = onesComplementSum(c, sum);
  return ~sum & 0xffff;
}

/** RFC 5798 5.2.8 with RFC 768's layout: src, dst, zero, protocol 112, VRRP length. */
export function ipv4PseudoHeader(src: Uint8Array, dst: Uint8Array, length: number): Buffer {
  const h = Buffer.alloc(12);
  h.set(src.subarray(0, 4), 0);
  h.set(dst.subarray(0, 4), 4);
  h[9] = VRRP_PROTOCOL;
  h.writeUInt16BE(length & 0xffff, 10);
  return h;
}

/** RFC 5798 5.2.8 with RFC 8200 8.1's layout: src, dst, 32-bit length, 3 zeros, next header 112. */
export function ipv6PseudoHeader(src: Uint8Array, dst: Uint8Array, length: number): Buffer {
  const h = Buffer.alloc(40);
  h.set(src.subarray(0, 16), 0);
  h.set(dst.subarray(0, 16), 16);
  h.writeUInt32BE(length >>> 0, 32);
  h[39] = VRRP_PROTOCOL;
  return h;
}

/**
 * The checksum a VRRP message must carry: its bytes 6..7 (the checksum field) are skipped
 * rather than zeroed, so a received message can be checked without copying it. Pass the
 * pseudo-header for v3, nothing for v2.
 */
export function vrrpChecksum(message: Uint8Array, pseudoHeader?: Uint8Array): number {
  let sum = pseudoHeader ? onesComplementSum(pseudoHeader) : 0;
  sum = onesComplementSum(message.subarray(0, 6), sum);
  sum = onesComplementSum(message.subarray(8), sum);
  return ~sum & 0xffff;
}
