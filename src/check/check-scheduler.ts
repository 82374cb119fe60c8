import type { Clock, TimerHandle, Timers } from '../vrrp/instance-timers.ts';
import type { CheckOutcome, ProbeContext } from './check-types.ts';

// Runs the health checks of a set of real servers and turns their attempts into facts
// ("198.51.100.11:80 of www-80 is down"). Counting follows keepalived (check_api.c and the
// checkers' epilogues): a check starts UP, or DOWN with alpha; while UP, a failed attempt is
// retried `retry` times, each after delay_before_retry, and only the last failure makes it
// DOWN — so an UP check goes DOWN after retry + 1 consecutive failures. While DOWN a failure
// is not retried; one success brings it UP. After a success or a final failure the next
// attempt is delay_loop later. A real server is up when all of its checks are.
//
// The first attempt of each check waits a random part of its warmup, or of its delay_loop
// when no warmup is set (keepalived's warmup defaults to delay_loop), so that thousands of
// checks loaded at once spread over the loop instead of firing together. Every attempt has a
// hard timeout enforced here, whatever the probe does: a probe keeps to its own timeout (and
// some decide at that moment — UDP_CHECK's silence is a success), so the backstop fires a
// grace period later and only catches a probe that overran. Time, timers and randomness are
// injected so tests drive all of this with a fake clock.

export interface ScheduledCheck {
  /** Identity within its real server: the same id in a later revision keeps the check running. */
  id: string;
  /** The check type, for status and logs. */
  kind: string;
  /** The timeout of one attempt, given to the probe; the hard stop is a grace period later. */
  timeoutMs: number;
  retry: number;
  delayBeforeRetryMs: number;
  delayLoopMs: number;
  warmupMs: number;
  /** Start DOWN until the first success. */
  alpha: boolean;
  /** First attempt at once, not after warmup (FILE_CHECK: the file says the state right away). */
  immediate?: boolean;
  /** One attempt, target already bound. */
  run: (ctx: ProbeContext) => Promise<CheckOutcome>;
  /** Something that can say "look again now" between attempts (a watched file). */
  watch?: (onChange: () => void) => { close(): void };
}

export interface ScheduledRealServer {
  virtualServer: string;
  realServer: string;
  /** The configured weight; misc_dynamic and FILE_CHECK weights are relative to it. */
  weight: number;
  checks: ScheduledCheck[];
}

/** What the reconciler hears: sent only when a real server's up/down state or weight changes. */
export interface CheckFact {
  virtualServer: string;
  realServer: string;
  up: boolean;
  /** Wall-clock milliseconds of the last up/down transition. */
  since: number;
  /** The attempt that caused the change; unset only when a revision caused it before any attempt. */
  last?: CheckOutcome;
  /** The current weight: configured, or as misc_dynamic / FILE_CHECK set it (0..65535). */
  weight: number;
}

export interface CheckStatus {
  id: string;
  kind: string;
  up: boolean;
  since: number;
  /** Retries done so far in the current run of failures (0 when none is pending). */
  retrying: number;
  last?: CheckOutcome;
  /** Wall-clock milliseconds of the last attempt's end. */
  lastAt?: number;
  /** Attempts so far by result (for /metrics). */
  succeeded: number;
  failed: number;
}

export interface RealServerStatus {
  virtualServer: string;
  realServer: string;
  up: boolean;
  since: number;
  weight: number;
  checks: CheckStatus[];
}

export type CheckLog =
  | {
      event: 'check-failed';
      virtualServer: string;
      realServer: string;
      check: string;
      /** The check's kind (tcp, http ...), for a person: `check` is its full identity. */
      kind: string;
      reason: string;
      /** "retry 1 of 3", or "down" when this failure decides, or "still down". */
      outcome: string;
    }
  | {
      event: 'check-up' | 'check-down';
      virtualServer: string;
      realServer: string;
      check: string;
      kind: string;
    };

