import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PollerClock, startGitPoller } from '../../src/source/git-poller.ts';
import type { FetchRevisionResult, RemoteRevision } from '../../src/source/git-remote.ts';

// The poller against a scripted fetch and a hand-driven clock: no network, no real timers.

function fakeClock(start = 1_000_000): PollerClock & { advance(ms: number): void; pending(): number } {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      seq += 1;
      timers.set(seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    advance(ms) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
      }
    },
    pending: () => timers.size,
  };
}

const rev = (commit: string): RemoteRevision => ({
  commit,
  files: new Map([['keepgit.yaml', commit]]),
  ref: 'refs/heads/main',
  gitdir: '/nonexistent',
  downloaded: true,
  warnings: [],
});

/** A fetch whose answers the test sets, counting calls; `gate` holds a fetch open. */
function scriptedFetch() {
  let answer: FetchRevisionResult = rev('a'.repeat(40));
  let gate: Promise<void> | undefined;
  const s = {
    calls: 0,
    set(a: FetchRevisionResult) {
      answer = a;
    },
    hold() {
      let open = (): void => undefined;
      gate = new Promise<void>((r) => {
        open = r;
      });
      return () => {
        gate = undefined;
        open();
      };
    },
    fetch: async (): Promise<FetchRevisionResult> => {
      s.calls += 1;
      if (gate !== undefined) await gate;
      return answer;
    },
  };
  return s;
}

const flush = () => new Promise<void>((r) => setImmediate(r));
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('startGitPoller', () => {
  it('hands over each new commit once and reports it in status()', async () => {
    const clock = fakeClock();
    const f = scriptedFetch();
    const seen: string[] = [];
    const p = startGitPoller({
      url: 'https://git.example.com/ha.git',
      ref: 'branch main',
      intervalMs: 10_000,
      fetch: f.fetch,
      onRevision: (r) => {
        seen.push(r.commit);
      },
      clock,
      random: () => 0.5,
    });
    await p.trigger();
    await p.trigger();
    f.set(rev(B));
    await p.trigger();
    assert.deepEqual(seen, [A, B]);
    const s = p.status();
    assert.equal(s.lastCommit, B);
    assert.equal(s.failures, 0);
    assert.equal(s.lastFetchAt, clock.now());
    assert.equal(s.nextAttemptAt, clock.now() + 10_000);
    assert.equal(s.url, 'https://git.example.com/ha.git');
    assert.equal(s.lastError, undefined);
    await p.stop();
  });

  it('does not hand over the commit the node already runs', async () => {
    const f = scriptedFetch();
    const seen: string[] = [];
    const p = startGitPoller({
      url: 'https://h.example/r.git',
      ref: 'branch main',
      intervalMs: 1_000,
      fetch: f.fetch,
      onRevision: (r) => {
        seen.push(r.commit);
      },
      lastCommit: A,
      clock: fakeClock(),
    });
    await p.trigger();
    assert.deepEqual(seen, []);
    await p.stop();
  });

  it('polls on the timer, backs off after failures and recovers after a success', async () => {
    const clock = fakeClock();
    const f = scriptedFetch();
    const p = startGitPoller({
      url: 'https://h.example/r.git',
      ref: 'branch main',
      intervalMs: 1_000,
      fetch: f.fetch,
      onRevision: () => undefined,
      clock,
      random: () => 0.5,
    });
    assert.equal(p.status().nextAttemptAt, clock.now() + 1_000);
    f.set({ error: 'cannot reach https://h.example/r.git: connection refused' });
    clock.advance(1_000);
    await flush();
    assert.equal(f.calls, 1);
    let s = p.status();
    assert.equal(s.failures, 1);
    assert.match(s.lastError ?? '', /connection refused/);
    assert.equal(s.nextAttemptAt, clock.now() + 2_000);
    clock.advance(2_000);
    await flush();
    s = p.status();
    assert.equal(f.calls, 2);
    assert.equal(s.failures, 2);
    assert.equal(s.nextAttemptAt, clock.now() + 4_000);
    f.set(rev(A));
    clock.advance(4_000);
    await flush();
    s = p.status();
    assert.equal(f.calls, 3);
    assert.equal(s.failures, 0);
    assert.equal(s.lastError, undefined);
    assert.equal(s.lastCommit, A);
    assert.equal(s.nextAttemptAt, clock.now() + 1_000);
    await p.stop();
  });

  it('coalesces triggers: a burst is one fetch; triggers during a fetch are one more', async () => {
    const f = scriptedFetch();
    const p = startGitPoller({
      url: 'https://h.example/r.git',
      ref: 'branch main',
      intervalMs: 60_000,
      fetch: f.fetch,
      onRevision: () => undefined,
      clock: fakeClock(),
    });
    await Promise.all([p.trigger(), p.trigger(), p.trigger(), p.trigger(), p.trigger()]);
    assert.equal(f.calls, 1);
    const release = f.hold();
    const first = p.trigger();
    await flush();
    assert.equal(f.calls, 2);
    const during = [p.trigger(), p.trigger(), p.trigger()];
    release();
    await Promise.all([first, ...during]);
    assert.equal(f.calls, 3);
    await p.stop();
  });

  it('a refused revision is reported, not handed over, not re-decided, and not a fetch failure', async () => {
    const f = scriptedFetch();
    const seen: string[] = [];
    let decisions = 0;
    const p = startGitPoller({
      url: 'https://h.example/r.git',
      ref: 'branch main',
      intervalMs: 1_000,
      fetch: f.fetch,
      onRevision: (r) => {
        seen.push(r.commit);
      },
      admit: async (r) => {
        decisions += 1;
        return r.commit === B ? { ok: false, message: 'revision bbbbbbb is older; refused' } : { ok: true };
      },
      clock: fakeClock(),
    });
    await p.trigger();
    f.set(rev(B));
    await p.trigger();
    await p.trigger();
    assert.deepEqual(seen, [A]);
    assert.equal(decisions, 2);
    const s = p.status();
    assert.equal(s.lastError, 'revision bbbbbbb is older; refused');
    assert.equal(s.failures, 0);
    assert.equal(s.lastCommit, A);
    await p.stop();
  });

  it('survives a throwing fetch and a throwing callback', async () => {
    const p = startGitPoller({
      url: 'https://h.example/r.git',
      ref: 'tag v1',
      intervalMs: 1_000,
      fetch: async () => {
        throw new Error('boom');
      },
      onRevision: () => undefined,
      clock: fakeClock(),
    });
    await p.trigger();
    assert.equal(p.status().failures, 1);
    assert.match(p.status().lastError ?? '', /unexpectedly: boom/);
    await p.stop();
    const q = startGitPoller({
      url: 'https://h.example/r.git',
      ref: 'tag v1',
      intervalMs: 1_000,
      fetch: async () => rev(A),
      onRevision: () => {
        throw new Error('apply broke');
      },
      clock: fakeClock(),
    });
    await q.trigger();
    assert.match(q.status().lastError ?? '', /handling revision aaaaaaa failed: apply broke/);
    await q.stop();
  });

  it('stop() cancels the timer and later triggers do nothing', async () => {
    const clock = fakeClock();
    const f = scriptedFetch();
    const p = startGitPoller({
      url: 'https://h.example/r.git',
      ref: 'branch main',
      intervalMs: 1_000,
      fetch: f.fetch,
      onRevision: () => undefined,
      clock,
    });
    await p.stop();
    assert.equal(clock.pending(), 0);
    assert.equal(p.status().nextAttemptAt, undefined);
    await p.trigger();
    clock.advance(10_000);
    await flush();
    assert.equal(f.calls, 0);
  });
});
