import type { Check, RealServer, VirtualServer } from '../model/cluster-schema.ts';
import { parseCidr } from '../model/ip.ts';
import { SCHEDULERS } from '../model/lvs-schema.ts';
import { CHECK_TYPES, readCheck, TIMING } from './import-checks.ts';
import { dispatch } from './import-keywords.ts';
import { type FileImport, note, type Sink, sited, unsupported } from './import-types.ts';
import {
  arg,
  blockName,
  expectArgs,
  modelName,
  readBool,
  readChoice,
  readInt,
  readIp,
  readScript,
  readSeconds,
} from './import-values.ts';
import type { KaStatement } from './keepalived-ast.ts';

// virtual_server (IP PORT | fwmark N | group NAME) with its real servers, and
// virtual_server_group. Scheduler and forwarding names follow ipvsadm; keepalived's
// aliases (lvs_sched, lvs_method) arrive here already mapped by the keyword table.

type VsDraft = Partial<VirtualServer> & {
  flags: string[];
  granularity?: string;
};
interface VsCtx {
  v: VsDraft;
  sink: Sink;
}
type RsDraft = Partial<RealServer> & { alpha?: boolean; virtualhost?: string };
interface RsCtx {
  v: RsDraft;
  sink: Sink;
}

const FORWARDING = { NAT: 'nat', DR: 'dr', TUN: 'tun' } as const;

function readForwarding(stmt: KaStatement, sink: Sink): 'nat' | 'dr' | 'tun' | undefined {
  const f = readChoice(stmt, sink, FORWARDING);
  if (f === 'tun' && stmt.args.length > 1) {
    unsupported(
      sink,
      stmt,
      `tunnel options ${stmt.args.slice(1).join(' ')} are not supported: plain ipip tunnel imported`,
    );
  } else expectArgs(stmt, sink, 1);
  return f;
}

function timingHandlers<C extends { v: object; sink: Sink }>(): Record<
  string,
  (s: KaStatement, c: C) => void
> {
  const out: Record<string, (s: KaStatement, c: C) => void> = {};
  for (const [kw, t] of Object.entries(TIMING)) {
    out[kw] = (stmt, c) => {
      expectArgs(stmt, c.sink, 1);
      const v = t.read(stmt, c.sink);
      if (v !== undefined) (c.v as Record<string, unknown>)[t.field] = v;
    };
  }
  return out;
}

const scheduler = Object.fromEntries(SCHEDULERS.map((s) => [s, s])) as Record<
  string,
  VirtualServer['scheduler']
>;

const RS: Record<string, (stmt: KaStatement, c: RsCtx) => void> = {
  ...timingHandlers<RsCtx>(),
  weight: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const w = readInt(stmt, c.sink, 0, 65535);
    if (w !== undefined) c.v.weight = w;
  },
  lvs_method: (stmt, c) => {
    const f = readForwarding(stmt, c.sink);
    if (f) c.v.forwarding = f;
  },
  uthreshold: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const n = readInt(stmt, c.sink, 0, 1_000_000);
    if (n !== undefined) c.v.upperThreshold = n;
  },
  lthreshold: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const n = readInt(stmt, c.sink, 0, 1_000_000);
    if (n !== undefined) c.v.lowerThreshold = n;
  },
  inhibit_on_failure: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const b = readBool(stmt, c.sink);
    if (b !== undefined) c.v.inhibitOnFailure = b;
  },
  notify_up: (stmt, c) => notifyScript(stmt, c, 'notifyUp'),
  notify_down: (stmt, c) => notifyScript(stmt, c, 'notifyDown'),
  alpha: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const b = readBool(stmt, c.sink);
    if (b !== undefined) c.v.alpha = b;
  },
  virtualhost: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const h = arg(stmt, c.sink, 0, 'a host name');
    if (h !== undefined) c.v.virtualhost = h;
  },
  ...Object.fromEntries(
    Object.keys(CHECK_TYPES).map((kw) => [
      kw,
      (stmt: KaStatement, c: RsCtx) => {
        const chk = readCheck(stmt, c.sink);
        if (chk) c.v.checks = [...(c.v.checks ?? []), chk];
      },
    ]),
  ),
};

