import type { InstanceItem, PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// Two instances sharing a VRID on one interface and address family also share the
// virtual MAC (00:00:5e:00:01:VRID, or :02: for IPv6) and each takes the other's adverts
// for its own. keepalived allows the repeat only where the adverts cannot meet: unicast
// instances whose peers do not overlap, or one unicast and one multicast (separate sockets).

interface Seen {
  item: InstanceItem;
  unicast?: readonly string[];
}

const collide = (a: Seen, b: Seen): boolean => {
  if (!a.unicast && !b.unicast) return true;
  if (!a.unicast || !b.unicast) return false;
  const peers = new Set(a.unicast);
  return b.unicast.some((p) => peers.has(p));
};

export const vridUnique: Rule = {
  id: 'vrid-unique',
  severity: 'error',
  description: 'a VRID is used once per node, interface and address family',
  check(ctx: PolicyContext): Violation[] {
    const items = new Map(ctx.instances().map((i) => [i.instance.name, i]));
    // One finding per pair of instances, naming every node where they meet.
    const clashes = new Map<
      string,
      { first: Seen; second: Seen; iface: string; family: number; nodes: string[] }
    >();
    for (const node of ctx.nodeNames) {
      const groups = new Map<string, Seen[]>();
      for (const inst of ctx.view(node).instances) {
        const item = items.get(inst.name);
        if (!item) continue;
        const key = `${inst.interface}\u0000${inst.family}\u0000${inst.vrid}`;
        const seen: Seen = inst.unicast ? { item, unicast: inst.unicast.peers } : { item };
        const group = groups.get(key) ?? [];
        for (const other of group) {
          if (!collide(other, seen)) continue;
          const [first, second] = other.item.index < item.index ? [other, seen] : [seen, other];
          const pair = `${first.item.index}/${second.item.index}/${inst.interface}`;
          const clash = clashes.get(pair) ?? {
            first,
            second,
            iface: inst.interface,
            family: inst.family,
            nodes: [],
          };
          clash.nodes.push(node);
          clashes.set(pair, clash);
        }
        group.push(seen);
        groups.set(key, group);
      }
    }
    return [...clashes.values()].map(({ first, second, iface, family, nodes }) => ({
      file: ctx.cluster,
      path: [...second.item.path, 'vrid'],
      message:
        `VRID ${second.item.instance.vrid} is also used by instance ${first.item.instance.name} on ` +
        `${iface || 'the same interface'} (IPv${family}) on ${nodes.join(', ')}: give each instance on one ` +
        'interface and address family its own VRID',
    }));
  },
};
