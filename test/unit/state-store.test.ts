import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStateStore, parseState, REFUSED_KEPT } from '../../src/reconcile/state-store.ts';

// The state directory's state.json: records written atomically (nothing but the file left
// behind), read back by the next agent, a corrupt file moved aside with a warning, and a
// disk that refuses a write answered with a value.

const T0 = Date.parse('2025-11-22T08:00:00.000Z');

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-state-test-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe('state store', () => {
  it(
    'a missing file is an empty state; records land in state.json and the next open reads them',
    withDir(async (dir) => {
      let now = T0;
      const store = await openStateStore(join(dir, 'state'), { now: () => now });
      assert.deepEqual(store.warnings, []);
      assert.deepEqual(store.read(), { applied: null, lastGood: null, refused: [] });
      assert.deepEqual(await store.recordApplied('abc123'), { ok: true });
      now += 1000;
      assert.deepEqual(await store.recordRefused('def456', 'policy vip-range: 10.0.0.1 is not allowed'), {
        ok: true,
      });
      now += 1000;
      assert.deepEqual(await store.recordApplied('0a0b0c', { good: false }), { ok: true });
      const expected = {
        applied: { revision: '0a0b0c', at: '2025-11-22T08:00:02.000Z' },
        lastGood: { revision: 'abc123', at: '2025-11-22T08:00:00.000Z' },
        refused: [
          {
            revision: 'def456',
            reason: 'policy vip-range: 10.0.0.1 is not allowed',
            at: '2025-11-22T08:00:01.000Z',
          },
        ],
      };
      assert.deepEqual(store.read(), expected);
      // Only the file: no temporary left behind.
      assert.deepEqual(readdirSync(join(dir, 'state')), ['state.json']);
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'state', 'state.json'), 'utf8')), expected);
      const again = await openStateStore(join(dir, 'state'));
      assert.deepEqual(again.read(), expected);
    }),
  );

  it(
    'keeps the last 20 refusals, newest first',
    withDir(async (dir) => {
      const store = await openStateStore(dir);
      for (let i = 0; i < 25; i++) await store.recordRefused(`r${i}`, `reason ${i}`);
      const refused = store.read().refused;
      assert.equal(refused.length, REFUSED_KEPT);
      assert.equal(refused[0]?.revision, 'r24');
      assert.equal(refused.at(-1)?.revision, 'r5');
      assert.equal((await openStateStore(dir)).read().refused.length, REFUSED_KEPT);
    }),
  );

  it(
    'records made without waiting are written in order, the last one wins',
    withDir(async (dir) => {
      const store = await openStateStore(dir);
      const writes = Array.from({ length: 10 }, (_, i) => store.recordApplied(`r${i}`));
      assert.ok((await Promise.all(writes)).every((w) => w.ok));
      assert.equal((await openStateStore(dir)).read().applied?.revision, 'r9');
    }),
  );

  it(
    'a corrupt file is moved aside with a warning, and the agent starts fresh',
    withDir(async (dir) => {
      writeFileSync(join(dir, 'state.json'), '{"applied": {"revision": 12');
      const store = await openStateStore(dir, { now: () => T0 });
      assert.deepEqual(store.read(), { applied: null, lastGood: null, refused: [] });
      assert.equal(store.warnings.length, 1);
      assert.match(
        store.warnings[0] ?? '',
        /state\.json is not a keepgit state file: moved to .*state\.json\.corrupt-2025-11-22T08-00-00-000Z/,
      );
      assert.deepEqual(readdirSync(dir).sort(), ['state.json.corrupt-2025-11-22T08-00-00-000Z']);
      assert.equal(
        readFileSync(join(dir, 'state.json.corrupt-2025-11-22T08-00-00-000Z'), 'utf8'),
        '{"applied": {"revision": 12',
      );
      assert.deepEqual(await store.recordApplied('abc'), { ok: true });
      assert.equal((await openStateStore(dir)).read().applied?.revision, 'abc');
    }),
  );

  it('parseState refuses what is not a state and tolerates missing fields', () => {
    assert.equal(parseState('[]'), undefined);
    assert.equal(parseState('null'), undefined);
    assert.equal(parseState('{"applied": "abc"}'), undefined);
    assert.equal(parseState('{"refused": [{"revision": "a"}]}'), undefined);
    assert.deepEqual(parseState('{}'), { applied: null, lastGood: null, refused: [] });
  });

  it(
    'a directory that refuses the write gives a message, not an exception',
    withDir(async (dir) => {
      // A file where the state directory should be: mkdir fails for root too.
      writeFileSync(join(dir, 'blocked'), '');
      const store = await openStateStore(join(dir, 'blocked', 'state'));
      const w = await store.recordApplied('abc');
      assert.equal(w.ok, false);
      assert.match(w.ok ? '' : w.message, /cannot create the state directory .*blocked\/state/);
      assert.equal(store.read().applied?.revision, 'abc', 'the agent carries on with what it knows');
      // And a state.json that is a directory cannot be read: a warning.
      const odd = join(dir, 'odd');
      rmSync(odd, { force: true, recursive: true });
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(odd, 'state.json'), { recursive: true });
      chmodSync(odd, 0o755);
      const s2 = await openStateStore(odd);
      assert.equal(s2.warnings.length, 1);
      assert.match(s2.warnings[0] ?? '', /state\.json/);
    }),
  );
});
