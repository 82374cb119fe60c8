import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// A VIP comes and goes with mastership; if it is also a node's own address, the node
// loses that address when it gives up the VIP, and two hosts answer for it meanwhile. The
// one exception is RFC 5798's address owner: the node whose address it is, running the
// instance at priority 255 (priority-255-owner checks the other direction).

export const vipNotNodeAddress: Rule = {
  id: 'vip-not-node-address',
  severity: 'error',
  description: "a VIP is not one of a node's own addresses (unless that node is its owner at priority 255)",
  check(ctx: PolicyContext): Violation[] {
    const owners = new Map<string, { node: string; where: string }[]>();
    for (const a of ctx.nodeAddresses()) {
      const list = owners.get(a.address) ?? [];
      list.push({ node: a.node, where: a.path.slice(0, 3).join('.') });
      owners.set(a.address, list);
    }
    const out: Violation[] = [];
    for (const vip of ctx.vips()) {
      const conflicts = (owners.get(vip.address) ?? []).filter(({ node }) => {
        const mine = ctx.view(node).instances.find((i) => i.name === vip.instance.name);
        return mine?.priority !== 255;
      });
      if (conflicts.length === 0) continue;
      const whose = conflicts.map((c) => `${c.node} (${c.where})`).join(', ');
      out.push({
        file: ctx.cluster,
        path: vip.path,
        message:
          `VIP ${vip.address} is already an address of ${whose}: use an address no node has, ` +
          'or make that node the address owner with priority 255',
      });
    }
    return out;
  },
};
