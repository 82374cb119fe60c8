import type { ClusterDoc, NodeDoc, SyncGroup, VirtualServer } from '../model/cluster-schema.ts';
import { API_VERSION } from '../model/common-schema.ts';
import { virtualServerKey } from '../model/node-view.ts';
import { mergeInstances } from './import-merge-instances.ts';
import { setPath } from './import-merge-settings.ts';
import { checkFileReferences } from './import-references.ts';
import {
  type FileImport,
  type ImportOptions,
  type ImportSecret,
  note,
  type Sink,
  type Sited,
  unsupported,
  where,
} from './import-types.ts';
import { firstDifference, sameValue } from './import-values.ts';
import { VRRP_SETTING_DEFAULTS } from './import-vrrp-settings.ts';

// The files of one cluster, one per node, become one Cluster document and a Node document
// per file. Whatever two files define alike is written once; whatever they define
// differently where the model holds one value is reported, and the first file wins.

export interface Merged {
  cluster: ClusterDoc;
  nodes: NodeDoc[];
  secrets: ImportSecret[];
}

function reason(first: Sited<unknown>, value: unknown, what: string): string {
  const at = firstDifference(first.value, value);
  const detail = at && at !== '(the whole value)' ? ` (at ${at})` : '';
  return `differs from ${where(first.pos)}${detail}; the model holds one definition per ${what}`;
}

/**
 * Definitions keyed by `key`, first file first. Returns each definition once, with the
 * nodes whose files define it.
 */
function mergeKeyed<T>(
  files: readonly FileImport[],
  list: (f: FileImport) => readonly Sited<T>[],
  key: (v: T) => string,
  what: string,
  sink: Sink,
): { value: T; nodes: string[] }[] {
  const out = new Map<string, { first: Sited<T>; nodes: string[] }>();
  for (const f of files) {
    const mine = new Map<string, Sited<T>>();
    for (const item of list(f)) {
      const k = key(item.value);
      const twice = mine.get(k);
      if (twice) {
        unsupported(sink, item, `${what} ${k} is already defined at ${where(twice.pos)}: not imported`);
        continue;
      }
      mine.set(k, item);
      const seen = out.get(k);
      if (!seen) out.set(k, { first: item, nodes: [f.node] });
      else {
        seen.nodes.push(f.node);
        if (!sameValue(seen.first.value, item.value))
          unsupported(sink, item, reason(seen.first, item.value, what));
      }
    }
  }
  return [...out.values()].map((e) => ({ value: e.first.value, nodes: e.nodes }));
}

function mergeSyncGroups(
  files: readonly FileImport[],
  renames: Map<FileImport, Map<string, string>>,
  sink: Sink,
): SyncGroup[] {
  const translated = (f: FileImport): Sited<SyncGroup>[] =>
    f.syncGroups.map((g) => {
      const names = renames.get(f) ?? new Map<string, string>();
      const instances: string[] = [];
      for (const m of g.value.instances) {
        const n = names.get(m);
        if (n === undefined) {
          unsupported(
            sink,
            { pos: g.pos, keyword: 'group' },
            `no imported vrrp_instance ${m} in this file: left out of sync group ${g.value.name}`,
          );
        } else if (!instances.includes(n)) instances.push(n);
      }
      return { ...g, value: { ...g.value, instances: instances.sort() } };
    });
  const perFile = new Map(files.map((f) => [f, translated(f)]));
  const merged = mergeKeyed(
    files,
    (f) => perFile.get(f) ?? [],
    (g) => g.name,
    'vrrp_sync_group',
    sink,
  );
  const owner = new Map<string, string>();
  const out: SyncGroup[] = [];
  for (const { value: g } of merged) {
    const instances = g.instances.filter((i) => {
      const other = owner.get(i);
      if (other === undefined) {
        owner.set(i, g.name);
        return true;
      }
      const at = files.flatMap((f) => f.syncGroups).find((s) => s.value.name === g.name);
      unsupported(
        sink,
        { pos: at?.pos ?? { file: '', line: 0 }, keyword: 'group' },
        `vrrp_instance ${i} is already in sync group ${other}; an instance belongs to one sync group at most`,
      );
      return false;
    });
    if (instances.length === 0) {
      const at = files.flatMap((f) => f.syncGroups).find((s) => s.value.name === g.name);
      if (at)
        unsupported(sink, at, `vrrp_sync_group ${g.name} not imported: none of its instances was imported`);
      continue;
    }
    out.push({ ...g, instances });
  }
  return out;
}

