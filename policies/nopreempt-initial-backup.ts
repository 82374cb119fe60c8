import type { PolicyContext, Rule, Site, Violation } from '../src/policy/rule.ts';

// keepalived's nopreempt (and preempt_delay) only work when the instance starts as BACKUP:
// a node that starts as MASTER takes the VIPs at once, which is exactly the preemption
// preempt: false was meant to prevent.

export const nopreemptInitialBackup: Rule = {
  id: 'nopreempt-initial-backup',
  severity: 'warn',
  description: 'a node with preempt: false does not start as MASTER',
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      // One state written for several nodes is one finding naming them all.
      const bySite = new Map<string, { site: Site; nodes: string[] }>();
      for (const node of item.nodes) {
        const mine = ctx.view(node).instances.find((i) => i.name === item.instance.name);
        if (!mine || mine.preempt || mine.state !== 'MASTER') continue;
        const site = ctx.settingSite(item, 'state', node);
        const key = `${site.file.file}\u0000${site.path.join('\u0000')}`;
        const entry = bySite.get(key) ?? { site, nodes: [] };
        entry.nodes.push(node);
        bySite.set(key, entry);
      }
      for (const { site, nodes } of bySite.values()) {
        const who = nodes.join(', ');
        out.push({
          ...site,
          message: `${who} start${nodes.length === 1 ? 's' : ''} as MASTER, so preempt: false cannot stop a takeover on start: use state BACKUP`,
        });
      }
    }
    return out;
  },
};
