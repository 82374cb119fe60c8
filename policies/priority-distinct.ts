import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// With equal priorities VRRP breaks the tie on the higher primary IP address, so which
// node is master depends on addressing rather than on what the repository says. keepalived
// recommends distinct priorities and nopreempt for "stay where you are".

export const priorityDistinct: Rule = {
  id: 'priority-distinct',
  severity: 'error',
  description: 'the nodes of one instance have different priorities',
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      if (item.nodes.length < 2) continue;
      const byPriority = new Map<number, string[]>();
      for (const node of item.nodes) {
        const mine = ctx.view(node).instances.find((i) => i.name === item.instance.name);
        if (!mine) continue;
        byPriority.set(mine.priority, [...(byPriority.get(mine.priority) ?? []), node]);
      }
      for (const [priority, nodes] of byPriority) {
        if (nodes.length < 2) continue;
        // Point at the last node's value: changing that one is the smallest fix.
        const site = ctx.settingSite(item, 'priority', nodes[nodes.length - 1]);
        out.push({
          ...site,
          message:
            `${nodes.join(', ')} share priority ${priority} in instance ${item.instance.name}: give each node ` +
            'a different priority so the master is chosen by intent, not by the higher IP address ' +
            '(use preempt: false to keep the current master)',
        });
      }
    }
    return out;
  },
};
