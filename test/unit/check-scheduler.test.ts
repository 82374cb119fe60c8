import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CheckFact,
  CheckScheduler,
  type ScheduledCheck,
  type ScheduledRealServer,
} from '../../src/check/check-scheduler.ts';
import type { CheckOutcome, ProbeContext } from '../../src/check/check-types.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';

// The scheduler on a fake clock: every time asserted here is an exact protocol time, not a
// measurement, so these tests say precisely when keepalived would have checked.

const OK: CheckOutcome = { ok: true, latencyMs: 1 };
const FAIL: CheckOutcome = { ok: false, latencyMs: 1, reason: 'connect ECONNREFUSED' };

/** A probe whose answers a test sets, recording when it ran. */
function scripted(answer: (n: number, ctx: ProbeContext) => CheckOutcome | Promise<CheckOutcome>) {
  const times: number[] = [];
  const signals: AbortSignal[] = [];
  let time: FakeTime | undefined;
  return {
    times,
    signals,
    bind(t: FakeTime) {
      time = t;
    },
    run: (ctx: ProbeContext) => {
      times.push(time?.now() ?? -1);
      signals.push(ctx.signal);
      return Promise.resolve(answer(times.length, ctx));
    },
  };
}

function check(id: string, run: ScheduledCheck['run'], over: Partial<ScheduledCheck> = {}): ScheduledCheck {
  return {
    id,
    kind: 'tcp',
    timeoutMs: 3000,
    retry: 1,
    delayBeforeRetryMs: 1000,
    delayLoopMs: 10_000,
    warmupMs: 0,
    alpha: false,
    run,
    ...over,
  };
}

function setup(opts: { random?: () => number; grace?: number } = {}) {
  const time = new FakeTime(0);
  const facts: (CheckFact & { at: number })[] = [];
  const scheduler = new CheckScheduler({
    timers: time,
    clock: time,
    wallClock: () => time.now(),
    random: opts.random ?? (() => 0),
    onFact: (f) => facts.push({ ...f, at: time.now() }),
    ...(opts.grace !== undefined ? { overrunGraceMs: opts.grace } : {}),
  });
  return { time, facts, scheduler };
}

const rs = (checks: ScheduledCheck[], realServer = '198.51.100.11:80', weight = 1): ScheduledRealServer => ({
  virtualServer: 'www-80',
  realServer,
  weight,
  checks,
});

describe('check scheduler: retry, delay_before_retry, delay_loop', () => {
  it('an UP check goes DOWN after retry + 1 consecutive failures, spaced by delay_before_retry', async () => {
    const { time, facts, scheduler } = setup();
    const p = scripted(() => FAIL);
    p.bind(time);
    scheduler.update([rs([check('c', p.run, { retry: 2 })])]);
    await time.advance(2999);
    assert.deepEqual(p.times, [0, 1000, 2000], 'first attempt, then two retries 1 s apart');
    assert.equal(facts.length, 1);
    assert.equal(facts[0]?.up, false);
    assert.equal(facts[0]?.at, 2000, 'DOWN on the third failure, not before');
    assert.equal(facts[0]?.last?.ok, false);
    // While DOWN there are no retries: one attempt per delay_loop.
    await time.advance(30_000);
    assert.deepEqual(p.times, [0, 1000, 2000, 12_000, 22_000, 32_000]);
    assert.equal(facts.length, 1, 'failing while down is not news');
    scheduler.stop();
  });

  it('retry 0: the first failure is final', async () => {
    const { time, facts, scheduler } = setup();
    const p = scripted(() => FAIL);
    p.bind(time);
    scheduler.update([rs([check('c', p.run, { retry: 0 })])]);
    await time.advance(1);
    assert.deepEqual(p.times, [0]);
    assert.equal(facts[0]?.up, false);
    await time.advance(10_000);
    assert.deepEqual(p.times, [0, 10_000]);
    scheduler.stop();
  });

  it('a success during the retries resets the count; the next run is delay_loop after it', async () => {
    const { time, facts, scheduler } = setup();
    const answers = [FAIL, OK, FAIL, FAIL, FAIL];
    const p = scripted((n) => answers[n - 1] ?? OK);
    p.bind(time);
    scheduler.update([rs([check('c', p.run, { retry: 2 })])]);
    await time.advance(1000);
    assert.deepEqual(p.times, [0, 1000], 'fail, retry succeeds');
    assert.equal(facts.length, 0, 'a failure that a retry cures is not a fact');
    await time.advance(13_000);
    assert.deepEqual(p.times, [0, 1000, 11_000, 12_000, 13_000], 'a fresh run of retries: 2 more, then down');
    assert.equal(facts.length, 1);
    assert.equal(facts[0]?.at, 13_000);
    // Attempts are counted by result (for /metrics).
    const c = scheduler.snapshot()[0]?.checks[0];
    assert.deepEqual([c?.succeeded, c?.failed], [1, 4]);
    // One AbortController serves attempt after attempt while none is aborted.
    assert.ok(p.signals.every((sig) => sig === p.signals[0]));
    scheduler.stop();
  });

  it('one success brings a DOWN check back UP at once, reported with its outcome', async () => {
    const { time, facts, scheduler } = setup();
    let healthy = false;
    const p = scripted(() => (healthy ? { ok: true, latencyMs: 7, detail: 'status 200' } : FAIL));
    p.bind(time);
    scheduler.update([rs([check('c', p.run, { retry: 0 })])]);
    await time.advance(1);
    assert.equal(facts.at(-1)?.up, false);
    healthy = true;
    await time.advance(10_000);
    assert.equal(facts.length, 2);
    assert.equal(facts[1]?.up, true);
    assert.equal(facts[1]?.since, 10_000);
    assert.deepEqual(facts[1]?.last, { ok: true, latencyMs: 7, detail: 'status 200' });
    const snap = scheduler.state('www-80', '198.51.100.11:80');
    assert.equal(snap?.up, true);
    assert.equal(snap?.checks[0]?.last?.latencyMs, 7);
    assert.equal(snap?.checks[0]?.lastAt, 10_000);
    scheduler.stop();
  });
});

