import { resolve } from 'node:path';
import type { SourceStatus } from '../api/node-status.ts';
import { type AgentConfig, pollIntervalMs } from '../config/agent-config.ts';
import { admitSignedRevisions } from '../source/admit-signed.ts';
import { displayUrl } from '../source/git-auth.ts';
import type { GitPoller } from '../source/git-poller.ts';
import { cacheDirFor, type GitSourceConfig, refLabel } from '../source/git-remote.ts';
import { readRepositoryAtRevision } from '../source/git-tree.ts';
import type { TrustKeys } from '../source/trust-keys.ts';
import type { Log } from '../vrrp/instance-log.ts';

// Where `keepgit agent` gets revisions: a directory (read at start and again on SIGHUP, or
// when it changes if watched) or a Git remote (polled, fetched at once on a webhook). Each
// source hands over candidates — a revision's name and its files — and the agent puts each
// through the same gate and apply. A Git source starts from the last good revision in its
// cache when there is one, so a restart needs neither the network nor a new commit.

export interface Candidate {
  /** A commit SHA, or dir:PATH#N. */
  revision: string;
  /** The directory to read, or the revision's files (path → text). */
  input: string | ReadonlyMap<string, string>;
}

export interface AgentSource {
  kind: 'dir' | 'git';
  /** What /status says about the source. */
  status(): SourceStatus;
  /**
   * Before following: the next revision to try starting from (a Git source's last good
   * one from its cache first, then each new commit fetched). Waits as long as it takes.
   */
  next(): Promise<Candidate>;
  /** Starts following; candidates arrive one at a time (the next after the last resolved). */
  follow(onCandidate: (c: Candidate) => Promise<void>): void;
  /** The revision now running (what a rewind is judged against). */
  running(revision: string): void;
  /** Fetch or read now (a webhook, SIGHUP). */
  trigger(): void;
  /** Whether a pushed ref (refs/heads/main) is the one followed. */
  follows(ref: string): boolean;
  stop(): Promise<void>;
}

export interface DirSourceOptions {
  /** Also read the directory again whenever its files change (chokidar, debounced). */
  watch?: boolean;
  debounceMs?: number;
  log: Log;
}

export async function dirSource(dir: string, o: DirSourceOptions): Promise<AgentSource> {
  let reads = 0;
  let handler: ((c: Candidate) => Promise<void>) | undefined;
  let chain = Promise.resolve();
  let lastAt: string | null = new Date().toISOString();
  let lastError: string | undefined;
  const name = () => `dir:${resolve(dir)}#${++reads}`;
  const hand = (input: Candidate['input']) => {
    const h = handler;
    if (h === undefined) return;
    chain = chain.then(() => {
      lastAt = new Date().toISOString();
      return h({ revision: name(), input });
    });
  };
  // Watched: each consistent snapshot (one read of a git-sync symlink's target) is a revision.
  let watcher: { stop(): Promise<void> } | undefined;
  let first: Candidate = { revision: `dir:${resolve(dir)}`, input: dir };
  if (o.watch) {
    const { watchDirectory } = await import('../source/dir-watch.ts');
    let initial = true;
    watcher = await watchDirectory({
      path: dir,
      ...(o.debounceMs !== undefined ? { debounceMs: o.debounceMs } : {}),
      onSnapshot: (snap) => {
        lastError = undefined;
        if (initial) {
          initial = false;
          first = { revision: `dir:${resolve(dir)}`, input: snap.files };
          return;
        }
        hand(snap.files);
      },
      onError: (message) => {
        lastError = message;
        o.log({ level: 'warn', event: 'source-error', message });
      },
    });
  }
  return {
    kind: 'dir',
    status: () => ({
      kind: 'dir',
      url: resolve(dir),
      ref: null,
      lastFetchAt: lastAt,
      ...(lastError !== undefined ? { lastError } : {}),
    }),
    next: async () => first,
    follow: (h) => {
      handler = h;
    },
    running: () => {},
    trigger: () => hand(dir),
    follows: () => false,
    stop: async () => {
      await watcher?.stop();
      await chain;
    },
  };
}

