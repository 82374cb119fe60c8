import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DirRead,
  type DirSnapshot,
  type DirWatchOptions,
  watchDirectory,
} from '../../src/source/dir-watch.ts';
import { readRepositoryDir } from '../../src/source/read-repository-dir.ts';

// Real temporary directories and real chokidar. Waits are for events (with a generous
// limit); the only fixed sleeps are the quiet periods in which nothing may be emitted.

const DEBOUNCE = 200;
const QUIET = DEBOUNCE * 4;
const LIMIT = 15_000;

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const r = await realpath(await mkdtemp(join(tmpdir(), 'keepgit-dirwatch-')));
  roots.push(r);
  return r;
}

/** A revision directory as git-sync leaves it: desired-state files plus things keepgit ignores. */
async function revision(dir: string, cluster: string, node = 'kind: Node\n'): Promise<string> {
  await mkdir(join(dir, 'nodes'), { recursive: true });
  await writeFile(join(dir, 'keepgit.yaml'), cluster);
  await writeFile(join(dir, 'nodes', 'lb1.yaml'), node);
  await writeFile(join(dir, 'README.md'), '# state\n');
  return dir;
}

/** Records callbacks and lets a test wait for the next one that matches. */
function recorder() {
  const snapshots: DirSnapshot[] = [];
  const reads: DirRead[] = [];
  const errors: string[] = [];
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  const options: Pick<DirWatchOptions, 'onSnapshot' | 'onRead' | 'onError' | 'debounceMs'> = {
    debounceMs: DEBOUNCE,
    onSnapshot: (s) => {
      snapshots.push(s);
      poke();
    },
    onRead: (r) => {
      reads.push(r);
      poke();
    },
    onError: (m) => {
      errors.push(m);
      poke();
    },
  };
  async function until(what: string, done: () => boolean): Promise<void> {
    const deadline = Date.now() + LIMIT;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }
  return { snapshots, reads, errors, options, until };
}

