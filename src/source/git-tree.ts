import * as fs from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { expandOid, readBlob, readCommit, readTree, resolveRef } from 'isomorphic-git';

// The desired-state files as they were at one revision of a local Git repository (a work
// tree or a bare repository), read from the object store: no checkout, no work tree
// touched, so a plan can compare two revisions of the repository a person is editing.
//
// Revisions: a branch, tag or other ref name ("main", "v1", "origin/main", "HEAD"), a
// full or abbreviated commit SHA, each optionally followed by ~N / ^N steps ("HEAD~1",
// "main^2", "v1~2^"). isomorphic-git resolves names and SHAs only; the steps are walked
// here. Other rev-parse syntax (@{...}, :path, A..B, ^{type}) is refused with a message.

export type GitTreeResult = { files: Map<string, string>; commit: string } | { error: string };

const WANTED_DIRS = ['nodes', 'policies'];
const isYaml = (name: string): boolean => name.endsWith('.yaml') || name.endsWith('.yml');

const codeOf = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

/** The git directory of DIR: DIR/.git, the target of a .git file, or DIR itself when bare. */
async function findGitdir(dir: string): Promise<string | { error: string }> {
  const st = await stat(dir).catch(() => undefined);
  if (!st) return { error: `cannot read ${dir}: no such directory` };
  if (!st.isDirectory()) return { error: `${dir} is not a directory` };
  const dotGit = join(dir, '.git');
  const dg = await stat(dotGit).catch(() => undefined);
  if (dg?.isDirectory()) return dotGit;
  if (dg?.isFile()) {
    // Submodules and linked work trees: ".git" is a file saying "gitdir: PATH".
    const m = /^gitdir:\s*(.+)$/m.exec(await readFile(dotGit, 'utf8'));
    if (m?.[1]) return isAbsolute(m[1]) ? m[1] : resolve(dir, m[1]);
  }
  const head = await stat(join(dir, 'HEAD')).catch(() => undefined);
  const objects = await stat(join(dir, 'objects')).catch(() => undefined);
  if (head?.isFile() && objects?.isDirectory()) return dir;
  return { error: `${dir} is not a Git repository (no .git directory, and not a bare repository)` };
}

interface Step {
  kind: '~' | '^';
  n: number;
}

const SYNTAX_HELP =
  'use a branch or tag name, a full or abbreviated commit SHA, optionally followed by ~N or ^N (e.g. main~1, HEAD^)';

function parseRev(rev: string): { base: string; steps: Step[] } | { error: string } {
  const m = /^([^~^]+)((?:[~^]\d*)*)$/.exec(rev);
  const base = m?.[1];
  if (!m || !base || /@\{|:|\.\.|\s|\\/.test(base)) {
    return { error: `unsupported revision syntax "${rev}": ${SYNTAX_HELP}` };
  }
  const steps = [...(m[2] ?? '').matchAll(/([~^])(\d*)/g)].map(
    (s): Step => ({
      kind: s[1] === '~' ? '~' : '^',
      n: s[2] === '' || s[2] === undefined ? 1 : Number(s[2]),
    }),
  );
  return { base: base === '@' ? 'HEAD' : base, steps };
}

type Ctx = { fs: typeof fs; gitdir: string; cache: object };

async function resolveBase(
  ctx: Ctx,
  base: string,
  rev: string,
  dir: string,
): Promise<string | { error: string }> {
  try {
    return await resolveRef({ ...ctx, ref: base });
  } catch {
    // Not a ref: maybe a commit SHA, full or abbreviated.
  }
  if (/^[0-9a-f]{4,40}$/i.test(base)) {
    try {
      return await expandOid({ ...ctx, oid: base.toLowerCase() });
    } catch (e) {
      if (codeOf(e) === 'AmbiguousError') {
        return {
          error: `ambiguous revision "${rev}" in ${dir}: several objects start with ${base}; give more digits`,
        };
      }
    }
  }
  return { error: `unknown revision "${rev}" in ${dir}: not a branch, tag or commit (${SYNTAX_HELP})` };
}

/** Apply ~N / ^N steps, peeling tags to commits on the way. */
async function walk(
  ctx: Ctx,
  oid: string,
  steps: readonly Step[],
  rev: string,
): Promise<string | { error: string }> {
  let at: string;
  try {
    at = (await readCommit({ ...ctx, oid })).oid;
  } catch {
    return { error: `revision "${rev}" is not a commit (${oid.slice(0, 12)})` };
  }
  for (const step of steps) {
    const hops = step.kind === '~' ? step.n : step.n === 0 ? 0 : 1;
    const index = step.kind === '~' ? 0 : step.n - 1;
    for (let i = 0; i < hops; i++) {
      const { commit } = await readCommit({ ...ctx, oid: at });
      const parent = commit.parent[i === hops - 1 ? index : 0];
      if (parent === undefined) {
        const which = step.kind === '^' && step.n > 1 ? `parent ${step.n}` : 'parent';
        return { error: `revision "${rev}" does not exist: commit ${at.slice(0, 12)} has no ${which}` };
      }
      at = parent;
    }
  }
  return at;
}

async function readText(ctx: Ctx, oid: string): Promise<string> {
  const { blob } = await readBlob({ ...ctx, oid });
  return new TextDecoder('utf-8').decode(blob);
}

/** keepgit.yaml, nodes/*.yaml and policies/*.yaml at the commit, keyed by repository path. */
async function readDesiredState(ctx: Ctx, commit: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const root = await readTree({ ...ctx, oid: commit });
  for (const entry of root.tree) {
    if (entry.type === 'blob' && (entry.path === 'keepgit.yaml' || entry.path === 'keepgit.yml')) {
      files.set(entry.path, await readText(ctx, entry.oid));
    } else if (entry.type === 'tree' && WANTED_DIRS.includes(entry.path)) {
      const sub = await readTree({ ...ctx, oid: entry.oid });
      for (const f of sub.tree) {
        if (f.type === 'blob' && isYaml(f.path))
          files.set(`${entry.path}/${f.path}`, await readText(ctx, f.oid));
      }
    }
  }
  return files;
}

/** The desired-state files of DIR (a Git repository) at REV. Errors are values. */
export async function readRepositoryAtRevision(dir: string, rev: string): Promise<GitTreeResult> {
  const gitdir = await findGitdir(dir);
  if (typeof gitdir !== 'string') return gitdir;
  const parsed = parseRev(rev.trim());
  if ('error' in parsed) return parsed;
  const ctx: Ctx = { fs, gitdir, cache: {} };
  const base = await resolveBase(ctx, parsed.base, rev, dir);
  if (typeof base !== 'string') return base;
  const commit = await walk(ctx, base, parsed.steps, rev);
  if (typeof commit !== 'string') return commit;
  try {
    return { files: await readDesiredState(ctx, commit), commit };
  } catch (e) {
    return {
      error: `cannot read revision "${rev}" in ${dir}: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
}
