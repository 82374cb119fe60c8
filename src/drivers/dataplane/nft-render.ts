import type { Service } from './dataplane.ts';
import {
  classNameOf,
  classOf,
  FAMILIES,
  ipOf,
  layoutOf,
  masqSet,
  PROTOCOLS,
  persistMap,
  persMap,
  proto,
  type ServiceClass,
  slotsMap,
  snatMap,
  svcMap,
  updateChainName,
} from './nft-names.ts';
import { prefixToNetmask } from './nft-refusals.ts';

// nft scripts (plain text, one `nft -f -` transaction each) for keepgit's table: the whole
// table from scratch, a patch that changes only the elements of the services that
// differ, and the table's removal. Pure: content in, text out. Each line remembers the
// service it was written for, so that the kernel's complaint about line N names it.
//
// A table of 10,000 services is ~110,000 lines. They are written as pieces (strings that
// exist already: addresses, ports, separators) into one array joined once, not as a
// string per line: building and keeping 110,000 line strings alive costs more in garbage
// collection than everything else in an apply.

export interface Script {
  /** The batch, one command, declaration or element per line. */
  text: string;
  /** owners[i]: the key of the service line i + 1 was written for. */
  owners: (string | undefined)[];
}

interface Builder {
  /** Text not yet ended by a newline. */
  pieces: string[];
  owners: (string | undefined)[];
  line(text: string, owner?: string): void;
  done(): Script;
}

function builder(): Builder {
  const b: Builder = {
    pieces: [],
    owners: [],
    line(text, owner) {
      b.pieces.push(text, '\n');
      b.owners.push(owner);
    },
    done: () => ({ text: b.pieces.join(''), owners: b.owners }),
  };
  return b;
}

export const scriptText = (s: Script): string => s.text;

/** The lines of a script (without the final empty one). */
export const scriptLines = (s: Script): string[] => s.text.split('\n').slice(0, -1);

/** Maximum persistent clients per protocol (the kernel refuses new ones beyond, existing ones keep working). */
export const PERSIST_SIZE = 262144;

// Fixed seeds, so that sh and dh send a client to the same real server after every apply.
const SH_SEED = '0x6b677368';
const DH_SEED = '0x6b676468';

function selector(c: ServiceClass): string {
  const ip = ipOf(c.family);
  switch (c.scheduler) {
    case 'random':
      return `numgen random mod ${c.modulus}`;
    case 'sh':
      return `jhash ${ip} saddr mod ${c.modulus} seed ${SH_SEED}`;
    case 'dh':
      return `jhash ${ip} daddr mod ${c.modulus} seed ${DH_SEED}`;
    default:
      return `numgen inc mod ${c.modulus}`;
  }
}

const clientKey = (prefix: number, original: boolean): string => {
  const client = prefix < 32 ? `ip saddr & ${prefixToNetmask(prefix)}` : 'ip saddr';
  return original ? `${client} . ct original ip daddr . ct original proto-dst` : `${client} . ip daddr`;
};

/** The rules of a class chain: the sticky real server if the client has one, else the scheduler's pick. */
export function classRules(c: ServiceClass): string[] {
  if (c.modulus === 0) return []; // no real server may get connections: no DNAT at all
  const ip = ipOf(c.family);
  const out: string[] = [];
  if (c.persistence)
    for (const p of PROTOCOLS)
      out.push(
        `dnat ip to ${clientKey(c.persistence.prefix, false)} . ${proto(p)} dport map @${persistMap(p)}`,
      );
  for (const p of PROTOCOLS)
    out.push(`dnat ${ip} to ${ip} daddr . ${proto(p)} dport . ${selector(c)} map @${slotsMap(c.family, p)}`);
  return out;
}

