import { formatDuration, parseDuration } from '../src/model/duration.ts';
import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// A probe that may wait longer than the gap between probes means a dead real server is
// noticed only after the timeout, not after delayLoop as the repository suggests.
// Equal is allowed: as in keepalived, the next probe is scheduled delayLoop after the
// previous one ends, so they never overlap (keepalived's own sample uses 3s and 3s).
// misc checks are bounded by their own timeout (misc_timeout, delayLoop when unset), file
// checks by nothing.

export const checkTimeoutWithinInterval: Rule = {
  id: 'check-timeout-within-interval',
  severity: 'error',
  description: "a check's connectTimeout (misc: timeout) is not longer than its delayLoop",
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.checks()) {
      const r = item.resolved;
      if (!r) continue;
      // misc: its own timeout, delayLoop when unset (keepalived's misc_timeout); connectTimeout
      // does not apply. file: nothing to wait for.
      if (item.check.type === 'file') continue;
      const c = item.check;
      const miscTimeout = c.type === 'misc' && c.timeout ? parseDuration(c.timeout) : undefined;
      if (c.type === 'misc' && miscTimeout === undefined) continue;
      const [label, timeoutMs] =
        miscTimeout === undefined ? ['connectTimeout', r.connectTimeoutMs] : ['timeout', miscTimeout];
      if (timeoutMs <= r.delayLoopMs) continue;
      out.push({
        file: ctx.cluster,
        path: item.path,
        message:
          `${label} ${formatDuration(timeoutMs)} is longer than delayLoop ${formatDuration(r.delayLoopMs)}: ` +
          `a dead real server would be noticed only after ${formatDuration(timeoutMs)}; make ${label} at most delayLoop`,
      });
    }
    return out;
  },
};
