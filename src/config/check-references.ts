import type { ClusterDoc, Instance, NodeDoc } from '../model/cluster-schema.ts';
import { unsupportedOn } from '../model/dataplane-support.ts';
import type { Diagnostic, Severity } from '../model/diagnostic.ts';
import { canonicalIp, type Family, parseCidr } from '../model/ip.ts';
import { hostPort, instanceNodes, virtualServerNodes } from '../model/node-view.ts';
import type { Located, PathSeg, Position } from '../model/repository.ts';
import { suggestion } from './did-you-mean.ts';
import { displayPath } from './display-path.ts';

// What the schema of one document cannot see: names that must be unique, names that must
// refer to something defined elsewhere in the repository, and combinations keepalived
// refuses. Runs on documents that passed their schema.

/** A located document that can also point at the key a map entry was written under. */
export interface SourceDoc<T> extends Located<T> {
  locateKey?(path: readonly PathSeg[]): Position | undefined;
}

export interface ReferenceInput {
  cluster: SourceDoc<ClusterDoc>;
  /** Node documents that passed their schema. */
  nodes: readonly SourceDoc<NodeDoc>[];
  /** Every node with a file under nodes/, valid or not: what a node name may refer to. */
  nodeNames: ReadonlySet<string>;
}

type Report = (
  src: SourceDoc<unknown>,
  path: readonly PathSeg[],
  message: string,
  opts?: { onKey?: boolean; severity?: Severity },
) => void;

export function checkReferences(input: ReferenceInput): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report: Report = (src, path, message, opts = {}) => {
    const pos = opts.onKey && src.locateKey ? src.locateKey(path) : src.locate(path);
    const d: Diagnostic = { severity: opts.severity ?? 'error', file: src.file, message };
    if (pos) {
      d.line = pos.line;
      d.col = pos.col;
    }
    const shown = displayPath(src.doc, path);
    if (shown) d.path = shown;
    out.push(d);
  };
  checkUniqueNames(input.cluster, report);
  checkSyncGroups(input.cluster, report);
  checkTrackRefs(input.cluster, report);
  checkNodeRefs(input, report);
  checkVirtualServers(input.cluster, input.nodeNames, report);
  checkVipFamilies(input.cluster, report);
  checkPinnedDataplanes(input, report);
  return out;
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const lineOf = (src: SourceDoc<unknown>, path: readonly PathSeg[]): string => {
  const p = src.locate(path);
  return p ? ` (first on line ${p.line})` : '';
};

function checkUniqueNames(cluster: SourceDoc<ClusterDoc>, report: Report): void {
  const doc = cluster.doc;
  const lists: [keyof ClusterDoc, string, readonly { name?: string | undefined }[] | undefined][] = [
    ['instances', 'instance', doc.instances],
    ['syncGroups', 'sync group', doc.syncGroups],
    ['scripts', 'script', doc.scripts],
    ['trackProcesses', 'track process', doc.trackProcesses],
    ['trackFiles', 'track file', doc.trackFiles],
    ['virtualServerGroups', 'virtual server group', doc.virtualServerGroups],
    ['virtualServers', 'virtual server', doc.virtualServers],
  ];
  for (const [field, what, list] of lists) {
    const first = new Map<string, number>();
    for (const [i, item] of (list ?? []).entries()) {
      if (item.name === undefined) continue;
      const earlier = first.get(item.name);
      if (earlier === undefined) first.set(item.name, i);
      else
        report(
          cluster,
          [field, i, 'name'],
          `duplicate ${what} name "${item.name}"${lineOf(cluster, [field, earlier, 'name'])}`,
        );
    }
  }
}

function checkSyncGroups(cluster: SourceDoc<ClusterDoc>, report: Report): void {
  const names = (cluster.doc.instances ?? []).map((i) => i.name);
  const known = new Set(names);
  const member = new Map<string, { group: string; path: PathSeg[] }>();
  for (const [g, group] of (cluster.doc.syncGroups ?? []).entries()) {
    for (const [j, inst] of group.instances.entries()) {
      const path: PathSeg[] = ['syncGroups', g, 'instances', j];
      if (!known.has(inst)) {
        report(cluster, path, `no instance "${inst}" in instances${suggestion(inst, names)}`);
        continue;
      }
      const earlier = member.get(inst);
      if (earlier === undefined) {
        member.set(inst, { group: group.name, path });
        continue;
      }
      const where = cluster.locate(earlier.path);
      const line = where ? ` (line ${where.line})` : '';
      report(
        cluster,
        path,
        earlier.group === group.name
          ? `instance "${inst}" is listed twice in this sync group${line}`
          : `instance "${inst}" is already in sync group "${earlier.group}"${line}; an instance belongs to one sync group at most`,
      );
    }
  }
}

type TrackRef = string | { name: string };