export interface CheckSchedulerOptions {
  timers: Timers;
  /** Monotonic: measures latency and drives nothing else. */
  clock: Clock;
  /** Wall clock for `since` and `lastAt`; default Date.now. */
  wallClock?: () => number;
  /** 0 <= x < 1; default Math.random. */
  random?: () => number;
  onFact: (fact: CheckFact) => void;
  log?: (entry: CheckLog) => void;
  /** How long past its timeout a probe may take before it is abandoned; default 1000 ms. */
  overrunGraceMs?: number;
}

interface CheckState {
  def: ScheduledCheck;
  up: boolean;
  since: number;
  hasRun: boolean;
  retryIt: number;
  last: CheckOutcome | undefined;
  lastAt: number | undefined;
  /** misc_dynamic / FILE_CHECK weight asked for by the last success; cleared when DOWN. */
  dynamicWeight: number | undefined;
  timer: TimerHandle | undefined;
  /** The attempt in flight, if any. */
  running: AbortController | undefined;
  /**
   * Handed to attempt after attempt until one is aborted (then replaced): at thousands of
   * attempts a second a fresh AbortController each is a measurable part of the cost.
   */
  controller: AbortController | undefined;
  /** Numbers the attempts, so a late outcome of an earlier one is told from the current. */
  attemptNo: number;
  succeeded: number;
  failed: number;
  /** A watch fired during an attempt: attempt again as soon as this one ends. */
  rerun: boolean;
  removed: boolean;
  watcher: { close(): void } | undefined;
}

interface ServerState {
  virtualServer: string;
  realServer: string;
  weight: number;
  checks: Map<string, CheckState>;
  up: boolean;
  since: number;
  effectiveWeight: number;
}

const MAX_WEIGHT = 65535;
const DEFAULT_OVERRUN_GRACE_MS = 1000;
const serverKey = (vs: string, rs: string): string => `${vs}\u0000${rs}`;

export class CheckScheduler {
  private readonly servers = new Map<string, ServerState>();
  private held: CheckFact[] | undefined;
  private readonly random: () => number;
  private readonly wall: () => number;
  private stopped = false;
  /** Handed to every attempt: one function, not a closure per attempt. */
  private readonly now = (): number => this.o.clock.now();

  constructor(private readonly o: CheckSchedulerOptions) {
    this.random = o.random ?? Math.random;
    this.wall = o.wallClock ?? Date.now;
  }

  /**
   * Makes the running set equal to `servers`: new real servers and checks start, removed ones
   * stop, and a check whose id is unchanged keeps its state and timers untouched.
   */
  update(servers: readonly ScheduledRealServer[]): void {
    if (this.stopped) return;
    // Facts a revision causes are sent once the new set is in place: a listener that reacts
    // by calling update() again must not find it half applied.
    const held: CheckFact[] = [];
    this.held = held;
    try {
      this.applyRevision(servers);
    } finally {
      this.held = undefined;
    }
    for (const f of held) if (!this.stopped) this.o.onFact(f);
  }

  private applyRevision(servers: readonly ScheduledRealServer[]): void {
    const wanted = new Map<string, ScheduledRealServer>();
    for (const s of servers) {
      const key = serverKey(s.virtualServer, s.realServer);
      if (!wanted.has(key)) wanted.set(key, s);
    }
    for (const [key, state] of this.servers)
      if (!wanted.has(key)) {
        for (const c of state.checks.values()) this.stopCheck(c);
        this.servers.delete(key);
      }
    for (const [key, s] of wanted) {
      const defs = uniqueIds(s.checks);
      let state = this.servers.get(key);
      if (state === undefined) {
        state = {
          virtualServer: s.virtualServer,
          realServer: s.realServer,
          weight: s.weight,
          checks: new Map(),
          up: true,
          since: this.wall(),
          effectiveWeight: clampWeight(s.weight),
        };
        this.servers.set(key, state);
        for (const def of defs) state.checks.set(def.id, this.newCheck(def));
        state.up = allUp(state);
        for (const c of state.checks.values()) this.start(state, c);
        continue;
      }
      state.weight = s.weight;
      const ids = new Set(defs.map((d) => d.id));
      for (const [id, c] of state.checks)
        if (!ids.has(id)) {
          this.stopCheck(c);
          state.checks.delete(id);
        }
      for (const def of defs)
        if (!state.checks.has(def.id)) {
          const c = this.newCheck(def);
          state.checks.set(def.id, c);
          this.start(state, c);
        }
      this.settle(state, undefined);
    }
  }

