import type { Timers } from '../vrrp/instance-timers.ts';
import type { ScriptCommand } from './argv.ts';
import type { TrackReport } from './effective-priority.ts';
import type { RunAs } from './run-as.ts';
import { describeResult, type RunResult, type ScriptRunner, succeeded } from './run-script.ts';

// A vrrp_script: run every `interval`, each run bounded by `timeout`, and the result debounced by
// rise/fall exactly as keepalived's vrrp_script_child_thread counts, so that a flapping check
// moves priority on the same run under keepgit as under keepalived.

/**
 * keepalived's counter: 0..rise+fall-1, up from rise on. Before the first result the script is
 * "init": the first result decides either way (the counter starts at rise-1).
 */
export interface ScriptCounter {
  result: number;
  init: boolean;
  rise: number;
  fall: number;
}

export function initialCounter(rise: number, fall: number, initFail: boolean): ScriptCounter {
  return { result: initFail ? 0 : rise - 1, init: !initFail, rise, fall };
}

export const counterOk = (c: ScriptCounter): boolean => c.result >= c.rise;

/** One run's outcome folded in; `changed` is the new state when it is a transition to report. */
export function countResult(
  c: ScriptCounter,
  success: boolean,
): { counter: ScriptCounter; changed?: boolean } {
  const top = c.rise + c.fall - 1;
  if (success) {
    if (c.result < c.rise - 1) return { counter: { ...c, result: c.result + 1, init: false } };
    const counter = { ...c, result: top, init: false };
    return c.result < c.rise ? { counter, changed: true } : { counter };
  }
  if (c.result > c.rise) return { counter: { ...c, result: c.result - 1, init: false } };
  // Reaching the bottom from OK, or a first result of failure, is a transition; failing while
  // already down only restarts the count to rise.
  const counter = { ...c, result: 0, init: false };
  return c.result === c.rise || c.init ? { counter, changed: false } : { counter };
}

export interface ScriptTrackerOptions {
  name: string;
  command: ScriptCommand;
  intervalMs: number;
  /** keepalived's default is the interval. */
  timeoutMs?: number;
  rise?: number;
  fall?: number;
  weight?: number;
  initFail?: boolean;
  runAs?: RunAs;
  runner: ScriptRunner;
  timers: Timers;
  onChange: (report: TrackReport) => void;
  log?: (entry: ScriptLog) => void;
}

export type ScriptLog =
  | { event: 'result'; script: string; result: RunResult; text: string }
  | { event: 'skipped'; script: string; reason: string }
  | { event: 'output'; script: string; stream: 'stdout' | 'stderr'; text: string };

export class ScriptTracker {
  private counter: ScriptCounter;
  private running: Promise<void> | undefined;
  private timer: ReturnType<Timers['set']> | undefined;
  private stopped = true;

  constructor(private readonly o: ScriptTrackerOptions) {
    this.counter = initialCounter(o.rise ?? 1, o.fall ?? 1, o.initFail ?? false);
  }

  /** The debounced state; undefined until the first result (unless init_fail said "down"). */
  get ok(): boolean | undefined {
    return this.counter.init ? undefined : counterOk(this.counter);
  }

  /** Starts the schedule; the first run is immediate, as in keepalived. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    // init_fail is a known state from the start: report it so a weight-0 track is FAULT at once.
    if (!this.counter.init && !counterOk(this.counter)) this.report(false);
    this.tick();
  }

  /** Stops scheduling and waits for a run in progress (bounded by its timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.o.timers.clear(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Resolves once the run now in progress (if any) has been counted: for tests. */
  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private tick(): void {
    if (this.stopped) return;
    // The next run is due an interval after this one started, whatever this one takes.
    this.timer = this.o.timers.set(() => this.tick(), this.o.intervalMs);
    if (this.running) {
      this.o.log?.({ event: 'skipped', script: this.o.name, reason: 'previous run still in progress' });
      return;
    }
    this.running = this.runOnce().finally(() => {
      this.running = undefined;
    });
  }

  private async runOnce(): Promise<void> {
    const { o } = this;
    const result = await o.runner(o.command, {
      timeoutMs: o.timeoutMs ?? o.intervalMs,
      ...(o.runAs ? { runAs: o.runAs } : {}),
      onOutput: (stream, text) => o.log?.({ event: 'output', script: o.name, stream, text }),
    });
    o.log?.({ event: 'result', script: o.name, result, text: describeResult(result) });
    if (this.stopped) return;
    const { counter, changed } = countResult(this.counter, succeeded(result));
    this.counter = counter;
    if (changed !== undefined) this.report(changed);
  }

  private report(ok: boolean): void {
    this.o.onChange({ kind: 'script', name: this.o.name, ok, weight: this.o.weight ?? 0 });
  }
}
