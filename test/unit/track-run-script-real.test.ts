import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseScript, type ScriptCommand } from '../../src/track/argv.ts';
import { resolveRunAs } from '../../src/track/run-as.ts';
import { spawnRunner } from '../../src/track/run-script.ts';

// The one test that runs real processes: exit statuses, a timeout that kills the whole process
// group, and (as root) running as nobody.

const cmd = (text: string) => parseScript(text) as ScriptCommand;
const procStat = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
};
const isRoot = process.getuid?.() === 0;

describe('spawnRunner (real processes)', () => {
  it('reports exit statuses and output', async () => {
    assert.deepEqual(await spawnRunner(cmd(`/bin/sh -c 'exit 0'`), { timeoutMs: 5000 }), {
      kind: 'exit',
      code: 0,
    });
    assert.deepEqual(await spawnRunner(cmd(`/bin/sh -c 'exit 1'`), { timeoutMs: 5000 }), {
      kind: 'exit',
      code: 1,
    });
    let out = '';
    await spawnRunner(cmd(`/bin/sh -c 'echo hello; echo oops >&2'`), {
      timeoutMs: 5000,
      onOutput: (_s, t) => {
        out += t;
      },
    });
    assert.match(out, /hello/);
    assert.match(out, /oops/);
  });

  it('a missing program is an error, not a crash', async () => {
    const r = await spawnRunner(cmd('/nonexistent/keepgit-test'), { timeoutMs: 5000 });
    assert.equal(r.kind, 'error');
  });

  it('kills the process group on timeout (sleep 10 and its child go)', async () => {
    const started = Date.now();
    let pidOut = '';
    const r = await spawnRunner(cmd(`/bin/sh -c 'sleep 10 & echo $!; sleep 10'`), {
      timeoutMs: 200,
      killGraceMs: 500,
      onOutput: (_s, t) => {
        pidOut += t;
      },
    });
    assert.deepEqual(r, { kind: 'timeout' });
    assert.ok(Date.now() - started < 3000, 'returned promptly');
    const childPid = Number(pidOut.trim());
    assert.ok(childPid > 0);
    await new Promise((res) => setTimeout(res, 100));
    // Gone, or a zombie waiting for whoever inherited it to reap it: either way not running.
    assert.ok(
      !/^\S+ \(sleep\) [RSD]/.test(procStat(childPid)),
      'the backgrounded sleep was killed with the group',
    );
  });

  it('runs as nobody when root', { skip: !isRoot && 'not root' }, async () => {
    const nobody = await resolveRunAs('nobody');
    assert.ok(!('error' in nobody), 'nobody exists');
    let out = '';
    const r = await spawnRunner(cmd('/usr/bin/id -u'), {
      timeoutMs: 5000,
      runAs: nobody,
      onOutput: (_s, t) => {
        out += t;
      },
    });
    assert.deepEqual(r, { kind: 'exit', code: 0 });
    assert.equal(out.trim(), String(nobody.uid));
    assert.equal(out.trim(), execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  });
});
