import { formatDuration } from '../model/duration.ts';
import type {
  NodeView,
  ViewCheck,
  ViewInstance,
  ViewRealServer,
  ViewTrack,
  ViewVip,
  ViewVirtualServer,
} from '../model/node-view.ts';
import * as rule from './classify-disruption.ts';
import { diffValues, fieldValues, inline, listValues } from './field-values.ts';
import type { Change, ChangeKind, ChangeOp, FieldChange, NodePlan } from './plan-types.ts';

// One node's plan: what differs between the view it runs now and the view it would run.
// Things are matched by identity (instance by name, VIP by address/prefix, virtual server
// by key, real server by address:port, check by position), so a reviewer sees "priority
// 100 → 110" rather than a remove and an add.

type Values = Map<string, string>;

const emptyView = (node: string): NodeView => ({
  node,
  routerId: node,
  dataplane: 'auto',
  instances: [],
  syncGroups: [],
  scripts: [],
  trackProcesses: [],
  trackFiles: [],
  virtualServerGroups: [],
  virtualServers: [],
  enableScriptSecurity: false,
});

function change(
  op: ChangeOp,
  kind: ChangeKind,
  target: string,
  fields: FieldChange[],
  verdict: rule.Verdict,
): Change {
  // Key order is the JSON output's order: built in one literal, not patched afterwards.
  return {
    op,
    kind,
    target,
    ...(fields.length > 0 ? { fields } : {}),
    disruptive: verdict.disruptive,
    reason: verdict.reason,
  };
}

/** Structural equality of plain view data: lets unchanged parts skip the field-by-field diff. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => same(ra[k], rb[k]));
}

/** Pairs of the same thing on both sides: the after order, then what only existed before. */
function matchBy<T>(
  before: readonly T[],
  after: readonly T[],
  key: (t: T) => string,
): [T | undefined, T | undefined][] {
  const was = new Map(before.map((b) => [key(b), b]));
  const now = new Set(after.map(key));
  return [
    ...after.map((a): [T | undefined, T | undefined] => [was.get(key(a)), a]),
    ...before.filter((b) => !now.has(key(b))).map((b): [T | undefined, T | undefined] => [b, undefined]),
  ];
}

// ---- values as a person reads them ----------------------------------------------------

function instanceValues(inst: ViewInstance): Values {
  const { name, vips, excludedVips, peers, syncGroup, flags, unicast, ...rest } = inst;
  const v = fieldValues({ ...rest, ...flags, adverts: unicast ? 'unicast' : 'multicast', unicast });
  for (const p of peers) v.set(`peer ${p.node}`, `priority ${p.priority}${p.preempt ? '' : ', nopreempt'}`);
  return v;
}

const vipValues = ({ address, family, ...rest }: ViewVip): Values => fieldValues(rest);

function virtualServerValues(vs: ViewVirtualServer): Values {
  const { key, realServers, persistence, ...rest } = vs;
  const v = fieldValues(rest);
  // Written as "persistence: 3h" unless a granularity makes it a map.
  if (persistence?.granularity) fieldValues({ persistence }, '', v);
  else if (persistence) v.set('persistence', formatDuration(persistence.timeoutMs));
  return v;
}

const realServerValues = ({ key, address, port, checks, ...rest }: ViewRealServer): Values =>
  fieldValues(rest);

const checkValues = ({ spec, ...rest }: ViewCheck): Values => fieldValues({ ...rest, ...spec });

const namedValues = <T extends { name: string }>({ name, ...rest }: T): Values => fieldValues(rest);

// ---- the parts of a view --------------------------------------------------------------

function diffNode(before: NodeView, after: NodeView, out: Change[]): void {
  const values = (v: NodeView): Values =>
    fieldValues({
      routerId: v.routerId,
      dataplane: v.dataplane,
      scriptUser: v.scriptUser,
      enableScriptSecurity: v.enableScriptSecurity,
    });
  const fields = diffValues(values(before), values(after));
  if (fields.length > 0)
    out.push(change('~', 'node', `node ${after.node}`, fields, rule.nodeChanged(fields)));
}

