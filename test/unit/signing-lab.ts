import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Real keys and real signed commits made with ssh-keygen, gpg and git, in a temp directory
// that is HOME and GNUPGHOME for every command, so the tests never read or write the
// machine's keys, keyrings or Git configuration.

export const signingToolsMissing = (): string | undefined => {
  for (const tool of ['git', 'ssh-keygen', 'gpg', 'gpgconf']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error !== undefined) {
      return `${tool} is not installed`;
    }
  }
  return undefined;
};

export interface SigningLab {
  root: string;
  /** A git work tree with one unsigned commit. */
  repo: string;
  gitdir: string;
  run(cmd: string, args: string[], input?: string | Buffer): string;
  git(...args: string[]): string;
  /** A new SSH key pair; returns the private key path (the public key is PATH.pub). */
  sshKey(name: string, type: 'ed25519' | 'rsa' | 'ecdsa', comment: string, bits?: number): string;
  /** `ssh-keygen -lf`'s SHA256 fingerprint of the key at PATH. */
  sshFingerprint(path: string): string;
  /** A new OpenPGP signing key without passphrase; returns its fingerprint. */
  gpgKey(name: string, email: string): string;
  gpgExport(fingerprint: string, armor?: boolean): Buffer;
  /** An empty commit on HEAD, signed as asked; returns its oid. */
  commit(message: string, sign?: { ssh: string } | { gpg: string }): string;
  /** Write a commit object from raw text (not moving HEAD); returns its oid. */
  writeCommit(raw: string | Buffer): string;
  cleanup(): void;
}

export function makeSigningLab(): SigningLab {
  const root = mkdtempSync(join(tmpdir(), 'keepgit-signing-'));
  const home = join(root, 'home');
  const gnupg = join(root, 'gnupg');
  const keys = join(root, 'keys');
  const repo = join(root, 'repo');
  mkdirSync(home);
  mkdirSync(gnupg);
  chmodSync(gnupg, 0o700);
  mkdirSync(keys);
  mkdirSync(repo);
  const env = {
    ...process.env,
    HOME: home,
    GNUPGHOME: gnupg,
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Alice',
    GIT_AUTHOR_EMAIL: 'alice@example.org',
    GIT_COMMITTER_NAME: 'Alice',
    GIT_COMMITTER_EMAIL: 'alice@example.org',
  };
  const run = (cmd: string, args: string[], input?: string | Buffer): string =>
    execFileSync(cmd, args, { cwd: repo, env, input, stdio: ['pipe', 'pipe', 'pipe'] })
      .toString('utf8')
      .trim();
  const git = (...args: string[]): string => run('git', args);
  git('init', '-q', '-b', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'root');
  let gpgStarted = false;

  return {
    root,
    repo,
    gitdir: join(repo, '.git'),
    run,
    git,
    sshKey(name, type, comment, bits) {
      const path = join(keys, name);
      const size = bits === undefined ? [] : ['-b', String(bits)];
      run('ssh-keygen', ['-q', '-t', type, ...size, '-N', '', '-C', comment, '-f', path]);
      return path;
    },
    sshFingerprint(path) {
      return run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`]).split(' ')[1] ?? '';
    },
    gpgKey(name, email) {
      gpgStarted = true;
      const spec = join(keys, `${email}.batch`);
      writeFileSync(
        spec,
        `%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\nName-Real: ${name}\nName-Email: ${email}\nExpire-Date: 0\n%commit\n`,
      );
      run('gpg', ['--batch', '--quiet', '--gen-key', spec]);
      const colons = run('gpg', ['--batch', '--with-colons', '--fingerprint', `<${email}>`]);
      const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1];
      if (fpr === undefined) throw new Error(`gpg made no key for ${email}`);
      return fpr;
    },
    gpgExport(fingerprint, armor = true) {
      return execFileSync('gpg', ['--batch', ...(armor ? ['--armor'] : []), '--export', fingerprint], {
        env,
      });
    },
    commit(message, sign) {
      const how =
        sign === undefined
          ? []
          : 'ssh' in sign
            ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${sign.ssh}`]
            : ['-c', 'gpg.format=openpgp', '-c', 'gpg.program=gpg', '-c', `user.signingkey=${sign.gpg}`];
      git(...how, 'commit', '-q', '--allow-empty', ...(sign ? ['-S'] : []), '-m', message);
      return git('rev-parse', 'HEAD');
    },
    writeCommit(raw) {
      return run('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], raw);
    },
    cleanup() {
      // The gpg-agent that gpg started for this GNUPGHOME, ended through its own socket.
      if (gpgStarted) spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env, stdio: 'ignore' });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const readText = (path: string): string => readFileSync(path, 'utf8').trim();
