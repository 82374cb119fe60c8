import type {
  Check,
  ClusterDoc,
  Instance,
  NodeDoc,
  RealServer,
  Vip,
  VirtualServer,
} from './cluster-schema.ts';
import { parseDuration } from './duration.ts';
import { canonicalIp, type Family, parseCidr } from './ip.ts';

// One node's share of the desired state, with every default applied and every
// duration in milliseconds. The planner diffs two of these; the agent runs one.
// Defaults are keepalived's, so an imported fleet behaves as it did.

export const VRRP_DEFAULTS = {
  version: 2 as 2 | 3,
  advertIntervalMs: 1000,
  priority: 100,
  preempt: true,
  preemptDelayMs: 0,
  garp: {
    masterDelayMs: 5000,
    masterRepeat: 5,
    masterRefreshMs: 0,
    masterRefreshRepeat: 1,
    intervalMs: 0,
    naIntervalMs: 0,
  },
};

export const CHECK_DEFAULTS = {
  connectTimeoutMs: 5000,
  retry: 1,
  delayBeforeRetryMs: 1000,
  delayLoopMs: 60_000,
};

export interface ViewVip {
  /** Canonical "address/prefix". */
  address: string;
  family: Family;
  dev?: string;
  label?: string;
  scope?: string;
  brd?: string;
}

export interface ViewTrack {
  name: string;
  weight?: number;
  reverse?: boolean;
}

export interface ViewInstance {
  name: string;
  vrid: number;
  interface: string;
  family: Family;
  version: 2 | 3;
  priority: number;
  state?: 'MASTER' | 'BACKUP';
  advertIntervalMs: number;
  preempt: boolean;
  preemptDelayMs: number;
  vips: ViewVip[];
  excludedVips: ViewVip[];
  auth?: { type: 'PASS'; secretRef?: { env: string } | { file: string }; plaintext: boolean };
  unicast?: { source?: string; peers: string[] };
  garp: {
    masterDelayMs: number;
    masterRepeat: number;
    masterRefreshMs: number;
    masterRefreshRepeat: number;
    intervalMs: number;
    naIntervalMs: number;
    lowerPrioDelayMs: number;
    lowerPrioRepeat: number;
  };
  flags: {
    strict: boolean;
    skipCheckAdvAddr: boolean;
    checkUnicastSrc: boolean;
    lowerPrioNoAdvert: boolean;
    higherPrioSendAdvert: boolean;
    acceptVips: boolean;
    dontTrackPrimary: boolean;
  };
  track: { interfaces: ViewTrack[]; scripts: ViewTrack[]; processes: ViewTrack[]; files: ViewTrack[] };
  notify: NonNullable<Instance['notify']>;
  /** The other nodes of the instance, with their priorities: for elections in the plan. */
  peers: { node: string; priority: number; preempt: boolean }[];
  syncGroup?: string;
}

export interface ViewCheck {
  type: Check['type'];
  connectTimeoutMs: number;
  retry: number;
  delayBeforeRetryMs: number;
  delayLoopMs: number;
  warmupMs: number;
  /** The remaining kind-specific fields, as written. */
  spec: Record<string, unknown>;
}

export interface ViewRealServer {
  /** "address:port" (IPv6 in brackets). */
  key: string;
  address: string;
  port: number;
  weight: number;
  forwarding: 'nat' | 'dr' | 'tun';
  inhibitOnFailure: boolean;
  checks: ViewCheck[];
  notifyUp?: string;
  notifyDown?: string;
  upperThreshold?: number;
  lowerThreshold?: number;
}