function notifyScript(stmt: KaStatement, c: RsCtx, field: 'notifyUp' | 'notifyDown'): void {
  const s = readScript(stmt, c.sink);
  if (!s) return;
  if (s.user !== undefined)
    unsupported(c.sink, stmt, `running one script as user ${s.user} is not supported`);
  c.v[field] = s.script;
}

function readHostPort(stmt: KaStatement, sink: Sink): { address: string; port?: number } | undefined {
  const address = readIp(stmt, sink, 0);
  if (address === undefined) return undefined;
  if (stmt.args[1] === undefined) return { address };
  const port = readInt(stmt, sink, 0, 65535, 1);
  return port === undefined ? undefined : { address, port };
}

/** A real server's alpha and virtualhost are defaults for its checks; the model keeps them there. */
function pushDown(rs: RsDraft, stmt: KaStatement, sink: Sink): void {
  const { alpha, virtualhost } = rs;
  delete rs.alpha;
  delete rs.virtualhost;
  const checks = (rs.checks ?? []) as (Check & { alpha?: boolean; virtualhost?: string })[];
  if (alpha !== undefined) {
    for (const c of checks) c.alpha ??= alpha;
    if (checks.length === 0) note(sink, stmt.pos, 'real_server alpha has no effect without checks: left out');
  }
  if (virtualhost !== undefined) {
    const http = checks.filter((c) => c.type === 'http' || c.type === 'https');
    for (const c of http) c.virtualhost ??= virtualhost;
    if (http.length === 0)
      note(sink, stmt.pos, 'real_server virtualhost has no effect without HTTP_GET/SSL_GET: left out');
  }
}

function importRealServer(stmt: KaStatement, vs: VsCtx): void {
  const sink = vs.sink;
  expectArgs(stmt, sink, 2, true);
  const hp = readHostPort(stmt, sink);
  if (!hp) {
    unsupported(sink, stmt, 'real_server not imported: it needs a valid address');
    return;
  }
  const rs: RsDraft = { address: hp.address };
  if (hp.port !== undefined) rs.port = hp.port;
  dispatch(stmt.block ?? [], 'realServer', RS, { v: rs, sink }, sink);
  pushDown(rs, stmt, sink);
  vs.v.realServers = [...(vs.v.realServers ?? []), rs as RealServer];
}

const scalar =
  <K extends keyof VsDraft>(field: K, read: (s: KaStatement, k: Sink) => VsDraft[K] | undefined, args = 1) =>
  (stmt: KaStatement, c: VsCtx): void => {
    expectArgs(stmt, c.sink, args);
    const v = read(stmt, c.sink);
    if (v !== undefined) c.v[field] = v;
  };

const schedFlag = (stmt: KaStatement, c: VsCtx): void => {
  expectArgs(stmt, c.sink, 0);
  if (!c.v.flags.includes(stmt.keyword)) c.v.flags.push(stmt.keyword);
};

