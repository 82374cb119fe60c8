import { formatDuration } from '../src/model/duration.ts';
import type { PolicyContext, Rule, Site, Violation } from '../src/policy/rule.ts';

// The advert interval travels in the packet: VRRPv2 has 8 bits of whole seconds, VRRPv3
// 12 bits of centiseconds. Anything else is rounded by keepalived (with a configuration
// error), so the interval in Git would not be the one on the wire.

const defaults = { v2MinMs: 1000, v2MaxMs: 255_000, v3StepMs: 10, v3MaxMs: 40_950 };

export const v2WholeSecondInterval: Rule<typeof defaults> = {
  id: 'v2-whole-second-interval',
  severity: 'error',
  description:
    'advertInterval fits the VRRP version: v2 whole seconds 1s..255s, v3 steps of 10ms up to 40.95s',
  params: defaults,
  check(ctx: PolicyContext, p): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      const node = item.nodes[0];
      if (node === undefined) continue;
      const mine = ctx.view(node).instances.find((i) => i.name === item.instance.name);
      if (!mine) continue;
      const ms = mine.advertIntervalMs;
      const site: Site = ctx.settingSite(item, 'advertInterval', node);
      const whose = site.path[0] === 'defaults' ? ` (instance ${item.instance.name})` : '';
      const got = formatDuration(ms);
      let problem: string | undefined;
      if (mine.version === 2) {
        if (ms % 1000 !== 0) {
          problem =
            `VRRPv2 advertises whole seconds, so ${got} would be rounded: use a whole number of seconds ` +
            `(${formatDuration(p.v2MinMs)}..${formatDuration(p.v2MaxMs)}), or version: 3 for sub-second adverts`;
        } else if (ms < p.v2MinMs || ms > p.v2MaxMs) {
          problem = `VRRPv2 advertInterval must be ${formatDuration(p.v2MinMs)}..${formatDuration(p.v2MaxMs)}, got ${got}`;
        }
      } else if (ms % p.v3StepMs !== 0) {
        problem = `VRRPv3 advertises in steps of ${formatDuration(p.v3StepMs)}, so ${got} would be rounded: use a multiple of ${formatDuration(p.v3StepMs)}`;
      } else if (ms < p.v3StepMs || ms > p.v3MaxMs) {
        problem = `VRRPv3 advertInterval must be ${formatDuration(p.v3StepMs)}..${formatDuration(p.v3MaxMs)}, got ${got}`;
      }
      if (problem) out.push({ ...site, message: problem + whose });
    }
    return out;
  },
};