describe('check scheduler: alpha', () => {
  it('without alpha a server starts UP and nothing is reported until a change', async () => {
    const { time, facts, scheduler } = setup();
    const p = scripted(() => OK);
    p.bind(time);
    scheduler.update([rs([check('c', p.run)])]);
    assert.equal(scheduler.state('www-80', '198.51.100.11:80')?.up, true);
    await time.advance(100_000);
    assert.equal(p.times.length, 11);
    assert.equal(facts.length, 0, 'successes on an UP server are not facts');
    scheduler.stop();
  });

  it('with alpha a server starts DOWN, a failure is not retried, and the first success brings it UP', async () => {
    const { time, facts, scheduler } = setup();
    const answers = [FAIL, OK];
    const p = scripted((n) => answers[n - 1] ?? OK);
    p.bind(time);
    scheduler.update([rs([check('c', p.run, { alpha: true, retry: 3 })])]);
    assert.equal(scheduler.state('www-80', '198.51.100.11:80')?.up, false);
    await time.advance(10_000);
    assert.deepEqual(p.times, [0, 10_000], 'no retries while down: next attempt after delay_loop');
    assert.equal(facts.length, 1);
    assert.equal(facts[0]?.up, true);
    assert.equal(facts[0]?.at, 10_000);
    scheduler.stop();
  });
});

