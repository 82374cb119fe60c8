import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// Priority 255 declares the node the address owner (RFC 5798 §5.2.4): it takes over at
// once, without skew, and track weights cannot lower it. A node that does not actually
// have the addresses would claim them anyway and win every election.

export const priority255Owner: Rule = {
  id: 'priority-255-owner',
  severity: 'error',
  description: 'priority 255 only on the node that owns all the VIPs of the instance',
  check(ctx: PolicyContext): Violation[] {
    const own = new Map<string, Set<string>>();
    for (const a of ctx.nodeAddresses()) own.set(a.node, (own.get(a.node) ?? new Set()).add(a.address));
    const vipsOf = new Map<number, string[]>();
    for (const v of ctx.vips()) {
      if (!v.excluded) vipsOf.set(v.instanceIndex, [...(vipsOf.get(v.instanceIndex) ?? []), v.address]);
    }
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      for (const node of item.nodes) {
        const mine = ctx.view(node).instances.find((i) => i.name === item.instance.name);
        if (mine?.priority !== 255) continue;
        const owned = own.get(node) ?? new Set<string>();
        const missing = (vipsOf.get(item.index) ?? []).filter((a) => !owned.has(a));
        if (missing.length === 0) continue;
        out.push({
          ...ctx.settingSite(item, 'priority', node),
          message:
            `priority 255 makes ${node} the address owner, but ${node} does not have ${missing.join(', ')} ` +
            "among its interfaces' addresses: use 254 at most",
        });
      }
    }
    return out;
  },
};
