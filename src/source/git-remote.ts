import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import {
  addRemote,
  getConfig,
  getRemoteInfo2,
  fetch as gitFetch,
  init,
  readCommit,
  resolveRef,
  writeRef,
} from 'isomorphic-git';
import {
  type GitHttpRequest,
  type GitHttpResponse,
  type HttpClient,
  request as nodeRequest,
} from 'isomorphic-git/http/node';
import {
  checkRemoteUrl,
  displayUrl,
  type GitAuthSettings,
  type GitCredentials,
  gitAuthFor,
  loadCredentials,
  type ReadSecretFile,
  redact,
  secretsOf,
  WHERE_CREDENTIALS_GO,
} from './git-auth.ts';
import { readRepositoryAtRevision } from './git-tree.ts';

// Fetches one branch or tag of a remote repository over smart HTTP(S) into a bare cache
// repository under the state directory, shallow, and reads the desired-state files at
// the fetched commit. The cache survives restarts: a commit already present is not
// downloaded again, and a new one is fetched against what is there (only the new
// objects travel).
//
// Credentials are handed to isomorphic-git through onAuth only, so they never appear in
// a URL, the cache's Git config, or a message; every message is scrubbed of them anyway.

/** The agent's Git source settings (its own config, not the repository's). */
export interface GitSourceConfig extends GitAuthSettings {
  url: string;
  ref: { branch?: string; tag?: string };
  /** Poll interval in ms. */
  interval: number;
  /** Commits of history to fetch; 0 fetches all of it. Default 1. */
  depth?: number;
  /** Accept a revision that is not a descendant of the applied one (a force-push backwards). */
  allowRewind?: boolean;
}

export interface FetchOptions {
  config: GitSourceConfig;
  /** The agent's state directory; the cache is `$stateDir/git/<hash of the URL>`. */
  stateDir: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** Socket idle timeout per HTTP request, ms. Default 30 s. */
  timeoutMs?: number;
  readSecret?: ReadSecretFile;
  /** Replaces isomorphic-git's Node HTTP client (tests). */
  http?: HttpClient;
}

export interface RemoteRevision {
  commit: string;
  /** As git-tree.ts reads them: keepgit.yaml, nodes/*.yaml, policies/*.yaml. */
  files: Map<string, string>;
  /** The full remote ref, e.g. refs/heads/main. */
  ref: string;
  /** The bare cache repository. */
  gitdir: string;
  /** Whether objects had to be downloaded (false: the commit was already in the cache). */
  downloaded: boolean;
  warnings: string[];
}

export type FetchRevisionResult = RemoteRevision | { error: string };

export const DEFAULT_DEPTH = 1;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Where the last fetched commit is kept, so the next fetch can tell the server what we have. */
export const FETCHED_REF = 'refs/keepgit/fetched';

export function cacheDirFor(stateDir: string, url: string): string {
  const id = createHash('sha256').update(displayUrl(url)).digest('hex').slice(0, 16);
  return join(stateDir, 'git', id);
}

/** "branch main" / "tag v1", for messages and status. */
export function refLabel(ref: GitSourceConfig['ref']): string {
  return ref.tag !== undefined ? `tag ${ref.tag}` : `branch ${ref.branch ?? '?'}`;
}

