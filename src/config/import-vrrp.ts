import type { Vip } from '../model/cluster-schema.ts';
import { dispatch } from './import-keywords.ts';
import { readTrackRefs } from './import-track.ts';
import {
  type FileImport,
  type FileInstance,
  note,
  type Sink,
  type Sited,
  sited,
  unsupported,
} from './import-types.ts';
import { arg, blockName, expectArgs, readChoice, readInt, readIp, readScript } from './import-values.ts';
import { readVip } from './import-vip.ts';
import { vrrpSettingHandlers } from './import-vrrp-settings.ts';
import type { KaStatement } from './keepalived-ast.ts';

// vrrp_instance, as one file writes it. Per-node values (priority, state, interface,
// preempt, unicast source, password) are kept apart from the settings every node must
// share, so the merge can tell a per-node difference from a conflict.

interface Ctx {
  inst: FileInstance;
  sink: Sink;
  mcastSource?: Sited<string>;
}

type Handler = (stmt: KaStatement, c: Ctx) => void;

export const NOTIFY_KEYWORDS: Record<string, string> = {
  notify_master: 'master',
  notify_backup: 'backup',
  notify_fault: 'fault',
  notify_stop: 'stop',
  notify_deleted: 'deleted',
  notify: 'notify',
  notify_master_rx_lower_pri: 'masterRxLowerPri',
};

/** notify_* handlers storing into `notify.FIELD` of the settings found in the context. */
export function notifyHandlers<C>(
  pick: (c: C) => { settings: Map<string, Sited<unknown>>; sink: Sink },
  keywords: readonly string[],
): Record<string, (stmt: KaStatement, c: C) => void> {
  const out: Record<string, (stmt: KaStatement, c: C) => void> = {};
  for (const kw of keywords) {
    const field = NOTIFY_KEYWORDS[kw] as string;
    out[kw] = (stmt, c) => {
      const { settings, sink } = pick(c);
      if (kw === 'notify_deleted' && stmt.args.length === 0) {
        unsupported(sink, stmt, 'notify_deleted without a script (DELETED sent to notify) is not supported');
        return;
      }
      const s = readScript(stmt, sink);
      if (!s) return;
      if (s.user !== undefined) {
        unsupported(
          sink,
          stmt,
          `running one script as user ${s.user} is not supported (script_user applies to all)`,
        );
      }
      settings.set(`notify.${field}`, sited(s.script, stmt));
    };
  }
  return out;
}

export const TRACK_KEYWORDS: Record<string, { field: string; kind: 'interface' | 'definition' }> = {
  track_interface: { field: 'interfaces', kind: 'interface' },
  track_script: { field: 'scripts', kind: 'definition' },
  track_process: { field: 'processes', kind: 'definition' },
  track_file: { field: 'files', kind: 'definition' },
};

export function trackHandlers<C>(
  pick: (c: C) => { settings: Map<string, Sited<unknown>>; sink: Sink },
): Record<string, (stmt: KaStatement, c: C) => void> {
  const out: Record<string, (stmt: KaStatement, c: C) => void> = {};
  for (const [kw, t] of Object.entries(TRACK_KEYWORDS)) {
    out[kw] = (stmt, c) => {
      const { settings, sink } = pick(c);
      const refs = readTrackRefs(stmt, t.kind, sink);
      const key = `track.${t.field}`;
      const before = settings.get(key);
      // keepalived appends when a track block is repeated.
      const all = [...((before?.value as unknown[] | undefined) ?? []), ...refs];
      if (all.length > 0) settings.set(key, sited(all, before ?? stmt));
    };
  }
  return out;
}

function vipList(
  stmt: KaStatement,
  c: Ctx,
  excluded: boolean,
): { vips: Vip[]; addresses: string[]; families: (4 | 6)[] } {
  expectArgs(stmt, c.sink, 0, true);
  const out = { vips: [] as Vip[], addresses: [] as string[], families: [] as (4 | 6)[] };
  if (!stmt.block) {
    unsupported(c.sink, stmt, 'expected a { block } of addresses');
    return out;
  }
  for (const line of stmt.block) {
    const v = readVip(line, c.sink);
    if (!v) continue;
    if (!excluded && out.families.length > 0 && v.family !== out.families[0]) {
      unsupported(
        c.sink,
        line,
        `IPv${v.family} address among IPv${out.families[0]} VIPs: keepalived needs one family per instance; move it to virtual_ipaddress_excluded`,
      );
      continue;
    }
    out.vips.push(v.vip);
    out.addresses.push(v.address);
    out.families.push(v.family);
  }
  return out;
}

