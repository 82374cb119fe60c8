import { canonicalIp, type Family, ipFamily, parseCidr } from '../../model/ip.ts';
import type { AddressError, AddressScope, Vip } from './address-driver.ts';

// Checks a VIP before it reaches the kernel, shared by the real driver and the fake so
// that both refuse the same requests with the same messages. Pure.

/** IFNAMSIZ - 1: the kernel keeps interface names and IPv4 labels in 16 bytes with a NUL. */
export const MAX_NAME_BYTES = 15;

export const SCOPES: Record<AddressScope, number> = {
  global: 0,
  site: 200,
  link: 253,
  host: 254,
  nowhere: 255,
};

export function scopeName(n: number): AddressScope | number {
  for (const [name, value] of Object.entries(SCOPES)) if (value === n) return name as AddressScope;
  return n;
}

export interface CheckedVip {
  /** Canonical address without the prefix. */
  ip: string;
  prefix: number;
  family: Family;
  /** "ip/prefix", as LiveAddress.address spells it. */
  key: string;
  dev: string;
  label?: string;
  scope: number;
  brd?: string;
}

export type VipCheck = { ok: true; vip: CheckedVip } | { ok: false; error: AddressError };

const fail = (code: AddressError['code'], message: string): { ok: false; error: AddressError } => ({
  ok: false,
  error: { code, message },
});

/** The kernel's dev_valid_name(): what no interface name can break. */
export function validInterfaceName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    Buffer.byteLength(name) <= MAX_NAME_BYTES &&
    !/[/:\s\0]/.test(name)
  );
}

/**
 * For an add, every field is checked; a remove (`forRemove`) ignores label, scope and
 * broadcast, because the kernel matches the address it deletes by address and prefix
 * alone, and a stale label in the request must not keep a VIP in place.
 */
export function checkVip(vip: Vip, forRemove = false): VipCheck {
  const cidr = parseCidr(vip.address);
  if (!cidr)
    return fail(
      'invalid-address',
      `"${vip.address}" for interface ${vip.dev} is not an IPv4 or IPv6 address with an optional /prefix: write it like 192.0.2.10/32 or 2001:db8::10/128`,
    );
  const key = `${cidr.address}/${cidr.prefix}`;
  if (!validInterfaceName(vip.dev))
    return fail(
      'no-such-interface',
      `cannot put ${key} on "${vip.dev}": no interface can have that name (at most ${MAX_NAME_BYTES} bytes, no "/", ":" or spaces); fix the interface name`,
    );
  const checked: CheckedVip = {
    ip: cidr.address,
    prefix: cidr.prefix,
    family: cidr.family,
    key,
    dev: vip.dev,
    scope: 0,
  };
  if (forRemove) return { ok: true, vip: checked };
  if (vip.label !== undefined) {
    if (cidr.family === 6)
      return fail(
        'invalid-label',
        `label "${vip.label}" on ${key} (${vip.dev}): the kernel keeps labels for IPv4 addresses only; drop the label from this IPv6 VIP`,
      );
    if (vip.label === '' || Buffer.byteLength(vip.label) > MAX_NAME_BYTES || vip.label.includes('\0'))
      return fail(
        'invalid-label',
        `label "${vip.label}" on ${key} (${vip.dev}) is ${Buffer.byteLength(vip.label)} bytes: the kernel takes 1 to ${MAX_NAME_BYTES}; shorten it (keepalived's convention is like "${vip.dev}:vip")`,
      );
    checked.label = vip.label;
  }
  if (vip.scope !== undefined) {
    // The type says AddressScope, but VIPs come from YAML: check at run time too.
    const n = (SCOPES as Record<string, number | undefined>)[vip.scope];
    if (n === undefined)
      return fail(
        'invalid-address',
        `scope "${vip.scope}" for ${key} on ${vip.dev} is not one of ${Object.keys(SCOPES).join(', ')}`,
      );
    checked.scope = n;
  }
  if (vip.brd !== undefined) {
    const brd = broadcastFor(vip.brd, cidr.address, cidr.prefix, cidr.family);
    if (brd === false)
      return fail(
        'invalid-broadcast',
        `broadcast "${vip.brd}" for ${key} on ${vip.dev}: give an IPv4 address or "+" (derive it from the prefix); IPv6 has no broadcast`,
      );
    if (brd !== undefined) checked.brd = brd;
  }
  return { ok: true, vip: checked };
}

/** false: not valid; undefined: none applies (a /31 or /32 with "+"). */
function broadcastFor(brd: string, ip: string, prefix: number, family: Family): string | false | undefined {
  if (family !== 4) return false;
  if (brd !== '+') return ipFamily(brd) === 4 ? brd : false;
  if (prefix >= 31) return undefined;
  const host = (2 ** (32 - prefix) - 1) >>> 0;
  return bytesToIp(Buffer.from(ipToBytes(ip).map((b, i) => b | ((host >>> (8 * (3 - i))) & 0xff))));
}

/** Network-order bytes of a canonical address (4 or 16 of them). */
export function ipToBytes(ip: string): Buffer {
  if (ipFamily(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail] = ip.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(g, i * 2);
  return out;
}

/** Canonical text of 4 or 16 network-order bytes. */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const b = Buffer.from(bytes);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return canonicalIp(groups.join(':'));
}
