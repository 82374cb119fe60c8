import type { Protocol, Service } from './dataplane.ts';
import { granularityPrefix } from './nft-refusals.ts';
import { type SlotLayout, slotLayout, slotModulus } from './nft-slots.ts';

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

interface Derived {
  cls: ServiceClass;
  name: string;
}

// A service's class and chain name, remembered per service object in one entry: the
// driver's prepared services are never changed after preparing, and a patch asks for
// every service's chain. (Slot layouts are not remembered: they are needed once per
// service when the table is written, and keeping 100,000 of them costs more in garbage
// collection than laying them out again.)
const derived = new WeakMap<Service, Derived>();

function derive(s: Service): Derived {
  const known = derived.get(s);
  if (known) return known;
  const cls: ServiceClass = {
    family: s.family,
    scheduler: s.scheduler,
    modulus: slotModulus(s.scheduler, s.destinations),
  };
  if (s.persistence)
    cls.persistence = {
      timeoutMs: s.persistence.timeoutMs,
      prefix: granularityPrefix(s.persistence.granularity) ?? 32,
    };
  const d: Derived = { cls, name: className(cls) };
  derived.set(s, d);
  return d;
}

/** The slot layout of a service. */
export const layoutOf = (s: Service): SlotLayout => slotLayout(s.scheduler, s.destinations);

/** The class of a service (remembered per service object). */
export const classOf = (s: Service): ServiceClass => derive(s).cls;

/** The name of the class chain a service jumps to (remembered per service object). */
export const classNameOf = (s: Service): string => derive(s).name;

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
