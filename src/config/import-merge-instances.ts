import type { Instance, NodeDoc } from '../model/cluster-schema.ts';
import { mergeSettings, setPath } from './import-merge-settings.ts';
import {
  type FileImport,
  type FileInstance,
  type ImportSecret,
  note,
  type Sink,
  type Sited,
  unsupported,
  where,
} from './import-types.ts';
import { sameValue } from './import-values.ts';
import { VRRP_SETTING_DEFAULTS } from './import-vrrp-settings.ts';

// The vrrp_instances of all files become the cluster's instances. Files describe the same
// instance when VRID, address family and VIP addresses agree (the names may differ); what
// differs per node goes into per-node maps, node overrides or node interfaces, and what
// the model holds once is merged, with every conflict reported.

interface Member {
  f: FileImport;
  inst: FileInstance;
}

export interface InstanceMerge {
  instances: Instance[];
  /** Per file: the file's instance name → the merged instance's name. */
  renames: Map<FileImport, Map<string, string>>;
}

const keyOf = (i: FileInstance): string => `${i.vrid?.value}/${i.family}/${i.vipAddresses.join(',')}`;

export function envNameFor(instance: string, taken: Set<string>): string {
  const base = `KEEPGIT_VRRP_PASS_${instance
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')}`;
  let env = base;
  for (let n = 2; taken.has(env); n++) env = `${base}_${n}`;
  taken.add(env);
  return env;
}

function groupMembers(files: readonly FileImport[], sink: Sink): Member[][] {
  const groups: Member[][] = [];
  for (const f of files) {
    const seen = new Map<string, FileInstance>();
    for (const inst of f.instances) {
      const twice = seen.get(inst.name);
      if (twice) {
        unsupported(
          sink,
          { pos: inst.pos, keyword: 'vrrp_instance' },
          `vrrp_instance ${inst.name} is already defined at ${where(twice.pos)}: not imported`,
        );
        continue;
      }
      seen.set(inst.name, inst);
      const key = keyOf(inst);
      const g = groups.find((m) => keyOf((m[0] as Member).inst) === key && !m.some((x) => x.f === f));
      if (g) g.push({ f, inst });
      else groups.push([{ f, inst }]);
    }
  }
  return groups;
}

/** One value per node for a field the model holds per node. */
const perNode = <T>(members: readonly Member[], pick: (i: FileInstance) => Sited<T> | undefined) =>
  members.flatMap((m) => {
    const s = pick(m.inst);
    return s ? [{ node: m.f.node, s }] : [];
  });

