import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { startGitSourcePoller } from '../../src/source/git-poller.ts';
import {
  cacheDirFor,
  deepenHistory,
  type FetchOptions,
  type FetchRevisionResult,
  fetchRevision,
  type GitSourceConfig,
  type RemoteRevision,
} from '../../src/source/git-remote.ts';
import { admitRevision, orderRevisions } from '../../src/source/revision-order.ts';
import { GIT_HTTP_BACKEND, type GitHttpServer, startGitHttpServer } from './git-http-server.ts';

// The Git remote source against a real git-http-backend on 127.0.0.1 (no root needed,
// never skipped: without git the tests fail and say what to install).

const missing = !existsSync(GIT_HTTP_BACKEND) ? `needs ${GIT_HTTP_BACKEND} (apt-get install git)` : undefined;

const states: string[] = [];
const newStateDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'keepgit-state-'));
  states.push(d);
  return d;
};
after(() => {
  for (const d of states) rmSync(d, { recursive: true, force: true });
});

const got = (r: FetchRevisionResult): RemoteRevision => {
  if ('error' in r) assert.fail(r.error);
  return r;
};
const failed = (r: FetchRevisionResult): string => {
  assert.ok('error' in r, 'expected an error value');
  return r.error;
};

const uploads = (s: GitHttpServer): number => s.requests.filter((r) => r.method === 'POST').length;
const packs = (gitdir: string): string[] =>
  readdirSync(join(gitdir, 'objects', 'pack'))
    .filter((f) => f.endsWith('.pack'))
    .sort();
const packBytes = (gitdir: string, name: string): number =>
  statSync(join(gitdir, 'objects', 'pack', name)).size;

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

// Random text so that Git cannot compress it away: lets a test see whether it travelled again.
const BIG = randomBytes(90_000).toString('base64');