const VS: Record<string, (stmt: KaStatement, c: VsCtx) => void> = {
  ...timingHandlers<VsCtx>(),
  lb_algo: scalar('scheduler', (s, k) => readChoice(s, k, scheduler)),
  lb_kind: (stmt, c) => {
    const f = readForwarding(stmt, c.sink);
    if (f) c.v.forwarding = f;
  },
  persistence_timeout: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    // Without a value keepalived uses ipvsadm's default of 6 minutes.
    const t = stmt.args.length === 0 ? '6m' : readSeconds(stmt, c.sink, 10_000_000);
    if (t !== undefined) c.v.persistence = t;
  },
  persistence_granularity: scalar('granularity', (s, k) => {
    const g = arg(s, k, 0, 'a netmask such as 255.255.255.0');
    if (g === undefined) return undefined;
    if (!parseCidr(g) && !/^\d{1,3}$/.test(g)) {
      unsupported(k, s, `expected a netmask such as 255.255.255.0, got ${JSON.stringify(g)}`);
      return undefined;
    }
    return g;
  }),
  persistence_engine: scalar('persistenceEngine', (s, k) => arg(s, k, 0, 'a persistence engine name')),
  protocol: scalar('protocol', (s, k) => readChoice(s, k, { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' } as const)),
  ha_suspend: scalar('haSuspend', (s, k) => readBool(s, k)),
  virtualhost: scalar('virtualhost', (s, k) => arg(s, k, 0, 'a host name')),
  alpha: scalar('alpha', (s, k) => readBool(s, k)),
  omega: scalar('omega', (s, k) => readBool(s, k)),
  inhibit_on_failure: scalar('inhibitOnFailure', (s, k) => readBool(s, k)),
  ip_family: scalar('family', (s, k) => readChoice(s, k, { inet: 4, inet6: 6 } as const)),
  ops: scalar('opsScheduling', () => true, 0),
  quorum: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const n = readInt(stmt, c.sink, 1, 1_000_000);
    if (n !== undefined) c.v.quorum = { ...c.v.quorum, value: n };
  },
  hysteresis: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const n = readInt(stmt, c.sink, 0, 1_000_000);
    if (n !== undefined) c.v.quorum = { ...c.v.quorum, hysteresis: n };
  },
  quorum_up: (stmt, c) => quorumScript(stmt, c, 'up'),
  quorum_down: (stmt, c) => quorumScript(stmt, c, 'down'),
  sorry_server: (stmt, c) => {
    expectArgs(stmt, c.sink, 2);
    const hp = readHostPort(stmt, c.sink);
    if (hp) c.v.sorryServer = { ...c.v.sorryServer, ...hp };
  },
  sorry_server_inhibit: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const b = readBool(stmt, c.sink);
    if (b !== undefined) c.v.sorryServer = { ...(c.v.sorryServer ?? { address: '' }), inhibit: b };
  },
  hashed: schedFlag,
  'sh-port': schedFlag,
  'sh-fallback': schedFlag,
  'mh-port': schedFlag,
  'mh-fallback': schedFlag,
  'flag-1': schedFlag,
  'flag-2': schedFlag,
  real_server: importRealServer,
};

function quorumScript(stmt: KaStatement, c: VsCtx, field: 'up' | 'down'): void {
  const s = readScript(stmt, c.sink);
  if (!s) return;
  if (s.user !== undefined)
    unsupported(c.sink, stmt, `running one script as user ${s.user} is not supported`);
  c.v.quorum = { ...c.v.quorum, [field]: s.script };
}

/** flag-1 / flag-2 are ipvsadm's generic names: their meaning depends on the scheduler. */
function schedulerFlags(v: VsDraft, stmt: KaStatement, sink: Sink): string[] {
  const out: string[] = [];
  for (const f of v.flags) {
    let flag = f;
    if (f === 'flag-1' || f === 'flag-2') {
      const s = v.scheduler;
      if (s !== 'sh' && s !== 'mh') {
        unsupported(
          sink,
          { pos: stmt.pos, keyword: f },
          `${f} only has a meaning for the sh and mh schedulers`,
        );
        continue;
      }
      flag = `${s}-${f === 'flag-1' ? 'fallback' : 'port'}`;
    }
    if (!out.includes(flag)) out.push(flag);
  }
  return out;
}

/** keepalived's per-checker defaults where they differ from the model's (retry 1, delay_before_retry 1s). */
const CHECK_DEFAULTS: Partial<Record<Check['type'], { retry?: number; delayBeforeRetry?: string }>> = {
  http: { delayBeforeRetry: '3s' },
  https: { delayBeforeRetry: '3s' },
  dns: { retry: 3 },
  misc: { retry: 0 },
};

function keepCheckDefaults(vs: Partial<VirtualServer>): void {
  for (const rs of vs.realServers ?? []) {
    for (const c of rs.checks ?? []) {
      const d = CHECK_DEFAULTS[c.type];
      if (!d) continue;
      const chk = c as Check & { retry?: number; delayBeforeRetry?: string; delayLoop?: string };
      if (
        d.retry !== undefined &&
        chk.retry === undefined &&
        rs.retry === undefined &&
        vs.retry === undefined
      ) {
        chk.retry = d.retry;
      }
      if (
        d.delayBeforeRetry !== undefined &&
        chk.delayBeforeRetry === undefined &&
        rs.delayBeforeRetry === undefined &&
        vs.delayBeforeRetry === undefined
      ) {
        chk.delayBeforeRetry = d.delayBeforeRetry;
      }
    }
  }
}