  /** Every real server's state, for /status. */
  snapshot(): RealServerStatus[] {
    return [...this.servers.values()].map((s) => this.status(s));
  }

  state(virtualServer: string, realServer: string): RealServerStatus | undefined {
    const s = this.servers.get(serverKey(virtualServer, realServer));
    return s && this.status(s);
  }

  /** Stops every check: timers cleared, attempts in flight aborted, no fact after this. */
  stop(): void {
    this.stopped = true;
    for (const s of this.servers.values()) for (const c of s.checks.values()) this.stopCheck(c);
    this.servers.clear();
  }

  private status(s: ServerState): RealServerStatus {
    return {
      virtualServer: s.virtualServer,
      realServer: s.realServer,
      up: s.up,
      since: s.since,
      weight: s.effectiveWeight,
      checks: [...s.checks.values()].map((c) => ({
        id: c.def.id,
        kind: c.def.kind,
        up: c.up,
        since: c.since,
        retrying: c.retryIt,
        succeeded: c.succeeded,
        failed: c.failed,
        ...(c.last ? { last: c.last } : {}),
        ...(c.lastAt !== undefined ? { lastAt: c.lastAt } : {}),
      })),
    };
  }

  private newCheck(def: ScheduledCheck): CheckState {
    return {
      def,
      up: !def.alpha,
      since: this.wall(),
      hasRun: false,
      retryIt: 0,
      // Every field from the start: one object shape for all checks keeps the hot path fast.
      last: undefined,
      lastAt: undefined,
      dynamicWeight: undefined,
      timer: undefined,
      running: undefined,
      controller: undefined,
      attemptNo: 0,
      succeeded: 0,
      failed: 0,
      rerun: false,
      removed: false,
      watcher: undefined,
    };
  }

  private start(server: ServerState, c: CheckState): void {
    const d = c.def;
    const spread = d.warmupMs > 0 ? d.warmupMs : d.delayLoopMs;
    const first = d.immediate ? 0 : Math.floor(this.random() * spread);
    c.timer = this.o.timers.set(() => this.attempt(server, c), first);
    if (d.watch) c.watcher = d.watch(() => this.poke(server, c));
  }

  private stopCheck(c: CheckState): void {
    c.removed = true;
    if (c.timer) this.o.timers.clear(c.timer);
    c.timer = undefined;
    c.running?.abort();
    c.running = undefined;
    c.controller = undefined;
    c.watcher?.close();
    c.watcher = undefined;
  }

  /** A watched source changed: attempt now rather than at the next tick. */
  private poke(server: ServerState, c: CheckState): void {
    if (c.removed || this.stopped) return;
    if (c.running) {
      c.rerun = true;
      return;
    }
    if (c.timer) this.o.timers.clear(c.timer);
    c.timer = this.o.timers.set(() => this.attempt(server, c), 0);
  }

  private attempt(server: ServerState, c: CheckState): void {
    c.timer = undefined;
    if (c.removed) return;
    const d = c.def;
    c.controller ??= new AbortController();
    const controller = c.controller;
    c.running = controller;
    const attemptNo = ++c.attemptNo;
    const started = this.o.clock.now();
    let done = false;
    const conclude = (outcome: CheckOutcome) => {
      if (done) return;
      done = true;
      this.o.timers.clear(hard);
      // Removed, stopped or overrun meanwhile (then its controller was aborted and dropped).
      if (c.running !== controller || c.attemptNo !== attemptNo) return;
      c.running = undefined;
      this.apply(server, c, outcome);
    };
    // The probe is told to stop, but we do not wait for it: a probe that ignores its signal
    // must not hold the check (or the agent) hostage.
    const hardMs = d.timeoutMs + (this.o.overrunGraceMs ?? DEFAULT_OVERRUN_GRACE_MS);
    const hard = this.o.timers.set(() => {
      if (c.controller === controller) c.controller = undefined;
      controller.abort();
      conclude({
        ok: false,
        latencyMs: hardMs,
        reason: `timeout after ${d.timeoutMs} ms (the probe overran it)`,
      });
    }, hardMs);
    const failed = (e: unknown): CheckOutcome => ({
      ok: false,
      latencyMs: this.o.clock.now() - started,
      reason: `probe error: ${e instanceof Error ? e.message : String(e)}`,
    });
    let pending: Promise<CheckOutcome>;
    try {
      pending = d.run({ timeoutMs: d.timeoutMs, signal: controller.signal, now: this.now });
    } catch (e) {
      pending = Promise.resolve(failed(e));
    }
    pending.then(conclude, (e: unknown) => conclude(failed(e)));
  }

