import { formatDuration, parseDuration } from '../src/model/duration.ts';
import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// A probe that may wait longer than the gap between probes overlaps the next one, and a
// dead real server is then noticed only after the timeout, not after delayLoop as the
// repository suggests. misc checks are bounded by their own timeout (misc_timeout).

export const checkTimeoutBelowInterval: Rule = {
  id: 'check-timeout-below-interval',
  severity: 'error',
  description: "a check's connectTimeout (misc: timeout) is shorter than its delayLoop",
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.checks()) {
      const r = item.resolved;
      if (!r) continue;
      const miscTimeout =
        item.check.type === 'misc' && item.check.timeout ? parseDuration(item.check.timeout) : undefined;
      const [label, timeoutMs] =
        miscTimeout === undefined ? ['connectTimeout', r.connectTimeoutMs] : ['timeout', miscTimeout];
      if (timeoutMs < r.delayLoopMs) continue;
      out.push({
        file: ctx.cluster,
        path: item.path,
        message:
          `${label} ${formatDuration(timeoutMs)} is not shorter than delayLoop ${formatDuration(r.delayLoopMs)}: ` +
          `a probe could still be waiting when the next is due; make ${label} shorter than delayLoop`,
      });
    }
    return out;
  },
};
