import { canonicalIp } from '../src/model/ip.ts';
import type { PathSeg } from '../src/model/repository.ts';
import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// IPVS accepts a service on any address, but packets only arrive for an address the node
// has. Unless an instance on the node carries it as a VIP (or the node owns it outright),
// the service answers only where the address happens to be configured by someone else.

export const vsAddressCovered: Rule = {
  id: 'vs-address-covered',
  severity: 'warn',
  description: 'every virtual server address is a VIP of an instance on each node that runs the service',
  check(ctx: PolicyContext): Violation[] {
    const held = new Map<string, Set<string>>();
    const holds = (node: string): Set<string> => {
      let set = held.get(node);
      if (!set) {
        set = new Set(
          ctx
            .view(node)
            .instances.flatMap((i) => [...i.vips, ...i.excludedVips])
            .map((v) => v.address.slice(0, v.address.lastIndexOf('/'))),
        );
        for (const a of ctx.nodeAddresses()) if (a.node === node) set.add(a.address);
        held.set(node, set);
      }
      return set;
    };
    const groups = new Map((ctx.cluster.doc.virtualServerGroups ?? []).map((g, i) => [g.name, { g, i }]));
    const out: Violation[] = [];
    const seen = new Set<string>();
    const report = (address: string, path: PathSeg[], nodes: readonly string[], what: string): void => {
      const a = canonicalIp(address);
      const missing = nodes.filter((n) => !holds(n).has(a));
      const key = `${path.join('\u0000')}\u0000${missing.join(',')}`;
      if (missing.length === 0 || seen.has(key)) return;
      seen.add(key);
      out.push({
        file: ctx.cluster,
        path,
        message:
          `${what} ${a} is not a VIP of any instance on ${missing.join(', ')}: add it to the vips of an ` +
          "instance those nodes run, or narrow the virtual server's nodes",
      });
    };
    for (const item of ctx.virtualServers()) {
      if (item.vs.address !== undefined) {
        report(item.vs.address, [...item.path, 'address'], item.nodes, 'virtual server address');
      }
      const group = item.vs.group === undefined ? undefined : groups.get(item.vs.group);
      group?.g.members.forEach((m, mi) => {
        if ('address' in m) {
          report(
            m.address,
            ['virtualServerGroups', group.i, 'members', mi, 'address'],
            item.nodes,
            'group member address',
          );
        }
      });
    }
    return out;
  },
};
