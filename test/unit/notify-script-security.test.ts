import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkScriptCommand,
  checkScriptPath,
  pathPrefixes,
  type SecurityFs,
  type StatLike,
} from '../../src/notify/script-security.ts';
import { parseScript, type ScriptCommand } from '../../src/track/argv.ts';

const DIR = 0o040000;
const REG = 0o100000;
const LNK = 0o120000;
const root = (mode: number): StatLike => ({ uid: 0, gid: 0, mode });

function fakeFs(entries: Record<string, StatLike>, links: Record<string, string> = {}): SecurityFs {
  return {
    lstat: async (p) => entries[p],
    realpath: async (p) => links[p] ?? (entries[p] ? p : undefined),
  };
}

const safeTree = (): Record<string, StatLike> => ({
  '/': root(DIR | 0o755),
  '/etc': root(DIR | 0o755),
  '/etc/keepgit': root(DIR | 0o755),
  '/etc/keepgit/chk.sh': root(REG | 0o755),
  '/tmp': root(DIR | 0o1777),
  '/usr': root(DIR | 0o755),
  '/usr/bin': root(DIR | 0o755),
  '/usr/bin/pidof': root(REG | 0o755),
});
const NOBODY = { uid: 65534, gid: 65534 };
const ROOT = { uid: 0, gid: 0 };

describe('script security (enable_script_security)', () => {
  it('lists every prefix', () => {
    assert.deepEqual(pathPrefixes('/etc/keepgit/chk.sh'), [
      '/',
      '/etc',
      '/etc/keepgit',
      '/etc/keepgit/chk.sh',
    ]);
  });

  it('accepts a root-owned script in root-owned directories', async () => {
    assert.deepEqual(await checkScriptPath('/etc/keepgit/chk.sh', NOBODY, fakeFs(safeTree())), {
      ok: true,
      path: '/etc/keepgit/chk.sh',
    });
  });

  it('refuses a world-writable script and names the fix', async () => {
    const t = safeTree();
    t['/etc/keepgit/chk.sh'] = root(REG | 0o757);
    const r = await checkScriptPath('/etc/keepgit/chk.sh', NOBODY, fakeFs(t));
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.deepEqual(r.problems, [
      { path: '/etc/keepgit/chk.sh', reason: 'is world-writable', fix: 'chmod o-w /etc/keepgit/chk.sh' },
    ]);
    assert.match(r.message, /chmod o-w \/etc\/keepgit\/chk\.sh/);
  });

  it('refuses a world-writable directory on the path', async () => {
    const t = safeTree();
    t['/etc/keepgit'] = root(DIR | 0o777);
    const r = await checkScriptPath('/etc/keepgit/chk.sh', NOBODY, fakeFs(t));
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.path, '/etc/keepgit');
    assert.equal(r.problems[0]?.fix, 'chmod o-w /etc/keepgit');
  });

  it('a sticky directory (/tmp) is exempt from the mode check but not the owner check', async () => {
    const t = safeTree();
    t['/tmp/chk.sh'] = root(REG | 0o755);
    assert.equal((await checkScriptPath('/tmp/chk.sh', NOBODY, fakeFs(t))).ok, true);
    t['/tmp'] = { uid: 1000, gid: 0, mode: DIR | 0o1777 };
    const r = await checkScriptPath('/tmp/chk.sh', NOBODY, fakeFs(t));
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.fix, 'chown root /tmp');
  });

  it('refuses a file owned by another non-root user; allows the run-as user (unless that is root)', async () => {
    const t = safeTree();
    t['/etc/keepgit/chk.sh'] = { uid: 1000, gid: 0, mode: REG | 0o755 };
    const other = await checkScriptPath('/etc/keepgit/chk.sh', NOBODY, fakeFs(t));
    assert.ok(!other.ok);
    assert.deepEqual(other.problems[0], {
      path: '/etc/keepgit/chk.sh',
      reason: 'is owned by uid 1000, who could change it',
      fix: 'chown root /etc/keepgit/chk.sh',
    });
    assert.equal(
      (await checkScriptPath('/etc/keepgit/chk.sh', { uid: 1000, gid: 1000 }, fakeFs(t))).ok,
      true,
    );
    t['/etc/keepgit/chk.sh'] = { uid: 0, gid: 0, mode: REG | 0o755 };
    t['/etc/keepgit'] = { uid: 65534, gid: 0, mode: DIR | 0o755 };
    assert.equal((await checkScriptPath('/etc/keepgit/chk.sh', ROOT, fakeFs(t))).ok, false);
  });

  it('refuses group-writable with a non-root group, accepts it with group root', async () => {
    const t = safeTree();
    t['/etc/keepgit/chk.sh'] = { uid: 0, gid: 50, mode: REG | 0o775 };
    const r = await checkScriptPath('/etc/keepgit/chk.sh', NOBODY, fakeFs(t));
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.fix, 'chmod g-w /etc/keepgit/chk.sh');
    t['/etc/keepgit/chk.sh'] = { uid: 0, gid: 0, mode: REG | 0o775 };
    assert.equal((await checkScriptPath('/etc/keepgit/chk.sh', NOBODY, fakeFs(t))).ok, true);
  });

  it('checks the target of a symbolic link, which is what runs', async () => {
    const t = safeTree();
    t['/etc/keepgit/link.sh'] = root(LNK | 0o777);
    t['/tmp/evil.sh'] = { uid: 1000, gid: 1000, mode: REG | 0o777 };
    const r = await checkScriptPath(
      '/etc/keepgit/link.sh',
      NOBODY,
      fakeFs(t, { '/etc/keepgit/link.sh': '/tmp/evil.sh' }),
    );
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => p.fix),
      ['chown root /tmp/evil.sh', 'chmod o-w /tmp/evil.sh', 'chmod g-w /tmp/evil.sh'],
    );
    assert.match(r.message, /script \/etc\/keepgit\/link\.sh refused/);
  });

  it('refuses a missing script, a relative path and a non-file', async () => {
    assert.equal((await checkScriptPath('/etc/keepgit/none.sh', NOBODY, fakeFs(safeTree()))).ok, false);
    assert.equal((await checkScriptPath('chk.sh', NOBODY, fakeFs(safeTree()))).ok, false);
    const r = await checkScriptPath('/etc/keepgit', NOBODY, fakeFs(safeTree()));
    assert.ok(!r.ok);
    assert.equal(r.problems[0]?.reason, 'is not a regular file');
  });

  it('checkScriptCommand searches PATH for a bare name and checks the shell for shell syntax', async () => {
    const fs = fakeFs({ ...safeTree(), '/bin': root(DIR | 0o755), '/bin/sh': root(REG | 0o777) });
    const bare = await checkScriptCommand(
      parseScript('pidof haproxy') as ScriptCommand,
      NOBODY,
      fs,
      '/usr/local/bin:/usr/bin',
    );
    assert.deepEqual(bare, { ok: true, path: '/usr/bin/pidof' });
    const missing = await checkScriptCommand(parseScript('nosuch') as ScriptCommand, NOBODY, fs, '/usr/bin');
    assert.equal(missing.ok, false);
    const shell = await checkScriptCommand(parseScript('pidof x | wc') as ScriptCommand, NOBODY, fs);
    assert.ok(!shell.ok);
    assert.equal(shell.problems[0]?.path, '/bin/sh');
  });
});
