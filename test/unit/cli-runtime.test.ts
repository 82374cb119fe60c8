import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { STAMP_FILE, sourceHash } from '../../bin/source-stamp.js';

// bin/keepgit.js picks what it runs: dist/ when built from the sources as they are,
// the TypeScript through tsx otherwise, or what KEEPGIT_RUNTIME asks for. Checked on a
// miniature package whose two entry points say which one ran.

const ROOT = resolve(import.meta.dirname, '../..');

function miniature(): string {
  const root = mkdtempSync(join(tmpdir(), 'keepgit-runtime-'));
  mkdirSync(join(root, 'bin'));
  for (const f of ['keepgit.js', 'source-stamp.js']) copyFileSync(join(ROOT, 'bin', f), join(root, 'bin', f));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), '{"type": "module"}\n');
  writeFileSync(join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(join(root, 'tsconfig.build.json'), '{}\n');
  mkdirSync(join(root, 'policies'));
  mkdirSync(join(root, 'src', 'cli'), { recursive: true });
  const main = (from: string) =>
    `export async function main(argv${from === 'source' ? ': string[]' : ''}) {\n  console.log('${from}', argv.join(' '));\n  return 0;\n}\n`;
  writeFileSync(join(root, 'src', 'cli', 'main.ts'), main('source'));
  mkdirSync(join(root, 'dist', 'src', 'cli'), { recursive: true });
  writeFileSync(join(root, 'dist', 'src', 'cli', 'main.js'), main('dist'));
  return root;
}

const keepgit = (root: string, env: Record<string, string> = {}) => {
  const { KEEPGIT_RUNTIME: _, ...rest } = process.env;
  return spawnSync(process.execPath, [join(root, 'bin', 'keepgit.js'), 'validate', 'x'], {
    encoding: 'utf8',
    env: { ...rest, ...env },
  });
};

describe('bin/keepgit.js: compiled or from source', () => {
  it('runs dist/ only while its stamp matches the sources, and the TypeScript otherwise', () => {
    const root = miniature();
    try {
      assert.equal(keepgit(root).stdout, 'source validate x\n', 'no stamp: from source');
      writeFileSync(join(root, STAMP_FILE), `${sourceHash(root)}\n`);
      assert.equal(keepgit(root).stdout, 'dist validate x\n', 'stamped: compiled');
      writeFileSync(join(root, 'src', 'cli', 'other.ts'), 'export {};\n');
      assert.equal(keepgit(root).stdout, 'source validate x\n', 'a source changed since: from source');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('KEEPGIT_RUNTIME=source or dist overrides the choice; dist without a build is an error', () => {
    const root = miniature();
    try {
      writeFileSync(join(root, STAMP_FILE), `${sourceHash(root)}\n`);
      assert.equal(keepgit(root, { KEEPGIT_RUNTIME: 'source' }).stdout, 'source validate x\n');
      writeFileSync(join(root, 'src', 'cli', 'other.ts'), 'export {};\n');
      assert.equal(keepgit(root, { KEEPGIT_RUNTIME: 'dist' }).stdout, 'dist validate x\n');
      rmSync(join(root, 'dist'), { recursive: true });
      const r = keepgit(root, { KEEPGIT_RUNTIME: 'dist' });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /KEEPGIT_RUNTIME=dist but there is no dist\/: run npm run build/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
