import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MAX_BACKOFF_MS, nextPollDelay } from '../../src/source/poll-schedule.ts';

const fixed = (r: number) => () => r;

describe('nextPollDelay', () => {
  it('is the interval when the random draw is in the middle', () => {
    assert.equal(nextPollDelay({ intervalMs: 30_000 }, 0, fixed(0.5)), 30_000);
  });

  it('jitters by ±10 % at the extremes of the random draw', () => {
    assert.equal(nextPollDelay({ intervalMs: 30_000 }, 0, fixed(0)), 27_000);
    assert.equal(nextPollDelay({ intervalMs: 30_000 }, 0, fixed(1)), 33_000);
  });

  it('stays within ±10 % for any draw', () => {
    for (let i = 0; i <= 100; i++) {
      const d = nextPollDelay({ intervalMs: 10_000 }, 0, fixed(i / 100));
      assert.ok(d >= 9_000 && d <= 11_000, `${i}: ${d}`);
    }
  });

  it('doubles per consecutive failure', () => {
    const s = { intervalMs: 1_000 };
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => nextPollDelay(s, n, fixed(0.5))),
      [2_000, 4_000, 8_000, 16_000],
    );
  });

  it('caps the backoff at 5 minutes by default, with jitter around the cap', () => {
    const s = { intervalMs: 10_000 };
    assert.equal(nextPollDelay(s, 20, fixed(0.5)), DEFAULT_MAX_BACKOFF_MS);
    assert.equal(nextPollDelay(s, 20, fixed(1)), DEFAULT_MAX_BACKOFF_MS * 1.1);
    // A long outage: 2 ** n overflows, the cap still holds.
    assert.equal(nextPollDelay(s, 5_000, fixed(0.5)), DEFAULT_MAX_BACKOFF_MS);
  });

  it('honours a configured cap and never backs off below the interval', () => {
    assert.equal(nextPollDelay({ intervalMs: 1_000, maxBackoffMs: 3_000 }, 5, fixed(0.5)), 3_000);
    assert.equal(nextPollDelay({ intervalMs: 600_000, maxBackoffMs: 60_000 }, 3, fixed(0.5)), 600_000);
  });

  it('returns to the interval after a success (failures back to 0)', () => {
    const s = { intervalMs: 5_000 };
    assert.equal(nextPollDelay(s, 3, fixed(0.5)), 40_000);
    assert.equal(nextPollDelay(s, 0, fixed(0.5)), 5_000);
  });

  it('takes a custom jitter and survives nonsense input without crashing', () => {
    assert.equal(nextPollDelay({ intervalMs: 1_000, jitter: 0 }, 0, fixed(1)), 1_000);
    assert.equal(nextPollDelay({ intervalMs: 1_000, jitter: 0.5 }, 0, fixed(0)), 500);
    assert.ok(nextPollDelay({ intervalMs: 0 }, 0, fixed(0)) >= 1);
    assert.ok(nextPollDelay({ intervalMs: -5 }, -3, fixed(7)) >= 1);
    assert.equal(nextPollDelay({ intervalMs: Number.NaN }, 0, fixed(0.5)), 60_000);
  });
});