describe('Git remote source over smart HTTP', () => {
  let server: GitHttpServer;
  let c1 = '';
  let c2 = '';

  before(async () => {
    if (missing !== undefined) return;
    server = await startGitHttpServer();
    c1 = server.push(
      { 'keepgit.yaml': 'kind: Cluster # 1\n', 'nodes/lb1.yaml': 'kind: Node\n', 'data/big.txt': BIG },
      'first',
    );
    c2 = server.push(
      { 'keepgit.yaml': 'kind: Cluster # 2\n', 'policies/house.yaml': 'kind: Policy\n' },
      'second',
    );
  });
  after(async () => {
    await server?.close();
  });

  const config = (over: Partial<GitSourceConfig> = {}): GitSourceConfig => ({
    url: server.url,
    ref: { branch: 'main' },
    interval: 30_000,
    ...over,
  });

  it('first fetch: the branch head, its desired-state files, a shallow cache under the state directory', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const r = got(await fetchRevision({ config: config(), stateDir, env: {} }));
    assert.equal(r.commit, c2);
    assert.equal(r.ref, 'refs/heads/main');
    assert.equal(r.downloaded, true);
    assert.deepEqual([...r.files.keys()].sort(), ['keepgit.yaml', 'nodes/lb1.yaml', 'policies/house.yaml']);
    assert.equal(r.files.get('keepgit.yaml'), 'kind: Cluster # 2\n');
    assert.equal(r.gitdir, cacheDirFor(stateDir, server.url));
    assert.ok(r.gitdir.startsWith(join(stateDir, 'git')));
    // depth 1: the parent commit was not fetched.
    assert.match(readFileSync(join(r.gitdir, 'shallow'), 'utf8'), new RegExp(c2));
  });

  it('a restart (new call, same cache) re-uses the cache: no upload-pack request, no new pack', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const first = got(await fetchRevision({ config: config(), stateDir, env: {} }));
    const before = packs(first.gitdir);
    const posts = uploads(server);
    const again = got(await fetchRevision({ config: config(), stateDir, env: {} }));
    assert.equal(again.commit, c2);
    assert.equal(again.downloaded, false);
    assert.equal(uploads(server), posts, 'no git-upload-pack POST for a commit already cached');
    assert.deepEqual(packs(again.gitdir), before);
    assert.equal(again.files.get('keepgit.yaml'), 'kind: Cluster # 2\n');
  });

  it('a new commit is seen and only the new objects travel; warm-cache fetch times are printed', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const first = got(await fetchRevision({ config: config(), stateDir, env: {} }));
    const firstPack = packs(first.gitdir);
    assert.equal(firstPack.length, 1);
    const firstBytes = packBytes(first.gitdir, firstPack[0] ?? '');
    assert.ok(firstBytes > BIG.length / 2, `the first pack carries the big file (${firstBytes} bytes)`);

    const times: number[] = [];
    let last = '';
    for (let i = 3; i < 13; i++) {
      last = server.push({ 'keepgit.yaml': `kind: Cluster # ${i}\n` }, `change ${i}`);
      const t0 = performance.now();
      const r = got(await fetchRevision({ config: config(), stateDir, env: {} }));
      times.push(performance.now() - t0);
      assert.equal(r.commit, last);
      assert.equal(r.downloaded, true);
      assert.equal(r.files.get('keepgit.yaml'), `kind: Cluster # ${i}\n`);
    }
    const newPacks = packs(first.gitdir).filter((p) => !firstPack.includes(p));
    assert.equal(newPacks.length, 10);
    for (const p of newPacks) {
      const bytes = packBytes(first.gitdir, p);
      assert.ok(
        bytes < 2_000,
        `incremental pack ${p} is ${bytes} bytes: the unchanged big file travelled again`,
      );
    }
    console.log(
      `# warm-cache fetch of a one-file change over loopback: median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (10 fetches); first pack ${firstBytes} B, incremental packs ${newPacks.map((p) => packBytes(first.gitdir, p)).join('/')} B`,
    );
    // Put the branch back where the other tests expect it.
    server.forcePush(c2);
  });

  it('fetches another branch, an annotated tag and a lightweight tag', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const rel = server.push({ 'keepgit.yaml': 'kind: Cluster # release\n' }, 'release', 'release');
    server.tag('v1', c1, true);
    server.tag('v1-light', c2, false);
    const branch = got(
      await fetchRevision({ config: config({ ref: { branch: 'release' } }), stateDir, env: {} }),
    );
    assert.equal(branch.commit, rel);
    assert.equal(branch.files.get('keepgit.yaml'), 'kind: Cluster # release\n');
    const tag = got(await fetchRevision({ config: config({ ref: { tag: 'v1' } }), stateDir, env: {} }));
    assert.equal(tag.commit, c1, 'the annotated tag is peeled to its commit');
    assert.equal(tag.ref, 'refs/tags/v1');
    assert.equal(tag.files.get('keepgit.yaml'), 'kind: Cluster # 1\n');
    const light = got(
      await fetchRevision({ config: config({ ref: { tag: 'v1-light' } }), stateDir, env: {} }),
    );
    assert.equal(light.commit, c2);
  });

  it('an unknown branch or tag lists what the remote has', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const b = failed(await fetchRevision({ config: config({ ref: { branch: 'nope' } }), stateDir, env: {} }));
    assert.match(b, /branch "nope" not found at http:\/\/127\.0\.0\.1:\d+\/repo\.git/);
    assert.match(b, /branches: .*main/);
    assert.match(b, /tags: /);
    const t = failed(await fetchRevision({ config: config({ ref: { tag: 'v9' } }), stateDir, env: {} }));
    assert.match(t, /tag "v9" not found/);
    const neither = failed(await fetchRevision({ config: config({ ref: {} }), stateDir, env: {} }));
    assert.match(neither, /source\.ref: set exactly one of branch or tag/);
  });

  it('an unreachable remote, a silent one and a wrong path are error values naming the URL and the cause', async () => {
    if (missing !== undefined) assert.fail(missing);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const url = `http://127.0.0.1:${port}/repo.git`;
    const e = failed(await fetchRevision({ config: config({ url }), stateDir: newStateDir(), env: {} }));
    assert.equal(e, `cannot reach ${url}: connection refused`);
    // A server that accepts and never answers: the idle timeout turns it into an error value.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/repo.git`;
      const hung = failed(
        await fetchRevision({
          config: config({ url: silentUrl }),
          stateDir: newStateDir(),
          env: {},
          timeoutMs: 200,
        }),
      );
      assert.equal(hung, `cannot reach ${silentUrl}: no answer in time`);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
    const e404 = failed(
      await fetchRevision({
        config: config({ url: server.url.replace('repo.git', 'other.git') }),
        stateDir: newStateDir(),
        env: {},
      }),
    );
    assert.match(
      e404,
      /no repository at http:\/\/127\.0\.0\.1:\d+\/other\.git \(HTTP 404\): check source\.url/,
    );
    const inUrl = failed(
      await fetchRevision({
        config: config({ url: server.url.replace('http://', 'http://me:pa55word@') }),
        stateDir: newStateDir(),
        env: {},
      }),
    );
    assert.match(inUrl, /contains credentials/);
    assert.doesNotMatch(inUrl, /pa55word/);
  });

  it('force-push backwards: detected as a rewind and refused; allowed with allowRewind', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const opts: FetchOptions = { config: config(), stateDir, env: {} };
    const old = got(await fetchRevision(opts));
    assert.equal(old.commit, c2);
    const c3 = server.push({ 'keepgit.yaml': 'kind: Cluster # 3\n' }, 'third');
    const applied = got(await fetchRevision(opts));
    assert.equal(applied.commit, c3);

    server.forcePush(c2);
    try {
      const back = got(await fetchRevision(opts));
      assert.equal(back.commit, c2);
      const order = await orderRevisions({
        gitdir: back.gitdir,
        fetched: back.commit,
        applied: c3,
        deepen: (d) => deepenHistory(opts, d),
      });
      assert.equal(order.order, 'rewind');
      assert.equal(
        order.message,
        `revision ${c2.slice(0, 7)} is older than the applied ${c3.slice(0, 7)} (a force-push backwards?); refused: set source.allowRewind: true to allow it`,
      );
      assert.deepEqual(admitRevision(order, false), { ok: false, message: order.message });
      const allowed = admitRevision(order, true);
      assert.ok(
        allowed.ok && /applied anyway because source\.allowRewind is true/.test(allowed.warning ?? ''),
      );

      const forward = await orderRevisions({ gitdir: back.gitdir, fetched: c3, applied: c2 });
      assert.equal(forward.order, 'descendant');
      assert.equal((await orderRevisions({ gitdir: back.gitdir, fetched: c2, applied: c2 })).order, 'same');

      // Rewritten history: a new commit on top of c2 that does not contain c3.
      const sideways = server.push({ 'keepgit.yaml': 'kind: Cluster # 3 amended\n' }, 'third, rewritten');
      const diverged = got(await fetchRevision(opts));
      assert.equal(diverged.commit, sideways);
      const d = await orderRevisions({
        gitdir: diverged.gitdir,
        fetched: sideways,
        applied: c3,
        deepen: (n) => deepenHistory(opts, n),
      });
      assert.equal(d.order, 'unrelated');
      assert.match(d.message, /does not contain the applied .*refused: set source\.allowRewind: true/);
    } finally {
      server.forcePush(c2);
    }
  });

  it('a shallow cold cache is deepened until the applied commit is found', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const opts: FetchOptions = { config: config(), stateDir, env: {} };
    const commits: string[] = [];
    for (let i = 0; i < 15; i++)
      commits.push(server.push({ 'keepgit.yaml': `kind: Cluster # deep ${i}\n` }, `d${i}`));
    try {
      const tip = got(await fetchRevision(opts));
      assert.equal(tip.commit, commits[14]);
      const applied = commits[1] ?? '';
      const depths: number[] = [];
      const order = await orderRevisions({
        gitdir: tip.gitdir,
        fetched: tip.commit,
        applied,
        deepen: (d) => {
          depths.push(d);
          return deepenHistory(opts, d);
        },
      });
      assert.equal(order.order, 'descendant', order.message);
      assert.deepEqual(depths, [10, 100], 'depth 10 is not enough for 13 commits back; 100 is');

      const unknown = await orderRevisions({
        gitdir: newStateDir(),
        fetched: tip.commit,
        applied: 'f'.repeat(40),
        deepen: async () => 'cannot reach the remote',
      });
      assert.equal(unknown.order, 'unknown');
      assert.match(unknown.message, /fetching more history failed: cannot reach the remote/);
    } finally {
      server.forcePush(c2);
    }
  });

  it('the poller coalesces a burst of triggers into one fetch and refuses a rewind', async () => {
    if (missing !== undefined) assert.fail(missing);
    const stateDir = newStateDir();
    const seen: string[] = [];
    let applied: string | undefined;
    const poller = startGitSourcePoller({
      config: config(),
      stateDir,
      env: {},
      fetchAtStart: false,
      applied: () => applied,
      onRevision: (r) => {
        seen.push(r.commit);
        applied = r.commit;
      },
    });
    try {
      const gets = (): number => server.requests.filter((r) => r.method === 'GET').length;
      const g0 = gets();
      const p0 = uploads(server);
      await Promise.all(Array.from({ length: 5 }, () => poller.trigger()));
      assert.equal(gets() - g0, 1, 'one ref advertisement for five triggers (and for one fetch)');
      assert.equal(uploads(server) - p0, 1, 'one upload-pack for five triggers');
      assert.deepEqual(seen, [c2]);

      const c3 = server.push({ 'keepgit.yaml': 'kind: Cluster # poller\n' }, 'poller');
      await poller.trigger();
      assert.deepEqual(seen, [c2, c3]);

      server.forcePush(c2);
      await poller.trigger();
      const s = poller.status();
      assert.deepEqual(seen, [c2, c3], 'the older revision is not handed over');
      assert.match(s.lastError ?? '', /is older than the applied .*allowRewind/);
      assert.equal(s.failures, 0);
      assert.equal(s.lastCommit, c3);
      assert.equal(s.url, server.url);
      assert.equal(s.ref, 'branch main');
      assert.ok(s.nextAttemptAt !== undefined && s.lastFetchAt !== undefined);
    } finally {
      await poller.stop();
      server.forcePush(c2);
    }

    // The same rewind with allowRewind: handed over.
    let applied2: string | undefined;
    const seen2: string[] = [];
    const warnings: string[] = [];
    server.push({ 'keepgit.yaml': 'kind: Cluster # ahead\n' }, 'ahead');
    const ahead = server.push({ 'keepgit.yaml': 'kind: Cluster # ahead 2\n' }, 'ahead 2');
    const allowing = startGitSourcePoller({
      config: config({ allowRewind: true }),
      stateDir,
      env: {},
      fetchAtStart: false,
      applied: () => applied2,
      onRevision: (r) => {
        seen2.push(r.commit);
        applied2 = r.commit;
      },
      onWarning: (w) => warnings.push(w),
    });
    try {
      await allowing.trigger();
      server.forcePush(c2);
      await allowing.trigger();
      assert.deepEqual(seen2, [ahead, c2]);
      assert.match(warnings.join('\n'), /applied anyway because source\.allowRewind is true/);
      assert.equal(allowing.status().lastError, undefined);
    } finally {
      await allowing.stop();
      server.forcePush(c2);
    }
  });
});

