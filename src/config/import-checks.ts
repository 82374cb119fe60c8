import type { Check } from '../model/cluster-schema.ts';
import { dispatch } from './import-keywords.ts';
import { type Sink, unsupported } from './import-types.ts';
import {
  arg,
  expectArgs,
  isModelName,
  modelName,
  readBool,
  readChoice,
  readInt,
  readIp,
  readScript,
  readSeconds,
} from './import-values.ts';
import type { KaStatement } from './keepalived-ast.ts';

// The health checkers of a real_server: HTTP_GET, SSL_GET, TCP_CHECK, SMTP_CHECK,
// DNS_CHECK, MISC_CHECK, UDP_CHECK, PING_CHECK and FILE_CHECK, with the connection and
// timing options they share.

type CheckType = Check['type'];
/** A check under construction: every field optional, filled by the handlers. */
type Draft = Record<string, unknown> & { type: CheckType };
type Url = Record<string, unknown>;
interface Ctx {
  v: Draft;
  sink: Sink;
}
type Handler = (stmt: KaStatement, c: Ctx) => void;

export const CHECK_TYPES: Record<string, CheckType> = {
  HTTP_GET: 'http',
  SSL_GET: 'https',
  TCP_CHECK: 'tcp',
  SMTP_CHECK: 'smtp',
  DNS_CHECK: 'dns',
  MISC_CHECK: 'misc',
  UDP_CHECK: 'udp',
  PING_CHECK: 'ping',
  FILE_CHECK: 'file',
};

const one =
  (field: string, read: (s: KaStatement, k: Sink) => unknown): Handler =>
  (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = read(stmt, c.sink);
    if (v !== undefined) c.v[field] = v;
  };
const flag = (field: string): Handler => one(field, (s, k) => readBool(s, k));
const secs = (field: string): Handler => one(field, (s, k) => readSeconds(s, k, 1_000_000));

/** Timing keywords shared by virtual servers, real servers and checks. */
export const TIMING: Record<string, { field: string; read: (s: KaStatement, k: Sink) => unknown }> = {
  connect_timeout: { field: 'connectTimeout', read: (s, k) => readSeconds(s, k, 1_000_000) },
  retry: { field: 'retry', read: (s, k) => readInt(s, k, 0, 1000) },
  delay_before_retry: { field: 'delayBeforeRetry', read: (s, k) => readSeconds(s, k, 1_000_000) },
  delay_loop: { field: 'delayLoop', read: (s, k) => readSeconds(s, k, 1_000_000) },
  warmup: { field: 'warmup', read: (s, k) => readSeconds(s, k, 1_000_000) },
};

const TIMING_HANDLERS: Record<string, Handler> = Object.fromEntries(
  Object.entries(TIMING).map(([kw, t]) => [kw, one(t.field, t.read)]),
);

const CONNECTION: Record<string, Handler> = {
  connect_ip: one('connectIp', (s, k) => readIp(s, k)),
  connect_port: one('connectPort', (s, k) => readInt(s, k, 0, 65535)),
  bindto: one('bindTo', (s, k) => readIp(s, k)),
  bind_port: one('bindPort', (s, k) => readInt(s, k, 0, 65535)),
  bind_if: one('bindIf', (s, k) => arg(s, k, 0, 'an interface name')),
  fwmark: one('fwmark', (s, k) => readInt(s, k, 1, 0xffffffff)),
};

const COMMON: Record<string, Handler> = { ...TIMING_HANDLERS, ...CONNECTION, alpha: flag('alpha') };

/** `status_code 200-299 302 ...` → 200 or "200-299,302". */
function readStatus(stmt: KaStatement, sink: Sink): number | string | undefined {
  if (stmt.args.length === 0) return arg(stmt, sink, 0, 'a status code or range such as 200-299');
  for (const a of stmt.args) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(a);
    if (
      !m ||
      Number(m[1]) < 100 ||
      Number(m[1]) > 599 ||
      (m[2] !== undefined && Number(m[2]) < Number(m[1]))
    ) {
      unsupported(
        sink,
        stmt,
        `expected status codes 100..599 or ranges such as 200-299, got ${JSON.stringify(a)}`,
      );
      return undefined;
    }
  }
  const only = stmt.args[0] as string;
  return stmt.args.length === 1 && /^\d{3}$/.test(only) ? Number(only) : stmt.args.join(',');
}

const URL: Record<string, (stmt: KaStatement, c: { v: Url; sink: Sink }) => void> = {
  path: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const p = arg(stmt, c.sink, 0, 'a path starting with /');
    if (p === undefined) return;
    if (!p.startsWith('/'))
      unsupported(c.sink, stmt, `expected a path starting with /, got ${JSON.stringify(p)}`);
    else c.v.path = p;
  },
  digest: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const d = arg(stmt, c.sink, 0, 'an MD5 digest (32 hex digits)');
    if (d === undefined) return;
    if (!/^[0-9a-f]{32}$/i.test(d))
      unsupported(c.sink, stmt, `expected an MD5 digest (32 hex digits), got ${JSON.stringify(d)}`);
    else c.v.digest = d.toLowerCase();
  },
  status_code: (stmt, c) => {
    const s = readStatus(stmt, c.sink);
    if (s !== undefined) c.v.statusCode = s;
  },
  virtualhost: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = arg(stmt, c.sink, 0, 'a host name');
    if (v !== undefined) c.v.virtualhost = v;
  },
  regex: (stmt, c) => {
    const v = arg(stmt, c.sink, 0, 'a regular expression');
    // keepalived takes the rest of the line: an unquoted regex may contain blanks.
    if (v !== undefined) c.v.regex = stmt.args.join(' ');
    if (stmt.block) unsupported(c.sink, stmt, 'unexpected { block } ignored');
  },
  regex_no_match: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readBool(stmt, c.sink);
    if (v !== undefined) c.v.regexNoMatch = v;
  },
};

