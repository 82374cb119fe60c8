import { isIPv4, isIPv6 } from 'node:net';
import { canonicalIp } from '../../model/ip.ts';
import { AF_INET, AF_INET6 } from './ip-vs-constants.ts';
import type { IpvsAf } from './ipvs-records.ts';

// Addresses as IPVS carries them: a union nf_inet_addr of 16 bytes, IPv4 in the first four.

export function afOf(address: string): IpvsAf | undefined {
  if (isIPv4(address)) return AF_INET;
  if (isIPv6(address)) return AF_INET6;
  return undefined;
}

/** The 16 bytes of union nf_inet_addr for `address` (which must be valid for `af`). */
export function inetAddrBytes(af: IpvsAf, address: string): Uint8Array {
  const out = new Uint8Array(16);
  if (af === AF_INET) {
    out.set(address.split('.').map(Number));
    return out;
  }
  const text = canonicalIp(address);
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  for (const [i, g] of all.entries()) {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

/** Canonical text of the address in a nf_inet_addr (4 bytes suffice for IPv4). */
export function inetAddrText(af: IpvsAf, bytes: Uint8Array): string {
  if (af === AF_INET) return Array.from(bytes.subarray(0, 4)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return canonicalIp(groups.join(':'));
}

export function canonicalAddress(af: IpvsAf, address: string): string {
  return af === AF_INET6 ? canonicalIp(address) : address;
}