describe('check scheduler: hard timeout', () => {
  it('a probe that never answers and ignores its signal is abandoned a grace period after timeoutMs', async () => {
    const { time, facts, scheduler } = setup({ grace: 500 });
    const signals: AbortSignal[] = [];
    const starts: number[] = [];
    const timeouts: number[] = [];
    const hung = (ctx: ProbeContext) => {
      signals.push(ctx.signal);
      starts.push(time.now());
      timeouts.push(ctx.timeoutMs);
      return new Promise<CheckOutcome>(() => {});
    };
    scheduler.update([rs([check('c', hung, { timeoutMs: 3000, retry: 1 })])]);
    await time.advance(8000);
    assert.deepEqual(timeouts, [3000, 3000], 'the probe is told its own timeout');
    assert.deepEqual(starts, [0, 4500], 'abandoned at 3500, retried 1000 later, abandoned at 8000');
    assert.ok(
      signals.every((s) => s.aborted),
      'each attempt was told to stop',
    );
    assert.notEqual(signals[0], signals[1], 'an aborted controller is not handed to the next attempt');
    assert.equal(facts.length, 1);
    assert.equal(facts[0]?.at, 8000);
    assert.deepEqual(facts[0]?.last, {
      ok: false,
      latencyMs: 3500,
      reason: 'timeout after 3000 ms (the probe overran it)',
    });
    scheduler.stop();
  });

  it('a probe that decides at its own timeout is not beaten by the backstop', async () => {
    const { time, facts, scheduler } = setup();
    // UDP_CHECK without requireReply: silence until the timeout is a success.
    const silentOk = (ctx: ProbeContext) =>
      new Promise<CheckOutcome>((r) => {
        time.set(() => r({ ok: true, latencyMs: ctx.timeoutMs }), ctx.timeoutMs);
      });
    scheduler.update([rs([check('udp', silentOk, { timeoutMs: 3000, retry: 0, alpha: true })])]);
    await time.advance(3000);
    assert.equal(facts.length, 1);
    assert.equal(facts[0]?.up, true);
    scheduler.stop();
  });

  it('a late answer after the timeout is ignored', async () => {
    const { time, facts, scheduler } = setup();
    let release: ((o: CheckOutcome) => void) | undefined;
    const late = () =>
      new Promise<CheckOutcome>((r) => {
        release = r;
      });
    scheduler.update([rs([check('c', late, { timeoutMs: 3000, retry: 0 })])]);
    await time.advance(4000);
    assert.equal(facts.length, 1);
    release?.(OK);
    await time.advance(1);
    assert.equal(facts.length, 1, 'the late success did not count');
    assert.equal(scheduler.state('www-80', '198.51.100.11:80')?.up, false);
    scheduler.stop();
  });

  it('a probe that throws is a failed attempt, not a crash', async () => {
    const { time, facts, scheduler } = setup();
    const boom = (): Promise<CheckOutcome> => {
      throw new Error('boom');
    };
    const rejects = () => Promise.reject(new Error('nope'));
    scheduler.update([
      rs([check('a', boom, { retry: 0 })], '198.51.100.11:80'),
      rs([check('b', rejects, { retry: 0 })], '198.51.100.12:80'),
    ]);
    await time.advance(1);
    assert.equal(facts.length, 2);
    const reasons = facts.map((f) => (f.last && !f.last.ok ? f.last.reason : '')).sort();
    assert.deepEqual(reasons, ['probe error: boom', 'probe error: nope']);
    scheduler.stop();
  });
});

