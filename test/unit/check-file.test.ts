import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CheckFact, CheckScheduler } from '../../src/check/check-scheduler.ts';
import { createFileProbe, fileOutcome } from '../../src/check/file-check.ts';
import { scheduledServers } from '../../src/check/real-server-checks.ts';
import type { NodeView, ViewRealServer, ViewVirtualServer } from '../../src/model/node-view.ts';
import { systemClock, systemTimers } from '../../src/vrrp/instance-timers.ts';
import { loopback, probeCtx } from './check-peers.ts';

// FILE_CHECK: keepalived's arithmetic on the value, the probe reading real files, and the
// scheduler reacting to a change of the file without waiting for delay_loop.

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keepgit-filecheck-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('FILE_CHECK arithmetic', () => {
  it('weight 0: the file is a flag, 0 meaning up; reverse swaps it', () => {
    const flag = { weight: 0, baseWeight: 1 };
    assert.deepEqual(fileOutcome(0, flag), { up: true });
    assert.equal(fileOutcome(1, flag).up, false);
    assert.equal(fileOutcome(-3, flag).up, false);
    assert.equal(fileOutcome(0, { ...flag, reverse: true }).up, false);
    assert.deepEqual(fileOutcome(7, { ...flag, reverse: true }), { up: true });
  });

  it('otherwise value × weight (negated with reverse) is added to the real server weight', () => {
    assert.deepEqual(fileOutcome(3, { weight: 2, baseWeight: 1 }), { up: true, weight: 7 });
    assert.deepEqual(fileOutcome(3, { weight: 2, reverse: true, baseWeight: 10 }), { up: true, weight: 4 });
    assert.deepEqual(fileOutcome(-5, { weight: 1, baseWeight: 2 }), { up: true, weight: -3 });
    assert.equal(fileOutcome(-2147483648, { weight: 1, baseWeight: 1 }).up, false, 'the fault value');
    assert.equal(
      fileOutcome(-2, { weight: 2147483647, baseWeight: 1 }).up,
      false,
      'clamped to the fault value',
    );
  });
});

describe('FILE_CHECK probe', () => {
  it('reads the file; a missing file is 0; garbage keeps the last good value', async () => {
    const path = join(dir, 'weight');
    const probe = createFileProbe();
    const spec = { path, weight: 0, baseWeight: 1 };
    assert.equal((await probe(spec, loopback(0), probeCtx())).ok, true, 'missing reads as 0');
    await writeFile(path, '1\n');
    const down = await probe(spec, loopback(0), probeCtx());
    assert.equal(down.ok ? '' : down.reason, 'file holds 1');
    await writeFile(path, '99999999999999\n');
    const garbage = await probe(spec, loopback(0), probeCtx());
    assert.equal(garbage.ok, false, 'an out-of-range number is ignored: the previous 1 stands');
    assert.match(garbage.ok ? '' : garbage.reason, /keeping 1/);
    await writeFile(path, '0x4\n');
    const hex = await probe({ path, weight: 2, baseWeight: 1 }, loopback(0), probeCtx());
    assert.equal(hex.ok && hex.weight, 9, 'strtol rules: hex accepted');
  });
});

describe('FILE_CHECK through the scheduler', () => {
  it('reads at once, and a change to the file is seen without waiting for delay_loop', async () => {
    const path = join(dir, 'rs-state');
    await writeFile(path, '0\n');
    const rs: ViewRealServer = {
      key: '198.51.100.11:80',
      address: '198.51.100.11',
      port: 80,
      weight: 1,
      forwarding: 'nat',
      inhibitOnFailure: false,
      checks: [
        {
          type: 'file',
          connectTimeoutMs: 5000,
          retry: 3,
          delayBeforeRetryMs: 1000,
          delayLoopMs: 3_600_000,
          warmupMs: 0,
          spec: { file: 'rs-state', weight: 0 },
        },
      ],
    };
    const vs = { key: 'www-80', alpha: true, realServers: [rs] } as unknown as ViewVirtualServer;
    const view = {
      virtualServers: [vs],
      trackFiles: [{ name: 'rs-state', file: path }],
    } as unknown as Pick<NodeView, 'virtualServers' | 'trackFiles'>;
    const servers = scheduledServers(view);
    assert.equal(servers[0]?.checks[0]?.retry, 0, 'FILE_CHECK has no retries');
    assert.equal(servers[0]?.checks[0]?.alpha, false, 'nor alpha');
    const facts: CheckFact[] = [];
    const scheduler = new CheckScheduler({
      timers: systemTimers(),
      clock: systemClock,
      onFact: (f) => facts.push(f),
    });
    try {
      scheduler.update(servers);
      const waitFor = async (pred: () => boolean) => {
        for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
        return pred();
      };
      assert.ok(await waitFor(() => scheduler.state('www-80', rs.key)?.checks[0]?.lastAt !== undefined));
      assert.equal(scheduler.state('www-80', rs.key)?.up, true);
      await writeFile(path, '1\n');
      assert.ok(await waitFor(() => facts.length > 0), 'the change was seen (delay_loop is an hour)');
      assert.equal(facts[0]?.up, false);
      await writeFile(path, '0\n');
      assert.ok(await waitFor(() => facts.length > 1));
      assert.equal(facts[1]?.up, true);
    } finally {
      scheduler.stop();
    }
  });
});
