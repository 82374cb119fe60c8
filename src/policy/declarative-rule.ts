import type { NodeDoc, PolicyDoc, PolicyRule } from '../model/cluster-schema.ts';
import { parseDuration } from '../model/duration.ts';
import { type Cidr, cidrContains, parseCidr } from '../model/ip.ts';
import type { Located, PathSeg } from '../model/repository.ts';
import type { PolicyContext, Rule, Violation } from './rule.ts';

// A repository's own rules, written in policies/*.yaml:
//
//   rules:
//     - id: v3-only
//       severity: error
//       message: every instance speaks VRRPv3
//       for: instances                       # instances | vips | virtualServers | realServers | checks | nodes
//       where: { auth.type: PASS }           # optional; every field must equal its value (null = not set)
//       require: { field: version, equals: 3 }
//     - id: fast-http-checks
//       severity: warn
//       message: HTTP checks run at least every 10s
//       for: checks
//       where: { type: http }
//       require: { field: delayLoop, maxDuration: 10s }
//     - id: vips-in-service-range
//       severity: error
//       message: VIPs come from the service range
//       for: vips
//       require: { field: address, within: 203.0.113.0/24 }
//
// Fields are read as written, with the values an item inherits filled in: instances from
// defaults.vrrp; real servers from their virtual server (port, forwarding, timings); checks
// from their real server, virtual server and defaults.check. A string VIP reads as
// { address }.
//
// The settings a Node document can override (instances.NAME.priority, interface, state,
// preempt) are read node by node instead, as node-view.ts applies them: on each node taking
// part, its override, else the instance's entry for it or its single value. Otherwise a
// rule on keepgit.yaml would be bypassed by one line in nodes/NAME.yaml. A value found the
// same on several nodes is reported once; an instance no node document takes part in is
// read as written. `where` on such a setting selects the nodes whose value matches, and the
// rule then looks at those nodes only.
//
// Every condition given in `require` must hold; with none, `present: true` is meant. An
// unset field fails every condition but `present: false` and `notOneOf`. When the field
// holds a list or a per-node map and the condition is about one value, each entry is
// checked on its own. `matches` is an unanchored JavaScript regular expression.

type Layer = {
  obj: Record<string, unknown>;
  file: Located<unknown>;
  /** Where field `segs` of `obj` is written. */
  at: (segs: readonly PathSeg[]) => PathSeg[];
  /** Only these top-level fields are inherited from this layer. */
  keys?: ReadonlySet<string>;
};

interface Item {
  label: string;
  layers: Layer[];
  /** Instances only: what their nodes override. */
  perNode?: PerNode;
}

type NodeSetting = keyof NonNullable<NodeDoc['instances']>[string];

// A Record rather than a list so that a setting added to a Node's overrides fails to compile
// until it is listed: a setting missing here could be overridden past every rule.
const NODE_SETTINGS: Record<NodeSetting, true> = {
  priority: true,
  interface: true,
  state: true,
  preempt: true,
};
const isNodeSetting = (field: string): field is NodeSetting => Object.hasOwn(NODE_SETTINGS, field);

interface PerNode {
  /** Nodes taking part that have a node document. */
  nodes: readonly string[];
  /** Each such node's own value of `key`, where its node document writes it. */
  overrides(key: NodeSetting): ReadonlyMap<string, Found>;
}

interface Found {
  found: boolean;
  /** Taken from a layer the item inherits from (defaults, its virtual server, ...). */
  inherited: boolean;
  value: unknown;
  file: Located<unknown>;
  path: PathSeg[];
}

const TIMING = ['connectTimeout', 'retry', 'delayBeforeRetry', 'delayLoop', 'warmup'];
const RS_FROM_VS = new Set(['port', 'forwarding', 'inhibitOnFailure', ...TIMING]);
const CHECK_INHERITS = new Set(TIMING);

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const asRecord = (v: unknown): Record<string, unknown> => (isMap(v) ? v : {});
const under =
  (base: readonly PathSeg[]) =>
  (segs: readonly PathSeg[]): PathSeg[] => [...base, ...segs];

