import type { NodeDoc, Vip } from '../model/cluster-schema.ts';
import { parseCidr } from '../model/ip.ts';
import {
  instanceNodes,
  type NodeView,
  nodeView,
  virtualServerKey,
  virtualServerNodes,
} from '../model/node-view.ts';
import type { PathSeg, Repository } from '../model/repository.ts';
import { viewOf } from '../model/repository-views.ts';
import type {
  CheckItem,
  InstanceItem,
  InstanceSetting,
  NodeAddress,
  NodeItem,
  PolicyContext,
  RealServerItem,
  Site,
  VipItem,
  VirtualServerItem,
} from './rule.ts';

// Everything rules ask of a repository, computed once per run and only when asked: a
// revision with no virtual servers never resolves a check, and node views (the costly
// part) are built per node on first use.

const once = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
};

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const NODE_OVERRIDABLE: ReadonlySet<InstanceSetting> = new Set(['priority', 'interface', 'state', 'preempt']);

export function policyContext(repo: Repository): PolicyContext {
  const cluster = repo.cluster;
  const doc = cluster.doc;
  const nodeDocs: NodeDoc[] = repo.nodes.map((n) => n.doc);
  const nodeNames = repo.nodes.map((n) => n.doc.metadata.name).sort();
  const known = new Set(nodeNames);
  const byName = new Map<string, NodeItem>(
    repo.nodes.map((n) => [n.doc.metadata.name, { name: n.doc.metadata.name, located: n }]),
  );
  // Shared with the planner: both need every node's view of this revision.
  const view = (node: string): NodeView => viewOf(repo, node) ?? nodeView(doc, nodeDocs, node);

  const instances = once((): InstanceItem[] =>
    (doc.instances ?? []).map((instance, index) => ({
      instance,
      index,
      path: ['instances', index],
      nodes: instanceNodes(instance, nodeNames).filter((n) => known.has(n)),
    })),
  );

  const vips = once((): VipItem[] =>
    instances().flatMap(({ instance, index }) => {
      const items = (
        list: readonly Vip[] | undefined,
        key: 'vips' | 'excludedVips',
        excluded: boolean,
      ): VipItem[] =>
        (list ?? []).flatMap((vip, j) => {
          const c = parseCidr(typeof vip === 'string' ? vip : vip.address);
          if (!c) return [];
          return [
            {
              instance,
              instanceIndex: index,
              vip,
              address: c.address,
              prefix: c.prefix,
              family: c.family,
              excluded,
              path: ['instances', index, key, j],
            },
          ];
        });
      return [...items(instance.vips, 'vips', false), ...items(instance.excludedVips, 'excludedVips', true)];
    }),
  );

  const virtualServers = once((): VirtualServerItem[] =>
    (doc.virtualServers ?? []).map((vs, index) => ({
      vs,
      index,
      path: ['virtualServers', index],
      nodes: virtualServerNodes(vs, nodeNames).filter((n) => known.has(n)),
    })),
  );

  const realServers = once((): RealServerItem[] =>
    virtualServers().flatMap(({ vs, index: vsIndex }) =>
      (vs.realServers ?? []).map((rs, index) => ({
        rs,
        vs,
        vsIndex,
        index,
        path: ['virtualServers', vsIndex, 'realServers', index],
      })),
    ),
  );

  const checks = once((): CheckItem[] =>
    virtualServers().flatMap(({ vs, index: vsIndex, nodes }) => {
      // Resolution does not depend on the node, so any node that runs the service will do.
      const runner = nodes[0];
      const key = virtualServerKey(vs);
      const resolvedVs =
        runner === undefined ? undefined : view(runner).virtualServers.find((v) => v.key === key);
      return (vs.realServers ?? []).flatMap((rs, rsIndex) =>
        (rs.checks ?? []).map((check, index) => {
          const item: CheckItem = {
            check,
            rs,
            vs,
            vsIndex,
            rsIndex,
            index,
            path: ['virtualServers', vsIndex, 'realServers', rsIndex, 'checks', index],
          };
          const resolved = resolvedVs?.realServers[rsIndex]?.checks[index];
          if (resolved) item.resolved = resolved;
          return item;
        }),
      );
    }),
  );

  const nodeAddresses = once((): NodeAddress[] =>
    repo.nodes.flatMap((located) =>
      Object.entries(located.doc.interfaces ?? {}).flatMap(([ifname, cfg]) => {
        const out: NodeAddress[] = [];
        const add = (text: string, path: PathSeg[]): void => {
          const c = parseCidr(text);
          if (c) out.push({ node: located.doc.metadata.name, address: c.address, located, path });
        };
        for (const [k, a] of (cfg.addresses ?? []).entries()) add(a, ['interfaces', ifname, 'addresses', k]);
        if (cfg.unicastSource) add(cfg.unicastSource, ['interfaces', ifname, 'unicastSource']);
        return out;
      }),
    ),
  );

  const settingSite = (item: InstanceItem, key: InstanceSetting, node?: string): Site => {
    const name = item.instance.name;
    if (node !== undefined && NODE_OVERRIDABLE.has(key)) {
      const n = byName.get(node);
      const over = n?.located.doc.instances?.[name] as Record<string, unknown> | undefined;
      if (n && over?.[key] !== undefined) return { file: n.located, path: ['instances', name, key] };
    }
    const own: unknown = item.instance[key];
    if (own !== undefined) {
      if (isMap(own) && node !== undefined) return { file: cluster, path: [...item.path, key, node] };
      return { file: cluster, path: [...item.path, key] };
    }
    const defaults = doc.defaults?.vrrp as Record<string, unknown> | undefined;
    if (key !== 'priority' && key !== 'interface' && key !== 'state' && defaults?.[key] !== undefined) {
      return { file: cluster, path: ['defaults', 'vrrp', key] };
    }
    return { file: cluster, path: [...item.path, key] };
  };

  const nodes = once((): NodeItem[] => nodeNames.flatMap((n) => byName.get(n) ?? []));

  return {
    repo,
    cluster,
    nodeNames,
    view,
    node: (name) => byName.get(name),
    nodes,
    nodeAddresses,
    instances,
    vips,
    virtualServers,
    realServers,
    checks,
    settingSite,
  };
}
