import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseScript, type ScriptCommand, splitArgv } from '../../src/track/argv.ts';
import type { TrackReport } from '../../src/track/effective-priority.ts';
import type { RunOptions, RunResult, ScriptRunner } from '../../src/track/run-script.ts';
import { countResult, initialCounter, ScriptTracker } from '../../src/track/script-tracker.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';

describe('splitArgv / parseScript', () => {
  it('splits on unquoted white space and keeps quoted stretches whole', () => {
    assert.deepEqual(splitArgv(`/usr/bin/check  a 'b c' "d e"f`), {
      argv: ['/usr/bin/check', 'a', 'b c', 'd ef'],
      shellSyntax: false,
    });
    assert.deepEqual(splitArgv(`/bin/sh -c 'exit 1'`), {
      argv: ['/bin/sh', '-c', 'exit 1'],
      shellSyntax: false,
    });
    assert.deepEqual(splitArgv(`a\\ b ''`), { argv: ['a b', ''], shellSyntax: false });
  });
  it('flags unquoted shell syntax only', () => {
    assert.equal((splitArgv(`/bin/sh -c 'a | b'`) as { shellSyntax: boolean }).shellSyntax, false);
    assert.equal((splitArgv('pidof haproxy | grep 1') as { shellSyntax: boolean }).shellSyntax, true);
    assert.deepEqual(parseScript('</etc/ok'), {
      text: '</etc/ok',
      argv: ['/bin/sh', '-c', '</etc/ok'],
      shell: true,
    });
    assert.deepEqual(parseScript('killall -0 haproxy'), {
      text: 'killall -0 haproxy',
      argv: ['killall', '-0', 'haproxy'],
      shell: false,
    });
  });
  it('reports malformed lines', () => {
    assert.ok('error' in splitArgv(`a 'b`));
    assert.ok('error' in splitArgv('   '));
    assert.ok('error' in splitArgv('a\\'));
  });
});

/** Plays a success/failure sequence through the counter and returns the transitions reported. */
function play(rise: number, fall: number, initFail: boolean, seq: string): string {
  let c = initialCounter(rise, fall, initFail);
  let out = '';
  for (const ch of seq) {
    const r = countResult(c, ch === '+');
    c = r.counter;
    out += r.changed === undefined ? '.' : r.changed ? 'U' : 'D';
  }
  return out;
}

describe('rise/fall counting (keepalived vrrp_script_child_thread)', () => {
  it('the first result decides at once, whatever rise and fall', () => {
    assert.equal(play(3, 3, false, '+'), 'U');
    assert.equal(play(3, 3, false, '-'), 'D');
  });
  it('fall consecutive failures take an OK script down', () => {
    assert.equal(play(2, 3, false, '+---'), 'U..D');
    assert.equal(play(2, 3, false, '+--+---'), 'U.....D');
  });
  it('a success while up resets the fall count', () => {
    assert.equal(play(1, 2, false, '+-+-+--'), 'U.....D');
  });
  it('rise consecutive successes bring a failed script up; a failure restarts the count', () => {
    assert.equal(play(3, 1, false, '-+++'), 'D..U');
    assert.equal(play(3, 1, false, '-++-+++'), 'D.....U');
  });
  it('init_fail starts down, reports nothing on more failures, needs rise successes', () => {
    assert.equal(play(2, 2, true, '--++'), '...U');
    assert.equal(play(1, 1, true, '+'), 'U');
  });
  it('rise = fall = 1 follows every result', () => {
    assert.equal(play(1, 1, false, '+-+-'), 'UDUD');
    assert.equal(play(1, 1, false, '++--'), 'U.D.');
  });
  it('never reports two transitions the same way in a row (exhaustive to length 8)', () => {
    for (let rise = 1; rise <= 3; rise++)
      for (let fall = 1; fall <= 3; fall++)
        for (const initFail of [false, true])
          for (let n = 0; n < 256; n++) {
            const seq = [...n.toString(2).padStart(8, '0')].map((b) => (b === '1' ? '+' : '-')).join('');
            const marks = play(rise, fall, initFail, seq).replace(/\./g, '');
            const start = initFail ? 'D' : '';
            assert.ok(!/UU|DD/.test(start + marks), `${rise}/${fall}/${initFail} ${seq} → ${marks}`);
          }
  });
});

