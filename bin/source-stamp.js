// Whether dist/ (the compiled agent and CLI, see scripts/build-dist.mjs) was built from
// the sources as they are now. The build writes a hash of every source file into
// dist/.source-stamp before compiling; bin/keepgit.js runs dist/ only when the hash of
// the sources today is that same one, and otherwise runs the TypeScript through tsx.
//
// A content hash, not modification times: a file restored or copied with its old mtime
// (git stash, cp -p, tar, rsync -t) must still make dist/ stale, and a touched but
// unchanged file need not. Hashing the ~700 kB of sources takes a few milliseconds.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** What the compiled output depends on, relative to the package root. */
const SOURCE_DIRS = ['src', 'policies'];
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.build.json'];
export const STAMP_FILE = join('dist', '.source-stamp');
const FORMAT = 'keepgit-source-stamp 1';

/** The hash of the sources under `root`, as the build records it. */
export function sourceHash(root) {
  const files = [...SOURCE_FILES];
  for (const dir of SOURCE_DIRS)
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true }))
      if (entry.isFile()) files.push(relative(root, join(entry.parentPath ?? entry.path, entry.name)));
  files.sort();
  const hash = createHash('sha256').update(FORMAT);
  for (const f of files) {
    const content = readFileSync(join(root, f));
    hash.update(`\0${f}\0${content.length}\0`).update(content);
  }
  return `${FORMAT} ${hash.digest('hex')}`;
}

/** True when dist/ under `root` holds a build of exactly the current sources. */
export function distIsFresh(root) {
  let stamp;
  try {
    stamp = readFileSync(join(root, STAMP_FILE), 'utf8').trim();
  } catch {
    return false;
  }
  try {
    return stamp === sourceHash(root);
  } catch {
    // A source tree we cannot read whole: never trust the build over it.
    return false;
  }
}
