import { readFileSync, statSync } from 'node:fs';

// Credentials for a Git remote, from the agent's environment or from files next to its
// config; never from the repository URL, because a URL ends up in logs, status pages,
// error messages and Git configuration. Everything here is pure except `readSecretFile`,
// which the caller may replace (tests, or a secrets store).

/** The agent-config fields that say where credentials come from. */
export interface GitAuthSettings {
  tokenFile?: string;
  username?: string;
  passwordFile?: string;
  /** How a token is sent: as the password of HTTP basic auth (default) or as a bearer token. */
  tokenAuth?: 'basic' | 'bearer';
}

export type GitCredentials =
  | { kind: 'none' }
  | { kind: 'token'; token: string; username: string; scheme: 'basic' | 'bearer' }
  | { kind: 'basic'; username: string; password: string };

export type SecretFile = { text: string; mode: number } | { error: string };
export type ReadSecretFile = (path: string) => SecretFile;

export type CredentialsResult =
  | { ok: true; credentials: GitCredentials; warnings: string[] }
  | { ok: false; error: string };

/** Hosts disagree on the user name that goes with a token; most accept any, GitHub documents this one. */
export const DEFAULT_TOKEN_USERNAME = 'x-access-token';

export const WHERE_CREDENTIALS_GO =
  'set KEEPGIT_GIT_TOKEN or tokenFile, or KEEPGIT_GIT_USERNAME with KEEPGIT_GIT_PASSWORD or passwordFile';

const codeOf = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

export const readSecretFile: ReadSecretFile = (path) => {
  try {
    const mode = statSync(path).mode;
    return { text: readFileSync(path, 'utf8'), mode };
  } catch (e) {
    const code = codeOf(e);
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? 'unreadable');
    return { error: why };
  }
};

/**
 * The URL as it may be shown to a person: no user name, no password, no query string
 * (some hosts accept tokens there too). Never throws: an unparsable URL is shown as such.
 */
export function displayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(unparsable URL)';
  }
  u.username = '';
  u.password = '';
  const hadQuery = u.search !== '';
  u.search = '';
  u.hash = '';
  return hadQuery ? `${u.toString()}?…` : u.toString();
}

/** A remote URL keepgit can fetch: http(s), smart HTTP, no credentials inside. */
export function checkRemoteUrl(url: string): { ok: true; url: string } | { ok: false; error: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, error: 'source.url is not a valid URL: use https://host/owner/repo.git' };
  }
  if (u.username !== '' || u.password !== '') {
    return {
      ok: false,
      error: `source.url ${displayUrl(url)} contains credentials: remove them from the URL and ${WHERE_CREDENTIALS_GO} (see docs/source-git.md)`,
    };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    return {
      ok: false,
      error: `source.url ${displayUrl(url)} uses ${u.protocol.replace(/:$/, '')}: only http:// and https:// (Git smart HTTP) are supported; use the host's HTTPS clone URL`,
    };
  }
  return { ok: true, url: u.toString() };
}

const WORLD_READABLE = 0o004;

function secretFrom(
  field: 'tokenFile' | 'passwordFile',
  path: string,
  read: ReadSecretFile,
  warnings: string[],
): { value: string } | { error: string } {
  const f = read(path);
  if ('error' in f) return { error: `${field} ${path}: ${f.error}; create it or fix the path` };
  // Editors and `echo` leave a trailing newline; no secret ends in one on purpose.
  const value = f.text.replace(/[\r\n]+$/, '');
  if (value === '') return { error: `${field} ${path} is empty: put the secret on its first line` };
  if (/[\r\n]/.test(value)) return { error: `${field} ${path} has more than one line: keep only the secret` };
  if ((f.mode & WORLD_READABLE) !== 0) {
    const mode = (f.mode & 0o777).toString(8).padStart(4, '0');
    warnings.push(`${field} ${path} is readable by every user (mode ${mode}): run chmod 600 ${path}`);
  }
  return { value };
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/**
 * Which credentials to offer the remote. A token wins over basic auth; the environment
 * and a file for the same secret is an error rather than a silent choice, because the
 * one that loses is usually the one a person just rotated.
 */
export function loadCredentials(
  settings: GitAuthSettings,
  env: Readonly<Record<string, string | undefined>>,
  read: ReadSecretFile = readSecretFile,
): CredentialsResult {
  const warnings: string[] = [];
  const envToken = nonEmpty(env.KEEPGIT_GIT_TOKEN);
  const envPassword = nonEmpty(env.KEEPGIT_GIT_PASSWORD);
  const username = nonEmpty(settings.username) ?? nonEmpty(env.KEEPGIT_GIT_USERNAME);

  if (envToken !== undefined && settings.tokenFile !== undefined)
    return {
      ok: false,
      error: `both KEEPGIT_GIT_TOKEN and tokenFile (${settings.tokenFile}) are set: keep one of them`,
    };
  if (envPassword !== undefined && settings.passwordFile !== undefined)
    return {
      ok: false,
      error: `both KEEPGIT_GIT_PASSWORD and passwordFile (${settings.passwordFile}) are set: keep one of them`,
    };

  let token = envToken;
  if (settings.tokenFile !== undefined) {
    const s = secretFrom('tokenFile', settings.tokenFile, read, warnings);
    if ('error' in s) return { ok: false, error: s.error };
    token = s.value;
  }
  let password = envPassword;
  if (settings.passwordFile !== undefined) {
    const s = secretFrom('passwordFile', settings.passwordFile, read, warnings);
    if ('error' in s) return { ok: false, error: s.error };
    password = s.value;
  }

  if (token !== undefined) {
    if (password !== undefined)
      warnings.push('a token and a password are both set: the token is used, the password is ignored');
    return {
      ok: true,
      credentials: {
        kind: 'token',
        token,
        username: username ?? DEFAULT_TOKEN_USERNAME,
        scheme: settings.tokenAuth ?? 'basic',
      },
      warnings,
    };
  }
  if (password !== undefined) {
    if (username === undefined)
      return {
        ok: false,
        error: 'a password is set but no user name: set KEEPGIT_GIT_USERNAME or source.username',
      };
    return { ok: true, credentials: { kind: 'basic', username, password }, warnings };
  }
  if (username !== undefined)
    return {
      ok: false,
      error: `a user name (${username}) is set but no password or token: set KEEPGIT_GIT_PASSWORD or passwordFile, or KEEPGIT_GIT_TOKEN or tokenFile`,
    };
  return { ok: true, credentials: { kind: 'none' }, warnings };
}

/** What isomorphic-git's onAuth hands the remote after a 401; nothing when there is nothing to offer. */
export function gitAuthFor(
  c: GitCredentials,
): { username?: string; password?: string; headers?: Record<string, string> } | undefined {
  switch (c.kind) {
    case 'none':
      return undefined;
    case 'basic':
      return { username: c.username, password: c.password };
    case 'token':
      return c.scheme === 'bearer'
        ? { headers: { Authorization: `Bearer ${c.token}` } }
        : { username: c.username, password: c.token };
  }
}

/** The secrets in `c`, for scrubbing any text that leaves the process. */
export function secretsOf(c: GitCredentials): string[] {
  switch (c.kind) {
    case 'none':
      return [];
    case 'basic':
      return [c.password, Buffer.from(`${c.username}:${c.password}`).toString('base64')];
    case 'token':
      return [c.token, Buffer.from(`${c.username}:${c.token}`).toString('base64')];
  }
}

/** `text` with every secret replaced; a last line of defence for messages built from library errors. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}