function diffVips(
  kind: 'vip' | 'excludedVip',
  inst: string,
  before: ViewVip[],
  after: ViewVip[],
  out: Change[],
): void {
  const label = kind === 'vip' ? 'vip' : 'excluded vip';
  for (const [b, a] of matchBy(before, after, (v) => v.address)) {
    const target = `${label} ${(a ?? b)?.address} on ${inst}`;
    if (!b && a) {
      out.push(change('+', kind, target, [], kind === 'vip' ? rule.vipAdded() : rule.excludedVipAdded()));
    } else if (b && !a) {
      out.push(change('-', kind, target, [], kind === 'vip' ? rule.vipRemoved() : rule.excludedVipRemoved()));
    } else if (b && a && !same(b, a)) {
      const fields = diffValues(vipValues(b), vipValues(a));
      if (fields.length > 0) out.push(change('~', kind, target, fields, rule.vipChanged()));
    }
  }
}

const INSTANCE_SUMMARY = [
  'vrid',
  'interface',
  'version',
  'priority',
  'advertInterval',
  'preempt',
  'adverts',
  'vips',
];

/** Whether `node` runs instance `name` in the new revision: who can take over a removed instance. */
export type RunsAfter = (name: string, node: string) => boolean;

function diffInstances(
  node: string,
  before: NodeView,
  after: NodeView,
  runsAfter: RunsAfter,
  out: Change[],
): void {
  for (const [b, a] of matchBy(before.instances, after.instances, (i) => i.name)) {
    const target = `instance ${(a ?? b)?.name}`;
    if (!b && a) {
      const values = instanceValues(a).set('vips', a.vips.map((v) => v.address).join(', '));
      out.push(
        change('+', 'instance', target, listValues(values, 'added', INSTANCE_SUMMARY), rule.instanceAdded(a)),
      );
    } else if (b && !a) {
      const stay = b.peers.filter((p) => runsAfter(b.name, p.node));
      out.push(change('-', 'instance', target, [], rule.instanceRemoved(node, b, stay)));
    } else if (b && a && !same(b, a)) {
      const fields = diffValues(instanceValues(b), instanceValues(a));
      if (fields.length > 0)
        out.push(change('~', 'instance', target, fields, rule.instanceChanged(node, b, a, fields)));
      diffVips('vip', a.name, b.vips, a.vips, out);
      diffVips('excludedVip', a.name, b.excludedVips, a.excludedVips, out);
    }
  }
}

function diffSyncGroups(before: NodeView, after: NodeView, out: Change[]): void {
  for (const [b, a] of matchBy(before.syncGroups, after.syncGroups, (g) => g.name)) {
    const target = `sync group ${(a ?? b)?.name}`;
    if (!b && a)
      out.push(
        change('+', 'syncGroup', target, listValues(namedValues(a), 'added'), rule.syncGroupChanged('+')),
      );
    else if (b && !a) out.push(change('-', 'syncGroup', target, [], rule.syncGroupChanged('-')));
    else if (b && a && !same(b, a)) {
      const fields = diffValues(namedValues(b), namedValues(a));
      if (fields.length > 0) out.push(change('~', 'syncGroup', target, fields, rule.syncGroupChanged('~')));
    }
  }
}

type TrackKind = 'scripts' | 'processes' | 'files';

/** Names of track definitions this node runs: referenced by its instances, groups or checks. */
function inUse(view: NodeView, kind: TrackKind): Set<string> {
  const refs: ViewTrack[] = [
    ...view.instances.flatMap((i) => i.track[kind]),
    ...view.syncGroups.flatMap((g) => g.track[kind]),
  ];
  const names = new Set(refs.map((r) => r.name));
  if (kind === 'files') {
    for (const vs of view.virtualServers)
      for (const rs of vs.realServers)
        for (const c of rs.checks)
          if (c.type === 'file' && typeof c.spec.file === 'string') names.add(c.spec.file);
  }
  return names;
}