/**
 * global_defs VRRP settings: the cluster's defaults where every file agrees; otherwise each
 * file's value moves onto its own instances (unless they set their own), so a difference
 * is reported only where an instance is shared by nodes that disagree.
 */
function clusterDefaults(files: readonly FileImport[], sink: Sink): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const paths = [...new Set(files.flatMap((f) => [...f.vrrpDefaults.keys()]))];
  for (const path of paths) {
    const effective = files.map((f) => f.vrrpDefaults.get(path)?.value ?? VRRP_SETTING_DEFAULTS[path]);
    const first = files.map((f) => f.vrrpDefaults.get(path)).find((v) => v !== undefined) as Sited<unknown>;
    if (effective.every((v) => v !== undefined && sameValue(v, effective[0]))) {
      out.set(path, first.value);
      continue;
    }
    for (const f of files) {
      const mine = f.vrrpDefaults.get(path);
      if (!mine) continue;
      for (const inst of f.instances) if (!inst.settings.has(path)) inst.settings.set(path, mine);
      if (f.instances.length === 0) {
        note(
          sink,
          mine.pos,
          `${mine.keyword} is not the same in every file and this file has no vrrp_instance: left out`,
        );
      }
    }
  }
  return out;
}

function withNodes<T extends object>(e: { value: T; nodes: string[] }, all: readonly string[]): T {
  return e.nodes.length < all.length ? { ...e.value, nodes: e.nodes } : e.value;
}

export function mergeImports(files: readonly FileImport[], sink: Sink, options: ImportOptions = {}): Merged {
  const allNodes = files.map((f) => f.node);
  const nodes = new Map<string, NodeDoc>();
  for (const f of files) {
    const doc: NodeDoc = { apiVersion: API_VERSION, kind: 'Node', metadata: { name: f.node } };
    if (f.routerId) doc.routerId = f.routerId.value;
    if (f.scriptUser) doc.scriptUser = f.scriptUser.value;
    if (f.enableScriptSecurity) doc.enableScriptSecurity = f.enableScriptSecurity.value;
    nodes.set(f.node, doc);
    checkFileReferences(f, sink);
  }

  const defaults: Record<string, unknown> = {};
  for (const [path, v] of clusterDefaults(files, sink)) setPath(defaults, path, v);

  const byName = <T extends { name: string }>(
    list: (f: FileImport) => readonly Sited<T>[],
    what: string,
  ): T[] => mergeKeyed(files, list, (v) => v.name, what, sink).map((e) => e.value);

  const secrets: ImportSecret[] = [];
  const { instances, renames } = mergeInstances(files, nodes, defaults.version, sink, secrets);

  const cluster: ClusterDoc = {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    metadata: { name: options.clusterName ?? 'imported' },
  };
  if (Object.keys(defaults).length > 0)
    cluster.defaults = { vrrp: defaults as NonNullable<ClusterDoc['defaults']>['vrrp'] };
  const scripts = byName((f) => f.scripts, 'vrrp_script');
  if (scripts.length > 0) cluster.scripts = scripts;
  const processes = byName((f) => f.trackProcesses, 'vrrp_track_process');
  if (processes.length > 0) cluster.trackProcesses = processes;
  const trackFiles = byName((f) => f.trackFiles, 'track_file');
  if (trackFiles.length > 0) cluster.trackFiles = trackFiles;
  if (instances.length > 0) cluster.instances = instances;
  const syncGroups = mergeSyncGroups(files, renames, sink);
  if (syncGroups.length > 0) cluster.syncGroups = syncGroups;
  const groups = byName((f) => f.virtualServerGroups, 'virtual_server_group');
  if (groups.length > 0) cluster.virtualServerGroups = groups;
  const servers = mergeKeyed(
    files,
    (f) => f.virtualServers,
    (v: VirtualServer) => virtualServerKey(v),
    'virtual_server',
    sink,
  );
  if (servers.length > 0) cluster.virtualServers = servers.map((e) => withNodes(e, allNodes));
  return { cluster, nodes: [...nodes.values()], secrets };
}