describe('watchDirectory', () => {
  it('emits the first snapshot, then one after the debounce for an edit, and nothing more', async () => {
    const root = await tempRoot();
    const repo = await revision(join(root, 'repo'), 'kind: Cluster\n# v1\n');
    const rec = recorder();
    const w = await watchDirectory({ path: repo, ...rec.options });
    try {
      assert.equal(rec.snapshots.length, 1);
      const first = rec.snapshots[0];
      assert.equal(first?.dir, repo);
      assert.deepEqual(
        [...(first?.files.keys() ?? [])],
        ['keepgit.yaml', 'nodes/lb1.yaml'],
        'README.md is not desired state',
      );
      assert.match(first?.fingerprint ?? '', /^[0-9a-f]{64}$/);

      const t0 = performance.now();
      await writeFile(join(repo, 'keepgit.yaml'), 'kind: Cluster\n# v2\n');
      await rec.until('the snapshot of the edit', () => rec.snapshots.length === 2);
      assert.ok(performance.now() - t0 >= DEBOUNCE, 'emitted before the debounce had passed');
      assert.equal(rec.snapshots[1]?.files.get('keepgit.yaml'), 'kind: Cluster\n# v2\n');
      assert.notEqual(rec.snapshots[1]?.fingerprint, first?.fingerprint);

      await sleep(QUIET);
      assert.equal(rec.snapshots.length, 2, 'one edit, one snapshot');
      assert.deepEqual(rec.errors, []);
    } finally {
      await w.stop();
    }
  });

  it('a burst of edits to several files emits once, with the final content', async () => {
    const root = await tempRoot();
    const repo = await revision(join(root, 'repo'), 'kind: Cluster\n');
    const rec = recorder();
    const w = await watchDirectory({ path: repo, ...rec.options });
    try {
      for (let i = 1; i <= 10; i++) {
        await writeFile(join(repo, 'keepgit.yaml'), `kind: Cluster\n# edit ${i}\n`);
        await writeFile(join(repo, 'nodes', i % 2 ? 'lb1.yaml' : 'lb2.yaml'), `kind: Node\n# ${i}\n`);
        await sleep(10);
      }
      await rec.until('the snapshot of the burst', () => rec.snapshots.length === 2);
      await sleep(QUIET);
      assert.equal(rec.snapshots.length, 2, 'the burst emitted more than once');
      const last = rec.snapshots[1];
      assert.equal(last?.files.get('keepgit.yaml'), 'kind: Cluster\n# edit 10\n');
      assert.equal(last?.files.get('nodes/lb1.yaml'), 'kind: Node\n# 9\n');
      assert.equal(last?.files.get('nodes/lb2.yaml'), 'kind: Node\n# 10\n');
    } finally {
      await w.stop();
    }
  });

  it('follows a git-sync symlink swap (rename of a temporary link) and then watches the new target', async () => {
    const root = await tempRoot();
    const revA = await revision(join(root, 'rev-aaaa'), 'kind: Cluster\n# rev a\n');
    const link = join(root, 'repo');
    await symlink('rev-aaaa', link);
    const rec = recorder();
    const w = await watchDirectory({ path: link, ...rec.options });
    try {
      assert.equal(rec.snapshots[0]?.dir, revA);

      // What git-sync does: new worktree, a new link under a temporary name, rename(2)
      // over the old link (atomic), then delete the old worktree.
      const revB = await revision(join(root, 'rev-bbbb'), 'kind: Cluster\n# rev b\n', 'kind: Node\n# b\n');
      await symlink('rev-bbbb', join(root, 'tmp-link'));
      await rename(join(root, 'tmp-link'), link);
      await rec.until('the snapshot of the swap', () => rec.snapshots.length === 2);
      const swapped = rec.snapshots[1];
      assert.equal(swapped?.dir, revB);
      assert.equal(swapped?.files.get('keepgit.yaml'), 'kind: Cluster\n# rev b\n');
      assert.equal(swapped?.files.get('nodes/lb1.yaml'), 'kind: Node\n# b\n');

      await rm(revA, { recursive: true });
      await sleep(QUIET);
      assert.equal(rec.snapshots.length, 2, 'deleting the old worktree changed nothing');

      // The content watcher moved with the link.
      await writeFile(join(revB, 'nodes', 'lb2.yaml'), 'kind: Node\n# new\n');
      await rec.until('the snapshot of an edit in the new target', () => rec.snapshots.length === 3);
      assert.equal(rec.snapshots[2]?.files.get('nodes/lb2.yaml'), 'kind: Node\n# new\n');
      assert.deepEqual(rec.errors, []);
    } finally {
      await w.stop();
    }
  });

  it('follows a plain directory replaced under the same name (no symlink)', async () => {
    const root = await tempRoot();
    const repo = await revision(join(root, 'repo'), 'kind: Cluster\n# old\n');
    const rec = recorder();
    const w = await watchDirectory({ path: repo, ...rec.options });
    try {
      await revision(join(root, 'repo.new'), 'kind: Cluster\n# new\n');
      await rename(repo, join(root, 'repo.old'));
      await rename(join(root, 'repo.new'), repo);
      await rec.until('the snapshot of the replacement', () =>
        rec.snapshots.some((s) => s.files.get('keepgit.yaml') === 'kind: Cluster\n# new\n'),
      );
      const count = rec.snapshots.length;
      await writeFile(join(repo, 'keepgit.yaml'), 'kind: Cluster\n# edited\n');
      await rec.until('the snapshot of an edit in the replacement', () => rec.snapshots.length > count);
      assert.equal(rec.snapshots.at(-1)?.files.get('keepgit.yaml'), 'kind: Cluster\n# edited\n');
    } finally {
      await w.stop();
    }
  });

  it('a touch or a rewrite with the same content reads but emits nothing', async () => {
    const root = await tempRoot();
    const repo = await revision(join(root, 'repo'), 'kind: Cluster\n');
    const rec = recorder();
    const w = await watchDirectory({ path: repo, ...rec.options });
    try {
      const readsBefore = rec.reads.length;
      const later = new Date(Date.now() + 5_000);
      await utimes(join(repo, 'keepgit.yaml'), later, later);
      await writeFile(join(repo, 'nodes', 'lb1.yaml'), 'kind: Node\n');
      await rec.until('a read after the touch', () => rec.reads.length > readsBefore);
      await sleep(QUIET);
      assert.equal(rec.snapshots.length, 1);
      assert.ok(rec.reads.slice(readsBefore).every((r) => !r.emitted));
    } finally {
      await w.stop();
    }
  });

  it('ignores files keepgit does not read (no read at all), but sees a new node file', async () => {
    const root = await tempRoot();
    const repo = await revision(join(root, 'repo'), 'kind: Cluster\n');
    const rec = recorder();
    const w = await watchDirectory({ path: repo, ...rec.options });
    try {
      const readsBefore = rec.reads.length;
      await writeFile(join(repo, 'README.md'), '# changed\n');
      await mkdir(join(repo, 'docs'));
      await writeFile(join(repo, 'docs', 'x.yaml'), 'a: 1\n');
      await sleep(QUIET);
      assert.equal(rec.reads.length, readsBefore);

      await writeFile(join(repo, 'nodes', 'lb9.yaml'), 'kind: Node\n# lb9\n');
      await rec.until('the snapshot with lb9', () => rec.snapshots.length === 2);
      assert.equal(rec.snapshots[1]?.files.get('nodes/lb9.yaml'), 'kind: Node\n# lb9\n');
    } finally {
      await w.stop();
    }
  });

  it('reads again when files change during a read, and emits the settled content', async () => {
    const root = await tempRoot();
    const repo = await revision(join(root, 'repo'), 'kind: Cluster\n# before\n');
    const rec = recorder();
    let calls = 0;
    const w = await watchDirectory({
      path: repo,
      ...rec.options,
      read: async (dir) => {
        const result = await readRepositoryDir(dir);
        // The first read returns the old text, then the file changes before it is checked.
        if (++calls === 1) await writeFile(join(dir, 'keepgit.yaml'), 'kind: Cluster\n# during\n');
        return result;
      },
    });
    try {
      assert.equal(rec.snapshots[0]?.files.get('keepgit.yaml'), 'kind: Cluster\n# during\n');
      assert.equal(rec.reads[0]?.attempts, 2);
    } finally {
      await w.stop();
    }
  });

  it('gives up after maxReads reads of a directory that keeps changing, and says so', async () => {
    const root = await tempRoot();
    const repo = await revision(join(root, 'repo'), 'kind: Cluster\n');
    const rec = recorder();
    let n = 0;
    const w = await watchDirectory({
      path: repo,
      ...rec.options,
      maxReads: 3,
      read: async (dir) => {
        const result = await readRepositoryDir(dir);
        await writeFile(join(dir, 'keepgit.yaml'), `kind: Cluster\n# ${++n}\n`);
        return result;
      },
    });
    try {
      assert.equal(rec.snapshots.length, 0);
      assert.equal(n, 3);
      assert.equal(rec.errors.length, 1);
      assert.match(rec.errors[0] ?? '', /kept changing during 3 reads; reading again after the next change/);
    } finally {
      await w.stop();
    }
  });

  it('waits for a path that does not exist yet (git-sync before its first clone)', async () => {
    const root = await tempRoot();
    const link = join(root, 'repo');
    const rec = recorder();
    const w = await watchDirectory({ path: link, ...rec.options });
    try {
      assert.equal(rec.snapshots.length, 0);
      assert.equal(rec.errors.length, 1);
      assert.match(
        rec.errors[0] ?? '',
        /cannot resolve .*repo: no such file or directory; waiting for it to appear/,
      );

      const rev = await revision(join(root, 'rev-1'), 'kind: Cluster\n# first\n');
      await symlink('rev-1', link);
      await rec.until('the first snapshot', () => rec.snapshots.length === 1);
      assert.equal(rec.snapshots[0]?.dir, rev);
    } finally {
      await w.stop();
    }
  });

  it('stop() closes the watchers: later edits and swaps emit and read nothing', async () => {
    const root = await tempRoot();
    await revision(join(root, 'rev-a'), 'kind: Cluster\n# a\n');
    const link = join(root, 'repo');
    await symlink('rev-a', link);
    const rec = recorder();
    const w = await watchDirectory({ path: link, ...rec.options });
    // An edit whose debounce is still pending when stop() is called must not fire either.
    await writeFile(join(root, 'rev-a', 'keepgit.yaml'), 'kind: Cluster\n# pending\n');
    await w.stop();
    const reads = rec.reads.length;
    await writeFile(join(root, 'rev-a', 'keepgit.yaml'), 'kind: Cluster\n# after stop\n');
    await revision(join(root, 'rev-b'), 'kind: Cluster\n# b\n');
    await symlink('rev-b', join(root, 'tmp-link'));
    await rename(join(root, 'tmp-link'), link);
    await sleep(QUIET);
    assert.equal(rec.snapshots.length, 1);
    assert.equal(rec.reads.length, reads);
    assert.deepEqual(rec.errors, []);
  });
});