function diffDefinitions<T extends { name: string }>(
  kind: 'script' | 'trackProcess' | 'trackFile',
  label: string,
  before: readonly T[],
  after: readonly T[],
  out: Change[],
): void {
  for (const [b, a] of matchBy(before, after, (d) => d.name)) {
    const target = `${label} ${(a ?? b)?.name}`;
    if (!b && a)
      out.push(
        change('+', kind, target, listValues(namedValues(a), 'added'), rule.trackDefinitionChanged('+')),
      );
    else if (b && !a) out.push(change('-', kind, target, [], rule.trackDefinitionChanged('-')));
    else if (b && a && !same(b, a)) {
      const fields = diffValues(namedValues(b), namedValues(a));
      if (fields.length > 0) out.push(change('~', kind, target, fields, rule.trackDefinitionChanged('~')));
    }
  }
}

function diffTrackDefinitions(before: NodeView, after: NodeView, out: Change[]): void {
  const used = <T extends { name: string }>(view: NodeView, defs: readonly T[], kind: TrackKind): T[] => {
    const names = inUse(view, kind);
    return defs.filter((d) => names.has(d.name));
  };
  diffDefinitions(
    'script',
    'script',
    used(before, before.scripts, 'scripts'),
    used(after, after.scripts, 'scripts'),
    out,
  );
  diffDefinitions(
    'trackProcess',
    'track process',
    used(before, before.trackProcesses, 'processes'),
    used(after, after.trackProcesses, 'processes'),
    out,
  );
  diffDefinitions(
    'trackFile',
    'track file',
    used(before, before.trackFiles, 'files'),
    used(after, after.trackFiles, 'files'),
    out,
  );
}

function diffVirtualServerGroups(before: NodeView, after: NodeView, out: Change[]): void {
  const used = (v: NodeView) => {
    const names = new Set(v.virtualServers.flatMap((vs) => (vs.group ? [vs.group] : [])));
    return v.virtualServerGroups.filter((g) => names.has(g.name));
  };
  const members = (g: NodeView['virtualServerGroups'][number]): string[] => g.members.map((m) => inline(m));
  for (const [b, a] of matchBy(used(before), used(after), (g) => g.name)) {
    const target = `virtual server group ${(a ?? b)?.name}`;
    if (!b && a) {
      const fields = [{ field: 'members', from: null, to: members(a).join(', ') }];
      out.push(change('+', 'virtualServerGroup', target, fields, rule.virtualServerGroupChanged([])));
    } else if (b && !a) {
      out.push(change('-', 'virtualServerGroup', target, [], rule.trackDefinitionChanged('-')));
    } else if (b && a && !same(b, a)) {
      const was = members(b);
      const now = members(a);
      if (was.join(', ') === now.join(', ')) continue;
      const fields = [{ field: 'members', from: was.join(', '), to: now.join(', ') }];
      const removed = was.filter((m) => !now.includes(m));
      out.push(change('~', 'virtualServerGroup', target, fields, rule.virtualServerGroupChanged(removed)));
    }
  }
}

function diffChecks(where: string, before: ViewCheck[], after: ViewCheck[], out: Change[]): void {
  for (let i = 0; i < Math.max(before.length, after.length); i++) {
    const b = before[i];
    const a = after[i];
    const target = `check ${i + 1} (${(a ?? b)?.type}) of ${where}`;
    if (!b && a) {
      const { spec, type } = a;
      out.push(
        change(
          '+',
          'check',
          target,
          listValues(fieldValues({ type, ...spec }), 'added'),
          rule.checkChanged('+'),
        ),
      );
    } else if (b && !a) {
      out.push(change('-', 'check', target, [], rule.checkChanged('-')));
    } else if (b && a && !same(b, a)) {
      const fields = diffValues(checkValues(b), checkValues(a));
      if (fields.length > 0) out.push(change('~', 'check', target, fields, rule.checkChanged('~')));
    }
  }
}

