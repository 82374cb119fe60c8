import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import type { ClusterDoc, NodeDoc } from '../model/cluster-schema.ts';
import type { KaPos } from './keepalived-ast.ts';

// A model in memory → the files of a desired-state repository (repository-relative path →
// text): keepgit.yaml, nodes/NAME.yaml and, when secrets are needed, .env.example naming
// them. Pure. Keys are written in the order a reviewer reads them (identity first, lists
// of children last), and short lists and maps of plain values on one line.

export interface RenderInput {
  cluster: ClusterDoc;
  nodes: readonly NodeDoc[];
  secrets: readonly { env: string; pos: KaPos; instance: string }[];
}

type Obj = Record<string, unknown>;

/** Per kind of object: the keys that come first, and those that come last. */
const ORDER: Record<string, { first: string[]; last?: string[] }> = {
  cluster: {
    first: [
      'apiVersion',
      'kind',
      'metadata',
      'dataplane',
      'defaults',
      'scripts',
      'trackProcesses',
      'trackFiles',
    ],
    last: ['instances', 'syncGroups', 'virtualServerGroups', 'virtualServers'],
  },
  node: {
    first: ['apiVersion', 'kind', 'metadata', 'routerId', 'dataplane', 'scriptUser', 'enableScriptSecurity'],
    last: ['interfaces', 'instances'],
  },
  instance: {
    first: [
      'name',
      'vrid',
      'nodes',
      'interface',
      'priority',
      'state',
      'preempt',
      'version',
      'advertInterval',
      'preemptDelay',
      'vips',
      'excludedVips',
      'auth',
      'unicast',
    ],
    last: ['track', 'notify', 'garp'],
  },
  syncGroup: { first: ['name', 'instances'] },
  script: { first: ['name', 'script'] },
  trackProcess: { first: ['name', 'process', 'args'] },
  trackFile: { first: ['name', 'file'] },
  virtualServer: {
    first: [
      'name',
      'nodes',
      'address',
      'fwmark',
      'group',
      'port',
      'protocol',
      'family',
      'scheduler',
      'schedulerFlags',
      'forwarding',
      'persistence',
    ],
    last: ['realServers'],
  },
  realServer: { first: ['address', 'port', 'weight', 'forwarding'], last: ['checks'] },
  check: { first: ['type'], last: ['urls'] },
  url: { first: ['path'] },
};

function ordered(o: Obj, kind: string): Obj {
  const { first, last = [] } = ORDER[kind] ?? { first: [] };
  const keys = Object.keys(o).filter((k) => o[k] !== undefined);
  const middle = keys.filter((k) => !first.includes(k) && !last.includes(k));
  const out: Obj = {};
  for (const k of [...first, ...middle, ...last]) if (keys.includes(k)) out[k] = o[k];
  return out;
}

const each = (list: unknown, kind: string, inner?: (o: Obj) => Obj): unknown =>
  Array.isArray(list)
    ? list.map((x) =>
        typeof x === 'object' && x !== null ? ordered(inner ? inner(x as Obj) : (x as Obj), kind) : x,
      )
    : list;

function orderCluster(c: ClusterDoc): Obj {
  const o: Obj = { ...c };
  o.scripts = each(c.scripts, 'script');
  o.trackProcesses = each(c.trackProcesses, 'trackProcess');
  o.trackFiles = each(c.trackFiles, 'trackFile');
  o.instances = each(c.instances, 'instance');
  o.syncGroups = each(c.syncGroups, 'syncGroup');
  o.virtualServers = each(c.virtualServers, 'virtualServer', (vs) => ({
    ...vs,
    realServers: each(vs.realServers, 'realServer', (rs) => ({
      ...rs,
      checks: each(rs.checks, 'check', (ch) => ({ ...ch, urls: each(ch.urls, 'url') })),
    })),
  }));
  return ordered(o, 'cluster');
}

const FLOW_WIDTH = 72;

/** Short collections of plain values read best on one line: `vips: [192.0.2.10/32]`. */
function toYaml(value: Obj, header: string): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  visit(doc, {
    Map(_, node) {
      const simple = node.items.every((p) => isScalar(p.key) && isScalar(p.value));
      const width = node.items.reduce(
        (n, p) =>
          n +
          String((p.key as { value?: unknown })?.value).length +
          String((p.value as { value?: unknown })?.value).length +
          4,
        4,
      );
      if (simple && node.items.length > 0 && node.items.length <= 4 && width <= FLOW_WIDTH) node.flow = true;
    },
    Seq(_, node) {
      const simple = node.items.every((i) => isScalar(i));
      const width = node.items.reduce(
        (n: number, i) => n + String((i as { value?: unknown }).value).length + 2,
        4,
      );
      if (simple && node.items.length > 0 && width <= FLOW_WIDTH) node.flow = true;
    },
  });
  // Top-level documents stay in block style whatever their size.
  if (isMap(doc.contents) || isSeq(doc.contents)) doc.contents.flow = false;
  doc.commentBefore = header;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}

export function renderRepository(model: RenderInput, sources: readonly string[]): Map<string, string> {
  const header = ` imported by keepgit import from ${sources.join(', ')}`;
  const files = new Map<string, string>();
  files.set('keepgit.yaml', toYaml(orderCluster(model.cluster), header));
  for (const n of model.nodes) {
    files.set(`nodes/${n.metadata.name}.yaml`, toYaml(ordered({ ...n }, 'node'), header));
  }
  if (model.secrets.length > 0) {
    const lines = [
      `# Secrets of the repository${header}.`,
      '# The agent reads each one from its environment on every node: set the values there',
      '# (a systemd EnvironmentFile, your secret store), never in Git.',
    ];
    for (const s of model.secrets) {
      lines.push('', `# auth_pass of vrrp_instance ${s.instance} (${s.pos.file}:${s.pos.line})`, `${s.env}=`);
    }
    files.set('.env.example', `${lines.join('\n')}\n`);
  }
  return files;
}
