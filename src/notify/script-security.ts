import { lstat, realpath } from 'node:fs/promises';
import type { ScriptCommand } from '../track/argv.ts';

// keepalived's enable_script_security (notify.c check_security): a script, and every directory
// on the way to it, must not be changeable by anyone who could then run code as the script's
// user. We refuse what keepalived refuses (owner not root, group-writable by a non-root group,
// world-writable; a directory with the sticky bit is exempt from the mode checks, as /tmp is),
// but allow the run-as user to own its own scripts when that user is not root: it could do
// nothing with them it cannot already do.

export interface StatLike {
  uid: number;
  gid: number;
  /** st_mode, file type bits included. */
  mode: number;
}

export interface SecurityFs {
  /** lstat; undefined when the path does not exist. */
  lstat(path: string): Promise<StatLike | undefined>;
  realpath(path: string): Promise<string | undefined>;
}

export const systemSecurityFs: SecurityFs = {
  lstat: (p) =>
    lstat(p).then(
      (s) => ({ uid: s.uid, gid: s.gid, mode: s.mode }),
      () => undefined,
    ),
  realpath: (p) => realpath(p).catch(() => undefined),
};

export interface SecurityProblem {
  path: string;
  reason: string;
  fix: string;
}

export type SecurityResult =
  | { ok: true; path: string }
  | { ok: false; problems: SecurityProblem[]; message: string };

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_ISVTX = 0o1000;
const S_IWGRP = 0o020;
const S_IWOTH = 0o002;

/** Every prefix of an absolute path, '/' first. */
export function pathPrefixes(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '');
  const out = ['/'];
  for (let i = 1; i <= parts.length; i++) out.push(`/${parts.slice(0, i).join('/')}`);
  return out;
}

/** The problems of one path component, for a script run as `runAs`. */
export function componentProblems(
  path: string,
  st: StatLike,
  last: boolean,
  runAs: { uid: number; gid: number },
): SecurityProblem[] {
  const problems: SecurityProblem[] = [];
  const type = st.mode & S_IFMT;
  if (!last && type !== S_IFDIR)
    problems.push({ path, reason: 'is not a directory', fix: `make ${path} a directory` });
  if (last && type !== S_IFREG)
    problems.push({ path, reason: 'is not a regular file', fix: `point the script at a regular file` });
  const ownerOk = st.uid === 0 || (runAs.uid !== 0 && st.uid === runAs.uid);
  if (!ownerOk)
    problems.push({
      path,
      reason: `is owned by uid ${st.uid}, who could change it`,
      fix: `chown root ${path}`,
    });
  const modeChecked = type === S_IFREG || (type === S_IFDIR && (st.mode & S_ISVTX) === 0);
  if (modeChecked && st.mode & S_IWOTH)
    problems.push({ path, reason: 'is world-writable', fix: `chmod o-w ${path}` });
  if (modeChecked && st.mode & S_IWGRP && st.gid !== 0)
    problems.push({
      path,
      reason: `is writable by group gid ${st.gid}`,
      fix: `chmod g-w ${path}`,
    });
  return problems;
}

/**
 * Checks the file a script runs and every directory above it, after resolving symbolic links
 * (the link's target is what runs). `path` must be absolute: a bare name is resolved by the
 * caller's PATH search first.
 */
export async function checkScriptPath(
  path: string,
  runAs: { uid: number; gid: number },
  fs: SecurityFs = systemSecurityFs,
): Promise<SecurityResult> {
  if (!path.startsWith('/'))
    return refuse([{ path, reason: 'is not an absolute path', fix: `use the full path of ${path}` }]);
  const real = await fs.realpath(path);
  if (real === undefined)
    return refuse([{ path, reason: 'does not exist', fix: `install ${path} or fix the script line` }]);
  const prefixes = pathPrefixes(real);
  const problems: SecurityProblem[] = [];
  for (const [i, p] of prefixes.entries()) {
    const st = await fs.lstat(p);
    if (st === undefined) {
      problems.push({ path: p, reason: 'does not exist', fix: `install ${path}` });
      break;
    }
    problems.push(...componentProblems(p, st, i === prefixes.length - 1, runAs));
  }
  return problems.length === 0 ? { ok: true, path: real } : refuse(problems, path);
}

/** The file a command runs: argv[0], or the shell for a shell-syntax line. */
export async function checkScriptCommand(
  cmd: ScriptCommand,
  runAs: { uid: number; gid: number },
  fs: SecurityFs = systemSecurityFs,
  searchPath = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
): Promise<SecurityResult> {
  const file = cmd.argv[0] ?? '';
  if (file.includes('/')) return checkScriptPath(file, runAs, fs);
  // A bare name: the first regular file of that name on PATH is what execvp would run.
  for (const dir of searchPath.split(':')) {
    if (!dir.startsWith('/')) continue;
    const candidate = `${dir.replace(/\/$/, '')}/${file}`;
    const st = await fs.lstat(candidate);
    if (st !== undefined) return checkScriptPath(candidate, runAs, fs);
  }
  return refuse([{ path: file, reason: 'is not found on PATH', fix: `use the full path of ${file}` }]);
}

function refuse(problems: SecurityProblem[], script?: string): SecurityResult {
  const head = script === undefined ? 'script refused' : `script ${script} refused (enableScriptSecurity)`;
  const lines = problems.map((p) => `  ${p.path} ${p.reason}: run \`${p.fix}\``);
  return { ok: false, problems, message: [head, ...lines].join('\n') };
}
