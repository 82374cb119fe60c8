import type { CheckOutcome, CheckTarget, ProbeContext, ProbeFn } from './check-types.ts';
import { fetchRaw, type HttpProtocol } from './http-fetch.ts';
import { parseStatusCodes, type StatusCodes } from './http-status-codes.ts';

// HTTP_GET and SSL_GET: every url of the check is fetched in turn and must pass its tests —
// status code (default 2xx), MD5 digest of the body as genhash prints it, and a regex that
// must match (or, with regexNoMatch, must not). The first url that fails fails the attempt.

export interface HttpUrlSpec {
  path: string;
  statusCode?: number | string;
  digest?: string;
  regex?: string;
  regexNoMatch?: boolean;
  /** Overrides the check's virtualhost for this url. */
  virtualhost?: string;
}

export interface HttpSpec {
  urls: HttpUrlSpec[];
  /** The check's virtualhost (already defaulted to the virtual server's by the caller). */
  virtualhost?: string;
  httpProtocol?: HttpProtocol;
  /** SSL_GET only: send the virtualhost as SNI. */
  sni?: boolean;
}

/** keepalived's regex sees the body in buffers of this order; we keep this much of it. */
const REGEX_BODY_BYTES = 1024 * 1024;

const regexCache = new Map<string, RegExp | { error: string }>();

function compile(source: string): RegExp | { error: string } {
  let r = regexCache.get(source);
  if (r === undefined) {
    try {
      r = new RegExp(source);
    } catch (e) {
      r = {
        error: `regex ${JSON.stringify(source)} is not a valid regular expression: ${(e as Error).message}`,
      };
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, r);
  }
  return r;
}

// Parsed once per distinct value, not once per attempt.
const statusCodesCache = new Map<string | number | undefined, StatusCodes | { error: string }>();

function statusCodes(spec: string | number | undefined): StatusCodes | { error: string } {
  let r = statusCodesCache.get(spec);
  if (r === undefined) {
    r = parseStatusCodes(spec);
    if (statusCodesCache.size > 1000) statusCodesCache.clear();
    statusCodesCache.set(spec, r);
  }
  return r;
}

async function probeUrls(
  spec: HttpSpec,
  tls: boolean,
  target: CheckTarget,
  ctx: ProbeContext,
): Promise<CheckOutcome> {
  const started = ctx.now();
  const urls = spec.urls;
  const fail = (path: string, reason: string): CheckOutcome => ({
    ok: false,
    latencyMs: ctx.now() - started,
    reason: urls.length > 1 ? `${path}: ${reason}` : reason,
  });
  if (urls.length === 0) return fail('', 'no url to check');
  // connect_timeout bounds each url, as in keepalived; the attempt's budget is shared evenly.
  const perUrlMs = Math.max(1, Math.floor(ctx.timeoutMs / urls.length));
  let lastStatus = 0;
  for (const url of urls) {
    const codes = statusCodes(url.statusCode);
    if ('error' in codes) return fail(url.path, codes.error);
    const regex = url.regex === undefined ? undefined : compile(url.regex);
    if (regex !== undefined && !(regex instanceof RegExp)) return fail(url.path, regex.error);
    const vhost = url.virtualhost ?? spec.virtualhost;
    const r = await fetchRaw(
      target,
      {
        path: url.path,
        ...(vhost !== undefined ? { virtualhost: vhost } : {}),
        protocol: spec.httpProtocol ?? '1.0',
        tls,
        sni: Boolean(spec.sni),
        keepBodyBytes: regex ? REGEX_BODY_BYTES : 0,
      },
      { timeoutMs: perUrlMs, signal: ctx.signal },
    );
    if (!r.ok) return fail(url.path, r.reason);
    lastStatus = r.status;
    if (!codes.matches(r.status)) return fail(url.path, `status ${r.status}, expected ${codes.text}`);
    if (url.digest !== undefined && url.digest.toLowerCase() !== r.digest)
      return fail(url.path, `digest ${r.digest}, expected ${url.digest.toLowerCase()}`);
    if (regex) {
      const matched = regex.test(r.body.toString('utf8'));
      if (matched === Boolean(url.regexNoMatch))
        return fail(
          url.path,
          url.regexNoMatch
            ? `body matches regex ${url.regex} (regexNoMatch)`
            : `body does not match regex ${url.regex}`,
        );
    }
  }
  return {
    ok: true,
    latencyMs: ctx.now() - started,
    detail: urls.length > 1 ? `${urls.length} urls ok` : `status ${lastStatus}`,
  };
}

export const probeHttp: ProbeFn<HttpSpec> = (spec, target, ctx) => probeUrls(spec, false, target, ctx);

export const probeHttps: ProbeFn<HttpSpec> = (spec, target, ctx) => probeUrls(spec, true, target, ctx);