function wantedRef(ref: GitSourceConfig['ref']): { full: string } | { error: string } {
  const { branch, tag } = ref;
  if ((branch === undefined) === (tag === undefined))
    return { error: 'source.ref: set exactly one of branch or tag' };
  const name = (branch ?? tag ?? '').replace(/^refs\/(heads|tags)\//, '');
  if (name === '' || /\s|\.\.|[~^:?*[\\]/.test(name))
    return { error: `source.ref: "${name}" is not a valid ${branch !== undefined ? 'branch' : 'tag'} name` };
  return { full: branch !== undefined ? `refs/heads/${name}` : `refs/tags/${name}` };
}

const codeOf = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

const statusOf = (e: unknown): number | undefined => {
  if (typeof e !== 'object' || e === null || !('data' in e)) return undefined;
  const d = e.data;
  return typeof d === 'object' && d !== null && 'statusCode' in d && typeof d.statusCode === 'number'
    ? d.statusCode
    : undefined;
};

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found (DNS)',
  EAI_AGAIN: 'host name lookup failed for now (DNS)',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset by the server',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed by the server',
};

/** A library or network error as a message a person can act on. */
export function describeFetchError(e: unknown, url: string, credentials: GitCredentials): string {
  const shown = displayUrl(url);
  const code = codeOf(e);
  const status = statusOf(e);
  let msg: string;
  if (code === 'HttpError' && (status === 401 || status === 403)) {
    msg =
      credentials.kind === 'none'
        ? `authentication failed for ${shown} (HTTP ${status}): ${WHERE_CREDENTIALS_GO}`
        : `authentication failed for ${shown} (HTTP ${status}): ${credentials.kind === 'token' ? 'the token given was' : 'the user name and password given were'} refused; check them, or ${WHERE_CREDENTIALS_GO}`;
  } else if (code === 'HttpError' && status === 404) {
    msg = `no repository at ${shown} (HTTP 404): check source.url`;
  } else if (code === 'HttpError') {
    msg = `${shown} answered HTTP ${status ?? '?'}: ${messageOf(e)}`;
  } else if (code === 'SmartHttpError') {
    msg = `${shown} is not a Git smart-HTTP server (dumb HTTP and web pages are not supported): check source.url`;
  } else if (code === 'RemoteCapabilityError') {
    msg = `${shown} does not support shallow fetches: set source.depth: 0 to fetch the whole history`;
  } else if (code !== undefined && NETWORK_CODES[code] !== undefined) {
    msg = `cannot reach ${shown}: ${NETWORK_CODES[code]}`;
  } else if (code !== undefined && /CERT|SSL|TLS|^UNABLE_TO_/.test(code)) {
    msg = `cannot reach ${shown}: TLS certificate not trusted (${code}); give the agent the CA with NODE_EXTRA_CA_CERTS=/path/ca.pem`;
  } else if (/timed out/i.test(messageOf(e))) {
    msg = `cannot reach ${shown}: no answer in time`;
  } else {
    msg = `fetching ${shown} failed: ${messageOf(e)}`;
  }
  return redact(msg, secretsOf(credentials));
}

/** isomorphic-git's Node client with an idle timeout, so a silent remote cannot hang a poll. */
function httpWithTimeout(timeoutMs: number): HttpClient {
  return {
    request: (req: GitHttpRequest) => nodeRequest({ ...req, fetchOptions: { timeout: timeoutMs } }),
  };
}

async function collect(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  if (body !== undefined) for await (const c of body) chunks.push(c);
  return chunks;
}

async function* replay(chunks: readonly Uint8Array[]): AsyncIterableIterator<Uint8Array> {
  yield* chunks;
}

/**
 * Deciding whether to fetch reads the ref advertisement, and isomorphic-git's fetch reads
 * it again straight after: hand the second read the first one's answer (same URL, same
 * credentials, once) instead of asking the server twice. The refs cannot be staler than
 * the decision that was just made on them.
 */
function replayingAdvertisement(inner: HttpClient): HttpClient {
  let saved: { key: string; res: GitHttpResponse; chunks: Uint8Array[] } | undefined;
  const keyOf = (req: GitHttpRequest): string => `${req.url}\n${req.headers?.Authorization ?? ''}`;
  return {
    async request(req) {
      if ((req.method ?? 'GET') !== 'GET' || !req.url.includes('/info/refs?')) return inner.request(req);
      const key = keyOf(req);
      if (saved?.key === key) {
        const { res, chunks } = saved;
        saved = undefined;
        return { ...res, body: replay(chunks) };
      }
      const res = await inner.request(req);
      if (res.statusCode !== 200) return res;
      const chunks = await collect(res.body);
      saved = { key, res, chunks };
      return { ...res, body: replay(chunks) };
    },
  };
}

async function hasCommit(gitdir: string, oid: string): Promise<boolean> {
  try {
    await readCommit({ fs, gitdir, oid });
    return true;
  } catch {
    return false;
  }
}

async function ensureCache(gitdir: string, url: string): Promise<void> {
  if (!fs.existsSync(join(gitdir, 'HEAD')) || !fs.existsSync(join(gitdir, 'objects'))) {
    fs.mkdirSync(gitdir, { recursive: true, mode: 0o700 });
    await init({ fs, gitdir, bare: true, defaultBranch: 'keepgit' });
  }
  // isomorphic-git records fetched refs through the remote's refspec, so the cache needs
  // one. The URL is credential-free (checkRemoteUrl refuses any other).
  if ((await getConfig({ fs, gitdir, path: 'remote.origin.url' })) !== url)
    await addRemote({ fs, gitdir, remote: 'origin', url, force: true });
}

function listRemote(refs: readonly { ref: string }[]): string {
  const names = (prefix: string): string => {
    const n = refs.filter((r) => r.ref.startsWith(prefix)).map((r) => r.ref.slice(prefix.length));
    if (n.length === 0) return 'none';
    return n.length > 20 ? `${n.slice(0, 20).join(', ')} and ${n.length - 20} more` : n.join(', ');
  };
  return `branches: ${names('refs/heads/')}; tags: ${names('refs/tags/')}`;
}

interface Prepared {
  url: string;
  full: string;
  gitdir: string;
  credentials: GitCredentials;
  warnings: string[];
  http: HttpClient;
  onAuth: () => ReturnType<typeof gitAuthFor>;
}

async function prepare(opts: FetchOptions): Promise<Prepared | { error: string }> {
  const checked = checkRemoteUrl(opts.config.url);
  if (!checked.ok) return { error: checked.error };
  const want = wantedRef(opts.config.ref);
  if ('error' in want) return want;
  const creds = loadCredentials(opts.config, opts.env ?? process.env, opts.readSecret);
  if (!creds.ok) return { error: creds.error };
  const gitdir = cacheDirFor(opts.stateDir, checked.url);
  try {
    await ensureCache(gitdir, checked.url);
  } catch (e) {
    return {
      error: `cannot create the Git cache ${gitdir}: ${codeOf(e) ?? messageOf(e)}; check the state directory`,
    };
  }
  const credentials = creds.credentials;
  return {
    url: checked.url,
    full: want.full,
    gitdir,
    credentials,
    warnings: creds.warnings,
    http: replayingAdvertisement(opts.http ?? httpWithTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)),
    onAuth: () => gitAuthFor(credentials),
  };
}