/** The rules that record a client's real server after DNAT (IPv4 only) and refresh it on each new connection. */
export function updateRules(p: { timeoutMs: number; prefix: number }): string[] {
  return PROTOCOLS.map(
    (pr) =>
      `meta l4proto ${proto(pr)} update @${persistMap(pr)} { ${clientKey(p.prefix, true)} timeout ${p.timeoutMs}ms : ip daddr . ${proto(pr)} dport }`,
  );
}

export interface Element {
  map: string;
  /** The element's key, as `delete element` takes it. */
  key: string;
  /** The whole element, as `add element` takes it. */
  text: string;
}

/**
 * Where eachElement writes, as pieces, so that a full table is written without a string
 * per element: an element is its key, a comment (with its leading space, or '') and, in
 * a map, a value; a slot element's key is `prefix` and the slot, its value `target` (a
 * real server, one string per real server however many slots it has).
 */
interface ElementWriter {
  element(map: string, key: string, comment: string, value: string | undefined): void;
  slot(map: string, prefix: string, slot: string, comment: string, target: string): void;
}

/** Writes every element the table holds for one (prepared) service. */
function eachElement(s: Service, w: ElementWriter): void {
  const key = `${s.address} . ${proto(s.protocol)} . ${s.port}`;
  const c = classOf(s);
  w.element(svcMap(s.family), key, ` comment "${s.key}"`, `goto ${classNameOf(s)}`);
  if (c.persistence)
    w.element(persMap(s.family), key, '', `goto ${updateChainName(s.family, c.persistence)}`);
  if (s.sourceNat === 'masquerade') w.element(masqSet(s.family), key, '', undefined);
  else if (s.sourceNat) w.element(snatMap(s.family), key, '', s.sourceNat.address);
  const map = slotsMap(s.family, s.protocol);
  const prefix = `${s.address} . ${s.port} . `;
  const targets: string[] = [];
  for (const d of s.destinations) targets.push(`${d.address} . ${d.port}`);
  for (const e of layoutOf(s).elements) {
    const target = targets[e.dest];
    if (target === undefined) continue;
    const comment = e.weight === undefined ? '' : ` comment "w=${e.weight}"`;
    w.slot(map, prefix, String(e.slot), comment, target);
  }
}

/** Every element the table holds for one (prepared) service. */
export function serviceElements(s: Service): Element[] {
  const out: Element[] = [];
  eachElement(s, {
    element(map, key, comment, value) {
      out.push({ map, key, text: value === undefined ? `${key}${comment}` : `${key}${comment} : ${value}` });
    },
    slot(map, prefix, slot, comment, target) {
      const key = prefix + slot;
      out.push({ map, key, text: `${key}${comment} : ${target}` });
    },
  });
  return out;
}

/** The class chains and update chains a content needs, by name. */
export function chainsFor(services: readonly Service[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of services) {
    const name = classNameOf(s);
    if (out.has(name)) continue;
    const c = classOf(s);
    out.set(name, classRules(c));
    if (c.persistence) {
      const u = updateChainName(s.family, c.persistence);
      if (!out.has(u)) out.set(u, updateRules(c.persistence));
    }
  }
  return out;
}

/** The names of the chains a content needs (chainsFor without the rules). */
function chainNames(services: readonly Service[]): Set<string> {
  const out = new Set<string>();
  for (const s of services) {
    out.add(classNameOf(s));
    const p = classOf(s).persistence;
    if (p) out.add(updateChainName(s.family, p));
  }
  return out;
}

const keyType = (family: 4 | 6) => `${family === 4 ? 'ipv4_addr' : 'ipv6_addr'} . inet_proto . inet_service`;