describe('the test Git server (git-http-server.ts)', () => {
  it('decodes a gzip request body, as the git CLI sends large ones, and serves a git clone', async () => {
    if (missing !== undefined) assert.fail(missing);
    const server = await startGitHttpServer();
    const dir = newStateDir();
    try {
      const head = server.push({ 'keepgit.yaml': 'kind: Cluster # gzip\n' }, 'gzip');
      const pkt = (line: string): string => (line.length + 4).toString(16).padStart(4, '0') + line;
      const body = gzipSync(Buffer.from(`${pkt(`want ${head} ofs-delta\n`)}0000${pkt('done\n')}`));
      const res = await fetch(`${server.url}/git-upload-pack`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' },
        body,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/x-git-upload-pack-result');
      assert.ok(Buffer.from(await res.arrayBuffer()).includes('PACK'), 'a packfile came back');
      const clone = join(dir, 'clone');
      // Asynchronously: the server runs in this process and must keep serving.
      await promisify(execFile)('git', ['clone', '-q', server.url, clone], {
        env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
        timeout: 60_000,
      });
      assert.equal(readFileSync(join(clone, 'keepgit.yaml'), 'utf8'), 'kind: Cluster # gzip\n');
    } finally {
      await server.close();
    }
  });
});

describe('Git remote source with authentication', () => {
  const SECRET = 'tok-9f8e7d6c5b4a';

  it('basic auth: refused without credentials with a clear message, accepted with them, secret nowhere', async () => {
    if (missing !== undefined) assert.fail(missing);
    const server = await startGitHttpServer({ basic: { username: 'deploy', password: SECRET } });
    try {
      const c = server.push({ 'keepgit.yaml': 'kind: Cluster # auth\n' }, 'auth');
      const config: GitSourceConfig = { url: server.url, ref: { branch: 'main' }, interval: 30_000 };
      const none = failed(await fetchRevision({ config, stateDir: newStateDir(), env: {} }));
      assert.equal(
        none,
        `authentication failed for ${server.url} (HTTP 401): set KEEPGIT_GIT_TOKEN or tokenFile, or KEEPGIT_GIT_USERNAME with KEEPGIT_GIT_PASSWORD or passwordFile`,
      );
      const wrong = failed(
        await fetchRevision({
          config,
          stateDir: newStateDir(),
          env: { KEEPGIT_GIT_USERNAME: 'deploy', KEEPGIT_GIT_PASSWORD: 'not-the-password' },
        }),
      );
      assert.match(wrong, /authentication failed for .* the user name and password given were refused/);
      assert.doesNotMatch(wrong, /not-the-password/);

      const stateDir = newStateDir();
      const r = got(
        await fetchRevision({
          config,
          stateDir,
          env: { KEEPGIT_GIT_USERNAME: 'deploy', KEEPGIT_GIT_PASSWORD: SECRET },
        }),
      );
      assert.equal(r.commit, c);
      // The cache's Git config holds the URL without credentials, and no file holds the secret.
      const cfg = readFileSync(join(r.gitdir, 'config'), 'utf8');
      assert.match(cfg, new RegExp(`url = ${server.url.replace(/\./g, '\\.')}`));
      for (const f of ['config', 'HEAD', 'FETCH_HEAD', 'shallow']) {
        const p = join(r.gitdir, f);
        if (existsSync(p)) assert.doesNotMatch(readFileSync(p, 'utf8'), new RegExp(SECRET), f);
      }
      // A token as the basic-auth password (the usual way for Git hosts).
      const tok = got(
        await fetchRevision({
          config: { ...config, username: 'deploy' },
          stateDir: newStateDir(),
          env: { KEEPGIT_GIT_TOKEN: SECRET },
        }),
      );
      assert.equal(tok.commit, c);
    } finally {
      await server.close();
    }
  });

  it('bearer token from a file; a wrong token is refused without echoing it', async () => {
    if (missing !== undefined) assert.fail(missing);
    const server = await startGitHttpServer({ bearer: SECRET });
    try {
      const c = server.push({ 'keepgit.yaml': 'kind: Cluster # bearer\n' }, 'bearer');
      const config: GitSourceConfig = {
        url: server.url,
        ref: { branch: 'main' },
        interval: 30_000,
        tokenFile: '/run/secrets/keepgit-token',
        tokenAuth: 'bearer',
      };
      const readSecret = (token: string) => () => ({ text: `${token}\n`, mode: 0o100600 });
      const r = got(
        await fetchRevision({ config, stateDir: newStateDir(), env: {}, readSecret: readSecret(SECRET) }),
      );
      assert.equal(r.commit, c);
      assert.deepEqual(r.warnings, []);
      const bad = failed(
        await fetchRevision({
          config,
          stateDir: newStateDir(),
          env: {},
          readSecret: readSecret('tok-wrong-123'),
        }),
      );
      assert.match(bad, /authentication failed for .* the token given was refused/);
      assert.doesNotMatch(bad, /tok-wrong-123/);
    } finally {
      await server.close();
    }
  });
});