function items(ctx: PolicyContext, selector: PolicyRule['for']): Item[] {
  const cluster = ctx.cluster;
  const doc = cluster.doc;
  const layer = (obj: unknown, base: readonly PathSeg[], keys?: ReadonlySet<string>): Layer => {
    const l: Layer = { obj: asRecord(obj), file: cluster, at: under(base) };
    if (keys) l.keys = keys;
    return l;
  };
  const vrrpDefaults = layer(doc.defaults?.vrrp, ['defaults', 'vrrp']);
  const checkDefaults = layer(doc.defaults?.check, ['defaults', 'check'], CHECK_INHERITS);
  switch (selector) {
    case 'instances':
      return ctx.instances().map((i) => ({
        label: `instance ${i.instance.name}`,
        layers: [layer(i.instance, i.path), vrrpDefaults],
        perNode: {
          nodes: i.nodes,
          overrides: (key) =>
            new Map(
              i.nodes.flatMap((node): [string, Found][] => {
                const value = ctx.node(node)?.located.doc.instances?.[i.instance.name]?.[key];
                if (value === undefined) return [];
                const { file, path } = ctx.settingSite(i, key, node);
                return [[node, { found: true, inherited: false, value, file, path }]];
              }),
            ),
        },
      }));
    case 'vips':
      return ctx.vips().map((v) => ({
        label: `VIP ${v.address} of instance ${v.instance.name}`,
        layers: [
          typeof v.vip === 'string'
            ? {
                obj: { address: v.vip },
                file: cluster,
                // The string is the address: its path is the VIP's own.
                at: (segs: readonly PathSeg[]) =>
                  segs[0] === 'address' ? [...v.path, ...segs.slice(1)] : [...v.path, ...segs],
              }
            : layer(v.vip, v.path),
        ],
      }));
    case 'virtualServers':
      return ctx.virtualServers().map((v) => ({
        label: `virtual server ${v.vs.name ?? v.vs.address ?? v.index + 1}`,
        layers: [layer(v.vs, v.path)],
      }));
    case 'realServers':
      return ctx.realServers().map((r) => ({
        label: `real server ${r.rs.address}`,
        layers: [layer(r.rs, r.path), layer(r.vs, ['virtualServers', r.vsIndex], RS_FROM_VS)],
      }));
    case 'checks':
      return ctx.checks().map((c) => ({
        label: `${c.check.type} check of real server ${c.rs.address}`,
        layers: [
          layer(c.check, c.path),
          layer(c.rs, ['virtualServers', c.vsIndex, 'realServers', c.rsIndex], CHECK_INHERITS),
          layer(c.vs, ['virtualServers', c.vsIndex], CHECK_INHERITS),
          checkDefaults,
        ],
      }));
    case 'nodes':
      return ctx.nodes().map((n) => ({
        label: `node ${n.name}`,
        layers: [{ obj: asRecord(n.located.doc), file: n.located, at: under([]) }],
      }));
  }
}

function segments(field: string): string[] {
  return field.split('.').filter((s) => s.length > 0);
}

function resolve(item: Item, field: string): Found {
  const segs = segments(field);
  const top = segs[0] ?? '';
  const first = item.layers[0] as Layer;
  for (const [n, l] of item.layers.entries()) {
    if (l.keys && !l.keys.has(top)) continue;
    if (l.obj[top] === undefined) continue;
    const inherited = n > 0;
    let value: unknown = l.obj;
    const walked: PathSeg[] = [];
    for (const s of segs) {
      if (Array.isArray(value) && /^\d+$/.test(s)) {
        walked.push(Number(s));
        value = value[Number(s)];
      } else if (isMap(value) && Object.hasOwn(value, s)) {
        walked.push(s);
        value = value[s];
      } else {
        const path = l.at([...walked, ...segs.slice(walked.length)]);
        return { found: false, inherited, value: undefined, file: l.file, path };
      }
    }
    return { found: value !== undefined, inherited, value, file: l.file, path: l.at(walked) };
  }
  return { found: false, inherited: false, value: undefined, file: first.file, path: first.at(segs) };
}

