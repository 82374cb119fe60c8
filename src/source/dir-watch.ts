import { createHash } from 'node:crypto';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Diagnostic } from '../model/diagnostic.ts';
import { type ReadResult, readRepositoryDir } from './read-repository-dir.ts';

// The directory source: follows a checked-out repository on local disk (git-sync, a
// mounted ConfigMap, a developer's work tree) and hands over a snapshot whenever the
// desired-state files change.
//
// git-sync publishes a revision by atomically swapping a symlink (`repo -> rev-abc`) and
// then deleting the old worktree. So every read resolves the symlink once and reads all
// files below that one target, never through the link (half the files could come from
// each revision otherwise); the link's parent is watched to see swaps; and a read whose
// files changed underneath it (stat stamps before and after differ) is repeated.

export interface DirSnapshot {
  /** Repository-relative path ("nodes/lb1.yaml") → text, as readRepositoryDir gives them. */
  files: Map<string, string>;
  /** Problems reading single files (too large, unreadable); the loader reports them. */
  diagnostics: Diagnostic[];
  /** SHA-256 over paths, contents and diagnostics: equal fingerprints, equal content. */
  fingerprint: string;
  /** Where the files were read: the symlink's target at the time of the read. */
  dir: string;
}

export interface DirRead {
  dir: string;
  fingerprint: string;
  /** False when the content equalled the last snapshot's, so nothing was emitted. */
  emitted: boolean;
  /** Reads it took to get a consistent one (1 unless files changed during the read). */
  attempts: number;
}

export interface DirWatchOptions {
  /** The directory, or a symlink to it. */
  path: string;
  /** Called with the first snapshot and then with each one whose content differs. */
  onSnapshot(snapshot: DirSnapshot): void;
  /** A message for the operator (path missing, files kept changing, watcher error); repeated ones are dropped. */
  onError(message: string): void;
  /** Every completed read, emitted or not: for logs and tests. */
  onRead?(read: DirRead): void;
  /** Quiet time after the last file event before reading. */
  debounceMs?: number;
  /** Reads attempted before giving up until the next change. */
  maxReads?: number;
  /** Reads a resolved directory; injectable so tests can change files mid-read. */
  read?(dir: string): Promise<ReadResult>;
}

export interface DirWatch {
  /** Closes the watchers; no callback runs afterwards. */
  stop(): Promise<void>;
}

export const DIR_WATCH_DEFAULTS = { debounceMs: 300, maxReads: 5 } as const;

const YAML_FILE = /\.ya?ml$/;
const TOP_FILE = /^keepgit\.ya?ml$/;
const SUB_DIRS = ['nodes', 'policies'];

