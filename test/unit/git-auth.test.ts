import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  checkRemoteUrl,
  DEFAULT_TOKEN_USERNAME,
  displayUrl,
  gitAuthFor,
  loadCredentials,
  type ReadSecretFile,
  readSecretFile,
  redact,
  secretsOf,
} from '../../src/source/git-auth.ts';

const files =
  (table: Record<string, { text: string; mode?: number }>): ReadSecretFile =>
  (path) => {
    const f = table[path];
    return f === undefined ? { error: 'no such file' } : { text: f.text, mode: f.mode ?? 0o100600 };
  };

const ok = (r: ReturnType<typeof loadCredentials>) => {
  if (!r.ok) assert.fail(r.error);
  return r;
};

describe('checkRemoteUrl', () => {
  it('accepts http and https URLs', () => {
    assert.deepEqual(checkRemoteUrl('https://git.example.com/ops/ha.git'), {
      ok: true,
      url: 'https://git.example.com/ops/ha.git',
    });
    assert.equal(checkRemoteUrl('http://127.0.0.1:8080/repo.git').ok, true);
  });

  it('refuses credentials in the URL, says where they go, and does not repeat them', () => {
    for (const url of [
      'https://alice:s3cret-pass@git.example.com/ops/ha.git',
      'https://ghp_tok3nvalue@git.example.com/ops/ha.git',
    ]) {
      const r = checkRemoteUrl(url);
      assert.ok(!r.ok);
      assert.match(r.error, /contains credentials/);
      assert.match(r.error, /KEEPGIT_GIT_TOKEN or tokenFile/);
      assert.match(r.error, /https:\/\/git\.example\.com\/ops\/ha\.git/);
      assert.doesNotMatch(r.error, /s3cret-pass|ghp_tok3nvalue|alice/);
    }
  });

  it('refuses ssh, git and file URLs and garbage with a hint', () => {
    const ssh = checkRemoteUrl('ssh://git@git.example.com/ops/ha.git');
    assert.ok(!ssh.ok);
    // ssh://git@… also has a user name; either message must point away from the URL form.
    assert.match(ssh.error, /credentials|only http/);
    const file = checkRemoteUrl('file:///srv/ha.git');
    assert.ok(!file.ok && /uses file: only http:\/\/ and https:\/\//.test(file.error));
    const scp = checkRemoteUrl('git@git.example.com:ops/ha.git');
    assert.ok(!scp.ok);
    const junk = checkRemoteUrl('not a url');
    assert.ok(!junk.ok && /not a valid URL/.test(junk.error));
  });
});

describe('displayUrl', () => {
  it('drops user, password and query', () => {
    assert.equal(displayUrl('https://u:p@h.example/r.git'), 'https://h.example/r.git');
    assert.equal(displayUrl('https://h.example/r.git?private_token=abc'), 'https://h.example/r.git?…');
    assert.equal(displayUrl('::'), '(unparsable URL)');
  });
});

describe('loadCredentials', () => {
  it('no credentials at all is fine (public repository)', () => {
    const r = ok(loadCredentials({}, {}));
    assert.deepEqual(r.credentials, { kind: 'none' });
    assert.equal(gitAuthFor(r.credentials), undefined);
  });

  it('token from the environment, sent as basic auth with the default user name', () => {
    const r = ok(loadCredentials({}, { KEEPGIT_GIT_TOKEN: 'tok-env' }));
    assert.deepEqual(r.credentials, {
      kind: 'token',
      token: 'tok-env',
      username: DEFAULT_TOKEN_USERNAME,
      scheme: 'basic',
    });
    assert.deepEqual(gitAuthFor(r.credentials), { username: DEFAULT_TOKEN_USERNAME, password: 'tok-env' });
  });

  it('token as bearer, and with a configured user name', () => {
    const bearer = ok(loadCredentials({ tokenAuth: 'bearer' }, { KEEPGIT_GIT_TOKEN: 't1' }));
    assert.deepEqual(gitAuthFor(bearer.credentials), { headers: { Authorization: 'Bearer t1' } });
    const named = ok(loadCredentials({ username: 'oauth2' }, { KEEPGIT_GIT_TOKEN: 't2' }));
    assert.deepEqual(gitAuthFor(named.credentials), { username: 'oauth2', password: 't2' });
  });

  it('token from a file: trailing newline trimmed, no warning at mode 0600', () => {
    const r = ok(
      loadCredentials(
        { tokenFile: '/etc/keepgit/token' },
        {},
        files({ '/etc/keepgit/token': { text: 'tok-file\n' } }),
      ),
    );
    assert.equal(r.credentials.kind === 'token' && r.credentials.token, 'tok-file');
    assert.deepEqual(r.warnings, []);
  });

  it('a world-readable secret file is a warning naming the file and the fix', () => {
    const r = ok(
      loadCredentials(
        { tokenFile: '/etc/keepgit/token' },
        {},
        files({ '/etc/keepgit/token': { text: 'zz-file-secret', mode: 0o100644 } }),
      ),
    );
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0] ?? '',
      /tokenFile \/etc\/keepgit\/token is readable by every user \(mode 0644\): run chmod 600/,
    );
    assert.doesNotMatch(r.warnings[0] ?? '', /zz-file-secret/);
  });

  it('basic auth from the environment and from a password file', () => {
    const env = ok(loadCredentials({}, { KEEPGIT_GIT_USERNAME: 'bob', KEEPGIT_GIT_PASSWORD: 'pw' }));
    assert.deepEqual(env.credentials, { kind: 'basic', username: 'bob', password: 'pw' });
    const file = ok(
      loadCredentials({ username: 'carol', passwordFile: '/p' }, {}, files({ '/p': { text: 'pw2\r\n' } })),
    );
    assert.deepEqual(file.credentials, { kind: 'basic', username: 'carol', password: 'pw2' });
  });

  it('a token wins over a password, with a warning', () => {
    const r = ok(
      loadCredentials({}, { KEEPGIT_GIT_TOKEN: 't', KEEPGIT_GIT_USERNAME: 'u', KEEPGIT_GIT_PASSWORD: 'p' }),
    );
    assert.equal(r.credentials.kind, 'token');
    assert.match(r.warnings.join('\n'), /token is used/);
  });

  it('errors name the field and what to do, never the secret', () => {
    const cases: [Parameters<typeof loadCredentials>, RegExp][] = [
      [
        [{ tokenFile: '/t' }, { KEEPGIT_GIT_TOKEN: 'zz-secret' }, files({ '/t': { text: 'x' } })],
        /both KEEPGIT_GIT_TOKEN and tokenFile/,
      ],
      [
        [{ passwordFile: '/p' }, { KEEPGIT_GIT_PASSWORD: 'zz-secret' }, files({ '/p': { text: 'x' } })],
        /both KEEPGIT_GIT_PASSWORD and passwordFile/,
      ],
      [[{}, { KEEPGIT_GIT_PASSWORD: 'zz-secret' }], /no user name: set KEEPGIT_GIT_USERNAME/],
      [[{ username: 'dave' }, {}], /no password or token: set KEEPGIT_GIT_PASSWORD or passwordFile/],
      [[{ tokenFile: '/missing' }, {}, files({})], /tokenFile \/missing: no such file/],
      [[{ tokenFile: '/empty' }, {}, files({ '/empty': { text: '\n' } })], /tokenFile \/empty is empty/],
      [
        [{ passwordFile: '/two', username: 'u' }, {}, files({ '/two': { text: 'zz-secret\nmore\n' } })],
        /more than one line/,
      ],
    ];
    for (const [args, want] of cases) {
      const r = loadCredentials(...args);
      assert.ok(!r.ok, String(want));
      assert.match(r.error, want);
      assert.doesNotMatch(r.error, /zz-secret/);
    }
  });

  it('empty environment variables count as unset', () => {
    const r = ok(loadCredentials({}, { KEEPGIT_GIT_TOKEN: '', KEEPGIT_GIT_USERNAME: '' }));
    assert.deepEqual(r.credentials, { kind: 'none' });
  });
});

describe('readSecretFile (real files)', () => {
  it('reads the text and the mode, and reports a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-auth-'));
    try {
      const p = join(dir, 'token');
      writeFileSync(p, 'abc\n');
      chmodSync(p, 0o604);
      const f = readSecretFile(p);
      assert.ok(!('error' in f));
      assert.equal(f.text, 'abc\n');
      assert.equal(f.mode & 0o777, 0o604);
      const r = loadCredentials({ tokenFile: p }, {});
      assert.ok(r.ok && r.warnings.length === 1);
      assert.deepEqual(readSecretFile(join(dir, 'nope')), { error: 'no such file' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('redact', () => {
  it('replaces secrets and their basic-auth encoding', () => {
    const c = { kind: 'basic', username: 'u', password: 'hunter2' } as const;
    const b64 = Buffer.from('u:hunter2').toString('base64');
    assert.equal(redact(`pw hunter2 header Basic ${b64}`, secretsOf(c)), 'pw *** header Basic ***');
    assert.equal(redact('nothing here', secretsOf({ kind: 'none' })), 'nothing here');
  });
});