/** Equal as the repository means it: "1s" is "1000ms", "2001:DB8::1" is "2001:db8::1". */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    if (a === b) return true;
    const da = parseDuration(a);
    const db = parseDuration(b);
    if (da !== undefined && db !== undefined) return da === db;
    const ca = parseCidr(a);
    const cb = parseCidr(b);
    return ca !== undefined && cb !== undefined && ca.address === cb.address && ca.prefix === cb.prefix;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => same(a[k], b[k]));
  }
  return a === b;
}

function show(v: unknown, secret: boolean): string {
  if (secret) return '(hidden)';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  return JSON.stringify(v) ?? String(v);
}

type Require = PolicyRule['require'];

interface Compiled {
  require: Require;
  regex?: RegExp;
  net?: Cidr;
  minMs?: number;
  maxMs?: number;
}

/** What is wrong with one value; empty when it passes. */
function scalarProblems(c: Compiled, value: unknown, secret: boolean): string[] {
  const r = c.require;
  const got = show(value, secret);
  const out: string[] = [];
  if (r.equals !== undefined && !same(value, r.equals))
    out.push(`is ${got}, expected ${show(r.equals, false)}`);
  if (r.oneOf && !r.oneOf.some((o) => same(value, o))) {
    out.push(`is ${got}, expected one of ${r.oneOf.map((o) => show(o, false)).join(', ')}`);
  }
  if (r.notOneOf?.some((o) => same(value, o))) out.push(`is ${got}, which is not allowed here`);
  if (r.min !== undefined || r.max !== undefined) {
    if (typeof value !== 'number') out.push(`is ${got}, expected a number`);
    else if (r.min !== undefined && value < r.min) out.push(`is ${got}, below the minimum ${r.min}`);
    else if (r.max !== undefined && value > r.max) out.push(`is ${got}, above the maximum ${r.max}`);
  }
  if (c.regex) {
    if (typeof value !== 'string') out.push(`is ${got}, expected text matching /${c.regex.source}/`);
    else if (!c.regex.test(value)) out.push(`is ${got}, which does not match /${c.regex.source}/`);
  }
  if (c.minMs !== undefined || c.maxMs !== undefined) {
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined) out.push(`is ${got}, expected a duration`);
    else if (c.minMs !== undefined && ms < c.minMs) out.push(`is ${got}, shorter than ${r.minDuration}`);
    else if (c.maxMs !== undefined && ms > c.maxMs) out.push(`is ${got}, longer than ${r.maxDuration}`);
  }
  if (c.net) {
    const text = isMap(value) && typeof value.address === 'string' ? value.address : value;
    const addr = typeof text === 'string' ? parseCidr(text) : undefined;
    if (!addr) out.push(`is ${got}, expected an address in ${r.within}`);
    else if (!cidrContains(c.net, addr.address)) out.push(`is ${got}, outside ${r.within}`);
  }
  return out;
}

const hasValueCondition = (r: Require): boolean =>
  r.equals !== undefined ||
  r.oneOf !== undefined ||
  r.notOneOf !== undefined ||
  r.min !== undefined ||
  r.max !== undefined ||
  r.matches !== undefined ||
  r.minDuration !== undefined ||
  r.maxDuration !== undefined ||
  r.within !== undefined;

/** Whether a list or map is compared as a whole rather than entry by entry. */
const asWhole = (c: Compiled, value: unknown): boolean =>
  !(Array.isArray(value) || isMap(value)) ||
  (c.require.equals !== undefined && (Array.isArray(c.require.equals) || isMap(c.require.equals))) ||
  (c.net !== undefined && isMap(value) && typeof value.address === 'string');