function addedRealServer(vs: string, rs: ViewRealServer): Change {
  const values = realServerValues(rs);
  if (rs.checks.length > 0) values.set('checks', rs.checks.map((c) => c.type).join(', '));
  const fields = listValues(values, 'added', ['weight', 'forwarding', 'checks']);
  return change('+', 'realServer', `real server ${rs.key} in ${vs}`, fields, rule.realServerAdded());
}

function diffRealServers(
  vs: string,
  before: ViewRealServer[],
  after: ViewRealServer[],
  drainMs: number,
  out: Change[],
): void {
  for (const [b, a] of matchBy(before, after, (r) => r.key)) {
    const target = `real server ${(a ?? b)?.key} in ${vs}`;
    if (!b && a) out.push(addedRealServer(vs, a));
    else if (b && !a) out.push(change('-', 'realServer', target, [], rule.realServerRemoved(drainMs)));
    else if (b && a && !same(b, a)) {
      const fields = diffValues(realServerValues(b), realServerValues(a));
      if (fields.length > 0)
        out.push(change('~', 'realServer', target, fields, rule.realServerChanged(fields)));
      diffChecks(`${a.key} in ${vs}`, b.checks, a.checks, out);
    }
  }
}

const VIRTUAL_SERVER_SUMMARY = [
  'address',
  'fwmark',
  'group',
  'port',
  'protocol',
  'scheduler',
  'forwarding',
  'persistence',
  'persistence.timeout',
  'persistence.granularity',
];

function diffVirtualServers(before: NodeView, after: NodeView, out: Change[]): void {
  for (const [b, a] of matchBy(before.virtualServers, after.virtualServers, (v) => v.key)) {
    const key = (a ?? b)?.key ?? '';
    const target = `virtual server ${key}`;
    if (!b && a) {
      const fields = listValues(virtualServerValues(a), 'added', VIRTUAL_SERVER_SUMMARY);
      out.push(change('+', 'virtualServer', target, fields, rule.virtualServerAdded()));
      for (const rs of a.realServers) out.push(addedRealServer(key, rs));
    } else if (b && !a) {
      out.push(change('-', 'virtualServer', target, [], rule.virtualServerRemoved()));
    } else if (b && a && !same(b, a)) {
      const fields = diffValues(virtualServerValues(b), virtualServerValues(a));
      if (fields.length > 0)
        out.push(change('~', 'virtualServer', target, fields, rule.virtualServerChanged(fields)));
      diffRealServers(key, b.realServers, a.realServers, a.drainMs, out);
    }
  }
}

/** The plan for one node; `undefined` on a side means the node is not in that revision. */
export function diffNodeViews(
  before: NodeView | undefined,
  after: NodeView | undefined,
  runsAfter: RunsAfter = () => true,
): NodePlan {
  const node = after?.node ?? before?.node ?? '';
  const changes: Change[] = [];
  if (!before && after) {
    const fields = listValues(fieldValues({ routerId: after.routerId, dataplane: after.dataplane }), 'added');
    changes.push(change('+', 'node', `node ${node}`, fields, rule.nodeAdded()));
  } else if (before && !after) {
    changes.push(change('-', 'node', `node ${node}`, [], rule.nodeRemoved()));
  }
  const was = before ?? emptyView(node);
  const now = after ?? emptyView(node);
  if (before && after) diffNode(was, now, changes);
  diffInstances(node, was, now, runsAfter, changes);
  diffSyncGroups(was, now, changes);
  diffTrackDefinitions(was, now, changes);
  diffVirtualServerGroups(was, now, changes);
  diffVirtualServers(was, now, changes);
  const status = !before
    ? after
      ? 'added'
      : 'unchanged'
    : !after
      ? 'removed'
      : changes.length > 0
        ? 'changed'
        : 'unchanged';
  return { node, status, changes };
}