export interface GitSourceOptions {
  git: NonNullable<AgentConfig['source']['git']>;
  stateDir: string;
  trust?: TrustKeys;
  /** The last good commit from the state directory. */
  lastGood?: string;
  log: Log;
  env?: Readonly<Record<string, string | undefined>>;
  /** Reports a commit refused before the gate (unsigned, rewind). */
  onRefused: (revision: string, reason: string) => void;
}

/** The settings of the Git source modules from the agent configuration's source.git. */
export function gitSourceConfig(git: NonNullable<AgentConfig['source']['git']>): GitSourceConfig {
  return {
    url: git.url,
    ref: git.tag !== undefined ? { tag: git.tag } : { branch: git.branch ?? 'main' },
    interval: pollIntervalMs(git),
    ...(git.depth !== undefined ? { depth: git.depth } : {}),
    ...(git.allowRewind !== undefined ? { allowRewind: git.allowRewind } : {}),
    ...(git.tokenFile !== undefined ? { tokenFile: git.tokenFile } : {}),
    ...(git.tokenAuth !== undefined ? { tokenAuth: git.tokenAuth } : {}),
    ...(git.username !== undefined ? { username: git.username } : {}),
    ...(git.passwordFile !== undefined ? { passwordFile: git.passwordFile } : {}),
  };
}

export const followedRefOf = (config: GitSourceConfig): string =>
  config.ref.tag !== undefined ? `refs/tags/${config.ref.tag}` : `refs/heads/${config.ref.branch}`;

export async function gitSource(o: GitSourceOptions): Promise<AgentSource> {
  const { startGitSourcePoller } = await import('../source/git-poller.ts');
  const config = gitSourceConfig(o.git);
  const followedRef = followedRefOf(config);

  // The last good revision, from the cache: the agent starts on it at once.
  const waiting: Candidate[] = [];
  if (o.lastGood !== undefined) {
    const r = await readRepositoryAtRevision(cacheDirFor(o.stateDir, config.url), o.lastGood);
    if ('files' in r) waiting.push({ revision: r.commit, input: r.files });
    else
      o.log({
        level: 'warn',
        event: 'source-cache-miss',
        revision: o.lastGood,
        message: `the last good revision is not in the Git cache (${r.error}); waiting for a fetch`,
      });
  }
  let running = waiting[0]?.revision;
  let handler: ((c: Candidate) => Promise<void>) | undefined;
  let wake: (() => void) | undefined;

  const poller: GitPoller = startGitSourcePoller({
    config,
    stateDir: o.stateDir,
    ...(o.env ? { env: o.env } : {}),
    applied: () => running,
    ...(o.trust ? { admitFirst: admitSignedRevisions(o.trust) } : {}),
    onRefused: (r, message) => o.onRefused(r.commit, message),
    onWarning: (message) => o.log({ level: 'warn', event: 'source-warning', message }),
    onRevision: async (r) => {
      const c: Candidate = { revision: r.commit, input: r.files };
      if (handler !== undefined) return handler(c);
      waiting.push(c);
      wake?.();
    },
  });
  return {
    kind: 'git',
    status: () => {
      const s = poller.status();
      return {
        kind: 'git',
        url: displayUrl(config.url),
        ref: refLabel(config.ref),
        lastFetchAt: s.lastFetchAt === undefined ? null : new Date(s.lastFetchAt).toISOString(),
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
      };
    },
    next: async () => {
      for (;;) {
        const c = waiting.shift();
        if (c !== undefined) return c;
        await new Promise<void>((r) => (wake = r));
      }
    },
    follow: (h) => {
      handler = h;
    },
    running: (revision) => {
      running = revision;
    },
    trigger: () => void poller.trigger(),
    follows: (ref) => ref === followedRef,
    stop: () => poller.stop(),
  };
}