/** The findings on `f`, one value of `field` (entry by entry when it is a list or per-node map). */
function judge(c: Compiled, f: Found, field: string, message: string, whose: string): Violation[] {
  const r = c.require;
  const secret = /(^|\.)(password|secret|token)$/i.test(field);
  const violation = (path: PathSeg[], name: string, problem: string): Violation => ({
    file: f.file,
    path,
    message: `${message}: ${name} ${problem}${whose}`,
  });
  const present = r.present ?? (hasValueCondition(r) ? undefined : true);
  if (present === true && !f.found) return [violation(f.path, field, 'is not set')];
  if (present === false && f.found) return [violation(f.path, field, 'is set; remove it')];
  if (!f.found) {
    // Nothing to compare: only "must not be one of" can hold.
    return hasValueCondition({ ...r, notOneOf: undefined }) && present !== false
      ? [violation(f.path, field, 'is not set')]
      : [];
  }
  if (!hasValueCondition(r)) return [];
  if (asWhole(c, f.value)) return scalarProblems(c, f.value, secret).map((p) => violation(f.path, field, p));
  const entries: [PathSeg, unknown][] = Array.isArray(f.value)
    ? f.value.map((v, i): [PathSeg, unknown] => [i, v])
    : Object.entries(f.value as Record<string, unknown>);
  return entries.flatMap(([k, v]) =>
    scalarProblems(c, v, secret).map((p) => violation([...f.path, k], `${field}.${k}`, p)),
  );
}

/**
 * What applies on `node`: its override, else the instance's entry for it when `f` is a
 * per-node map (unless `whole`), else `f` itself, as node-view.ts resolves it.
 */
function onNode(f: Found, overrides: ReadonlyMap<string, Found>, node: string, whole: boolean): Found {
  const own = overrides.get(node);
  if (own) return own;
  if (whole || !f.found || !isMap(f.value)) return f;
  const value = f.value[node];
  return { ...f, found: value !== undefined, value, path: [...f.path, node] };
}

