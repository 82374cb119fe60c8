import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createGunzip } from 'node:zlib';

// A Git smart-HTTP server for tests: Node's http on 127.0.0.1 (port 0) handing each
// request to git-http-backend as CGI, over a bare repository in a temp dir, with an
// optional basic-auth or bearer check in front. Commits go in through a work tree and
// the git CLI, as a person would push them. Loopback only; no root needed.

export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitHttpServerOptions {
  /** Require HTTP basic auth with exactly these credentials. */
  basic?: { username: string; password: string };
  /** Require `Authorization: Bearer TOKEN`. */
  bearer?: string;
  /** The branch the first push creates. Default main. */
  branch?: string;
  /** Where to listen. Default 127.0.0.1 (a lab host's address to serve agents in namespaces). */
  host?: string;
  /** Sign every commit with this SSH private key (git's gpg.format=ssh). */
  signingKey?: string;
}

export interface RequestLogEntry {
  method: string;
  /** Path and query, e.g. "/repo.git/info/refs?service=git-upload-pack". */
  path: string;
  status: number;
  authorized: boolean;
}

export interface GitHttpServer {
  /** The clone URL, http://127.0.0.1:PORT/repo.git */
  url: string;
  /** The bare repository on disk. */
  bare: string;
  /** Every request served, in order. */
  requests: RequestLogEntry[];
  /** Write `files` (null deletes) in the work tree, commit, push; returns the commit SHA. */
  push(files: Record<string, string | null>, message: string, branch?: string, sign?: boolean): string;
  /** Tag `commit` (default the branch head) and push the tag; annotated unless told otherwise. */
  tag(name: string, commit?: string, annotated?: boolean): string;
  /** Point `branch` at `commit` with a forced push (history rewritten), and the work tree with it. */
  forcePush(commit: string, branch?: string): void;
  /** Close the server and delete the repository. */
  close(): Promise<void>;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } }).trim();

function authorized(req: IncomingMessage, o: GitHttpServerOptions): boolean {
  const header = req.headers.authorization ?? '';
  if (o.basic !== undefined) {
    const want = Buffer.from(`${o.basic.username}:${o.basic.password}`).toString('base64');
    return header === `Basic ${want}`;
  }
  if (o.bearer !== undefined) return header === `Bearer ${o.bearer}`;
  return true;
}

/** Splits CGI output into its header block and the rest; undefined until the blank line has arrived. */
function splitCgiHeaders(buf: Buffer): { head: string; rest: Buffer } | undefined {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return undefined;
  const useCrlf = crlf !== -1 && (lf === -1 || crlf < lf);
  const at = useCrlf ? crlf : lf;
  return { head: buf.subarray(0, at).toString('latin1'), rest: buf.subarray(at + (useCrlf ? 4 : 2)) };
}

function serveCgi(req: IncomingMessage, res: ServerResponse, root: string, log: RequestLogEntry): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REMOTE_USER: 'test',
  };
  const protocol = req.headers['git-protocol'];
  if (typeof protocol === 'string') env.GIT_PROTOCOL = protocol;
  const cgi = spawn(GIT_HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  cgi.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // git http-backend can take a gzip body itself, but only when told; decoding here keeps
  // the CGI side to one case and proves the server handles what a git client sends.
  const body = req.headers['content-encoding'] === 'gzip' ? req.pipe(createGunzip()) : req;
  body.on('error', () => cgi.kill());
  body.pipe(cgi.stdin);
  cgi.stdin.on('error', () => undefined);

  let pending: Buffer = Buffer.alloc(0);
  let headersSent = false;
  cgi.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    pending = Buffer.concat([pending, chunk]);
    const split = splitCgiHeaders(pending);
    if (split === undefined) return;
    let status = 200;
    let statusText = 'OK';
    for (const line of split.head.split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') {
        const m = /^(\d{3})\s*(.*)$/.exec(value);
        if (m?.[1]) {
          status = Number(m[1]);
          statusText = m[2] ?? '';
        }
      } else {
        res.setHeader(name, value);
      }
    }
    log.status = status;
    res.writeHead(status, statusText);
    headersSent = true;
    if (split.rest.length > 0) res.write(split.rest);
  });
  cgi.on('close', (code) => {
    if (!headersSent) {
      log.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`git-http-backend exited ${code}: ${stderr}`);
      return;
    }
    res.end();
  });
  cgi.on('error', (e) => {
    if (!headersSent) {
      log.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain' });
    }
    res.end(String(e));
  });
}

export async function startGitHttpServer(options: GitHttpServerOptions = {}): Promise<GitHttpServer> {
  const branch = options.branch ?? 'main';
  const root = mkdtempSync(join(tmpdir(), 'keepgit-git-http-'));
  const bare = join(root, 'repo.git');
  const work = join(root, 'work');
  git(root, 'init', '-q', '--bare', '-b', branch, bare);
  git(root, 'init', '-q', '-b', branch, work);
  git(work, 'remote', 'add', 'origin', bare);

  const requests: RequestLogEntry[] = [];
  const server: Server = createServer((req, res) => {
    const entry: RequestLogEntry = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 0,
      authorized: authorized(req, options),
    };
    requests.push(entry);
    if (!entry.authorized) {
      entry.status = 401;
      const scheme = options.bearer !== undefined ? 'Bearer' : 'Basic';
      res.writeHead(401, {
        'www-authenticate': `${scheme} realm="keepgit-test"`,
        'content-type': 'text/plain',
      });
      req.resume();
      res.end('authentication required\n');
      return;
    }
    serveCgi(req, res, root, entry);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const signing =
    options.signingKey === undefined
      ? []
      : ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${options.signingKey}`, '-c', 'commit.gpgsign=true'];

  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/repo.git`,
    bare,
    requests,
    push(files, message, onBranch = branch, sign = true) {
      const current = git(work, 'symbolic-ref', '--short', 'HEAD');
      if (current !== onBranch) git(work, 'checkout', '-q', '-B', onBranch);
      for (const [path, text] of Object.entries(files)) {
        const full = join(work, path);
        if (text === null) rmSync(full, { force: true });
        else {
          mkdirSync(dirname(full), { recursive: true });
          writeFileSync(full, text);
        }
      }
      git(work, 'add', '-A');
      git(
        work,
        ...(sign ? signing : []),
        'commit',
        '-q',
        '--allow-empty',
        ...(sign ? [] : ['--no-gpg-sign']),
        '-m',
        message,
      );
      git(work, 'push', '-q', 'origin', `HEAD:refs/heads/${onBranch}`);
      return git(work, 'rev-parse', 'HEAD');
    },
    tag(name, commit, annotated = true) {
      const target = commit ?? git(work, 'rev-parse', 'HEAD');
      if (annotated) git(work, 'tag', '-f', '-a', name, '-m', `release ${name}`, target);
      else git(work, 'tag', '-f', name, target);
      git(work, 'push', '-q', '-f', 'origin', `refs/tags/${name}`);
      return target;
    },
    forcePush(commit, onBranch = branch) {
      git(work, 'checkout', '-q', '-B', onBranch, commit);
      git(work, 'push', '-q', '-f', 'origin', `${commit}:refs/heads/${onBranch}`);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}