/** The commit of the last fetch, when the cache still has it. */
async function lastFetched(gitdir: string): Promise<string | undefined> {
  try {
    const oid = await resolveRef({ fs, gitdir, ref: FETCHED_REF });
    return (await hasCommit(gitdir, oid)) ? oid : undefined;
  } catch {
    return undefined;
  }
}

/** Download `full` into the cache with `depth` commits of history (0: all). */
async function download(p: Prepared, depth: number): Promise<void> {
  await gitFetch({
    fs,
    http: p.http,
    gitdir: p.gitdir,
    url: p.url,
    // Local ref whose commit is offered as "have": only the objects that are new travel.
    ref: FETCHED_REF,
    remoteRef: p.full,
    singleBranch: true,
    tags: false,
    ...(depth >= 1 ? { depth: Math.floor(depth) } : {}),
    onAuth: p.onAuth,
    // A second 401 means the credentials were refused: stop rather than loop.
    onAuthFailure: () => undefined,
  });
}

/** Fetch the configured branch or tag and read the desired-state files at its commit. */
export async function fetchRevision(opts: FetchOptions): Promise<FetchRevisionResult> {
  const p = await prepare(opts);
  if ('error' in p) return p;
  const shown = displayUrl(p.url);
  try {
    const info = await getRemoteInfo2({
      http: p.http,
      url: p.url,
      protocolVersion: 1,
      onAuth: p.onAuth,
      onAuthFailure: () => undefined,
    });
    const refs = info.refs ?? [];
    const found = refs.find((r) => r.ref === p.full);
    if (found === undefined) {
      const what = p.full.startsWith('refs/tags/') ? 'tag' : 'branch';
      const name = p.full.replace(/^refs\/(heads|tags)\//, '');
      return { error: `${what} "${name}" not found at ${shown}; the remote has ${listRemote(refs)}` };
    }
    // An annotated tag points at a tag object; the commit is its peeled value.
    const commit = found.peeled ?? found.oid;
    let downloaded = false;
    if (!(await hasCommit(p.gitdir, commit))) {
      // With a commit to offer as "have", fetch without a depth: git's upload-pack walks
      // back to it and sends only the new objects. With a depth it cuts the walk at the
      // new tip and resends every file of the tree (measured: a 150 kB unchanged file
      // travelled again on each depth-1 fetch). The depth is for a cold cache.
      const incremental = (await lastFetched(p.gitdir)) !== undefined;
      await download(p, incremental ? 0 : (opts.config.depth ?? DEFAULT_DEPTH));
      downloaded = true;
      if (!(await hasCommit(p.gitdir, commit)))
        return { error: `${shown} did not send commit ${commit.slice(0, 7)} of ${p.full}; try again` };
    }
    await writeRef({ fs, gitdir: p.gitdir, ref: FETCHED_REF, value: commit, force: true });
    const read = await readRepositoryAtRevision(p.gitdir, commit);
    if ('error' in read) return { error: redact(read.error, secretsOf(p.credentials)) };
    return { commit, files: read.files, ref: p.full, gitdir: p.gitdir, downloaded, warnings: p.warnings };
  } catch (e) {
    return { error: describeFetchError(e, p.url, p.credentials) };
  }
}

/**
 * Fetch more history of the configured ref into the cache: `depth` commits from its tip
 * (0: all). For revision-order.ts, when the applied commit is older than what a shallow
 * cache holds. Returns an error message, or undefined.
 */
export async function deepenHistory(opts: FetchOptions, depth: number): Promise<string | undefined> {
  const p = await prepare(opts);
  if ('error' in p) return p.error;
  try {
    await download(p, depth);
    return undefined;
  } catch (e) {
    return describeFetchError(e, p.url, p.credentials);
  }
}