function mapDeclarations(): { name: string; family: 4 | 6; decl: string[] }[] {
  const out: { name: string; family: 4 | 6; decl: string[] }[] = [];
  for (const f of FAMILIES) {
    const ip = ipOf(f);
    const addr = f === 4 ? 'ipv4_addr' : 'ipv6_addr';
    out.push({ name: svcMap(f), family: f, decl: [`type ${keyType(f)} : verdict`] });
    if (f === 4) out.push({ name: persMap(f), family: f, decl: [`type ${keyType(f)} : verdict`] });
    out.push({ name: snatMap(f), family: f, decl: [`type ${keyType(f)} : ${addr}`] });
    out.push({ name: masqSet(f), family: f, decl: [`type ${keyType(f)}`] });
    for (const p of PROTOCOLS) {
      const pr = proto(p);
      // typeof, not type: the slot is numgen's plain integer, which no named type matches.
      out.push({
        name: slotsMap(f, p),
        family: f,
        decl: [`typeof ${ip} daddr . ${pr} dport . numgen inc mod 1 : ${ip} daddr . ${pr} dport`],
      });
    }
  }
  for (const p of PROTOCOLS) {
    const pr = proto(p);
    out.push({
      name: persistMap(p),
      family: 4,
      decl: [
        `typeof ip saddr . ip daddr . ${pr} dport : ip daddr . ${pr} dport`,
        `size ${PERSIST_SIZE}`,
        'flags dynamic,timeout',
      ],
    });
  }
  return out;
}

const isSet = (name: string) => name.startsWith('masq');

function baseChains(): string[] {
  const out: string[] = [];
  const dispatch = [
    'ip daddr . meta l4proto . th dport vmap @svc4',
    'ip6 daddr . meta l4proto . th dport vmap @svc6',
  ];
  const chain = (name: string, hook: string, rules: string[]) => {
    out.push(`  chain ${name} {`, `    ${hook}; policy accept;`, ...rules.map((r) => `    ${r}`), '  }');
  };
  chain('prerouting', 'type nat hook prerouting priority dstnat', dispatch);
  chain('output', 'type nat hook output priority -100', dispatch);
  // After DNAT (priority dstnat + 1): record which real server a persistent client got.
  const record = PROTOCOLS.map(
    (p) =>
      `ct state new ct status dnat meta nfproto ipv4 meta l4proto ${proto(p)} ct original ip daddr . meta l4proto . ct original proto-dst vmap @${persMap(4)}`,
  );
  chain('persist_in', 'type filter hook prerouting priority dstnat + 1', record);
  chain('persist_out', 'type filter hook output priority -99', record);
  const snat: string[] = [];
  for (const f of FAMILIES) {
    const ip = ipOf(f);
    for (const p of PROTOCOLS) {
      const match = `ct status dnat meta nfproto ipv${f} meta l4proto ${proto(p)}`;
      const key = `ct original ${ip} daddr . meta l4proto . ct original proto-dst`;
      snat.push(
        `${match} ${key} @${masqSet(f)} masquerade`,
        `${match} snat ${ip} to ${key} map @${snatMap(f)}`,
      );
    }
  }
  chain('postrouting', 'type nat hook postrouting priority srcnat', snat);
  return out;
}