export interface ViewVirtualServer {
  /** Stable identity: name if given, else ADDRESS:PORT/PROTO, fwmark:N or group:NAME. */
  key: string;
  name?: string;
  address?: string;
  fwmark?: number;
  group?: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  family?: 4 | 6;
  scheduler: NonNullable<VirtualServer['scheduler']>;
  schedulerFlags: string[];
  forwarding: 'nat' | 'dr' | 'tun';
  sourceNat?: 'masquerade' | string;
  persistence?: { timeoutMs: number; granularity?: string };
  sorryServer?: NonNullable<VirtualServer['sorryServer']>;
  quorum?: NonNullable<VirtualServer['quorum']>;
  alpha: boolean;
  omega: boolean;
  opsScheduling: boolean;
  haSuspend: boolean;
  /** How long a real server removed by a revision drains at weight 0. */
  drainMs: number;
  virtualhost?: string;
  persistenceEngine?: string;
  realServers: ViewRealServer[];
}

export interface NodeView {
  node: string;
  routerId: string;
  dataplane: 'auto' | 'ipvs' | 'nftables';
  instances: ViewInstance[];
  syncGroups: {
    name: string;
    instances: string[];
    notify: NonNullable<Instance['notify']>;
    track: ViewInstance['track'];
  }[];
  scripts: NonNullable<ClusterDoc['scripts']>;
  trackProcesses: NonNullable<ClusterDoc['trackProcesses']>;
  trackFiles: NonNullable<ClusterDoc['trackFiles']>;
  virtualServerGroups: NonNullable<ClusterDoc['virtualServerGroups']>;
  virtualServers: ViewVirtualServer[];
  scriptUser?: string;
  enableScriptSecurity: boolean;
}

const ms = (d: string | undefined, fallback: number): number =>
  d === undefined ? fallback : (parseDuration(d) ?? fallback);

const pick = <T>(v: T | Record<string, T> | undefined, node: string): T | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && !Array.isArray(v)) return (v as Record<string, T>)[node];
  return v as T;
};

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Which nodes take part in an instance: explicit list, else the keys of a per-node map, else all. */
export function instanceNodes(inst: Instance, allNodes: readonly string[]): string[] {
  if (inst.nodes) return [...inst.nodes];
  for (const m of [inst.priority, inst.interface, inst.state]) if (isMap(m)) return Object.keys(m).sort();
  return [...allNodes];
}

export function virtualServerNodes(vs: VirtualServer, allNodes: readonly string[]): string[] {
  return vs.nodes ? [...vs.nodes] : [...allNodes];
}

function viewVip(v: Vip): ViewVip {
  const o = typeof v === 'string' ? { address: v } : v;
  const c = parseCidr(o.address);
  const out: ViewVip = {
    address: c ? `${c.address}/${c.prefix}` : o.address,
    family: c?.family ?? 4,
  };
  if (typeof v !== 'string') {
    if (v.dev !== undefined) out.dev = v.dev;
    if (v.label !== undefined) out.label = v.label;
    if (v.scope !== undefined) out.scope = v.scope;
    if (v.brd !== undefined) out.brd = v.brd;
  }
  return out;
}

const tracks = (
  refs: ReadonlyArray<string | { name: string; weight?: number; reverse?: boolean }> | undefined,
) => (refs ?? []).map((r): ViewTrack => (typeof r === 'string' ? { name: r } : { ...r }));

export function effectivePriority(inst: Instance, node: NodeDoc | undefined, nodeName: string): number {
  return node?.instances?.[inst.name]?.priority ?? pick(inst.priority, nodeName) ?? VRRP_DEFAULTS.priority;
}

function effectivePreempt(cluster: ClusterDoc, inst: Instance, node: NodeDoc | undefined): boolean {
  return (
    node?.instances?.[inst.name]?.preempt ??
    inst.preempt ??
    cluster.defaults?.vrrp?.preempt ??
    VRRP_DEFAULTS.preempt
  );
}

