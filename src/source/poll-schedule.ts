// When to poll a Git remote next. Pure: the random source is an argument.
//
// Jitter spreads a fleet's polls so that a hundred nodes started by the same
// deployment do not hit the Git host in the same second. After failures the delay
// doubles (a host that is down or rate-limiting us should not be hammered), up to a
// cap; one success returns to the plain interval.

export interface PollSchedule {
  /** The normal delay between polls, in ms. */
  intervalMs: number;
  /** The longest delay after failures, in ms (never shorter than the interval). Default 5 min. */
  maxBackoffMs?: number;
  /** Relative jitter, ±. Default 0.1 (±10 %). */
  jitter?: number;
}

export const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;
export const DEFAULT_JITTER = 0.1;

/** The delay before the next poll, after `failures` consecutive failed polls (0 after a success). */
export function nextPollDelay(schedule: PollSchedule, failures: number, random: () => number): number {
  const interval = Number.isFinite(schedule.intervalMs) ? Math.max(1, schedule.intervalMs) : 60_000;
  const cap = Math.max(interval, schedule.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
  const jitter = Math.min(1, Math.max(0, schedule.jitter ?? DEFAULT_JITTER));
  const n = Math.max(0, Math.floor(failures));
  // 2 ** n overflows to Infinity for a long outage; min() turns that into the cap.
  const base = n === 0 ? interval : Math.min(cap, interval * 2 ** n);
  const r = Math.min(1, Math.max(0, random()));
  return Math.max(1, Math.round(base * (1 + jitter * (2 * r - 1))));
}