/** A runner whose runs finish when the test says, with the result it says. */
class FakeRunner {
  calls: { cmd: ScriptCommand; opts: RunOptions; finish: (r: RunResult) => void }[] = [];
  readonly run: ScriptRunner = (cmd, opts) =>
    new Promise<RunResult>((resolve) => {
      this.calls.push({ cmd, opts, finish: resolve });
    });
  finishLast(r: RunResult): void {
    const c = this.calls[this.calls.length - 1];
    assert.ok(c);
    c.finish(r);
  }
}

const OK: RunResult = { kind: 'exit', code: 0 };
const FAIL: RunResult = { kind: 'exit', code: 1 };

function tracker(over: Partial<ConstructorParameters<typeof ScriptTracker>[0]> = {}) {
  const time = new FakeTime();
  const runner = new FakeRunner();
  const reports: TrackReport[] = [];
  const cmd = parseScript('/usr/local/bin/chk --fast') as ScriptCommand;
  const t = new ScriptTracker({
    name: 'chk',
    command: cmd,
    intervalMs: 2000,
    weight: -20,
    runner: runner.run,
    timers: time,
    onChange: (r) => reports.push(r),
    ...over,
  });
  return { time, runner, reports, t };
}

describe('ScriptTracker with a fake runner and fake time', () => {
  it('runs at once, then every interval; timeout defaults to the interval', async () => {
    const { time, runner, reports, t } = tracker();
    t.start();
    assert.equal(runner.calls.length, 1);
    assert.deepEqual(runner.calls[0]?.cmd.argv, ['/usr/local/bin/chk', '--fast']);
    assert.equal(runner.calls[0]?.opts.timeoutMs, 2000);
    runner.finishLast(OK);
    await time.advance(0);
    assert.deepEqual(reports, [{ kind: 'script', name: 'chk', ok: true, weight: -20 }]);
    assert.equal(t.ok, true);
    await time.advance(1999);
    assert.equal(runner.calls.length, 1);
    await time.advance(1);
    assert.equal(runner.calls.length, 2);
    runner.finishLast(FAIL);
    await time.advance(0);
    assert.deepEqual(reports[1], { kind: 'script', name: 'chk', ok: false, weight: -20 });
    await t.stop();
  });

  it('skips a run while the previous one is still going', async () => {
    const logs: string[] = [];
    const { time, runner, t } = tracker({ timeoutMs: 5000, log: (e) => logs.push(e.event) });
    t.start();
    await time.advance(2000);
    assert.equal(runner.calls.length, 1);
    assert.ok(logs.includes('skipped'));
    runner.finishLast(OK);
    await time.advance(2000);
    assert.equal(runner.calls.length, 2);
    runner.finishLast(OK);
    await t.stop();
  });

  it('counts fall failures before reporting down, and passes run-as and timeout to the runner', async () => {
    const { time, runner, reports, t } = tracker({
      fall: 2,
      rise: 2,
      timeoutMs: 500,
      runAs: { user: 'nobody', uid: 65534, gid: 65534 },
    });
    t.start();
    assert.deepEqual(runner.calls[0]?.opts.runAs, { user: 'nobody', uid: 65534, gid: 65534 });
    assert.equal(runner.calls[0]?.opts.timeoutMs, 500);
    runner.finishLast(OK);
    await time.advance(2000);
    runner.finishLast({ kind: 'timeout' });
    await time.advance(2000);
    assert.equal(reports.length, 1);
    runner.finishLast({ kind: 'signal', signal: 'SIGSEGV' });
    await time.advance(0);
    assert.deepEqual(
      reports.map((r) => 'ok' in r && r.ok),
      [true, false],
    );
    await t.stop();
  });

  it('init_fail reports down at start, before any run finishes', async () => {
    const { runner, reports, t } = tracker({ initFail: true, weight: 0 });
    t.start();
    assert.deepEqual(reports, [{ kind: 'script', name: 'chk', ok: false, weight: 0 }]);
    runner.finishLast(OK);
    await t.stop();
  });

  it('stop cancels the schedule and a result arriving after stop is not reported', async () => {
    const { time, runner, reports, t } = tracker();
    t.start();
    const stopping = t.stop();
    runner.finishLast(OK);
    await stopping;
    await time.advance(10_000);
    assert.equal(runner.calls.length, 1);
    assert.deepEqual(reports, []);
  });
});
