import { NFTABLES_SCHEDULERS } from '../../model/dataplane-support.ts';
import { canonicalIp } from '../../model/ip.ts';
import { canonicalContent } from './content-canonical.ts';
import type { DataplaneContent, Protocol, Service } from './dataplane.ts';
import { FAMILIES, masqSet, PROTOCOLS, parseClassName, slotsMap, snatMap, svcMap } from './nft-names.ts';
import { prefixToNetmask } from './nft-refusals.ts';
import { destinationsFromSlots, type ReadSlot } from './nft-slots.ts';

// `nft -j list table inet <table>` back into DataplaneContent: the inverse of
// nft-render.ts. Everything comes from the kernel's listing: keys from element comments,
// scheduler, slot count and persistence from the name of the chain a service jumps to,
// real servers and weights from the slot maps. Whatever does not fit (an element keepgit
// would not have written, a service without its key) makes the result "not clean", so the
// driver stops trusting its own copy and rewrites the table on the next apply.

export interface ParsedTable {
  content: DataplaneContent;
  /** The generation mark of the last apply (undefined: none, or not one). */
  gen?: number;
  /** False when the table holds something keepgit would not have written. */
  clean: boolean;
}

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface Elem {
  val: Json[];
  comment?: string;
  data?: Json;
}

/** An element of a set or map: its key parts, its comment, and (maps) its value. */
function readElem(raw: Json, isMap: boolean): Elem | undefined {
  let key: Json = raw;
  let data: Json;
  if (isMap) {
    if (!Array.isArray(raw) || raw.length !== 2) return undefined;
    [key, data] = raw;
  }
  let comment: string | undefined;
  if (isObj(key) && isObj(key.elem)) {
    if (typeof key.elem.comment === 'string') comment = key.elem.comment;
    key = key.elem.val;
  }
  const val = isObj(key) && Array.isArray(key.concat) ? key.concat : [key];
  const out: Elem = { val };
  if (comment !== undefined) out.comment = comment;
  if (isMap) out.data = data;
  return out;
}

const PROTO_NUMBERS: Record<string, Protocol> = {
  tcp: 'TCP',
  udp: 'UDP',
  sctp: 'SCTP',
  '6': 'TCP',
  '17': 'UDP',
  '132': 'SCTP',
};
const protocolOf = (v: Json): Protocol | undefined => PROTO_NUMBERS[String(v)];
const portOf = (v: Json): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Number.NaN;
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
};
const addressOf = (v: Json): string | undefined => (typeof v === 'string' ? canonicalIp(v) : undefined);

export function parseNftTable(doc: Json): ParsedTable {
  const items = isObj(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  const sets = new Map<string, { isMap: boolean; elems: Json[] }>();
  for (const item of items) {
    if (!isObj(item)) continue;
    const body = isObj(item.map) ? item.map : isObj(item.set) ? item.set : undefined;
    if (body === undefined || typeof body.name !== 'string') continue;
    sets.set(body.name, { isMap: isObj(item.map), elems: Array.isArray(body.elem) ? body.elem : [] });
  }
  let clean = true;
  const elems = (name: string): Elem[] => {
    const s = sets.get(name);
    if (!s) return [];
    return s.elems.flatMap((raw) => {
      const e = readElem(raw, s.isMap);
      if (!e) clean = false;
      return e ? [e] : [];
    });
  };

  const genElems = elems('gen');
  const gen =
    genElems.length === 1 && typeof genElems[0]?.val[0] === 'number' ? genElems[0].val[0] : undefined;
  const services: Service[] = [];
  const vipKey = (addr: string, proto: Protocol, port: number) => `${addr}|${proto}|${port}`;

  for (const family of FAMILIES) {
    // Slots: (VIP, port) of a protocol → its slot elements.
    const slots = new Map<string, ReadSlot<{ address: string; port: number }>[]>();
    for (const proto of PROTOCOLS)
      for (const e of elems(slotsMap(family, proto))) {
        const [vip, vport, slot] = e.val.map((v, i) => (i === 0 ? addressOf(v) : (portOf(v) ?? v)));
        const target = Array.isArray(isObj(e.data) ? e.data.concat : undefined)
          ? ((e.data as { concat: Json[] }).concat as Json[])
          : [];
        const daddr = addressOf(target[0]);
        const dport = portOf(target[1]);
        const weight = /^w=(\d+)$/.exec(e.comment ?? '');
        if (
          typeof vip !== 'string' ||
          typeof vport !== 'number' ||
          typeof slot !== 'number' ||
          !daddr ||
          dport === undefined
        ) {
          clean = false;
          continue;
        }
        const k = vipKey(vip, proto, vport);
        const list = slots.get(k) ?? [];
        const read: ReadSlot<{ address: string; port: number }> = {
          slot,
          target: { address: daddr, port: dport },
        };
        if (weight) read.weight = Number(weight[1]);
        list.push(read);
        slots.set(k, list);
      }
    const masq = new Set<string>();
    for (const e of elems(masqSet(family))) {
      const [a, p, port] = e.val;
      const addr = addressOf(a);
      const proto = protocolOf(p);
      const n = portOf(port);
      if (addr && proto && n !== undefined) masq.add(vipKey(addr, proto, n));
      else clean = false;
    }
    const snat = new Map<string, string>();
    for (const e of elems(snatMap(family))) {
      const [a, p, port] = e.val;
      const addr = addressOf(a);
      const proto = protocolOf(p);
      const n = portOf(port);
      const to = addressOf(e.data);
      if (addr && proto && n !== undefined && to) snat.set(vipKey(addr, proto, n), to);
      else clean = false;
    }
    const claimed = new Set<string>();
    for (const e of elems(svcMap(family))) {
      const [a, p, port] = e.val;
      const address = addressOf(a);
      const protocol = protocolOf(p);
      const n = portOf(port);
      const target = isObj(e.data) && isObj(e.data.goto) ? e.data.goto.target : undefined;
      const cls = typeof target === 'string' ? parseClassName(target) : undefined;
      if (
        !address ||
        !protocol ||
        n === undefined ||
        e.comment === undefined ||
        !cls ||
        cls.family !== family ||
        !(NFTABLES_SCHEDULERS as readonly string[]).includes(cls.scheduler)
      ) {
        clean = false;
        continue;
      }
      const k = vipKey(address, protocol, n);
      claimed.add(k);
      const s: Service = {
        key: e.comment,
        family,
        protocol,
        address,
        port: n,
        scheduler: cls.scheduler,
        destinations: destinationsFromSlots(
          cls.modulus,
          slots.get(k) ?? [],
          (t) => `${t.address}|${t.port}`,
        ).map(({ target, weight }) => ({
          address: target.address,
          port: target.port,
          weight,
          forwarding: 'nat',
        })),
      };
      if (cls.persistence) {
        s.persistence = { timeoutMs: cls.persistence.timeoutMs };
        if (cls.persistence.prefix < 32) s.persistence.granularity = prefixToNetmask(cls.persistence.prefix);
      }
      if (masq.has(k)) s.sourceNat = 'masquerade';
      const to = snat.get(k);
      if (to !== undefined) s.sourceNat = { address: to };
      services.push(s);
    }
    for (const k of [...slots.keys(), ...masq, ...snat.keys()]) if (!claimed.has(k)) clean = false;
  }
  const out: ParsedTable = { content: canonicalContent({ services }), clean };
  if (gen !== undefined) out.gen = gen;
  return out;
}