function mergeUnicast(
  members: readonly Member[],
  nodes: Map<string, NodeDoc>,
  sources: Map<string, Map<string, Sited<string>>>,
  sink: Sink,
): Instance['unicast'] {
  const uni = members.find((m) => m.inst.unicast);
  if (!uni) return undefined;
  for (const m of members) {
    if (m.inst.unicast) continue;
    unsupported(
      sink,
      { pos: m.inst.pos, keyword: 'unicast_peer' },
      `this node sends multicast adverts, but ${where(uni.inst.unicast as NonNullable<FileInstance['unicast']>)} sends unicast; the model holds one mode per instance`,
    );
  }
  // The source each member's node uses on the instance's interface: written, or inferred.
  const own = new Map<Member, string>();
  const setSource = (m: Member, s: Sited<string>): void => {
    const iface = m.inst.interface?.value as string;
    const bySource = sources.get(m.f.node) ?? new Map<string, Sited<string>>();
    sources.set(m.f.node, bySource);
    const before = bySource.get(iface);
    if (before && before.value !== s.value) {
      unsupported(
        sink,
        s,
        `interface ${iface} of this node already has unicast source ${before.value} (${where(before.pos)}); the model holds one per interface`,
      );
      own.set(m, before.value);
      return;
    }
    own.set(m, s.value);
    if (before) return;
    bySource.set(iface, s);
    const doc = nodes.get(m.f.node) as NodeDoc;
    doc.interfaces = { ...doc.interfaces, [iface]: { ...doc.interfaces?.[iface], unicastSource: s.value } };
  };
  for (const m of members) if (m.inst.unicastSource) setSource(m, m.inst.unicastSource);
  const peersOf = (m: Member): string[] => m.inst.unicastPeers?.value ?? [];
  for (const m of members) {
    if (own.has(m) || !m.inst.unicast) continue;
    const known = sources.get(m.f.node)?.get(m.inst.interface?.value as string);
    if (known) {
      own.set(m, known.value);
      continue;
    }
    // Without unicast_src_ip keepalived sends from the interface's address: the one
    // every other node lists as a peer and this node does not.
    const others = members.filter((o) => o !== m && o.inst.unicast);
    if (others.length === 0) continue;
    const mine = new Set(peersOf(m));
    const candidates = peersOf(others[0] as Member).filter(
      (p) => !mine.has(p) && others.every((o) => peersOf(o).includes(p)),
    );
    if (candidates.length !== 1) continue;
    const addr = candidates[0] as string;
    note(
      sink,
      m.inst.pos,
      `vrrp_instance ${m.inst.name} has no unicast_src_ip on ${m.f.node}: using ${addr}, the address the other nodes send their adverts to`,
    );
    setSource(m, { value: addr, pos: m.inst.pos, keyword: 'unicast_src_ip' });
  }
  const allSources = new Set([...own.values()]);
  const rest = members
    .filter((m) => m.inst.unicast)
    .map((m) => ({
      m,
      peers: peersOf(m)
        .filter((p) => !allSources.has(p))
        .sort(),
    }));
  const first = rest[0];
  for (const r of rest.slice(1)) {
    if (first && !sameValue(r.peers, first.peers)) {
      const at = r.m.inst.unicastPeers ?? { pos: r.m.inst.pos, keyword: 'unicast_peer' };
      const firstAt = first.m.inst.unicastPeers?.pos ?? first.m.inst.pos;
      unsupported(
        sink,
        at,
        `the peers other than the imported nodes (${r.peers.join(', ') || 'none'}) differ from ${where(firstAt)} (${first.peers.join(', ') || 'none'}); the model holds one list of extra peers per instance`,
      );
    }
  }
  if (members.length === 1 && first && first.peers.length === 0) {
    note(
      sink,
      uni.inst.pos,
      `vrrp_instance ${uni.inst.name} is in unicast mode but has no peers: add them (unicast.peers) or the other nodes`,
    );
  }
  return first && first.peers.length > 0 ? { peers: first.peers } : {};
}

function mergeAuth(
  name: string,
  members: readonly Member[],
  sink: Sink,
  secrets: ImportSecret[],
  envs: Set<string>,
): Instance['auth'] {
  const withAuth = members.find((m) => m.inst.auth);
  if (!withAuth) return undefined;
  const firstAuth = withAuth.inst.auth as NonNullable<FileInstance['auth']>;
  for (const m of members) {
    if (m.inst.auth) continue;
    unsupported(
      sink,
      { pos: m.inst.pos, keyword: 'authentication' },
      `this node has no authentication, but ${where(firstAuth.pos)} has; the model holds one per instance`,
    );
  }
  const passes = members.flatMap((m) => (m.inst.auth?.pass ? [m.inst.auth.pass] : []));
  const first = passes[0];
  if (!first) return { type: 'PASS' };
  // keepalived sends only the first 8 characters; passwords equal there interoperate.
  const sent = (p: string) => p.slice(0, 8);
  for (const p of passes.slice(1)) {
    if (sent(p.value) !== sent(first.value)) {
      unsupported(
        sink,
        p,
        `differs from ${where(first.pos)} (passwords not shown); the model holds one password per instance`,
      );
    }
  }
  // An unresolved keepalived parameter ("auth_pass $VRRP_PASS", as keepgit export writes
  // a secret reference) already names where the password lives: keep that name.
  const param = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(first.value)?.[1];
  const env = param && !envs.has(param) ? param : envNameFor(name, envs);
  envs.add(env);
  secrets.push({ env, pos: first.pos, instance: name });
  return { type: 'PASS', secretRef: { env } };
}

function mergePreempt(
  name: string,
  members: readonly Member[],
  nodes: Map<string, NodeDoc>,
): boolean | undefined {
  if (!members.some((m) => m.inst.preempt)) return undefined;
  const value = (m: Member) => m.inst.preempt?.value ?? true;
  const common = value(members[0] as Member);
  for (const m of members.slice(1)) {
    if (value(m) === common) continue;
    const doc = nodes.get(m.f.node) as NodeDoc;
    doc.instances = { ...doc.instances, [name]: { ...doc.instances?.[name], preempt: value(m) } };
  }
  return common;
}

