import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CheckTarget, ProbeContext } from '../../src/check/check-types.ts';

// Real peers for the checker tests, all on loopback with ports the OS picks: HTTP and HTTPS
// servers, an SMTP listener, a server that accepts and never answers, and a closed port.

const run = promisify(execFile);

export interface Seen {
  method: string;
  url: string;
  httpVersion: string;
  headers: IncomingMessage['headers'];
  servername?: string | false;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Peer {
  port: number;
  seen: Seen[];
  close: () => Promise<void>;
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function track(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
}

export async function httpPeer(handler: Handler, host = '127.0.0.1'): Promise<Peer> {
  const seen: Seen[] = [];
  const server = createHttpServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: req.headers,
    });
    handler(req, res);
  });
  // A keep-alive test must see us stop reading at Content-Length, not the server hang up.
  server.keepAliveTimeout = 60_000;
  const sockets = track(server);
  const port = await listen(server, host);
  return { port, seen, close: () => closeServer(server, sockets) };
}

/** Writes a throwaway self-signed certificate for `cn` as DIR/key.pem and DIR/cert.pem. */
export async function writeSelfSigned(dir: string, cn: string): Promise<void> {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    `/CN=${cn}`,
  ]);
}

/** A throwaway self-signed certificate, made now and deleted by `cleanup`. */
export async function selfSigned(
  cn: string,
): Promise<{ key: string; cert: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'keepgit-cert-'));
  await writeSelfSigned(dir, cn);
  const [key, cert] = await Promise.all([
    readFile(join(dir, 'key.pem'), 'utf8'),
    readFile(join(dir, 'cert.pem'), 'utf8'),
  ]);
  return { key, cert, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function httpsPeer(handler: Handler, tls: { key: string; cert: string }): Promise<Peer> {
  const seen: Seen[] = [];
  const server = createHttpsServer(tls, (req, res) => {
    const servername = (req.socket as { servername?: string | false }).servername;
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: req.headers,
      ...(servername !== undefined ? { servername } : {}),
    });
    handler(req, res);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server, '127.0.0.1');
  return { port, seen, close: () => closeServer(server, sockets) };
}

/** Accepts connections and never says a word. */
export async function silentPeer(host = '127.0.0.1'): Promise<Peer> {
  const server = createNetServer(() => {});
  const sockets = track(server);
  const port = await listen(server, host);
  return { port, seen: [], close: () => closeServer(server, sockets) };
}

/** A port nothing listens on: bound by the OS, then released. */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const server = createNetServer();
  const port = await listen(server, host);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface SmtpScript {
  greeting?: string[];
  heloReply?: string[];
  quitReply?: string[];
}

/** An SMTP listener that speaks the given replies and records what it was told. */
export async function smtpPeer(script: SmtpScript = {}): Promise<Peer & { lines: string[] }> {
  const lines: string[] = [];
  const greeting = script.greeting ?? ['220 mail.example.com ESMTP test'];
  const server = createNetServer((socket) => {
    socket.setEncoding('latin1');
    const say = (reply: string[]) => {
      if (reply.length > 0) socket.write(reply.map((l) => `${l}\r\n`).join(''));
    };
    say(greeting);
    let buf = '';
    socket.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\r\n'); nl >= 0; nl = buf.indexOf('\r\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        lines.push(line);
        if (/^HELO /i.test(line)) say(script.heloReply ?? ['250 mail.example.com']);
        else if (/^QUIT$/i.test(line)) {
          say(script.quitReply ?? ['221 bye']);
          socket.end();
        }
      }
    });
    socket.on('error', () => {});
  });
  const sockets = track(server);
  const port = await listen(server, '127.0.0.1');
  return { port, seen: [], lines, close: () => closeServer(server, sockets) };
}

export const loopback = (port: number, address = '127.0.0.1'): CheckTarget => ({
  address,
  port,
  family: address.includes(':') ? 6 : 4,
});

export const probeCtx = (timeoutMs = 5000, signal = new AbortController().signal): ProbeContext => ({
  timeoutMs,
  signal,
  now: () => performance.now(),
});

/** MD5 of some bytes, computed by md5sum rather than by our code. */
export async function md5sum(data: string | Buffer): Promise<string> {
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    const child = execFile('md5sum', (err, stdout) => (err ? reject(err) : resolve({ stdout })));
    child.stdin?.end(data);
  });
  return stdout.split(/\s/)[0] ?? '';
}