const HANDLERS: Record<string, Handler> = {
  ...vrrpSettingHandlers<Ctx>('instance', (c) => ({ settings: c.inst.settings, sink: c.sink })),
  ...notifyHandlers<Ctx>((c) => ({ settings: c.inst.settings, sink: c.sink }), Object.keys(NOTIFY_KEYWORDS)),
  ...trackHandlers<Ctx>((c) => ({ settings: c.inst.settings, sink: c.sink })),
  state: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readChoice(stmt, c.sink, { MASTER: 'MASTER', BACKUP: 'BACKUP' } as const);
    if (v) c.inst.state = sited(v, stmt);
  },
  interface: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = arg(stmt, c.sink, 0, 'an interface name');
    if (v) c.inst.interface = sited(v, stmt);
  },
  virtual_router_id: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readInt(stmt, c.sink, 1, 255);
    if (v !== undefined) c.inst.vrid = sited(v, stmt);
  },
  priority: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readInt(stmt, c.sink, 1, 255);
    if (v !== undefined) c.inst.priority = sited(v, stmt);
  },
  nopreempt: (stmt, c) => {
    expectArgs(stmt, c.sink, 0);
    c.inst.preempt = sited(false, stmt);
  },
  preempt: (stmt, c) => {
    expectArgs(stmt, c.sink, 0);
    c.inst.preempt = sited(true, stmt);
  },
  native_ipv6: (stmt, c) => {
    expectArgs(stmt, c.sink, 0);
    note(c.sink, stmt.pos, 'native_ipv6 is deprecated: the address family comes from the VIPs');
  },
  authentication: (stmt, c) => {
    expectArgs(stmt, c.sink, 0, true);
    const auth: NonNullable<FileInstance['auth']> = { pos: stmt.pos };
    let type: 'PASS' | undefined;
    for (const s of stmt.block ?? []) {
      if (s.keyword === 'auth_type') {
        expectArgs(s, c.sink, 1);
        const t = readChoice(s, c.sink, { PASS: 'PASS', AH: 'AH' } as const);
        if (t === 'AH')
          unsupported(
            c.sink,
            s,
            'AH authentication is not supported (deprecated by RFC 3768); use PASS or none',
          );
        else if (t) type = t;
      } else if (s.keyword === 'auth_pass') {
        // Never echo the arguments: they are the password.
        if (s.block || s.args.length > 1)
          unsupported(c.sink, s, 'expected one password word; the password is imported as one secret');
        if (s.args.length === 0) unsupported(c.sink, s, 'expected a password, got nothing');
        else auth.pass = sited(s.args.join(' '), s);
      } else unsupported(c.sink, s, 'unknown keyword');
    }
    if (!stmt.block) unsupported(c.sink, stmt, 'expected a { block } with auth_type and auth_pass');
    if (type === 'PASS') c.inst.auth = auth;
    else if (type === undefined && auth.pass) {
      unsupported(
        c.sink,
        auth.pass,
        'auth_pass without auth_type PASS: keepalived ignores it, so it is not imported',
      );
    }
  },
  virtual_ipaddress: (stmt, c) => {
    const r = vipList(stmt, c, false);
    const before = c.inst.settings.get('vips');
    const vips = [...((before?.value as Vip[] | undefined) ?? []), ...r.vips];
    if (vips.length > 0) c.inst.settings.set('vips', sited(vips, before ?? stmt));
    c.inst.vipAddresses.push(...r.addresses);
    if (r.families[0] !== undefined && c.inst.vipAddresses.length === r.addresses.length)
      c.inst.family = r.families[0];
  },
  virtual_ipaddress_excluded: (stmt, c) => {
    const r = vipList(stmt, c, true);
    const before = c.inst.settings.get('excludedVips');
    const vips = [...((before?.value as Vip[] | undefined) ?? []), ...r.vips];
    if (vips.length > 0) c.inst.settings.set('excludedVips', sited(vips, before ?? stmt));
  },
  unicast_src_ip: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    c.inst.unicast ??= stmt.pos;
    const v = readIp(stmt, c.sink);
    if (v) c.inst.unicastSource = sited(v, stmt);
  },
  mcast_src_ip: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readIp(stmt, c.sink);
    if (v) c.mcastSource = sited(v, stmt);
  },
  unicast_peer: (stmt, c) => {
    expectArgs(stmt, c.sink, 0, true);
    c.inst.unicast ??= stmt.pos;
    const peers = [...(c.inst.unicastPeers?.value ?? [])];
    for (const line of stmt.block ?? []) {
      const v = readIp({ ...line, args: [line.keyword] }, c.sink);
      if (line.block) unsupported(c.sink, line, 'unexpected { block } ignored');
      if (line.args.length > 0) {
        unsupported(
          c.sink,
          line,
          `peer options ${line.args.join(' ')} (min_ttl/max_ttl) are not supported: the peer is imported without them`,
        );
      }
      if (v && !peers.includes(v)) peers.push(v);
    }
    c.inst.unicastPeers = sited(peers, c.inst.unicastPeers ?? stmt);
  },
};

export function importVrrpInstance(stmt: KaStatement, f: FileImport, sink: Sink): void {
  const name = blockName(stmt, sink, 'vrrp_instance');
  if (name === undefined) return;
  const inst: FileInstance = { name, pos: stmt.pos, family: 4, vipAddresses: [], settings: new Map() };
  const c: Ctx = { inst, sink };
  dispatch(stmt.block ?? [], 'instance', HANDLERS, c, sink);
  if (c.mcastSource) {
    // keepalived uses one source address for both; only unicast adverts can use it here.
    if (inst.unicast && !inst.unicastSource) inst.unicastSource = c.mcastSource;
    else
      unsupported(
        sink,
        c.mcastSource,
        'a multicast source address is not supported: adverts go out from the interface address',
      );
  }
  const missing = !inst.vrid
    ? 'it has no valid virtual_router_id (1..255)'
    : !inst.interface
      ? 'it has no interface (the model needs one, also for unicast)'
      : inst.vipAddresses.length === 0
        ? 'the model needs at least one valid virtual_ipaddress'
        : undefined;
  if (missing) {
    unsupported(sink, stmt, `vrrp_instance ${name} not imported: ${missing}`);
    return;
  }
  inst.vipAddresses = [...new Set(inst.vipAddresses)].sort();
  f.instances.push(inst);
}