/** Starts watching; resolves once the watchers are ready and the first read is done. */
export async function watchDirectory(options: DirWatchOptions): Promise<DirWatch> {
  const link = resolve(options.path);
  const parent = dirname(link);
  const debounceMs = options.debounceMs ?? DIR_WATCH_DEFAULTS.debounceMs;
  const maxReads = Math.max(1, options.maxReads ?? DIR_WATCH_DEFAULTS.maxReads);
  const read = options.read ?? readRepositoryDir;

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let dirty = false;
  let target: string | undefined;
  // The watched directory's inode: a directory replaced under the same name (mv new repo)
  // needs a new watcher even though its path did not change.
  let targetIno: bigint | undefined;
  let content: FSWatcher | undefined;
  let lastFingerprint: string | undefined;
  let lastError: string | undefined;

  const report = (message: string) => {
    if (stopped || message === lastError) return;
    lastError = message;
    options.onError(message);
  };

  const schedule = () => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, debounceMs);
  };

  // One read at a time; a change seen during a read earns one more read after it.
  const run = async (): Promise<void> => {
    if (running) {
      dirty = true;
      return;
    }
    running = refresh().catch((e: unknown) => report(`reading ${link} failed: ${message(e)}`));
    await running;
    running = undefined;
    if (dirty && !stopped) {
      dirty = false;
      schedule();
    }
  };

  /** Moves the content watcher to a new symlink target. */
  const repoint = async (real: string, ino: bigint | undefined) => {
    const old = content;
    content = undefined;
    target = real;
    targetIno = ino;
    await old?.close();
    if (stopped) return;
    const w = watch(real, {
      depth: 1,
      ignoreInitial: true,
      ignored: (p: string) => !relevant(real, p),
    });
    w.on('all', schedule);
    w.on('error', (e: unknown) => report(`watching ${real} failed: ${message(e)}`));
    content = w;
    await ready(w);
    if (stopped) await w.close();
  };

  const refresh = async () => {
    for (let attempt = 1; attempt <= maxReads; attempt++) {
      const real = await realpath(link).catch((e: unknown) => e);
      if (typeof real !== 'string') {
        report(`cannot resolve ${link}: ${message(real)}; waiting for it to appear`);
        return;
      }
      const ino = (await stat(real, { bigint: true }).catch(() => undefined))?.ino;
      if (real !== target || ino !== targetIno) await repoint(real, ino);
      if (stopped) return;
      const before = await stamp(real);
      const result = await read(real);
      const after = await stamp(real);
      const still = await realpath(link).catch(() => undefined);
      if (stopped) return;
      if (before !== after || still !== real) continue;

      const fingerprint = fingerprintOf(result);
      const emitted = fingerprint !== lastFingerprint;
      lastError = undefined;
      if (emitted) {
        lastFingerprint = fingerprint;
        options.onSnapshot({ ...result, fingerprint, dir: real });
      }
      options.onRead?.({ dir: real, fingerprint, emitted, attempts: attempt });
      return;
    }
    report(`${link} kept changing during ${maxReads} reads; reading again after the next change`);
  };

  const parentWatcher = watch(parent, {
    depth: 0,
    ignoreInitial: true,
    followSymlinks: false,
    ignored: (p: string) => p !== parent && p !== link,
  });
  // A swap by rename shows as 'change' or 'add' of the link; raw events are a second
  // witness, in case chokidar folds a rename it has no record of.
  parentWatcher.on('all', (_event: string, p: string) => {
    if (p === link) schedule();
  });
  parentWatcher.on('raw', (_event: string, file: string | null) => {
    if (file === basename(link)) schedule();
  });
  parentWatcher.on('error', (e: unknown) => report(`watching ${parent} failed: ${message(e)}`));
  await ready(parentWatcher);
  await run();

  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await Promise.all([parentWatcher.close(), content?.close()]);
    },
  };
}

/** Whether a path below the watched target can matter to readRepositoryDir. */
function relevant(root: string, p: string): boolean {
  const rel = relative(root, p);
  if (rel === '') return true;
  const parts = rel.split(sep);
  if (parts.length === 1) return TOP_FILE.test(rel) || SUB_DIRS.includes(rel);
  return parts.length === 2 && SUB_DIRS.includes(parts[0] ?? '') && YAML_FILE.test(parts[1] ?? '');
}

/**
 * Cheap identity of the files a read looks at: inode, size and mtime of each, plus the
 * directories' mtimes (which move when an entry is added, removed or renamed).
 */
async function stamp(root: string): Promise<string> {
  const paths = ['.', ...SUB_DIRS];
  for (const name of await names(root)) if (TOP_FILE.test(name)) paths.push(name);
  for (const sub of SUB_DIRS) {
    for (const name of await names(join(root, sub))) if (YAML_FILE.test(name)) paths.push(`${sub}/${name}`);
  }
  const parts = await Promise.all(
    paths.map(async (rel) => {
      const s = await stat(join(root, rel), { bigint: true }).catch(() => undefined);
      return s ? `${rel}:${s.ino}:${s.size}:${s.mtimeNs}` : `${rel}:-`;
    }),
  );
  return parts.join('\n');
}

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).sort();
}

function fingerprintOf(result: ReadResult): string {
  const h = createHash('sha256');
  for (const [path, text] of [...result.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${path}\0${text.length}\0`).update(text).update('\0');
  }
  for (const d of result.diagnostics) h.update(`!${d.file}\0${d.message}\0`);
  return h.digest('hex');
}

function ready(w: FSWatcher): Promise<void> {
  return new Promise((done) => w.once('ready', () => done()));
}

function message(e: unknown): string {
  if (e instanceof Error && 'code' in e) {
    if (e.code === 'ENOENT') return 'no such file or directory';
    if (e.code === 'EACCES') return 'permission denied';
  }
  return e instanceof Error ? e.message : String(e);
}
