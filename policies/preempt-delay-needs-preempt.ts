import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// preemptDelay only postpones a preemption; where preempt is false there is none to
// postpone, so the setting suggests a behaviour the node will not have.

export const preemptDelayNeedsPreempt: Rule = {
  id: 'preempt-delay-needs-preempt',
  severity: 'warn',
  description: 'preemptDelay is only set where preempt is true',
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      const idle = item.nodes.filter((node) => {
        const mine = ctx.view(node).instances.find((i) => i.name === item.instance.name);
        return mine !== undefined && mine.preemptDelayMs > 0 && !mine.preempt;
      });
      if (idle.length === 0) continue;
      const site = ctx.settingSite(item, 'preemptDelay');
      const whose = site.path[0] === 'defaults' ? ` (instance ${item.instance.name})` : '';
      out.push({
        ...site,
        message: `preemptDelay has no effect on ${idle.join(', ')}, where preempt is false: remove preemptDelay or set preempt: true${whose}`,
      });
    }
    return out;
  },
};
