import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { distIsFresh, STAMP_FILE, sourceHash } from '../../bin/source-stamp.js';

// bin/keepgit.js runs dist/ only when it was built from the sources as they are: the
// stamp must change with any change a compile would see, and only with those.

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'keepgit-stamp-'));
  mkdirSync(join(root, 'src', 'cli'), { recursive: true });
  mkdirSync(join(root, 'policies'));
  writeFileSync(join(root, 'src', 'cli', 'main.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'policies', 'index.ts'), 'export const rules = [];\n');
  writeFileSync(join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(join(root, 'tsconfig.build.json'), '{"extends": "./tsconfig.json"}\n');
  return root;
}

const stampNow = (root: string) => {
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, STAMP_FILE), `${sourceHash(root)}\n`);
};

describe('source stamp of dist/', () => {
  it('is fresh right after a build and stale after any change to what the build reads', () => {
    const root = tree();
    try {
      assert.equal(distIsFresh(root), false, 'no dist/ yet');
      stampNow(root);
      assert.equal(distIsFresh(root), true);
      const changes: [string, () => void][] = [
        ['an edit', () => writeFileSync(join(root, 'src', 'cli', 'main.ts'), 'export const a = 2;\n')],
        ['a new file', () => writeFileSync(join(root, 'src', 'cli', 'extra.ts'), '\n')],
        ['a rename', () => renameSync(join(root, 'src', 'cli', 'extra.ts'), join(root, 'src', 'extra.ts'))],
        ['a removal', () => rmSync(join(root, 'src', 'extra.ts'))],
        ['a policy', () => writeFileSync(join(root, 'policies', 'index.ts'), 'export const rules = [1];\n')],
        ['the build config', () => writeFileSync(join(root, 'tsconfig.build.json'), '{}\n')],
      ];
      for (const [what, change] of changes) {
        change();
        assert.equal(distIsFresh(root), false, `stale after ${what}`);
        stampNow(root);
        assert.equal(distIsFresh(root), true, `fresh after rebuilding for ${what}`);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('goes by content, not by modification time', () => {
    const root = tree();
    try {
      stampNow(root);
      const file = join(root, 'src', 'cli', 'main.ts');
      utimesSync(file, new Date(), new Date(Date.now() + 60_000));
      assert.equal(distIsFresh(root), true, 'touched but unchanged');
      // An older version put back with an old mtime (git stash pop, cp -p, tar) is a change.
      writeFileSync(file, 'export const a = 0;\n');
      utimesSync(file, new Date(0), new Date(0));
      assert.equal(distIsFresh(root), false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('is stale when the stamp is not a stamp or the sources cannot be read', () => {
    const root = tree();
    try {
      mkdirSync(join(root, 'dist'));
      writeFileSync(join(root, STAMP_FILE), 'garbage\n');
      assert.equal(distIsFresh(root), false);
      stampNow(root);
      rmSync(join(root, 'policies'), { recursive: true });
      assert.equal(distIsFresh(root), false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