function checkTrackRefs(cluster: SourceDoc<ClusterDoc>, report: Report): void {
  const doc = cluster.doc;
  const defined = {
    scripts: { what: 'script', list: 'scripts', names: (doc.scripts ?? []).map((s) => s.name) },
    processes: {
      what: 'track process',
      list: 'trackProcesses',
      names: (doc.trackProcesses ?? []).map((s) => s.name),
    },
    files: { what: 'track file', list: 'trackFiles', names: (doc.trackFiles ?? []).map((s) => s.name) },
  } as const;
  const owners: [PathSeg[], Instance['track']][] = [
    ...(doc.instances ?? []).map((inst, i): [PathSeg[], Instance['track']] => [['instances', i], inst.track]),
    ...(doc.syncGroups ?? []).map((sg, i): [PathSeg[], Instance['track']] => [['syncGroups', i], sg.track]),
  ];
  for (const [base, track] of owners) {
    for (const kind of ['scripts', 'processes', 'files'] as const) {
      const { what, list, names } = defined[kind];
      const refs: readonly TrackRef[] = track?.[kind] ?? [];
      for (const [j, ref] of refs.entries()) {
        const name = typeof ref === 'string' ? ref : ref.name;
        if (names.includes(name)) continue;
        report(
          cluster,
          [...base, 'track', kind, j],
          `no ${what} "${name}" in ${list}${suggestion(name, names)}`,
        );
      }
    }
  }
  const files = defined.files.names;
  for (const [v, vs] of (doc.virtualServers ?? []).entries()) {
    for (const [r, rs] of (vs.realServers ?? []).entries()) {
      for (const [c, check] of (rs.checks ?? []).entries()) {
        if (check.type !== 'file' || files.includes(check.file)) continue;
        report(
          cluster,
          ['virtualServers', v, 'realServers', r, 'checks', c, 'file'],
          `no track file "${check.file}" in trackFiles${suggestion(check.file, files)}`,
        );
      }
    }
  }
}

function checkNodeRefs({ cluster, nodes, nodeNames }: ReferenceInput, report: Report): void {
  const all = [...nodeNames].sort();
  const noNode = (name: string) =>
    `no node "${name}": there is no nodes/${name}.yaml${suggestion(name, all)}`;
  const byName = new Map(nodes.map((n) => [n.doc.metadata.name, n]));
  const instances = cluster.doc.instances ?? [];

  for (const [i, inst] of instances.entries()) {
    const base: PathSeg[] = ['instances', i];
    for (const [j, n] of (inst.nodes ?? []).entries()) {
      if (!nodeNames.has(n)) report(cluster, [...base, 'nodes', j], noNode(n));
    }
    for (const field of ['priority', 'interface', 'state'] as const) {
      const m = inst[field];
      if (!isMap(m)) continue;
      for (const n of Object.keys(m)) {
        if (!nodeNames.has(n)) report(cluster, [...base, field, n], noNode(n), { onKey: true });
      }
    }

    // Nodes whose file did not pass its schema are left out: their overrides are unknown.
    const takingPart = instanceNodes(inst, all).filter((n) => byName.has(n));
    const noInterface: string[] = [];
    for (const n of takingPart) {
      const over = byName.get(n)?.doc.instances?.[inst.name];
      if (isMap(inst.priority) && inst.priority[n] === undefined && over?.priority === undefined) {
        report(
          cluster,
          [...base, 'priority'],
          `node "${n}" takes part but has no priority; add ${n}: <1..254>`,
        );
      }
      const iface = over?.interface ?? (isMap(inst.interface) ? inst.interface[n] : inst.interface);
      if (iface !== undefined) continue;
      if (isMap(inst.interface)) {
        report(
          cluster,
          [...base, 'interface'],
          `node "${n}" takes part but has no interface; add ${n}: <interface>`,
        );
      } else {
        noInterface.push(n);
      }
    }
    if (noInterface.length > 0) {
      const who = noInterface.length === 1 ? `node "${noInterface[0]}"` : `nodes ${noInterface.join(', ')}`;
      report(
        cluster,
        base,
        `no interface for ${who}: set interface (a name, or a map node → name), ` +
          `or instances: { ${inst.name}: { interface: NAME } } in nodes/NAME.yaml`,
      );
    }
  }

  for (const [v, vs] of (cluster.doc.virtualServers ?? []).entries()) {
    for (const [j, n] of (vs.nodes ?? []).entries()) {
      if (!nodeNames.has(n)) report(cluster, ['virtualServers', v, 'nodes', j], noNode(n));
    }
  }

  const instanceNames = instances.map((i) => i.name);
  for (const node of nodes) {
    const name = node.doc.metadata.name;
    for (const key of Object.keys(node.doc.instances ?? {})) {
      const inst = instances.find((i) => i.name === key);
      if (inst === undefined) {
        report(
          node,
          ['instances', key],
          `no instance "${key}" in keepgit.yaml${suggestion(key, instanceNames)}`,
          {
            onKey: true,
          },
        );
      } else if (!instanceNodes(inst, all).includes(name)) {
        report(
          node,
          ['instances', key],
          `node "${name}" does not take part in instance "${key}" (see its nodes, or the keys of its priority map, ` +
            'in keepgit.yaml), so this override has no effect',
          { onKey: true, severity: 'warn' },
        );
      }
    }
  }
}