  private apply(server: ServerState, c: CheckState, outcome: CheckOutcome): void {
    const d = c.def;
    c.last = outcome;
    c.lastAt = this.wall();
    if (outcome.ok) c.succeeded++;
    else c.failed++;
    let next = d.delayLoopMs;
    const ids = {
      virtualServer: server.virtualServer,
      realServer: server.realServer,
      check: d.id,
      kind: d.kind,
    };
    if (outcome.ok) {
      c.retryIt = 0;
      c.dynamicWeight = outcome.weight;
      if (!c.up) {
        c.up = true;
        c.since = this.wall();
        this.o.log?.({ event: 'check-up', ...ids });
      }
    } else if (c.up) {
      if (c.retryIt < d.retry) {
        c.retryIt++;
        next = d.delayBeforeRetryMs;
        this.o.log?.({
          event: 'check-failed',
          ...ids,
          reason: outcome.reason,
          outcome: `retry ${c.retryIt} of ${d.retry}`,
        });
      } else {
        c.retryIt = 0;
        c.up = false;
        c.since = this.wall();
        c.dynamicWeight = undefined;
        this.o.log?.({ event: 'check-failed', ...ids, reason: outcome.reason, outcome: 'down' });
        this.o.log?.({ event: 'check-down', ...ids });
      }
    } else {
      c.retryIt = 0;
      c.dynamicWeight = undefined;
      this.o.log?.({ event: 'check-failed', ...ids, reason: outcome.reason, outcome: 'still down' });
    }
    c.hasRun = true;
    this.settle(server, outcome);
    if (c.removed || this.stopped) return;
    if (c.rerun) {
      c.rerun = false;
      next = 0;
    }
    c.timer = this.o.timers.set(() => this.attempt(server, c), next);
  }

  /** Recomputes the real server from its checks and reports a change. */
  private settle(server: ServerState, cause: CheckOutcome | undefined): void {
    const up = allUp(server);
    let weight = server.weight;
    for (const c of server.checks.values())
      if (c.up && c.dynamicWeight !== undefined) weight += c.dynamicWeight - server.weight;
    weight = clampWeight(weight);
    if (up === server.up && weight === server.effectiveWeight) return;
    if (up !== server.up) server.since = this.wall();
    server.up = up;
    server.effectiveWeight = weight;
    if (this.stopped) return;
    const last = cause ?? latestOutcome(server);
    const fact: CheckFact = {
      virtualServer: server.virtualServer,
      realServer: server.realServer,
      up,
      since: server.since,
      ...(last ? { last } : {}),
      weight,
    };
    if (this.held) this.held.push(fact);
    else this.o.onFact(fact);
  }
}

function allUp(s: ServerState): boolean {
  for (const c of s.checks.values()) if (!c.up) return false;
  return true;
}

const clampWeight = (w: number): number => Math.max(0, Math.min(MAX_WEIGHT, Math.round(w)));

function latestOutcome(s: ServerState): CheckOutcome | undefined {
  let best: CheckState | undefined;
  for (const c of s.checks.values())
    if (c.last && c.lastAt !== undefined && (best?.lastAt === undefined || c.lastAt >= best.lastAt)) best = c;
  return best?.last;
}

/** Two identical checks on one real server are two checks: number the repeats. */
function uniqueIds(checks: readonly ScheduledCheck[]): ScheduledCheck[] {
  const seen = new Map<string, number>();
  return checks.map((c) => {
    const n = (seen.get(c.id) ?? 0) + 1;
    seen.set(c.id, n);
    return n === 1 ? c : { ...c, id: `${c.id}#${n}` };
  });
}
