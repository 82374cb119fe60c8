import { isIPv4, isIPv6 } from 'node:net';

// Address handling shared by the schema, the policies and the planner. Everything is
// kept in canonical text so that equal addresses compare equal as strings.

export type Family = 4 | 6;

export interface Cidr {
  address: string;
  prefix: number;
  family: Family;
}

export function ipFamily(address: string): Family | undefined {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

function v6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const parse = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const o = part.split('.').map(Number);
        out.push(((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0));
      } else out.push(Number.parseInt(part, 16));
    }
    return out;
  };
  const h = parse(head);
  if (tail === undefined) return h;
  const t = parse(tail);
  return [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
}

// A fleet names the same addresses over and over (every rule, every revision), and the
// IPv6 check behind isIPv6 is one large regular expression: remember recent answers.
const canonical = new Map<string, string>();

/** RFC 5952 text for an IPv6 address; IPv4 unchanged. */
export function canonicalIp(address: string): string {
  const known = canonical.get(address);
  if (known !== undefined) return known;
  const text = computeCanonicalIp(address);
  if (canonical.size >= 100_000) canonical.clear();
  canonical.set(address, text);
  return text;
}

function computeCanonicalIp(address: string): string {
  if (!address.includes(':') || !isIPv6(address)) return address;
  const g = v6Groups(address.toLowerCase());
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((n) => n.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** "192.0.2.10/24" or "2001:db8::1" (prefix defaults to the host length). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = ipFamily(addr);
  if (!family) return undefined;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  return { address: canonicalIp(addr), prefix, family };
}

function toBigInt(address: string): bigint {
  if (isIPv4(address)) return address.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  return v6Groups(address).reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Whether `address` lies inside `net`. */
export function cidrContains(net: Cidr, address: string): boolean {
  const family = ipFamily(address);
  if (family !== net.family) return false;
  const bits = family === 4 ? 32 : 128;
  const shift = BigInt(bits - net.prefix);
  return toBigInt(net.address) >> shift === toBigInt(address) >> shift;
}

/** Numeric order, as VRRP's tie break on the primary address compares them. */
export function compareIp(a: string, b: string): number {
  const x = toBigInt(a);
  const y = toBigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
