import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { CheckTarget } from './check-types.ts';
import { describeError, openConnection } from './connect.ts';
import { nativeAttempt } from './native-sockets.ts';

// One HTTP GET the way keepalived's HTTP_GET/SSL_GET and genhash make it: the same request
// bytes (a backend's access log cannot tell us apart), and the digest over the same bytes —
// everything after the blank line that ends the headers, up to Content-Length when the server
// sends one, else up to the end of the connection, with no de-chunking. node:http would
// decode a chunked body and give a digest that keepalived and genhash never print, so this
// speaks HTTP on a bare socket (a fresh one per request; nothing is pooled): the native
// sockets for plain HTTP when they are built (native-sockets.ts), Node's for TLS.

export type HttpProtocol = '1.0' | '1.0C' | '1.1' | '1.0K';

export interface HttpRequestSpec {
  path: string;
  /** The Host header; without it keepalived sends ADDRESS:PORT, brackets around IPv6. */
  virtualhost?: string;
  protocol?: HttpProtocol;
  tls?: boolean;
  /** Send the virtualhost as TLS SNI (enable_sni). */
  sni?: boolean;
  /** How many body bytes to keep for a regex; the digest always sees every byte. */
  keepBodyBytes?: number;
}

export type HttpResult =
  | {
      ok: true;
      /** 0 when the status line is not HTTP/x.y NNN. */
      status: number;
      /** MD5 of the body, lower-case hex, as genhash prints it. */
      digest: string;
      bodyBytes: number;
      /** The first keepBodyBytes of the body. */
      body: Buffer;
    }
  | { ok: false; reason: string };

export interface FetchOptions {
  /** Bounds the whole request: connect, TLS, and reading the response. */
  timeoutMs: number;
  signal: AbortSignal;
}

const MAX_HEADER_BYTES = 64 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

export function hostHeader(target: CheckTarget, virtualhost: string | undefined): string {
  if (virtualhost) return virtualhost;
  return target.family === 6 ? `[${target.address}]:${target.port}` : `${target.address}:${target.port}`;
}

export function buildRequest(target: CheckTarget, req: HttpRequestSpec): string {
  const protocol = req.protocol ?? '1.0';
  const minor = protocol === '1.1' ? 1 : 0;
  const connection =
    protocol === '1.1' || protocol === '1.0C'
      ? 'Connection: close\r\n'
      : protocol === '1.0K'
        ? 'Connection: keep-alive\r\n'
        : '';
  return (
    `GET ${req.path} HTTP/1.${minor}\r\n` +
    'User-Agent: KeepAliveClient\r\n' +
    connection +
    `Host: ${hostHeader(target, req.virtualhost)}\r\n\r\n`
  );
}

/** The status code of a status line, or 0 (keepalived then fails the status check). */
export function parseStatus(head: string): number {
  const m = /^HTTP\/\d+(?:\.\d+)? (\d{3})(?:[ \r\n]|$)/.exec(head);
  return m ? Number(m[1]) : 0;
}

export function parseContentLength(head: string): number | undefined {
  const m = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(?:\r\n|$)/i.exec(head);
  return m ? Number(m[1]) : undefined;
}

type Read = HttpResult | undefined;

/**
 * Reads one response as it arrives: `push` each chunk (a result once the body reached its
 * Content-Length, or the headers grew too long), `end` when the server closed.
 */
function responseReader(keep: number): { push(chunk: Buffer): Read; end(): HttpResult } {
  const md5 = createHash('md5');
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let head: Buffer | undefined = Buffer.alloc(0);
  let headText = '';
  let contentLength: number | undefined;
  let bodyBytes = 0;
  const end = (): HttpResult => {
    if (head !== undefined)
      return {
        ok: false,
        reason: head.length === 0 ? 'no data received' : 'connection closed before the end of the headers',
      };
    return {
      ok: true,
      status: parseStatus(headText),
      digest: md5.digest('hex'),
      bodyBytes,
      body: Buffer.concat(kept, keptBytes),
    };
  };
  const takeBody = (chunk: Buffer): Read => {
    const room = contentLength === undefined ? chunk.length : Math.max(0, contentLength - bodyBytes);
    const part = room < chunk.length ? chunk.subarray(0, room) : chunk;
    md5.update(part);
    bodyBytes += part.length;
    if (keptBytes < keep) {
      const k = part.subarray(0, keep - keptBytes);
      kept.push(k);
      keptBytes += k.length;
    }
    // With a length we need not wait for the server to close (it may not, with keep-alive).
    return contentLength !== undefined && bodyBytes >= contentLength ? end() : undefined;
  };
  const push = (chunk: Buffer): Read => {
    if (head === undefined) return takeBody(chunk);
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const at = head.indexOf(HEADER_END);
    if (at < 0)
      return head.length > MAX_HEADER_BYTES
        ? { ok: false, reason: `response headers longer than ${MAX_HEADER_BYTES} bytes` }
        : undefined;
    headText = head.subarray(0, at + 2).toString('latin1');
    contentLength = parseContentLength(headText);
    const rest = head.subarray(at + HEADER_END.length);
    head = undefined;
    return rest.length > 0 || contentLength === 0 ? takeBody(rest) : undefined;
  };
  return { push, end };
}

export function fetchRaw(target: CheckTarget, req: HttpRequestSpec, opts: FetchOptions): Promise<HttpResult> {
  const keep = req.keepBodyBytes ?? 0;
  if (!req.tls) {
    const reader = responseReader(keep);
    const native = nativeAttempt<HttpResult>({
      target,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      request: Buffer.from(buildRequest(target, req), 'latin1'),
      data: reader.push,
      end: reader.end,
    });
    if (native !== undefined) return native;
  }
  const deadline = performance.now() + opts.timeoutMs;
  const servername =
    req.tls && req.sni && req.virtualhost && isIP(req.virtualhost) === 0 ? req.virtualhost : undefined;
  return openConnection(target, {
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    ...(req.tls ? { tls: servername ? { servername } : {} } : {}),
  }).then((c) => {
    if (!c.ok) return c;
    const socket = c.socket;
    return new Promise<HttpResult>((resolve) => {
      const reader = responseReader(keep);
      let settled = false;
      const finish = (r: HttpResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(r);
      };
      const complete = () => {
        if (!settled) finish(reader.end());
      };
      const onAbort = () => finish({ ok: false, reason: 'aborted' });
      const timer = setTimeout(
        () => finish({ ok: false, reason: `read timeout after ${opts.timeoutMs} ms` }),
        Math.max(0, deadline - performance.now()),
      );
      opts.signal.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (e) => finish({ ok: false, reason: `read ${describeError(e)}` }));
      socket.on('end', complete);
      socket.on('close', complete);
      socket.on('data', (chunk: Buffer) => {
        const r = reader.push(chunk);
        if (r !== undefined) finish(r);
      });
      if (opts.signal.aborted) {
        finish({ ok: false, reason: 'aborted' });
        return;
      }
      socket.write(buildRequest(target, req));
    });
  });
}
