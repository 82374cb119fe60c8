import { canonicalIp } from '../src/model/ip.ts';
import { hostPort } from '../src/model/node-view.ts';
import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// IPVS keeps one destination per address and port in a service: the second entry would
// silently replace the first's weight and checks, whichever the dataplane applied last.

export const realServerUnique: Rule = {
  id: 'real-server-unique',
  severity: 'error',
  description: 'a real server (address and port) is listed once per virtual server',
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    const first = new Map<string, number>();
    for (const item of ctx.realServers()) {
      const key = `${item.vsIndex}\u0000${hostPort(canonicalIp(item.rs.address), item.rs.port ?? item.vs.port ?? 0)}`;
      const earlier = first.get(key);
      if (earlier === undefined) {
        first.set(key, item.index);
        continue;
      }
      out.push({
        file: ctx.cluster,
        path: item.path,
        message:
          `real server ${key.split('\u0000')[1]} is already listed in this virtual server (entry ${earlier + 1}): ` +
          'IPVS keeps one destination per address and port, so merge the two entries',
      });
    }
    return out;
  },
};
