import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrackReport } from '../../src/track/effective-priority.ts';
import { FileTracker, type FileTrackerIo } from '../../src/track/file-tracker.ts';
import { type ProcEntry, ProcessTracker, processMatcher } from '../../src/track/process-tracker.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';

class FakeFiles implements FileTrackerIo {
  files = new Map<string, string>();
  watchers: (() => void)[] = [];
  read = async (p: string) => this.files.get(p);
  write = async (p: string, t: string) => {
    this.files.set(p, t);
  };
  watch(_p: string, onChange: () => void) {
    this.watchers.push(onChange);
    return { close: () => (this.watchers = this.watchers.filter((w) => w !== onChange)) };
  }
  set(p: string, t: string | undefined) {
    if (t === undefined) this.files.delete(p);
    else this.files.set(p, t);
    for (const w of this.watchers) w();
  }
}

describe('FileTracker', () => {
  const make = (io: FakeFiles, over: Partial<ConstructorParameters<typeof FileTracker>[0]> = {}) => {
    const time = new FakeTime();
    const reports: TrackReport[] = [];
    const logs: string[] = [];
    const t = new FileTracker({
      name: 'f',
      file: '/run/prio',
      io,
      timers: time,
      onChange: (r) => reports.push(r),
      log: (e) => logs.push(e.reason),
      ...over,
    });
    return { t, time, reports, logs };
  };

  it('reads at start and on each change; reports only a changed value; default weight 1', async () => {
    const io = new FakeFiles();
    io.files.set('/run/prio', '5\n');
    const { t, reports } = make(io);
    await t.start();
    io.set('/run/prio', '5');
    io.set('/run/prio', '-3');
    await t.settled();
    io.set('/run/prio', undefined);
    await t.settled();
    io.set('/run/prio', 'garbage');
    await t.settled();
    assert.deepEqual(
      reports.map((r) => ('value' in r ? r.value : NaN)),
      [5, -3, 0],
    );
    assert.equal(reports[0]?.weight, 1);
    t.stop();
  });

  it('an out-of-range number keeps the previous value (0 before any good read)', async () => {
    const io = new FakeFiles();
    io.files.set('/run/prio', '99999999999');
    const { t, reports, logs } = make(io);
    await t.start();
    assert.deepEqual(reports, [{ kind: 'file', name: 'f', value: 0, weight: 1 }]);
    io.set('/run/prio', '7');
    await t.settled();
    io.set('/run/prio', '99999999999');
    await t.settled();
    assert.equal(t.value, 7);
    assert.equal(logs.length, 2);
    t.stop();
  });

  it('the poll catches a change the watcher missed', async () => {
    const io = new FakeFiles();
    const { t, time, reports } = make(io, { pollMs: 1000, weight: 10 });
    await t.start();
    io.files.set('/run/prio', '2');
    await time.advance(1000);
    await t.settled();
    assert.deepEqual(reports, [
      { kind: 'file', name: 'f', value: 0, weight: 10 },
      { kind: 'file', name: 'f', value: 2, weight: 10 },
    ]);
    t.stop();
  });

  it('init_file writes the value when the file is missing, or always with overwrite', async () => {
    const io = new FakeFiles();
    const a = make(io, { initFile: { value: 4 } });
    await a.t.start();
    assert.equal(io.files.get('/run/prio'), '4\n');
    a.t.stop();
    io.files.set('/run/prio', '9');
    const b = make(io, { initFile: true });
    await b.t.start();
    assert.equal(io.files.get('/run/prio'), '9');
    b.t.stop();
    const c = make(io, { initFile: { overwrite: true } });
    await c.t.start();
    assert.equal(io.files.get('/run/prio'), '0\n');
    c.t.stop();
  });
});

const proc = (pid: number, comm: string, cmdline: string[], zombie = false): ProcEntry => ({
  pid,
  comm,
  cmdline,
  zombie,
});

