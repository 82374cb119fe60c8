import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { CheckTarget } from '../check/check-types.ts';
import { fetchRaw, type HttpProtocol } from '../check/http-fetch.ts';
import type { CliIo, Command } from './io.ts';

// keepgit genhash: the digest to paste into an HTTP or HTTPS check, computed by the very code
// the check runs, so it is the digest the check will compare (and the one keepalived's
// genhash prints for the same page). Options follow genhash's, long and short.
// Exit 0 digest printed; 1 the server could not be reached or sent no HTTP response;
// 2 usage error.

const USAGE =
  'usage: keepgit genhash URL                          (http://HOST[:PORT]/PATH or https://...)\n' +
  '       keepgit genhash [--ssl|-S] [--sni|-I] --server|-s ADDR --port|-p PORT --url|-u PATH\n' +
  '                       [--virtualhost|-V HOST] [--protocol|-P 1.0|1.0C|1.1|1.0K]\n' +
  '                       [--timeout|-t SECONDS (default 5)] [--json]';

const PROTOCOLS: readonly HttpProtocol[] = ['1.0', '1.0C', '1.1', '1.0K'];

interface Request {
  target: CheckTarget;
  path: string;
  tls: boolean;
  sni: boolean;
  virtualhost?: string;
  protocol: HttpProtocol;
  timeoutMs: number;
  label: string;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      ssl: { type: 'boolean', short: 'S', default: false },
      'use-ssl': { type: 'boolean', default: false },
      sni: { type: 'boolean', short: 'I', default: false },
      'use-sni': { type: 'boolean', default: false },
      server: { type: 'string', short: 's' },
      port: { type: 'string', short: 'p' },
      url: { type: 'string', short: 'u' },
      virtualhost: { type: 'string', short: 'V' },
      'use-virtualhost': { type: 'string' },
      protocol: { type: 'string', short: 'P' },
      timeout: { type: 'string', short: 't' },
      json: { type: 'boolean', default: false },
    },
  });
}

async function resolveHost(host: string): Promise<{ address: string; family: 4 | 6 } | { error: string }> {
  const literal = isIP(host);
  if (literal !== 0) return { address: host, family: literal as 4 | 6 };
  try {
    const r = await lookup(host);
    return { address: r.address, family: r.family === 6 ? 6 : 4 };
  } catch (e) {
    return { error: `cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
}

async function requestFrom(parsed: ReturnType<typeof parse>): Promise<Request | { error: string }> {
  const v = parsed.values;
  const protocolText = v.protocol ?? '1.0';
  const protocol = PROTOCOLS.find((p) => p.toLowerCase() === protocolText.toLowerCase());
  if (!protocol)
    return { error: `--protocol: expected one of ${PROTOCOLS.join(', ')}, got "${protocolText}"` };
  const seconds = v.timeout === undefined ? 5 : Number(v.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0)
    return { error: `--timeout: expected a number of seconds, got "${v.timeout}"` };
  const vhost = v.virtualhost ?? v['use-virtualhost'];
  const sni = v.sni || v['use-sni'];
  const common = { protocol, timeoutMs: Math.round(seconds * 1000), sni };

  if (parsed.positionals.length > 0) {
    if (parsed.positionals.length > 1)
      return { error: `unexpected arguments: ${parsed.positionals.slice(1).join(' ')}` };
    if (v.server !== undefined || v.port !== undefined || v.url !== undefined)
      return { error: 'give either a URL or --server/--port/--url, not both' };
    let url: URL;
    try {
      url = new URL(parsed.positionals[0] as string);
    } catch {
      return { error: `"${parsed.positionals[0]}" is not a URL such as http://192.0.2.10:8080/health` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return { error: `${url.protocol} URLs are not checked: use http:// or https://` };
    const tls = url.protocol === 'https:' || v.ssl || v['use-ssl'];
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const resolved = await resolveHost(host);
    if ('error' in resolved) return resolved;
    const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
    // A name in the URL is what a browser would send as Host; an address literal gets
    // keepalived's ADDRESS:PORT, which is what the check sends without a virtualhost.
    const virtualhost = vhost ?? (isIP(host) === 0 ? url.host : undefined);
    return {
      target: { address: resolved.address, port, family: resolved.family },
      path: `${url.pathname}${url.search}`,
      tls,
      ...common,
      ...(virtualhost !== undefined ? { virtualhost } : {}),
      label: url.href,
    };
  }

  const missing = (['server', 'port', 'url'] as const).filter((k) => v[k] === undefined);
  if (missing.length > 0)
    return { error: `missing ${missing.map((m) => `--${m}`).join(', ')} (or give a URL)` };
  const server = v.server as string;
  const family = isIP(server);
  if (family === 0) return { error: `--server: expected an IP address, got "${server}"` };
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { error: `--port: expected 1..65535, got "${v.port}"` };
  const path = v.url as string;
  if (!path.startsWith('/')) return { error: `--url: expected a path starting with /, got "${path}"` };
  const tls = v.ssl || v['use-ssl'];
  return {
    target: { address: server, port, family: family as 4 | 6 },
    path,
    tls,
    ...common,
    ...(vhost !== undefined ? { virtualhost: vhost } : {}),
    label: `${tls ? 'https' : 'http'}://${family === 6 ? `[${server}]` : server}:${port}${path}`,
  };
}

export const genhashCommand: Command = async (args, io: CliIo) => {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    io.err(`keepgit genhash: ${e instanceof Error ? e.message : String(e)}`);
    io.err(USAGE);
    return 2;
  }
  const req = await requestFrom(parsed);
  if ('error' in req) {
    io.err(`keepgit genhash: ${req.error}`);
    io.err(USAGE);
    return 2;
  }
  const r = await fetchRaw(
    req.target,
    {
      path: req.path,
      protocol: req.protocol,
      tls: req.tls,
      sni: req.sni,
      ...(req.virtualhost !== undefined ? { virtualhost: req.virtualhost } : {}),
    },
    { timeoutMs: req.timeoutMs, signal: new AbortController().signal },
  );
  if (!r.ok) {
    io.err(`keepgit genhash: cannot fetch ${req.label}: ${r.reason}`);
    return 1;
  }
  if (parsed.values.json) {
    io.out(JSON.stringify({ url: req.label, status: r.status, digest: r.digest, bodyBytes: r.bodyBytes }));
  } else {
    io.out(r.digest);
    io.out(`HTTP status ${r.status}, ${r.bodyBytes} bytes of body (${req.label})`);
    io.out(`paste into the check: { path: ${req.path}, digest: ${r.digest} }`);
  }
  if (r.status < 200 || r.status > 299)
    io.err(
      `keepgit genhash: note: status ${r.status} is outside 200-299, so the check also needs statusCode: ${r.status || '...'}`,
    );
  return 0;
};