/** The whole table, replacing whatever table of that name exists, in one transaction. */
export function renderFullTable(table: string, services: readonly Service[], gen: number): Script {
  const b = builder();
  b.line(`table inet ${table} {}`);
  b.line(`delete table inet ${table}`);
  b.line(`table inet ${table} {`);
  b.line(`  set gen { type mark; elements = { ${gen} }; }`);
  // Element pieces by map, and the service of each element line. nft takes a comma after
  // the last element too, so every element line ends the same way.
  const byMap = new Map<string, { pieces: string[]; owners: string[] }>();
  const listOf = (map: string) => {
    let list = byMap.get(map);
    if (list === undefined) {
      list = { pieces: [], owners: [] };
      byMap.set(map, list);
    }
    return list;
  };
  let owner = '';
  const writer: ElementWriter = {
    element(map, key, comment, value) {
      const list = listOf(map);
      if (value === undefined) list.pieces.push(key, comment, ',\n');
      else list.pieces.push(key, comment, ' : ', value, ',\n');
      list.owners.push(owner);
    },
    slot(map, prefix, slot, comment, target) {
      const list = listOf(map);
      if (comment === '') list.pieces.push(prefix, slot, ' : ', target, ',\n');
      else list.pieces.push(prefix, slot, comment, ' : ', target, ',\n');
      list.owners.push(owner);
    },
  };
  for (const svc of services) {
    owner = svc.key;
    eachElement(svc, writer);
  }
  for (const m of mapDeclarations()) {
    b.line(`  ${isSet(m.name) ? 'set' : 'map'} ${m.name} {`);
    for (const d of m.decl) b.line(`    ${d}`);
    const elements = byMap.get(m.name);
    if (elements !== undefined) {
      b.line('    elements = {');
      b.pieces.push(elements.pieces.join(''));
      for (const o of elements.owners) b.owners.push(o);
      b.line('    }');
    }
    b.line('  }');
  }
  for (const [name, rules] of chainsFor(services)) {
    b.line(`  chain ${name} {`);
    for (const r of rules) b.line(`    ${r}`);
    b.line('  }');
  }
  for (const line of baseChains()) b.line(line);
  b.line('}');
  return b.done();
}

export interface PatchInput {
  table: string;
  /** Everything the table holds now (as last applied) and everything it must hold. */
  before: readonly Service[];
  after: readonly Service[];
  /** The services that differ, by identity (added, changed or removed). */
  touched: { before?: Service; after?: Service }[];
  oldGen: number;
  newGen: number;
  /** Elements to delete besides the services' own (persistent clients of removed real servers). */
  extraDeletes?: readonly { map: string; key: string }[];
}

/**
 * A patch: only the elements that differ are deleted and added, chains that become
 * needed are created and chains no longer used are deleted. It starts by swapping the
 * generation mark, so that it fails whole (and changes nothing) when the table is not the
 * one `before` describes.
 */
export function renderPatch(p: PatchInput): Script {
  const s = builder();
  const t = `inet ${p.table}`;
  s.line(`delete element ${t} gen { ${p.oldGen} }`);
  s.line(`add element ${t} gen { ${p.newGen} }`);
  // Only the touched services can bring a chain in or leave one unused; the names of all
  // are remembered per service, so these scans cost no string building.
  const oldChains = chainNames(p.before);
  const newChains = chainNames(p.after);
  const fresh = p.touched.flatMap(({ after }) => (after ? [after] : []));
  for (const [name, rules] of chainsFor(fresh)) {
    if (oldChains.has(name)) continue;
    s.line(`add chain ${t} ${name}`);
    for (const r of rules) s.line(`add rule ${t} ${name} ${r}`);
  }
  const adds: { text: string; owner: string }[] = [];
  for (const { before, after } of p.touched) {
    const owner = (after ?? before)?.key ?? '';
    const was = new Map((before ? serviceElements(before) : []).map((e) => [`${e.map}|${e.key}`, e]));
    const will = new Map((after ? serviceElements(after) : []).map((e) => [`${e.map}|${e.key}`, e]));
    for (const [id, e] of was) {
      const n = will.get(id);
      if (n === undefined || n.text !== e.text) s.line(`delete element ${t} ${e.map} { ${e.key} }`, owner);
    }
    for (const [id, e] of will) {
      const o = was.get(id);
      if (o === undefined || o.text !== e.text)
        adds.push({ text: `add element ${t} ${e.map} { ${e.text} }`, owner });
    }
  }
  for (const d of p.extraDeletes ?? []) s.line(`delete element ${t} ${d.map} { ${d.key} }`);
  for (const a of adds) s.line(a.text, a.owner);
  for (const name of oldChains) if (!newChains.has(name)) s.line(`delete chain ${t} ${name}`);
  return s.done();
}

/** Removes the table if it exists (creating it empty first makes the delete never fail). */
export function renderClear(table: string): string {
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}