function checkVirtualServers(
  cluster: SourceDoc<ClusterDoc>,
  nodeNames: ReadonlySet<string>,
  report: Report,
): void {
  const groups = (cluster.doc.virtualServerGroups ?? []).map((g) => g.name);
  const all = [...nodeNames].sort();
  const services = new Map<string, { index: number; nodes: Set<string> }>();
  for (const [v, vs] of (cluster.doc.virtualServers ?? []).entries()) {
    const base: PathSeg[] = ['virtualServers', v];
    const given = (['address', 'fwmark', 'group'] as const).filter((k) => vs[k] !== undefined);
    if (given.length !== 1) {
      report(
        cluster,
        [...base, ...given.slice(1, 2)],
        given.length === 0
          ? 'a virtual server needs one of address, fwmark or group'
          : `${given.join(' and ')} are ${given.length === 2 ? 'both' : 'all'} set; give exactly one of address, fwmark or group`,
      );
      continue;
    }
    if (vs.address !== undefined && vs.port === undefined) {
      report(
        cluster,
        base,
        'missing field "port" (a virtual server on an address needs a port; only fwmark matches every port)',
      );
    }
    if (vs.group !== undefined && !groups.includes(vs.group)) {
      report(
        cluster,
        [...base, 'group'],
        `no virtual server group "${vs.group}" in virtualServerGroups${suggestion(vs.group, groups)}`,
      );
    }

    // The same service defined twice on one node would fight over one IPVS service.
    const proto = vs.protocol ?? 'TCP';
    const [field, key] =
      vs.address !== undefined
        ? ['address', `${hostPort(canonicalIp(vs.address), vs.port ?? 0)}/${proto}`]
        : vs.fwmark !== undefined
          ? ['fwmark', `fwmark ${vs.fwmark}/${proto}`]
          : ['group', `group ${vs.group}/${proto}`];
    const onNodes = new Set(virtualServerNodes(vs, all));
    const earlier = services.get(key);
    if (earlier === undefined) {
      services.set(key, { index: v, nodes: onNodes });
    } else if ([...onNodes].some((n) => earlier.nodes.has(n)) || onNodes.size === 0) {
      report(
        cluster,
        [...base, field],
        `virtual server ${key} is already defined${lineOf(cluster, ['virtualServers', earlier.index])}; ` +
          'merge the two, or give them disjoint nodes',
      );
    }
  }
}

function checkVipFamilies(cluster: SourceDoc<ClusterDoc>, report: Report): void {
  const defaultVersion = cluster.doc.defaults?.vrrp?.version;
  for (const [i, inst] of (cluster.doc.instances ?? []).entries()) {
    const base: PathSeg[] = ['instances', i];
    const families = new Set<Family>();
    for (const vip of inst.vips) {
      const family = parseCidr(typeof vip === 'string' ? vip : vip.address)?.family;
      if (family !== undefined) families.add(family);
    }
    if (families.size > 1) {
      report(
        cluster,
        [...base, 'vips'],
        'mixes IPv4 and IPv6 addresses; keepalived needs one family per instance: ' +
          'move one family to excludedVips (virtual_ipaddress_excluded) or to a second instance',
      );
    }
    const version = inst.version ?? defaultVersion;
    if (version === 2 && families.has(6)) {
      const fromDefaults = inst.version === undefined;
      report(
        cluster,
        fromDefaults ? [...base, 'vips'] : [...base, 'version'],
        `VRRP version 2${fromDefaults ? ' (from defaults.vrrp.version)' : ''} carries IPv4 only, ` +
          'and this instance has IPv6 VIPs; use version: 3',
      );
    }
  }
}

/**
 * A node that pins a dataplane (itself or through the cluster) cannot run what only the
 * other one can do: said at review time, naming the field and what to use instead. Nodes on
 * `auto` are judged by the agent, which knows whether their kernel has IPVS.
 */
function checkPinnedDataplanes(input: ReferenceInput, report: Report): void {
  const { cluster } = input;
  const byNode = new Map(input.nodes.map((n) => [n.doc.metadata.name, n.doc.dataplane]));
  const all = [...input.nodeNames].sort();
  for (const [v, vs] of (cluster.doc.virtualServers ?? []).entries()) {
    for (const kind of ['nftables', 'ipvs'] as const) {
      const pinned = virtualServerNodes(vs, all).filter(
        (n) => (byNode.get(n) ?? cluster.doc.dataplane) === kind,
      );
      if (pinned.length === 0) continue;
      // An unwritten default is located at its virtual server.
      for (const u of unsupportedOn(kind, vs))
        report(
          cluster,
          ['virtualServers', v, ...u.path],
          `${u.message} (dataplane ${kind} on ${pinned.join(', ')})`,
        );
    }
  }
}