describe('processMatcher (exact, not a regex)', () => {
  const haproxy = proc(10, 'haproxy', ['/usr/sbin/haproxy', '-f', '/etc/haproxy/haproxy.cfg', '-Ws']);
  it('by name against comm, exactly; zombies never count', () => {
    assert.ok(processMatcher({ process: 'haproxy' })(haproxy));
    assert.ok(!processMatcher({ process: 'haprox' })(haproxy));
    assert.ok(!processMatcher({ process: 'ssh' })(proc(1, 'sshd', ['sshd'])));
    assert.ok(!processMatcher({ process: 'haproxy' })({ ...haproxy, zombie: true }));
  });
  it('a long name is compared as the kernel truncates comm (15 bytes)', () => {
    assert.ok(processMatcher({ process: 'a-very-long-daemon-name' })(proc(1, 'a-very-long-dae', [])));
  });
  it('full_command compares argv[0]; parameters exact by default', () => {
    assert.ok(processMatcher({ process: '/usr/sbin/haproxy', fullCommand: true })(haproxy));
    assert.ok(!processMatcher({ process: 'haproxy', fullCommand: true })(haproxy));
    assert.ok(
      processMatcher({ process: '/usr/sbin/haproxy', args: '-f /etc/haproxy/haproxy.cfg -Ws' })(haproxy),
    );
    assert.ok(
      !processMatcher({ process: '/usr/sbin/haproxy', args: '-f /etc/haproxy/haproxy.cfg' })(haproxy),
    );
  });
  it('param_match partial: the configured parameters lead; initial: a byte prefix', () => {
    const m = { process: '/usr/sbin/haproxy', args: '-f /etc/haproxy/haproxy.cfg' };
    assert.ok(processMatcher({ ...m, paramMatch: 'partial' })(haproxy));
    assert.ok(!processMatcher({ ...m, args: '-f /etc/hap', paramMatch: 'partial' })(haproxy));
    assert.ok(processMatcher({ ...m, args: '-f /etc/hap', paramMatch: 'initial' })(haproxy));
    assert.ok(!processMatcher({ ...m, args: '-x', paramMatch: 'initial' })(haproxy));
  });
  it('param_match without parameters means "no parameters at all"', () => {
    assert.ok(!processMatcher({ process: '/usr/sbin/haproxy', paramMatch: undefined, args: '' })(haproxy));
    assert.ok(processMatcher({ process: '/bin/x', args: '' })(proc(2, 'x', ['/bin/x'])));
  });
});

describe('ProcessTracker', () => {
  const make = (over: Partial<ConstructorParameters<typeof ProcessTracker>[0]> = {}) => {
    const time = new FakeTime();
    let table: ProcEntry[] = [];
    const reports: TrackReport[] = [];
    const t = new ProcessTracker({
      name: 'haproxy',
      process: 'haproxy',
      reader: async () => table,
      timers: time,
      pollMs: 1000,
      onChange: (r) => reports.push(r),
      ...over,
    });
    const set = (n: number) => {
      table = Array.from({ length: n }, (_, i) => proc(100 + i, 'haproxy', ['haproxy']));
    };
    const oks = () => reports.map((r) => 'ok' in r && r.ok);
    return { t, time, reports, set, oks };
  };

  it('reports the first scan at once, then changes of quorum', async () => {
    const { t, time, set, oks, reports } = make({ weight: 15, quorum: 2, quorumMax: 3 });
    set(1);
    await t.start();
    set(2);
    await time.advance(1000);
    set(4);
    await time.advance(1000);
    set(3);
    await time.advance(1000);
    assert.deepEqual(oks(), [false, true, false, true]);
    assert.equal(reports[0]?.weight, 15);
    assert.equal(t.processes, 3);
    t.stop();
  });

  it('terminate_delay absorbs a restart; fork_delay delays coming up', async () => {
    const { t, time, set, oks } = make({ terminateDelayMs: 2500, forkDelayMs: 1500 });
    set(1);
    await t.start();
    set(0);
    await time.advance(1000);
    set(1);
    await time.advance(1000);
    assert.deepEqual(oks(), [true]);
    set(0);
    await time.advance(1000);
    await time.advance(2000);
    assert.deepEqual(oks(), [true]);
    await time.advance(500);
    assert.deepEqual(oks(), [true, false]);
    set(1);
    await time.advance(1000);
    assert.deepEqual(oks(), [true, false]);
    await time.advance(1500);
    assert.deepEqual(oks(), [true, false, true]);
    t.stop();
  });

  it('a failing reader keeps the last state', async () => {
    let fail = false;
    const reports: TrackReport[] = [];
    const time = new FakeTime();
    const t = new ProcessTracker({
      name: 'p',
      process: 'p',
      reader: async () => {
        if (fail) throw new Error('no /proc');
        return [proc(1, 'p', ['p'])];
      },
      timers: time,
      onChange: (r) => reports.push(r),
    });
    await t.start();
    fail = true;
    await time.advance(5000);
    assert.equal(reports.length, 1);
    assert.equal(t.ok, true);
    t.stop();
  });
});
