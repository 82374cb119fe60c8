import type { Protocol, Service } from './dataplane.ts';
import { granularityPrefix } from './nft-refusals.ts';
import { type SlotLayout, slotLayout } from './nft-slots.ts';

// The names inside keepgit's nftables table, and what they mean. A service is sent to a
// "class" chain that does the scheduling for every service with the same family,
// scheduler, slot count and persistence: the chain's name says which, so reading the
// table back needs nothing but the kernel's own listing.
//
//   c4_rr_m3            IPv4, rr over 3 slots
//   c4_wrr_m6_p2000_24  IPv4, wrr over 6 slots, clients kept 2000 ms per /24
//   u4_p2000_24         the chain that records (and refreshes) those clients

export const DEFAULT_TABLE = 'keepgit_lb';
export const FAMILIES = [4, 6] as const;
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export const proto = (p: Protocol): string => p.toLowerCase();
export const ipOf = (family: 4 | 6): 'ip' | 'ip6' => (family === 4 ? 'ip' : 'ip6');

/** service → class chain (verdict map), per family. */
export const svcMap = (family: 4 | 6) => `svc${family}`;
/** persistent service → the chain that records its clients (verdict map). */
export const persMap = (family: 4 | 6) => `pers${family}`;
/** (VIP, port, slot) → (real server, port), per family and protocol. */
export const slotsMap = (family: 4 | 6, p: Protocol) => `slots${family}_${proto(p)}`;
/** (client, VIP, port) → (real server, port): who sticks where, filled from the packet path. */
export const persistMap = (p: Protocol) => `persist4_${proto(p)}`;
export const snatMap = (family: 4 | 6) => `snat${family}`;
export const masqSet = (family: 4 | 6) => `masq${family}`;

export interface ServiceClass {
  family: 4 | 6;
  scheduler: string;
  modulus: number;
  /** Clients kept for timeoutMs, grouped by the leading `prefix` bits of their address. */
  persistence?: { timeoutMs: number; prefix: number };
}

const classes = new WeakMap<Service, ServiceClass>();
const layouts = new WeakMap<Service, SlotLayout>();

/** The slot layout of a service (remembered per service object). */
export function layoutOf(s: Service): SlotLayout {
  const known = layouts.get(s);
  if (known) return known;
  const l = slotLayout(s.scheduler, s.destinations);
  layouts.set(s, l);
  return l;
}

/** The class of a service (remembered per service object: a patch asks for every service's). */
export function classOf(s: Service): ServiceClass {
  const known = classes.get(s);
  if (known) return known;
  const c: ServiceClass = {
    family: s.family,
    scheduler: s.scheduler,
    modulus: layoutOf(s).modulus,
  };
  if (s.persistence)
    c.persistence = {
      timeoutMs: s.persistence.timeoutMs,
      prefix: granularityPrefix(s.persistence.granularity) ?? 32,
    };
  classes.set(s, c);
  return c;
}

const persistenceSuffix = (p: { timeoutMs: number; prefix: number }) => `p${p.timeoutMs}_${p.prefix}`;

export function className(c: ServiceClass): string {
  const base = `c${c.family}_${c.scheduler}_m${c.modulus}`;
  return c.persistence ? `${base}_${persistenceSuffix(c.persistence)}` : base;
}

export function updateChainName(family: 4 | 6, p: { timeoutMs: number; prefix: number }): string {
  return `u${family}_${persistenceSuffix(p)}`;
}

const CLASS_RE = /^c([46])_([a-z]+)_m(\d+)(?:_p(\d+)_(\d+))?$/;

export function parseClassName(name: string): ServiceClass | undefined {
  const m = CLASS_RE.exec(name);
  if (!m) return undefined;
  const c: ServiceClass = { family: m[1] === '4' ? 4 : 6, scheduler: m[2] ?? '', modulus: Number(m[3]) };
  if (m[4] !== undefined) c.persistence = { timeoutMs: Number(m[4]), prefix: Number(m[5]) };
  return c;
}