function viewInstance(
  cluster: ClusterDoc,
  nodes: ReadonlyMap<string, NodeDoc>,
  inst: Instance,
  nodeName: string,
): ViewInstance {
  const node = nodes.get(nodeName);
  const d = cluster.defaults?.vrrp ?? {};
  const over = node?.instances?.[inst.name];
  const vips = inst.vips.map(viewVip);
  const family: Family = vips[0]?.family ?? 4;
  const iface = over?.interface ?? pick(inst.interface, nodeName) ?? '';
  const g = { ...d.garp, ...inst.garp };
  const masterDelayMs = ms(g.masterDelay, VRRP_DEFAULTS.garp.masterDelayMs);
  const masterRepeat = g.masterRepeat ?? VRRP_DEFAULTS.garp.masterRepeat;
  const allNodes = [...nodes.keys()];
  const participants = instanceNodes(inst, allNodes);
  const flag = (k: keyof typeof d & keyof Instance): boolean => Boolean(inst[k] ?? d[k] ?? false);
  const view: ViewInstance = {
    name: inst.name,
    vrid: inst.vrid,
    interface: iface,
    family,
    version: family === 6 ? 3 : (inst.version ?? d.version ?? VRRP_DEFAULTS.version),
    priority: effectivePriority(inst, node, nodeName),
    advertIntervalMs: ms(inst.advertInterval ?? d.advertInterval, VRRP_DEFAULTS.advertIntervalMs),
    preempt: effectivePreempt(cluster, inst, node),
    preemptDelayMs: ms(inst.preemptDelay ?? d.preemptDelay, 0),
    vips,
    excludedVips: (inst.excludedVips ?? []).map(viewVip),
    garp: {
      masterDelayMs,
      masterRepeat,
      masterRefreshMs: ms(g.masterRefresh, 0),
      masterRefreshRepeat: g.masterRefreshRepeat ?? VRRP_DEFAULTS.garp.masterRefreshRepeat,
      intervalMs: ms(g.interval, 0),
      naIntervalMs: ms(g.naInterval, 0),
      lowerPrioDelayMs: ms(g.lowerPrioDelay, masterDelayMs),
      lowerPrioRepeat: g.lowerPrioRepeat ?? masterRepeat,
    },
    flags: {
      strict: flag('strict'),
      skipCheckAdvAddr: flag('skipCheckAdvAddr'),
      checkUnicastSrc: flag('checkUnicastSrc'),
      lowerPrioNoAdvert: flag('lowerPrioNoAdvert'),
      higherPrioSendAdvert: flag('higherPrioSendAdvert'),
      acceptVips: flag('acceptVips'),
      dontTrackPrimary: Boolean(inst.dontTrackPrimary),
    },
    track: {
      interfaces: tracks(inst.track?.interfaces),
      scripts: tracks(inst.track?.scripts),
      processes: tracks(inst.track?.processes),
      files: tracks(inst.track?.files),
    },
    notify: { ...inst.notify },
    peers: participants
      .filter((n) => n !== nodeName)
      .map((n) => ({
        node: n,
        priority: effectivePriority(inst, nodes.get(n), n),
        preempt: effectivePreempt(cluster, inst, nodes.get(n)),
      })),
  };
  const state = over?.state ?? pick(inst.state, nodeName);
  if (state) view.state = state;
  if (inst.auth) {
    view.auth = { type: inst.auth.type, plaintext: inst.auth.password !== undefined };
    if (inst.auth.secretRef) view.auth.secretRef = inst.auth.secretRef;
  }
  if (inst.unicast) {
    const source = node?.interfaces?.[iface]?.unicastSource;
    const others = participants
      .filter((n) => n !== nodeName)
      .flatMap((n) => {
        const otherIf = nodes.get(n)?.instances?.[inst.name]?.interface ?? pick(inst.interface, n) ?? '';
        const src = nodes.get(n)?.interfaces?.[otherIf]?.unicastSource;
        return src ? [src] : [];
      });
    const peers = [...new Set([...others, ...(inst.unicast.peers ?? [])])].filter((p) => p !== source);
    view.unicast = { peers };
    if (source) view.unicast.source = source;
  }
  const group = cluster.syncGroups?.find((sg) => sg.instances.includes(inst.name));
  if (group) view.syncGroup = group.name;
  return view;
}

