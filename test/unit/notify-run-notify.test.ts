import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type NotifyLog, notifyInvocations, runNotify } from '../../src/notify/run-notify.ts';
import type { ScriptCommand } from '../../src/track/argv.ts';
import type { RunOptions, RunResult, ScriptRunner } from '../../src/track/run-script.ts';

const EV = { type: 'INSTANCE', name: 'www-http', state: 'MASTER', priority: 110 } as const;

describe('notifyInvocations: keepalived arguments', () => {
  it('the state script gets its own arguments only; generic notify gets TYPE NAME STATE PRIORITY after', () => {
    const { invocations, errors } = notifyInvocations(
      { master: "/etc/keepgit/to-master.sh 'a b'", backup: '/x', notify: '/etc/keepgit/notify.sh --log' },
      EV,
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(
      invocations.map((i) => [i.script, i.command.argv]),
      [
        ['master', ['/etc/keepgit/to-master.sh', 'a b']],
        ['notify', ['/etc/keepgit/notify.sh', '--log', 'INSTANCE', 'www-http', 'MASTER', '110']],
      ],
    );
  });
  it('each state picks its script; GROUP events use the same shape', () => {
    const s = { master: '/m', backup: '/b', fault: '/f', stop: '/s', deleted: '/d', notify: '/n' };
    for (const [state, file] of [
      ['BACKUP', '/b'],
      ['FAULT', '/f'],
      ['STOP', '/s'],
      ['DELETED', '/d'],
    ] as const) {
      const { invocations } = notifyInvocations(s, { type: 'GROUP', name: 'g', state, priority: 0 });
      assert.deepEqual(
        invocations.map((i) => i.command.argv),
        [[file], ['/n', 'GROUP', 'g', state, '0']],
      );
    }
  });
  it('a shell-syntax generic notify sees the arguments as $1..$4', () => {
    const { invocations } = notifyInvocations({ notify: 'echo $1 $3 >> /tmp/log' }, EV);
    assert.deepEqual(invocations[0]?.command.argv, [
      '/bin/sh',
      '-c',
      'echo $1 $3 >> /tmp/log',
      'sh',
      'INSTANCE',
      'www-http',
      'MASTER',
      '110',
    ]);
  });
  it('a malformed line is an error, the others still run', () => {
    const r = notifyInvocations({ master: "/m 'x", notify: '/n' }, EV);
    assert.equal(r.errors.length, 1);
    assert.equal(r.invocations.length, 1);
  });
});

describe('runNotify', () => {
  it('returns before the scripts finish; done reports every result; output goes to the log', async () => {
    const pending: { cmd: ScriptCommand; opts: RunOptions; finish: (r: RunResult) => void }[] = [];
    const runner: ScriptRunner = (cmd, opts) =>
      new Promise((resolve) => {
        opts.onOutput?.('stdout', `ran ${cmd.argv[0]}\n`);
        pending.push({ cmd, opts, finish: resolve });
      });
    const logs: NotifyLog[] = [];
    const { done } = runNotify({ master: '/m', notify: '/n' }, EV, {
      runner,
      runAs: { user: 'nobody', uid: 65534, gid: 65534 },
      timeoutMs: 3000,
      log: (e) => logs.push(e),
    });
    let finished = false;
    void done.then(() => {
      finished = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(finished, false);
    assert.equal(pending.length, 2);
    assert.deepEqual(pending[0]?.opts.runAs, { user: 'nobody', uid: 65534, gid: 65534 });
    assert.equal(pending[0]?.opts.timeoutMs, 3000);
    pending[0]?.finish({ kind: 'exit', code: 0 });
    pending[1]?.finish({ kind: 'timeout' });
    assert.deepEqual(
      (await done).map((d) => [d.script, d.result.kind]),
      [
        ['master', 'exit'],
        ['notify', 'timeout'],
      ],
    );
    assert.deepEqual(
      logs.filter((l) => l.kind === 'stdout').map((l) => l.text),
      ['ran /m\n', 'ran /n\n'],
    );
    assert.match(logs.find((l) => l.script === 'notify' && l.kind === 'result')?.text ?? '', /timed out/);
  });
  it('a runner that throws is a logged error, never a rejection', async () => {
    const { done } = runNotify({ master: '/m' }, EV, {
      runner: () => Promise.reject(new Error('boom')),
      log: () => {},
    });
    assert.deepEqual(await done, [{ script: 'master', result: { kind: 'error', message: 'boom' } }]);
  });
});
