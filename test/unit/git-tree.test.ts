import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readRepositoryAtRevision } from '../../src/source/git-tree.ts';
import { git } from './helpers.ts';

// A throwaway repository with two commits, made with the git CLI, read back through
// isomorphic-git without a checkout.

const files = (r: Awaited<ReturnType<typeof readRepositoryAtRevision>>): Map<string, string> => {
  if ('error' in r) assert.fail(r.error);
  return r.files;
};

describe('readRepositoryAtRevision', () => {
  let root = '';
  let work = '';
  let first = '';
  let second = '';

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'keepgit-git-tree-'));
    work = join(root, 'work');
    mkdirSync(join(work, 'nodes'), { recursive: true });
    git(work, 'init', '-q', '-b', 'main');
    writeFileSync(join(work, 'keepgit.yaml'), 'kind: Cluster # v1\n');
    writeFileSync(join(work, 'nodes', 'lb1.yaml'), 'kind: Node\n');
    writeFileSync(join(work, 'README.md'), 'not desired state\n');
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'first');
    first = git(work, 'rev-parse', 'HEAD');
    git(work, 'tag', '-a', 'v1', '-m', 'release 1');
    writeFileSync(join(work, 'keepgit.yaml'), 'kind: Cluster # v2\n');
    writeFileSync(join(work, 'nodes', 'lb2.yaml'), 'kind: Node\n');
    mkdirSync(join(work, 'policies'));
    writeFileSync(join(work, 'policies', 'house.yaml'), 'kind: Policy\n');
    writeFileSync(join(work, 'policies', 'notes.txt'), 'ignored\n');
    git(work, 'add', '.');
    git(work, 'commit', '-q', '-m', 'second');
    second = git(work, 'rev-parse', 'HEAD');
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads the desired-state files at a branch and at HEAD', async () => {
    const f = files(await readRepositoryAtRevision(work, 'main'));
    assert.deepEqual([...f.keys()].sort(), [
      'keepgit.yaml',
      'nodes/lb1.yaml',
      'nodes/lb2.yaml',
      'policies/house.yaml',
    ]);
    assert.equal(f.get('keepgit.yaml'), 'kind: Cluster # v2\n');
    const head = await readRepositoryAtRevision(work, 'HEAD');
    assert.ok(!('error' in head) && head.commit === second);
  });

  it('reads an older revision by full SHA, short SHA, annotated tag, ~N and ^', async () => {
    for (const rev of [first, first.slice(0, 7), 'v1', 'HEAD~1', 'main^', 'HEAD~', 'main^1', 'HEAD~1^0']) {
      const r = await readRepositoryAtRevision(work, rev);
      if ('error' in r) assert.fail(`${rev}: ${r.error}`);
      assert.equal(r.commit, first, rev);
      assert.equal(r.files.get('keepgit.yaml'), 'kind: Cluster # v1\n', rev);
      assert.deepEqual([...r.files.keys()].sort(), ['keepgit.yaml', 'nodes/lb1.yaml'], rev);
    }
  });

  it('reads a bare repository', async () => {
    const bare = join(root, 'bare.git');
    git(root, 'clone', '-q', '--bare', work, bare);
    const r = await readRepositoryAtRevision(bare, 'main~1');
    assert.ok(!('error' in r) && r.commit === first);
  });

  it('reports unknown, unsupported and out-of-range revisions as values', async () => {
    const unknown = await readRepositoryAtRevision(work, 'nope');
    assert.ok('error' in unknown);
    assert.match(unknown.error, /unknown revision "nope"/);
    const unsupported = await readRepositoryAtRevision(work, 'main@{1}');
    assert.ok('error' in unsupported);
    assert.match(unsupported.error, /unsupported revision syntax "main@\{1\}": use a branch or tag name/);
    const range = await readRepositoryAtRevision(work, 'HEAD..main');
    assert.ok('error' in range);
    const deep = await readRepositoryAtRevision(work, 'HEAD~5');
    assert.ok('error' in deep);
    assert.match(deep.error, /revision "HEAD~5" does not exist: commit [0-9a-f]{12} has no parent/);
    const merge = await readRepositoryAtRevision(work, 'HEAD^2');
    assert.ok('error' in merge);
    assert.match(merge.error, /has no parent 2/);
  });

  it('reports a directory that is not a repository, and one that does not exist', async () => {
    const plain = await readRepositoryAtRevision(join(work, 'nodes'), 'HEAD');
    assert.ok('error' in plain);
    // nodes/ lies inside the work tree, but a path that is not the repository root is refused.
    assert.match(plain.error, /is not a Git repository/);
    const missing = await readRepositoryAtRevision(join(root, 'absent'), 'HEAD');
    assert.ok('error' in missing);
    assert.match(missing.error, /no such directory/);
  });
});