export function virtualServerKey(vs: VirtualServer): string {
  if (vs.name) return vs.name;
  const proto = vs.protocol ?? 'TCP';
  if (vs.fwmark !== undefined) return `fwmark:${vs.fwmark}/${proto}`;
  if (vs.group !== undefined) return `group:${vs.group}/${proto}`;
  return `${hostPort(vs.address ?? '', vs.port ?? 0)}/${proto}`;
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** keepalived's per-kind defaults: DNS retries 3 times, MISC not at all, the others once. */
function kindRetry(type: Check['type']): number {
  return type === 'dns' ? 3 : type === 'misc' ? 0 : CHECK_DEFAULTS.retry;
}

/** keepalived waits delay_loop before a DNS retry, 3 s before an HTTP(S) one, 1 s otherwise. */
function kindDelayBeforeRetry(type: Check['type'], delayLoopMs: number): number {
  if (type === 'dns') return delayLoopMs;
  return type === 'http' || type === 'https' ? 3000 : CHECK_DEFAULTS.delayBeforeRetryMs;
}

function viewCheck(c: Check, vs: VirtualServer, rs: RealServer, cluster: ClusterDoc): ViewCheck {
  const d = cluster.defaults?.check ?? {};
  const { type, connectTimeout, retry, delayBeforeRetry, delayLoop, warmup, ...spec } = c;
  const delayLoopMs = ms(
    delayLoop ?? rs.delayLoop ?? vs.delayLoop ?? d.delayLoop,
    CHECK_DEFAULTS.delayLoopMs,
  );
  return {
    type,
    connectTimeoutMs: ms(
      connectTimeout ?? rs.connectTimeout ?? vs.connectTimeout ?? d.connectTimeout,
      CHECK_DEFAULTS.connectTimeoutMs,
    ),
    retry: retry ?? rs.retry ?? vs.retry ?? d.retry ?? kindRetry(type),
    delayBeforeRetryMs: ms(
      delayBeforeRetry ?? rs.delayBeforeRetry ?? vs.delayBeforeRetry ?? d.delayBeforeRetry,
      kindDelayBeforeRetry(type, delayLoopMs),
    ),
    delayLoopMs,
    warmupMs: ms(warmup ?? rs.warmup ?? vs.warmup, 0),
    spec: withoutFalse(spec) as Record<string, unknown>,
  };
}

/** Every boolean of a check defaults to false: `dynamic: false` and no `dynamic` are one. */
function withoutFalse(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.some(hasFalse) ? v.map(withoutFalse) : v;
  if (!hasFalse(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== false && x !== undefined) out[k] = withoutFalse(x);
  return out;
}

/** Whether a value holds a false or undefined anywhere: most specs do not, and stay shared. */
function hasFalse(v: unknown): boolean {
  if (v === false || v === undefined) return true;
  if (v === null || typeof v !== 'object') return false;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (hasFalse(x)) return true;
  return false;
}

/** keepgit's, not keepalived's: long enough for short requests to finish. */
const DEFAULT_DRAIN_MS = 10_000;

function viewVirtualServer(vs: VirtualServer, cluster: ClusterDoc): ViewVirtualServer {
  const port = vs.port ?? 0;
  const forwarding = vs.forwarding ?? 'nat';
  const out: ViewVirtualServer = {
    key: virtualServerKey(vs),
    port,
    protocol: vs.protocol ?? 'TCP',
    scheduler: vs.scheduler ?? 'wlc',
    schedulerFlags: [...(vs.schedulerFlags ?? [])],
    forwarding,
    alpha: vs.alpha ?? false,
    omega: vs.omega ?? false,
    opsScheduling: vs.opsScheduling ?? false,
    haSuspend: vs.haSuspend ?? false,
    drainMs: ms(vs.drainTime, DEFAULT_DRAIN_MS),
    realServers: (vs.realServers ?? []).map((rs) => {
      const rsPort = rs.port ?? port;
      const r: ViewRealServer = {
        key: hostPort(rs.address, rsPort),
        address: rs.address,
        port: rsPort,
        weight: rs.weight ?? 1,
        forwarding: rs.forwarding ?? forwarding,
        inhibitOnFailure: rs.inhibitOnFailure ?? vs.inhibitOnFailure ?? false,
        checks: (rs.checks ?? []).map((c) => viewCheck(c, vs, rs, cluster)),
      };
      if (rs.notifyUp) r.notifyUp = rs.notifyUp;
      if (rs.notifyDown) r.notifyDown = rs.notifyDown;
      if (rs.upperThreshold !== undefined) r.upperThreshold = rs.upperThreshold;
      if (rs.lowerThreshold !== undefined) r.lowerThreshold = rs.lowerThreshold;
      return r;
    }),
  };
  if (vs.name) out.name = vs.name;
  if (vs.address) out.address = vs.address;
  if (vs.fwmark !== undefined) out.fwmark = vs.fwmark;
  if (vs.group) out.group = vs.group;
  if (vs.family) out.family = vs.family;
  if (vs.persistence) {
    out.persistence =
      typeof vs.persistence === 'string'
        ? { timeoutMs: ms(vs.persistence, 0) }
        : {
            timeoutMs: ms(vs.persistence.timeout, 0),
            ...(vs.persistence.granularity ? { granularity: vs.persistence.granularity } : {}),
          };
  }
  if (vs.sourceNat) out.sourceNat = vs.sourceNat === 'masquerade' ? 'masquerade' : canonicalIp(vs.sourceNat);
  if (vs.sorryServer) out.sorryServer = vs.sorryServer;
  if (vs.quorum) out.quorum = vs.quorum;
  if (vs.virtualhost) out.virtualhost = vs.virtualhost;
  if (vs.persistenceEngine) out.persistenceEngine = vs.persistenceEngine;
  return out;
}

/** What `nodeName` runs. Assumes a repository that passed the loader's checks. */
export function nodeView(cluster: ClusterDoc, nodeDocs: readonly NodeDoc[], nodeName: string): NodeView {
  const nodes = new Map(nodeDocs.map((n) => [n.metadata.name, n]));
  const node = nodes.get(nodeName);
  const all = [...nodes.keys()];
  const instances = (cluster.instances ?? [])
    .filter((i) => instanceNodes(i, all).includes(nodeName))
    .map((i) => viewInstance(cluster, nodes, i, nodeName))
    .sort((a, b) => a.name.localeCompare(b.name));
  const mine = new Set(instances.map((i) => i.name));
  const view: NodeView = {
    node: nodeName,
    routerId: node?.routerId ?? nodeName,
    dataplane: node?.dataplane ?? cluster.dataplane ?? 'auto',
    instances,
    syncGroups: (cluster.syncGroups ?? [])
      .filter((g) => g.instances.some((i) => mine.has(i)))
      .map((g) => ({
        name: g.name,
        instances: g.instances.filter((i) => mine.has(i)),
        notify: { ...g.notify },
        track: {
          interfaces: tracks(g.track?.interfaces),
          scripts: tracks(g.track?.scripts),
          processes: tracks(g.track?.processes),
          files: tracks(g.track?.files),
        },
      })),
    scripts: cluster.scripts ?? [],
    trackProcesses: cluster.trackProcesses ?? [],
    trackFiles: cluster.trackFiles ?? [],
    virtualServerGroups: cluster.virtualServerGroups ?? [],
    virtualServers: (cluster.virtualServers ?? [])
      .filter((vs) => virtualServerNodes(vs, all).includes(nodeName))
      .map((vs) => viewVirtualServer(vs, cluster)),
    enableScriptSecurity: node?.enableScriptSecurity ?? false,
  };
  if (node?.scriptUser) view.scriptUser = node.scriptUser;
  return view;
}