/** `on`: the nodes `where` selected, when it tested a setting a node can override. */
function evaluate(
  c: Compiled,
  item: Item,
  field: string,
  message: string,
  on?: ReadonlySet<string>,
): Violation[] {
  const f = resolve(item, field);
  const whose = f.inherited ? ` (${item.label})` : '';
  const per = item.perNode;
  if (!per || per.nodes.length === 0 || !isNodeSetting(field)) return judge(c, f, field, message, whose);
  const overrides = per.overrides(field);
  // A whole-value equals compares the instance's map as written; an override is one value.
  const whole = f.found && asWhole(c, f.value);
  const seen = new Set<string>();
  return per.nodes
    .filter((node) => on === undefined || on.has(node))
    .flatMap((node) => {
      const got = onNode(f, overrides, node, whole);
      const own = overrides.has(node);
      const name = own || got === f ? field : `${field}.${node}`;
      return judge(c, got, name, message, own ? '' : whose);
    })
    .filter((v) => {
      // A single value applies on every node that does not override it: report it once.
      const key = JSON.stringify([v.file.file, v.path, v.message]);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/**
 * Whether `where` selects the item: undefined when not, else `on`, the nodes it selects when
 * it tests a setting a node can override (every node then counts on its own).
 */
function select(item: Item, where: readonly [string, unknown][]): { on?: ReadonlySet<string> } | undefined {
  const matches = (f: Found, want: unknown): boolean =>
    want === null ? !f.found : f.found && same(f.value, want);
  let on: string[] | undefined;
  for (const [field, want] of where) {
    const f = resolve(item, field);
    const per = item.perNode;
    if (per && per.nodes.length > 0 && isNodeSetting(field)) {
      const overrides = per.overrides(field);
      const hit = per.nodes.filter((n) => matches(onNode(f, overrides, n, false), want));
      on = on === undefined ? hit : on.filter((n) => hit.includes(n));
      if (on.length === 0) return undefined;
    } else if (!matches(f, want)) return undefined;
  }
  return on === undefined ? {} : { on: new Set(on) };
}

export interface CompiledRule {
  rule?: Rule;
  /** Mistakes in the rule itself, reported as errors on the policy file. */
  problems: Violation[];
}

// A policy comes from the repository the agent follows, so its regular expression is
// untrusted input that runs on every revision. JavaScript has no linear-time engine:
// refuse the shapes that backtrack catastrophically — a repeated group that itself
// contains a repetition or an alternation at any depth, like (a+)+, ((a)+)+ or (a|aa)*,
// and backreferences — instead of letting a pattern stall the gate.
export function riskyPattern(p: string): boolean {
  if (p.length > 256 || /\\[1-9]|\\k</.test(p)) return true;
  const repeats = (at: number): boolean => {
    const c = p[at];
    return c === '*' || c === '+' || (c === '{' && /^\{\d+(,\d*)?\}/.test(p.slice(at)));
  };
  // For each open group: does it contain a repetition or an alternation?
  const groups: boolean[] = [false];
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      i++;
      if (!inClass && repeats(i + 1)) groups[groups.length - 1] = true;
    } else if (inClass) {
      if (c === ']') {
        inClass = false;
        if (repeats(i + 1)) groups[groups.length - 1] = true;
      }
    } else if (c === '[') inClass = true;
    else if (c === '(') groups.push(false);
    else if (c === ')') {
      const inner = groups.pop() ?? false;
      if (groups.length === 0) groups.push(false);
      if (repeats(i + 1) && inner) return true;
      if (inner || repeats(i + 1)) groups[groups.length - 1] = true;
    } else if (c === '|' || repeats(i) || (c === '?' && p[i - 1] !== '(')) {
      groups[groups.length - 1] = true;
    }
  }
  return false;
}

/** Turns `rules[index]` of a policy document into a rule, or says why it cannot. */
export function declarativeRule(file: Located<PolicyDoc>, index: number): CompiledRule {
  const spec = file.doc.rules?.[index];
  if (!spec) return { problems: [] };
  const base: PathSeg[] = ['rules', index, 'require'];
  const problems: Violation[] = [];
  const compiled: Compiled = { require: spec.require };
  const r = spec.require;
  if (r.matches !== undefined && riskyPattern(r.matches)) {
    problems.push({
      file,
      path: [...base, 'matches'],
      message:
        'pattern repeats a group that itself repeats or alternates (like (a+)+ or (a|aa)*), uses a backreference, or is over 256 characters: such a pattern can take exponential time; simplify it',
    });
  } else if (r.matches !== undefined) {
    try {
      compiled.regex = new RegExp(r.matches);
    } catch (e) {
      problems.push({
        file,
        path: [...base, 'matches'],
        message: `not a valid regular expression (${e instanceof Error ? e.message : String(e)}): fix the pattern`,
      });
    }
  }
  if (r.within !== undefined) {
    const net = parseCidr(r.within);
    if (net) compiled.net = net;
    else
      problems.push({
        file,
        path: [...base, 'within'],
        message: `expected a CIDR such as 203.0.113.0/24, got ${show(r.within, false)}`,
      });
  }
  if (r.minDuration !== undefined) compiled.minMs = parseDuration(r.minDuration);
  if (r.maxDuration !== undefined) compiled.maxMs = parseDuration(r.maxDuration);
  if (r.min !== undefined && r.max !== undefined && r.min > r.max) {
    problems.push({
      file,
      path: [...base, 'min'],
      message: `min ${r.min} is above max ${r.max}: no value could pass`,
    });
  }
  if (compiled.minMs !== undefined && compiled.maxMs !== undefined && compiled.minMs > compiled.maxMs) {
    problems.push({
      file,
      path: [...base, 'minDuration'],
      message: `minDuration ${r.minDuration} is above maxDuration ${r.maxDuration}: no value could pass`,
    });
  }
  if (problems.length > 0) return { problems };
  const where = Object.entries(spec.where ?? {});
  return {
    problems,
    rule: {
      id: spec.id,
      severity: spec.severity,
      description: spec.message,
      check(ctx: PolicyContext): Violation[] {
        return items(ctx, spec.for).flatMap((item) => {
          const picked = select(item, where);
          return picked ? evaluate(compiled, item, r.field, spec.message, picked.on) : [];
        });
      },
    },
  };
}
