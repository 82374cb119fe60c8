import type {
  Check,
  ClusterDoc,
  Instance,
  NodeDoc,
  RealServer,
  Vip,
  VirtualServer,
} from '../model/cluster-schema.ts';
import type { Severity } from '../model/diagnostic.ts';
import type { Family } from '../model/ip.ts';
import type { NodeView, ViewCheck } from '../model/node-view.ts';
import type { Located, PathSeg, Repository } from '../model/repository.ts';

// The contract between the policy engine and the rules it runs. A rule reads the whole
// repository through a PolicyContext and answers with violations that point into one
// document; the engine turns them into positioned diagnostics and applies the
// repository's own overrides, so a rule never deals with severity, files or lines.

/** Scalars only: a repository overrides them from YAML, and the engine checks each type. */
export type Params = Readonly<Record<string, number | string | boolean>>;

export interface Violation {
  /** The document the offending value is written in. */
  file: Located<unknown>;
  /** Path into `file.doc`; may run past what is written, the engine locates the nearest ancestor. */
  path: readonly PathSeg[];
  /** Says what is wrong and what to do. Never echoes a secret. */
  message: string;
}

export interface Rule<P extends Params = Params> {
  readonly id: string;
  /** Default severity; a repository may change it under `builtin`. */
  readonly severity: Severity;
  readonly description: string;
  /** Defaults for every parameter the rule takes; the keys are the only ones a repository may set. */
  readonly params?: P;
  check(ctx: PolicyContext, params: P): Violation[];
}

/** Where a value is written (or would be written, when a default applies). */
export interface Site {
  file: Located<unknown>;
  path: PathSeg[];
}

export interface InstanceItem {
  instance: Instance;
  index: number;
  path: PathSeg[];
  /** Nodes taking part that have a node document. */
  nodes: string[];
}

export interface VipItem {
  instance: Instance;
  instanceIndex: number;
  vip: Vip;
  /** Canonical address without the prefix, comparable as a string. */
  address: string;
  prefix: number;
  family: Family;
  /** From excludedVips rather than vips. */
  excluded: boolean;
  path: PathSeg[];
}

export interface VirtualServerItem {
  vs: VirtualServer;
  index: number;
  path: PathSeg[];
  /** Nodes that run it and have a node document. */
  nodes: string[];
}

export interface RealServerItem {
  rs: RealServer;
  vs: VirtualServer;
  vsIndex: number;
  index: number;
  path: PathSeg[];
}

export interface CheckItem {
  check: Check;
  rs: RealServer;
  vs: VirtualServer;
  vsIndex: number;
  rsIndex: number;
  index: number;
  path: PathSeg[];
  /** With every default applied, from the view of a node that runs it; absent when none does. */
  resolved?: ViewCheck;
}

export interface NodeItem {
  name: string;
  located: Located<NodeDoc>;
}

/** An address a node has of its own: interfaces.*.addresses and interfaces.*.unicastSource. */
export interface NodeAddress {
  node: string;
  /** Canonical, without the prefix. */
  address: string;
  located: Located<NodeDoc>;
  path: PathSeg[];
}

export type InstanceSetting =
  | 'priority'
  | 'interface'
  | 'state'
  | 'preempt'
  | 'version'
  | 'advertInterval'
  | 'preemptDelay';

export interface PolicyContext {
  readonly repo: Repository;
  readonly cluster: Located<ClusterDoc>;
  /** Names of the nodes that have a node document, sorted. */
  readonly nodeNames: readonly string[];
  /** One node's resolved view; computed on first use and kept for the run. */
  view(node: string): NodeView;
  node(name: string): NodeItem | undefined;
  nodes(): readonly NodeItem[];
  nodeAddresses(): readonly NodeAddress[];
  instances(): readonly InstanceItem[];
  /** VIPs and excluded VIPs of every instance. */
  vips(): readonly VipItem[];
  virtualServers(): readonly VirtualServerItem[];
  realServers(): readonly RealServerItem[];
  checks(): readonly CheckItem[];
  /**
   * Where an instance setting that applies to `node` is written: the node's override, the
   * instance (its per-node map entry when it has one), the cluster defaults, else the place
   * on the instance where it would go.
   */
  settingSite(item: InstanceItem, key: InstanceSetting, node?: string): Site;
}
