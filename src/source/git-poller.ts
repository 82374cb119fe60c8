import { displayUrl } from './git-auth.ts';
import {
  deepenHistory,
  type FetchOptions,
  type FetchRevisionResult,
  fetchRevision,
  type RemoteRevision,
  refLabel,
} from './git-remote.ts';
import { nextPollDelay } from './poll-schedule.ts';
import { admitRevision, orderRevisions } from './revision-order.ts';

// The long-lived side of the Git source: polls on a jittered schedule with backoff,
// fetches at once when told to (a webhook), and hands each new commit to the agent.
// Everything it knows is in status(), so /status can say why a node is behind.

export interface PollerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: PollerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface PollerStatus {
  /** The remote, without credentials. */
  url: string;
  /** "branch main" / "tag v1". */
  ref: string;
  /** When a fetch last succeeded (ms since the epoch). */
  lastFetchAt?: number;
  /** When a fetch was last attempted. */
  lastAttemptAt?: number;
  /** The last commit handed to the callback. */
  lastCommit?: string;
  /** Why the last attempt did not produce a usable revision; cleared by the next success. */
  lastError?: string;
  /** Consecutive failed fetches (a refused revision is not a failed fetch). */
  failures: number;
  /** When the next scheduled poll runs; undefined once stopped. */
  nextAttemptAt?: number;
}

/** Decides whether a fetched revision may be applied; refusals carry a message. */
export type AdmitRevision = (
  revision: RemoteRevision,
) => Promise<{ ok: true; warning?: string } | { ok: false; message: string }>;

export interface PollerOptions {
  url: string;
  ref: string;
  intervalMs: number;
  maxBackoffMs?: number;
  fetch: () => Promise<FetchRevisionResult>;
  onRevision: (revision: RemoteRevision) => void | Promise<void>;
  admit?: AdmitRevision;
  /** A fetched commit that admit refused (reported once per commit). */
  onRefused?: (revision: RemoteRevision, message: string) => void;
  /** Warnings (world-readable secret files, rewinds allowed by config) go here. */
  onWarning?: (message: string) => void;
  /** The commit the node already runs: not handed over again. */
  lastCommit?: string;
  clock?: PollerClock;
  random?: () => number;
}

export interface GitPoller {
  /** Fetch now. Triggers while a fetch is queued join it; during a fetch, one more follows it. */
  trigger(): Promise<void>;
  status(): PollerStatus;
  /** Stop polling; resolves when a fetch under way has finished. */
  stop(): Promise<void>;
}

export function startGitPoller(opts: PollerOptions): GitPoller {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const state: PollerStatus = {
    url: displayUrl(opts.url),
    ref: opts.ref,
    failures: 0,
    ...(opts.lastCommit !== undefined ? { lastCommit: opts.lastCommit } : {}),
  };
  let timer: unknown;
  let stopped = false;
  let inFlight: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  // A refused commit stays refused until the ref moves; do not re-decide it every poll.
  let refused: { commit: string; message: string } | undefined;

  const schedule = (): void => {
    if (stopped) return;
    if (timer !== undefined) clock.clearTimeout(timer);
    const delay = nextPollDelay(
      {
        intervalMs: opts.intervalMs,
        ...(opts.maxBackoffMs !== undefined ? { maxBackoffMs: opts.maxBackoffMs } : {}),
      },
      state.failures,
      random,
    );
    state.nextAttemptAt = clock.now() + delay;
    timer = clock.setTimeout(() => {
      timer = undefined;
      void trigger();
    }, delay);
  };

  const fail = (message: string): void => {
    state.failures += 1;
    state.lastError = message;
  };

  const runOnce = async (): Promise<void> => {
    // A poll due while this fetch runs would only repeat it; the next is scheduled after.
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    state.lastAttemptAt = clock.now();
    try {
      const r = await opts.fetch();
      if ('error' in r) {
        fail(r.error);
        return;
      }
      state.failures = 0;
      state.lastFetchAt = clock.now();
      for (const w of r.warnings) opts.onWarning?.(w);
      if (r.commit === state.lastCommit) {
        refused = undefined;
        delete state.lastError;
        return;
      }
      if (refused?.commit === r.commit) {
        state.lastError = refused.message;
        return;
      }
      if (opts.admit !== undefined) {
        const verdict = await opts.admit(r);
        if (!verdict.ok) {
          refused = { commit: r.commit, message: verdict.message };
          state.lastError = verdict.message;
          opts.onRefused?.(r, verdict.message);
          return;
        }
        if (verdict.warning !== undefined) opts.onWarning?.(verdict.warning);
      }
      refused = undefined;
      delete state.lastError;
      state.lastCommit = r.commit;
      try {
        await opts.onRevision(r);
      } catch (e) {
        state.lastError = `handling revision ${r.commit.slice(0, 7)} failed: ${e instanceof Error ? e.message : String(e)}`;
      }
    } catch (e) {
      // fetch() returns errors as values; this is a bug, but a poller must outlive it.
      fail(`fetch failed unexpectedly: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      schedule();
    }
  };

  function trigger(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (queued !== undefined) return queued;
    const before = inFlight ?? Promise.resolve();
    const next = before.then(() => {
      queued = undefined;
      if (stopped) return;
      const run = runOnce().finally(() => {
        if (inFlight === run) inFlight = undefined;
      });
      inFlight = run;
      return run;
    });
    queued = next;
    return next;
  }

  schedule();

  return {
    trigger,
    status: () => ({ ...state }),
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      delete state.nextAttemptAt;
      await (queued ?? inFlight);
      await inFlight;
    },
  };
}

export interface GitSourcePollerOptions extends FetchOptions {
  onRevision: (revision: RemoteRevision) => void | Promise<void>;
  /** Decides before the rewind check (commit signatures). */
  admitFirst?: AdmitRevision;
  onRefused?: (revision: RemoteRevision, message: string) => void;
  /** The commit the node runs now (from its state directory), if any. */
  applied: () => string | undefined;
  onWarning?: (message: string) => void;
  clock?: PollerClock;
  random?: () => number;
  /** Fetch at once instead of after the first interval. Default true. */
  fetchAtStart?: boolean;
}

/** A poller over fetchRevision that refuses rewinds unless source.allowRewind is set. */
export function startGitSourcePoller(opts: GitSourcePollerOptions): GitPoller {
  const { config } = opts;
  const applied = opts.applied();
  const poller = startGitPoller({
    url: config.url,
    ref: refLabel(config.ref),
    intervalMs: config.interval,
    fetch: () => fetchRevision(opts),
    onRevision: opts.onRevision,
    admit: async (revision) => {
      if (opts.admitFirst !== undefined) {
        const first = await opts.admitFirst(revision);
        if (!first.ok) return first;
      }
      const current = opts.applied();
      if (current === undefined) return { ok: true };
      const order = await orderRevisions({
        gitdir: revision.gitdir,
        fetched: revision.commit,
        applied: current,
        deepen: (depth) => deepenHistory(opts, depth),
      });
      return admitRevision(order, config.allowRewind === true);
    },
    ...(opts.onWarning !== undefined ? { onWarning: opts.onWarning } : {}),
    ...(opts.onRefused !== undefined ? { onRefused: opts.onRefused } : {}),
    ...(applied !== undefined ? { lastCommit: applied } : {}),
    ...(opts.clock !== undefined ? { clock: opts.clock } : {}),
    ...(opts.random !== undefined ? { random: opts.random } : {}),
  });
  if (opts.fetchAtStart !== false) void poller.trigger();
  return poller;
}
