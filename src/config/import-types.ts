import type {
  ClusterDoc,
  NodeDoc,
  SyncGroup,
  TrackFile,
  TrackProcess,
  VirtualServer,
  VrrpScript,
} from '../model/cluster-schema.ts';
import type { KaNotice, KaPos, KaStatement } from './keepalived-ast.ts';

// The importer's vocabulary: what goes in (parsed files, one per node), what comes out
// (a model plus everything a person must review), and what one file yields before the
// files of a cluster are merged.

export interface ImportInput {
  node: string;
  statements: KaStatement[];
  /** The file the node's configuration came from: positions for an empty file. */
  file?: string;
  /** The parser's notices ($VAR, @host, ...): reported, never lost. */
  notices?: KaNotice[];
}

export interface ImportOptions {
  /** metadata.name of the Cluster; default "imported". */
  clusterName?: string;
}

export interface ImportSecret {
  env: string;
  pos: KaPos;
  instance: string;
}

export interface ImportUnsupported {
  pos: KaPos;
  keyword: string;
  reason: string;
}

export interface ImportNote {
  pos: KaPos;
  message: string;
}

export interface ImportResult {
  cluster: ClusterDoc;
  nodes: NodeDoc[];
  secrets: ImportSecret[];
  unsupported: ImportUnsupported[];
  notes: ImportNote[];
}

/** Where the importer puts what it cannot map, and what a person should know. */
export interface Sink {
  unsupported: ImportUnsupported[];
  notes: ImportNote[];
}

export const newSink = (): Sink => ({ unsupported: [], notes: [] });

export function unsupported(sink: Sink, stmt: { pos: KaPos; keyword: string }, reason: string): void {
  sink.unsupported.push({ pos: stmt.pos, keyword: stmt.keyword, reason });
}

export function note(sink: Sink, pos: KaPos, message: string): void {
  sink.notes.push({ pos, message });
}

export const where = (pos: KaPos): string => `${pos.file}:${pos.line}`;

/** A value with the statement that set it, so a conflict can name both lines. */
export interface Sited<T> {
  value: T;
  pos: KaPos;
  keyword: string;
}

export const sited = <T>(value: T, stmt: { pos: KaPos; keyword: string }): Sited<T> => ({
  value,
  pos: stmt.pos,
  keyword: stmt.keyword,
});

/** Settings keyed by their dotted path in the model ("garp.masterDelay", "notify.master"). */
export type Settings = Map<string, Sited<unknown>>;

/** One vrrp_instance as one file wrote it. */
export interface FileInstance {
  /** The name in the file, made valid for the model. */
  name: string;
  pos: KaPos;
  vrid?: Sited<number>;
  family: 4 | 6;
  /** Canonical VIP addresses, sorted: with vrid and family, what matches instances across files. */
  vipAddresses: string[];
  priority?: Sited<number>;
  state?: Sited<'MASTER' | 'BACKUP'>;
  interface?: Sited<string>;
  preempt?: Sited<boolean>;
  /** The statement that asked for unicast (unicast_peer, unicast_src_ip, ...). */
  unicast?: KaPos;
  unicastSource?: Sited<string>;
  unicastPeers?: Sited<string[]>;
  auth?: { pos: KaPos; pass?: Sited<string> };
  /** Every other field, to be written once for all nodes. */
  settings: Settings;
}

/** Everything one file contributes to the cluster, before merging. */
export interface FileImport {
  node: string;
  file: string;
  /** The global_defs line, where cluster-wide settings missing from this file are reported. */
  globalDefs?: KaPos;
  routerId?: Sited<string>;
  scriptUser?: Sited<string>;
  enableScriptSecurity?: Sited<boolean>;
  /** defaults.vrrp fields from global_defs. */
  vrrpDefaults: Settings;
  scripts: Sited<VrrpScript>[];
  trackProcesses: Sited<TrackProcess>[];
  trackFiles: Sited<TrackFile>[];
  instances: FileInstance[];
  /** Members are this file's instance names; the merge renames them. */
  syncGroups: Sited<SyncGroup>[];
  virtualServerGroups: Sited<NonNullable<ClusterDoc['virtualServerGroups']>[number]>[];
  virtualServers: Sited<VirtualServer>[];
}