export function mergeInstances(
  files: readonly FileImport[],
  nodes: Map<string, NodeDoc>,
  defaultVersion: unknown,
  sink: Sink,
  secrets: ImportSecret[],
): InstanceMerge {
  const multi = files.length > 1;
  const renames = new Map<FileImport, Map<string, string>>(files.map((f) => [f, new Map()]));
  const used = new Set<string>();
  const envs = new Set<string>();
  const sources = new Map<string, Map<string, Sited<string>>>();
  const instances: Instance[] = [];
  for (const members of groupMembers(files, sink)) {
    const head = members[0] as Member;
    let name = head.inst.name;
    if (used.has(name)) {
      let n = `${name}-${head.f.node}`.slice(0, 63);
      for (let k = 2; used.has(n); k++) n = `${name}-${k}`;
      note(
        sink,
        head.inst.pos,
        `vrrp_instance ${name} is named ${n}: another instance with different VRID or VIPs has its name`,
      );
      name = n;
    }
    used.add(name);
    for (const m of members) {
      (renames.get(m.f) as Map<string, string>).set(m.inst.name, name);
      if (m !== head && m.inst.name !== head.inst.name) {
        note(
          sink,
          m.inst.pos,
          `vrrp_instance ${m.inst.name} is merged into ${name} (${where(head.inst.pos)}): same VRID ${head.inst.vrid?.value} and VIPs`,
        );
      }
    }
    const inst: Record<string, unknown> = { name, vrid: head.inst.vrid?.value };
    const participants = members.map((m) => m.f.node);
    if (participants.length < files.length) inst.nodes = participants;

    const ifaces = perNode(members, (i) => i.interface);
    if (ifaces.length > 0) {
      const all = ifaces.every((x) => x.s.value === ifaces[0]?.s.value) && ifaces.length === members.length;
      inst.interface = all ? ifaces[0]?.s.value : Object.fromEntries(ifaces.map((x) => [x.node, x.s.value]));
    }
    const prio = members.map((m) => {
      const explicit = m.inst.priority?.value;
      if (explicit === undefined && m.inst.state?.value === 'MASTER') {
        note(
          sink,
          m.inst.pos,
          `vrrp_instance ${m.inst.name} has no priority: keepalived gives state MASTER priority 255`,
        );
      }
      return { node: m.f.node, explicit, value: explicit ?? (m.inst.state?.value === 'MASTER' ? 255 : 100) };
    });
    if (multi) inst.priority = Object.fromEntries(prio.map((p) => [p.node, p.value]));
    else if (prio[0] && (prio[0].explicit !== undefined || prio[0].value !== 100))
      inst.priority = prio[0].value;
    const states = perNode(members, (i) => i.state);
    if (states.length > 0)
      inst.state = multi ? Object.fromEntries(states.map((x) => [x.node, x.s.value])) : states[0]?.s.value;

    const preempt = mergePreempt(name, members, nodes);
    if (preempt !== undefined) inst.preempt = preempt;

    const merged = mergeSettings(
      members.map((m) => ({ pos: m.inst.pos, settings: m.inst.settings })),
      sink,
      'instance',
      VRRP_SETTING_DEFAULTS,
    );
    for (const [path, v] of merged) setPath(inst, path, v);
    if (head.inst.family === 6) {
      const set = members.map((m) => m.inst.settings.get('version')).find((s) => s !== undefined);
      if (inst.version === 2 && set) {
        // keepalived itself runs IPv6 instances as version 3, silently for vrrp_version.
        if (set.keyword === 'vrrp_version') inst.version = 3;
        else {
          unsupported(
            sink,
            set,
            'IPv6 instances run VRRP version 3 (keepalived ignores version 2 for them): version 3 imported',
          );
          inst.version = 3;
        }
      }
      if (inst.version === undefined && defaultVersion === 2) {
        inst.version = 3;
        note(
          sink,
          head.inst.pos,
          `vrrp_instance ${name} has IPv6 VIPs: version 3 (keepalived always uses it for IPv6)`,
        );
      }
    }
    const auth = mergeAuth(name, members, sink, secrets, envs);
    if (auth) inst.auth = auth;
    const unicast = mergeUnicast(members, nodes, sources, sink);
    if (unicast) inst.unicast = unicast;
    instances.push(inst as Instance);
  }
  return { instances, renames };
}