/** A small deterministic generator, so the spread test cannot flake. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('check scheduler: jitter', () => {
  it('spreads the first runs of 1,000 checks over their delay_loop', async () => {
    const { time, scheduler } = setup({ random: mulberry32(42) });
    const first = new Map<string, number>();
    const servers = Array.from({ length: 1000 }, (_, i) =>
      rs(
        [
          check(
            'c',
            () => {
              if (!first.has(String(i))) first.set(String(i), time.now());
              return Promise.resolve(OK);
            },
            { delayLoopMs: 60_000 },
          ),
        ],
        `198.51.100.${(i % 250) + 1}:${8000 + i}`,
      ),
    );
    scheduler.update(servers);
    await time.advance(60_000);
    assert.equal(first.size, 1000, 'every check ran within one delay_loop');
    const buckets = new Array<number>(10).fill(0);
    for (const t of first.values()) {
      assert.ok(t >= 0 && t < 60_000);
      buckets[Math.floor(t / 6000)] = (buckets[Math.floor(t / 6000)] ?? 0) + 1;
    }
    // Uniform would put 100 in each 6 s slice; a burst would put them all in the first.
    for (const b of buckets) assert.ok(b > 60 && b < 140, `slices: ${buckets.join(' ')}`);
    assert.ok([...first.values()].filter((t) => t === 0).length < 5, 'not all at t=0');
    scheduler.stop();
  });

  it('a warmup bounds the first run instead of delay_loop', async () => {
    const { time, scheduler } = setup({ random: mulberry32(7) });
    const firsts: number[] = [];
    const servers = Array.from({ length: 200 }, (_, i) =>
      rs(
        [
          check(
            'c',
            () => {
              firsts.push(time.now());
              return Promise.resolve(OK);
            },
            { delayLoopMs: 60_000, warmupMs: 5000 },
          ),
        ],
        `198.51.100.1:${9000 + i}`,
      ),
    );
    scheduler.update(servers);
    await time.advance(5000);
    assert.equal(firsts.length, 200);
    assert.ok(firsts.every((t) => t < 5000));
    assert.ok(new Set(firsts).size > 150, 'spread, not aligned');
    scheduler.stop();
  });
});

describe('check scheduler: real servers with several checks', () => {
  it('a real server is UP only when all its checks are UP', async () => {
    const { time, facts, scheduler } = setup();
    let bOk = true;
    const a = scripted(() => OK);
    const b = scripted(() => (bOk ? OK : FAIL));
    a.bind(time);
    b.bind(time);
    scheduler.update([rs([check('a', a.run, { retry: 0 }), check('b', b.run, { retry: 0 })])]);
    await time.advance(1);
    assert.equal(facts.length, 0);
    bOk = false;
    await time.advance(10_000);
    assert.equal(facts.length, 1);
    assert.equal(facts[0]?.up, false, 'one check down is enough');
    const snap = scheduler.state('www-80', '198.51.100.11:80');
    assert.deepEqual(
      snap?.checks.map((c) => [c.id, c.up]),
      [
        ['a', true],
        ['b', false],
      ],
    );
    bOk = true;
    await time.advance(10_000);
    assert.equal(facts.length, 2);
    assert.equal(facts[1]?.up, true);
    scheduler.stop();
  });

  it('a server without checks is UP', () => {
    const { scheduler } = setup();
    scheduler.update([rs([])]);
    assert.equal(scheduler.state('www-80', '198.51.100.11:80')?.up, true);
    scheduler.stop();
  });

  it('misc_dynamic weights are reported, and a plain success restores the configured weight', async () => {
    const { time, facts, scheduler } = setup();
    const answers: CheckOutcome[] = [
      { ok: true, latencyMs: 1, weight: 10 },
      { ok: true, latencyMs: 1, weight: 10 },
      { ok: true, latencyMs: 1 },
      FAIL,
    ];
    const p = scripted((n) => answers[n - 1] ?? OK);
    p.bind(time);
    scheduler.update([rs([check('misc', p.run, { retry: 0 })], '198.51.100.11:80', 3)]);
    await time.advance(1);
    assert.deepEqual(
      facts.map((f) => [f.up, f.weight]),
      [[true, 10]],
    );
    await time.advance(10_000);
    assert.equal(facts.length, 1, 'the same weight again is not a change');
    await time.advance(10_000);
    assert.deepEqual(
      facts.map((f) => [f.up, f.weight]),
      [
        [true, 10],
        [true, 3],
      ],
    );
    assert.equal(scheduler.state('www-80', '198.51.100.11:80')?.weight, 3);
    await time.advance(10_000);
    assert.deepEqual(facts.at(-1) && [facts.at(-1)?.up, facts.at(-1)?.weight], [false, 3]);
    scheduler.stop();
  });
});

describe('check scheduler: revisions', () => {
  it('keeps unchanged checks running, starts new ones, stops removed ones', async () => {
    const { time, facts, scheduler } = setup();
    const a = scripted(() => OK);
    const b = scripted(() => OK);
    const c = scripted(() => FAIL);
    for (const p of [a, b, c]) p.bind(time);
    scheduler.update([
      rs([check('a', a.run)], '198.51.100.11:80'),
      rs([check('b', b.run)], '198.51.100.12:80'),
    ]);
    await time.advance(5000);
    assert.deepEqual(a.times, [0]);
    // A new revision: the same a (a new closure, same id), b removed, c added.
    const a2 = scripted(() => OK);
    a2.bind(time);
    scheduler.update([
      rs([check('a', a2.run)], '198.51.100.11:80'),
      rs([check('c', c.run, { alpha: true })], '198.51.100.13:80'),
    ]);
    await time.advance(5000);
    assert.deepEqual(a.times, [0, 10_000], 'a kept its schedule: no restart, no extra attempt');
    assert.deepEqual(a2.times, [], 'the unchanged check was not replaced');
    assert.deepEqual(b.times, [0]);
    await time.advance(20_000);
    assert.deepEqual(b.times, [0], 'the removed server is no longer checked');
    assert.deepEqual(c.times, [5000, 15_000, 25_000]);
    assert.deepEqual(
      scheduler
        .snapshot()
        .map((s) => s.realServer)
        .sort(),
      ['198.51.100.11:80', '198.51.100.13:80'],
    );
    assert.equal(facts.length, 0, 'nothing changed state');
    scheduler.stop();
  });

  it('removing the failing check of a server brings it UP by revision', async () => {
    const { time, facts, scheduler } = setup();
    const ok = scripted(() => OK);
    const bad = scripted(() => FAIL);
    ok.bind(time);
    bad.bind(time);
    scheduler.update([rs([check('ok', ok.run), check('bad', bad.run, { retry: 0 })])]);
    await time.advance(1);
    assert.equal(facts.at(-1)?.up, false);
    scheduler.update([rs([check('ok', ok.run)])]);
    assert.equal(facts.length, 2);
    assert.equal(facts[1]?.up, true);
    await time.advance(20_000);
    assert.deepEqual(bad.times, [0], 'the removed check stopped');
    scheduler.stop();
  });

  it('a listener may call update() from a fact without breaking the scheduler', async () => {
    const time = new FakeTime(0);
    const seen: boolean[] = [];
    let servers: ScheduledRealServer[] = [];
    const scheduler: CheckScheduler = new CheckScheduler({
      timers: time,
      clock: time,
      wallClock: () => time.now(),
      random: () => 0,
      onFact: (f) => {
        seen.push(f.up);
        // A reconciler that reloads on every fact, dropping the failed server.
        servers = servers.filter((x) => x.realServer !== f.realServer || f.up);
        scheduler.update(servers);
      },
    });
    const bad = scripted(() => FAIL);
    const good = scripted(() => OK);
    bad.bind(time);
    good.bind(time);
    servers = [
      rs([check('b', bad.run, { retry: 0 })], '198.51.100.11:80'),
      rs([check('g', good.run)], '198.51.100.12:80'),
    ];
    scheduler.update(servers);
    await time.advance(20_000);
    assert.deepEqual(seen, [false]);
    assert.deepEqual(bad.times, [0], 'the dropped server stopped');
    assert.deepEqual(good.times, [0, 10_000, 20_000], 'the other kept its schedule');
    assert.deepEqual(
      scheduler.snapshot().map((x) => x.realServer),
      ['198.51.100.12:80'],
    );
    scheduler.stop();
  });

  it('two identical checks on one server are two checks', async () => {
    const { time, scheduler } = setup();
    const p = scripted(() => OK);
    p.bind(time);
    scheduler.update([rs([check('same', p.run), check('same', p.run)])]);
    await time.advance(1);
    assert.equal(p.times.length, 2);
    assert.deepEqual(
      scheduler.state('www-80', '198.51.100.11:80')?.checks.map((c) => c.id),
      ['same', 'same#2'],
    );
    scheduler.stop();
  });
});

describe('check scheduler: lifetime and watches', () => {
  it('stop() clears timers and aborts attempts in flight; no fact afterwards', async () => {
    const { time, facts, scheduler } = setup();
    const signals: AbortSignal[] = [];
    let release: ((o: CheckOutcome) => void) | undefined;
    scheduler.update([
      rs([
        check(
          'c',
          (ctx) =>
            new Promise<CheckOutcome>((r) => {
              signals.push(ctx.signal);
              release = r;
            }),
          { retry: 0 },
        ),
      ]),
    ]);
    await time.advance(1);
    assert.equal(signals.length, 1);
    scheduler.stop();
    assert.equal(signals[0]?.aborted, true);
    release?.(FAIL);
    await time.advance(100_000);
    assert.equal(signals.length, 1);
    assert.equal(facts.length, 0);
    assert.deepEqual(scheduler.snapshot(), []);
  });

  it('an immediate check runs at once, and a watch event runs it again before delay_loop', async () => {
    const { time, facts, scheduler } = setup({ random: () => 0.99 });
    let value = 0;
    let poke: (() => void) | undefined;
    let closed = false;
    const p = scripted(() => (value === 0 ? OK : FAIL));
    p.bind(time);
    scheduler.update([
      rs([
        check('file', p.run, {
          immediate: true,
          retry: 0,
          watch: (onChange) => {
            poke = onChange;
            return {
              close: () => {
                closed = true;
              },
            };
          },
        }),
      ]),
    ]);
    await time.advance(0);
    assert.deepEqual(p.times, [0], 'no warmup for an immediate check');
    await time.advance(2000);
    value = 1;
    poke?.();
    await time.advance(0);
    assert.deepEqual(p.times, [0, 2000]);
    assert.equal(facts.at(-1)?.up, false);
    assert.equal(facts.at(-1)?.at, 2000);
    scheduler.update([]);
    assert.equal(closed, true, 'the watch closed with its check');
    scheduler.stop();
  });
});