/** What a virtual_server line names: `IP PORT`, `fwmark N` or `group NAME`; else why not. */
function readService(stmt: KaStatement, sink: Sink): VsDraft | string {
  const a = stmt.args;
  expectArgs(stmt, sink, 2, true);
  if (a[0] === 'fwmark') {
    const m = readInt(stmt, sink, 1, 0xffffffff, 1);
    return m === undefined ? 'it needs a fwmark 1..4294967295' : { flags: [], fwmark: m };
  }
  if (a[0] === 'group') {
    const g = arg(stmt, sink, 1, 'a virtual_server_group name');
    return g === undefined ? 'it needs a group name' : { flags: [], group: modelName(g) };
  }
  const hp = readHostPort(stmt, sink);
  if (!hp) return 'it needs an address and port';
  if (hp.port === undefined)
    return 'a virtual server on an address needs a port (use fwmark to match every port)';
  return { flags: [], address: hp.address, port: hp.port };
}

export function importVirtualServer(stmt: KaStatement, f: FileImport, sink: Sink): void {
  const v = readService(stmt, sink);
  if (typeof v === 'string') {
    unsupported(sink, stmt, `virtual_server not imported: ${v}`);
    return;
  }
  dispatch(stmt.block ?? [], 'virtualServer', VS, { v, sink }, sink);
  const { flags: _flags, granularity, ...vs } = v;
  const sf = schedulerFlags(v, stmt, sink);
  if (sf.length > 0) vs.schedulerFlags = sf as VirtualServer['schedulerFlags'];
  if (granularity !== undefined) {
    if (typeof vs.persistence !== 'string')
      note(sink, stmt.pos, 'persistence_granularity without persistence_timeout: timeout 6m');
    vs.persistence = { timeout: typeof vs.persistence === 'string' ? vs.persistence : '6m', granularity };
  }
  if (vs.sorryServer && !vs.sorryServer.address) {
    unsupported(sink, stmt, 'sorry_server_inhibit without a sorry_server: left out');
    delete vs.sorryServer;
  }
  keepCheckDefaults(vs);
  f.virtualServers.push(sited(vs as VirtualServer, stmt));
}

type Member = NonNullable<FileImport['virtualServerGroups'][number]['value']['members']>[number];

/** `A.B.C.D[-E|/NN] [PORT]` or `fwmark N [inet|inet6]`. */
function readMember(line: KaStatement, sink: Sink): Member | undefined {
  if (line.block) unsupported(sink, line, 'unexpected { block } ignored');
  if (line.keyword === 'fwmark') {
    const m = readInt(line, sink, 1, 0xffffffff, 0);
    if (line.args.length > 1)
      unsupported(sink, line, 'the address family of a group fwmark is not supported: left out');
    return m === undefined ? undefined : { fwmark: m };
  }
  const probe: KaStatement = { ...line, args: [line.keyword, ...line.args] };
  const m = /^(\d+\.\d+\.\d+\.)(\d+)(?:-(\d+)|\/(\d+))?$/.exec(line.keyword);
  let address: string | undefined;
  let range: number | undefined;
  if (m && (m[3] !== undefined || m[4] !== undefined)) {
    const base = `${m[1]}${m[2]}`;
    const first = Number(m[2]);
    let last = m[3] !== undefined ? Number(m[3]) : undefined;
    if (m[4] !== undefined) {
      const prefix = Number(m[4]);
      if (prefix >= 24 && prefix <= 32) last = first + 2 ** (32 - prefix) - 1;
    }
    if (last === undefined || last < first || last > 255 || !parseCidr(base)) {
      unsupported(
        sink,
        line,
        `expected A.B.C.D, A.B.C.D-E or a /24../32 range, got ${JSON.stringify(line.keyword)}`,
      );
      return undefined;
    }
    address = base;
    range = last;
  } else address = readIp(probe, sink, 0);
  if (address === undefined) return undefined;
  expectArgs(probe, sink, 2);
  const port = probe.args[1] === undefined ? undefined : readInt(probe, sink, 0, 65535, 1);
  return { address, ...(port === undefined ? {} : { port }), ...(range === undefined ? {} : { range }) };
}

export function importVirtualServerGroup(stmt: KaStatement, f: FileImport, sink: Sink): void {
  const name = blockName(stmt, sink, 'virtual_server_group');
  if (name === undefined) return;
  const members = (stmt.block ?? []).flatMap((l) => readMember(l, sink) ?? []);
  if (members.length === 0) {
    unsupported(sink, stmt, `virtual_server_group ${name} not imported: it has no valid members`);
    return;
  }
  f.virtualServerGroups.push(sited({ name, members }, stmt));
}
