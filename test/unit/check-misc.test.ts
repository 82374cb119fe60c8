import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { probeMisc } from '../../src/check/misc-check.ts';
import { miscRunAs } from '../../src/check/misc-run-as.ts';
import { probeFor } from '../../src/check/probe-for.ts';
import type { ViewCheck, ViewRealServer, ViewVirtualServer } from '../../src/model/node-view.ts';
import { parseScript, type ScriptCommand } from '../../src/track/argv.ts';
import { resolveRunAs } from '../../src/track/run-as.ts';
import { loopback, probeCtx } from './check-peers.ts';

// MISC_CHECK with real scripts in a temporary directory: exit statuses, misc_dynamic weights,
// misc_timeout killing the script, and (as root) running as an unprivileged user.

const isRoot = process.getuid?.() === 0;
let dir = '';
const cmd = (text: string) => parseScript(text) as ScriptCommand;

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keepgit-misc-'));
  // Readable and traversable by the unprivileged user of the run-as test.
  await chmod(dir, 0o777);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('MISC_CHECK', () => {
  it('exit 0 is up, exit 1 is down', async () => {
    const up = await probeMisc({ command: cmd(await script('up.sh', 'exit 0')) }, loopback(80), probeCtx());
    assert.equal(up.ok, true);
    const down = await probeMisc(
      { command: cmd(await script('down.sh', 'exit 1')) },
      loopback(80),
      probeCtx(),
    );
    assert.deepEqual(down.ok ? 'ok' : down.reason, 'exit status 1');
  });

  it('exit 5 is down without misc_dynamic, and up with weight 3 with it', async () => {
    const five = cmd(await script('five.sh', 'exit 5'));
    const plain = await probeMisc({ command: five }, loopback(80), probeCtx());
    assert.deepEqual(plain.ok ? 'ok' : plain.reason, 'exit status 5');
    const dynamic = await probeMisc({ command: five, dynamic: true }, loopback(80), probeCtx());
    assert.equal(dynamic.ok, true);
    assert.equal(dynamic.ok && dynamic.weight, 3);
    const one = await probeMisc(
      { command: cmd(await script('one.sh', 'exit 1')), dynamic: true },
      loopback(80),
      probeCtx(),
    );
    assert.equal(one.ok, false, 'exit 1 stays a failure with misc_dynamic');
    const top = await probeMisc(
      { command: cmd(await script('top.sh', 'exit 255')), dynamic: true },
      loopback(80),
      probeCtx(),
    );
    assert.equal(top.ok && top.weight, 253);
  });

  it('a script that outlives misc_timeout is killed and counts as down', async () => {
    const pidFile = join(dir, 'sleep.pid');
    const sleeper = cmd(await script('sleep.sh', `echo $$ > ${pidFile}; exec sleep 30`));
    const r = await probeMisc({ command: sleeper }, loopback(80), probeCtx(300));
    assert.deepEqual(r.ok ? 'ok' : r.reason, 'timeout after 300 ms (misc timeout): killed');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(pid > 0);
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(processAlive(pid), false, 'the script is gone');
  });

  it('a missing script is a failure with a reason', async () => {
    const r = await probeMisc({ command: cmd(join(dir, 'nope.sh')) }, loopback(80), probeCtx());
    assert.match(r.ok ? '' : r.reason, /^could not run/);
  });

  it('runs as the configured unprivileged user (root only)', {
    skip: isRoot ? false : 'needs root',
  }, async () => {
    const out = join(dir, 'uid.out');
    const whoami = await script('whoami.sh', `id -u > ${out}`);
    const nobody = await resolveRunAs('nobody');
    assert.ok(!('error' in nobody), 'user nobody exists');
    const vs = { key: 'vs', virtualhost: undefined, alpha: false } as unknown as ViewVirtualServer;
    const rs = { key: '198.51.100.11:80', address: '198.51.100.11', port: 80, weight: 1 } as ViewRealServer;
    const check: ViewCheck = {
      type: 'misc',
      connectTimeoutMs: 5000,
      retry: 0,
      delayBeforeRetryMs: 1000,
      delayLoopMs: 10_000,
      warmupMs: 0,
      spec: { script: whoami, user: 'nobody' },
    };
    const users: (string | undefined)[] = [];
    const bound = probeFor(
      check,
      { virtualServer: vs, realServer: rs },
      {
        trackFiles: [],
        runAs: (user) => {
          users.push(user);
          return resolveRunAs(user ?? 'root');
        },
      },
    );
    assert.equal(bound.timeoutMs, 10_000, 'misc_timeout defaults to delay_loop');
    const r = await bound.run(loopback(80), probeCtx());
    assert.equal(r.ok, true, r.ok ? '' : r.reason);
    assert.equal((await readFile(out, 'utf8')).trim(), String(nobody.uid));
    assert.deepEqual(users, ['nobody']);
    const again = await bound.run(loopback(80), probeCtx());
    assert.equal(again.ok, true);
    assert.deepEqual(users, ['nobody'], 'the identity is resolved once');
  });

  it('an unknown user is a failure naming the field', async () => {
    const vs = { key: 'vs', alpha: false } as unknown as ViewVirtualServer;
    const rs = { key: 'rs', address: '198.51.100.11', port: 80, weight: 1 } as ViewRealServer;
    const bound = probeFor(
      {
        type: 'misc',
        connectTimeoutMs: 5000,
        retry: 0,
        delayBeforeRetryMs: 1000,
        delayLoopMs: 10_000,
        warmupMs: 0,
        spec: { script: '/bin/true', user: 'no-such-user-keepgit', timeout: '2s' },
      },
      { virtualServer: vs, realServer: rs },
      { trackFiles: [], runAs: (user) => resolveRunAs(user ?? 'root') },
    );
    assert.equal(bound.timeoutMs, 2000);
    const r = await bound.run(loopback(80), probeCtx());
    assert.match(r.ok ? '' : r.reason, /^MISC_CHECK user: script user "no-such-user-keepgit" does not exist/);
  });

  it('picks the identity as track scripts do: user, scriptUser, keepalived_script, else the agent', async () => {
    const calls: string[] = [];
    const db: Record<string, string> = {
      'passwd:checker': 'checker:x:1001:1001::/:/bin/false',
      'passwd:web': 'web:x:1002:1002::/:/bin/false',
      'group:staff': 'staff:x:50:',
    };
    const getent = async (kind: 'passwd' | 'group', key: string) => {
      calls.push(`${kind}:${key}`);
      return db[`${kind}:${key}`];
    };
    const self = { user: 'root', uid: 0, gid: 0 };
    const own = miscRunAs({ enableScriptSecurity: false }, { getent, self });
    assert.deepEqual(await own('web:staff'), { user: 'web', uid: 1002, gid: 50 });
    assert.deepEqual(await own(undefined), self, 'no scriptUser, no keepalived_script: the agent itself');
    const withUser = miscRunAs({ scriptUser: 'checker', enableScriptSecurity: true }, { getent, self });
    assert.deepEqual(await withUser(undefined), { user: 'checker', uid: 1001, gid: 1001 });
    const strict = miscRunAs({ enableScriptSecurity: true }, { getent, self });
    const refused = await strict(undefined);
    assert.match(
      'error' in refused ? refused.error : '',
      /enableScriptSecurity is on but no scriptUser is set/,
    );
    calls.length = 0;
    await withUser(undefined);
    await withUser(undefined);
    assert.deepEqual(calls, [], 'looked up once');
  });
});