function urlHandler(stmt: KaStatement, c: Ctx): void {
  expectArgs(stmt, c.sink, 0, true);
  const v: Url = {};
  dispatch(stmt.block ?? [], 'url', URL, { v, sink: c.sink }, c.sink);
  if (typeof v.path !== 'string') {
    unsupported(c.sink, stmt, 'url without a valid path: not imported');
    return;
  }
  const urls = (c.v.urls as Url[] | undefined) ?? [];
  urls.push(v);
  c.v.urls = urls;
}

const HTTP: Record<string, Handler> = {
  ...COMMON,
  url: urlHandler,
  virtualhost: one('virtualhost', (s, k) => arg(s, k, 0, 'a host name')),
  http_protocol: one('httpProtocol', (s, k) =>
    readChoice(s, k, { '1.0': '1.0', '1.0C': '1.0C', '1.1': '1.1', '1.0K': '1.0K' } as const),
  ),
};

const SSL: Record<string, Handler> = { ...HTTP, enable_sni: flag('sni') };

/** keepalived's free-form hex: blank-separated groups, each read in pairs, an odd last digit padded. */
function readHex(stmt: KaStatement, sink: Sink, wildcards: boolean): string | undefined {
  const digit = wildcards ? /^[0-9a-fx]+$/i : /^[0-9a-f]+$/i;
  let out = '';
  for (const g of stmt.args) {
    if (!digit.test(g)) {
      unsupported(sink, stmt, `expected hex digits, got ${JSON.stringify(g)}`);
      return undefined;
    }
    for (let i = 0; i < g.length; i += 2) out += i + 1 < g.length ? g.slice(i, i + 2) : `0${g[i]}`;
  }
  return out.toLowerCase();
}

const TYPE_HANDLERS: Record<CheckType, Record<string, Handler>> = {
  http: HTTP,
  https: SSL,
  tcp: COMMON,
  ping: COMMON,
  smtp: { ...COMMON, helo_name: one('heloName', (s, k) => arg(s, k, 0, 'a host name')) },
  dns: {
    ...COMMON,
    type: one('queryType', (s, k) =>
      readChoice(s, k, {
        A: 'A',
        NS: 'NS',
        CNAME: 'CNAME',
        SOA: 'SOA',
        MX: 'MX',
        TXT: 'TXT',
        AAAA: 'AAAA',
      } as const),
    ),
    name: one('queryName', (s, k) => arg(s, k, 0, 'a domain name')),
  },
  udp: {
    ...COMMON,
    payload: (stmt, c) => {
      if (stmt.args.length === 0) arg(stmt, c.sink, 0, 'hex bytes');
      const v = readHex(stmt, c.sink, false);
      if (v) c.v.payload = v;
    },
    require_reply: (stmt, c) => {
      if (stmt.args.length === 0) c.v.requireReply = true;
      else {
        const v = readHex(stmt, c.sink, true);
        if (v) c.v.requireReply = v;
      }
    },
  },
  misc: {
    ...COMMON,
    misc_path: (stmt, c) => {
      const s = readScript(stmt, c.sink);
      if (!s) return;
      c.v.script = s.script;
      if (s.user !== undefined) c.v.user = s.user;
    },
    misc_timeout: secs('timeout'),
    misc_dynamic: flag('dynamic'),
    user: (stmt, c) => {
      expectArgs(stmt, c.sink, 2);
      const u = arg(stmt, c.sink, 0, 'a user name');
      if (u !== undefined) c.v.user = stmt.args[1] ? `${u}:${stmt.args[1].replace(/^:/, '')}` : u;
    },
  },
  file: {
    track_file: one('file', (s, k) => {
      const n = arg(s, k, 0, 'a track_file name');
      return n === undefined ? undefined : modelName(n);
    }),
    weight: (stmt, c) => {
      expectArgs(stmt, c.sink, 2);
      const w = readInt(stmt, c.sink, -254, 254);
      if (w !== undefined) c.v.weight = w;
      const r = stmt.args[1];
      if (r === 'reverse') c.v.reverse = true;
      else if (r !== undefined)
        unsupported(c.sink, stmt, `expected "reverse" after the weight, got ${JSON.stringify(r)}`);
    },
  },
};

/** What a check needs before the model accepts it; undefined when it has it. */
function missing(v: Draft): string | undefined {
  if ((v.type === 'http' || v.type === 'https') && !Array.isArray(v.urls)) return 'it has no url { path }';
  if (v.type === 'misc' && typeof v.script !== 'string') return 'it has no misc_path';
  if (v.type === 'file' && (typeof v.file !== 'string' || !isModelName(v.file)))
    return 'it has no track_file';
  return undefined;
}

export function readCheck(stmt: KaStatement, sink: Sink): Check | undefined {
  const type = CHECK_TYPES[stmt.keyword] as CheckType;
  expectArgs(stmt, sink, 0, true);
  const v: Draft = { type };
  dispatch(stmt.block ?? [], 'check', TYPE_HANDLERS[type], { v, sink }, sink);
  const why = missing(v);
  if (why) {
    unsupported(sink, stmt, `${stmt.keyword} not imported: ${why}`);
    return undefined;
  }
  // Every field was read into its model form by a handler table for this type.
  return v as unknown as Check;
}
