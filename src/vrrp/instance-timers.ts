import { performance } from 'node:perf_hooks';

// Time for a VRRP instance, injected so that a unit test can run a whole election in
// microseconds of real time and at exact protocol times. The state machine already takes
// `now` as an argument; this is the other half: where `now` comes from and who calls back.

/** A monotonic clock in milliseconds (fractions allowed). Wall-clock jumps must not move VRRP timers. */
export interface Clock {
  now(): number;
}

export type TimerHandle = { readonly id: number };

export interface Timers {
  /** Calls `fn` once, no earlier than `delayMs` from now. */
  set(fn: () => void, delayMs: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

export const systemClock: Clock = { now: () => performance.now() };

/** Node's timers. The handle carries the real timeout: no table to keep, no wrapper to allocate per timer. */
export function systemTimers(): Timers {
  let next = 1;
  return {
    set(fn, delayMs) {
      // Node timers have a 1 ms resolution: round up, so a timer never fires before its deadline
      // and the machine does not get a `timer` event that finds nothing due.
      return new NodeTimer(next++, setTimeout(fn, Math.max(0, Math.ceil(delayMs))));
    },
    clear(handle) {
      if (handle instanceof NodeTimer) clearTimeout(handle.timeout);
    },
  };
}

class NodeTimer implements TimerHandle {
  constructor(
    readonly id: number,
    readonly timeout: NodeJS.Timeout,
  ) {}
}

/**
 * A clock and timers that move only when told. `advance` fires every timer due on the way,
 * in deadline order, at its exact time, and lets promises and microtasks (fake transports,
 * fake drivers) settle after each one, so the order of events is what real time would give.
 */
export class FakeTime implements Clock, Timers {
  private current: number;
  private next = 1;
  private readonly pending = new Map<number, { at: number; seq: number; fn: () => void }>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  set(fn: () => void, delayMs: number): TimerHandle {
    const id = this.next++;
    this.pending.set(id, { at: this.current + Math.max(0, delayMs), seq: id, fn });
    return { id };
  }

  clear(handle: TimerHandle): void {
    this.pending.delete(handle.id);
  }

  /** Moves time forward by `ms`, firing what falls due. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      let first: [number, { at: number; seq: number; fn: () => void }] | undefined;
      for (const entry of this.pending)
        if (
          entry[1].at <= target &&
          (first === undefined ||
            entry[1].at < first[1].at ||
            (entry[1].at === first[1].at && entry[1].seq < first[1].seq))
        )
          first = entry;
      if (first === undefined) break;
      this.pending.delete(first[0]);
      this.current = Math.max(this.current, first[1].at);
      first[1].fn();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

/** Lets every queued microtask and promise continuation run (several rounds: chains are deep). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
