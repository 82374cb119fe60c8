import { parseArgs } from 'node:util';
import type { NodeStatus } from '../api/node-status.ts';
import { type Command, processIo } from './io.ts';

// keepgit status: one table for a fleet. Asks each node's GET /status at once (each with its
// own timeout), so one dead node costs three seconds, not three seconds per node, and shows
// it as a row saying why. Exit 0 only when every node answered and is Ready: a script or CI
// job can gate on it.

export const DEFAULT_URL = 'http://127.0.0.1:9742';
const DEFAULT_TIMEOUT_MS = 3000;

const USAGE =
  'usage: keepgit status [URL...] [--json] [--timeout MS]\n' +
  `  URL        an agent's API (its --listen address), e.g. http://192.0.2.11:9742 (default ${DEFAULT_URL})\n` +
  "  --json     one JSON document with every node's answer, or why there is none\n" +
  `  --timeout  per node, in milliseconds (default ${DEFAULT_TIMEOUT_MS})`;

export type NodeAnswer =
  | { url: string; ok: true; status: NodeStatus }
  | { url: string; ok: false; error: string };

export const statusCommand: Command = async (args, io) => {
  let parsed: { values: { json?: boolean; timeout?: string; help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.err(`keepgit status: ${e instanceof Error ? e.message : String(e)}`);
    io.err(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    io.err(`keepgit status: --timeout ${values.timeout}: expected a positive number of milliseconds`);
    return 2;
  }
  const urls: string[] = [];
  for (const p of positionals.length > 0 ? positionals : [DEFAULT_URL]) {
    const u = normaliseUrl(p);
    if (u === undefined) {
      io.err(`keepgit status: ${p}: expected an http(s) URL such as ${DEFAULT_URL}, or HOST:PORT`);
      return 2;
    }
    urls.push(u);
  }

  const answers = await Promise.all(urls.map((u) => fetchNodeStatus(u, timeoutMs)));
  const healthy = answers.every((a) => a.ok && readyOf(a.status).ready);
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          ready: healthy,
          nodes: answers.map((a) =>
            a.ok ? { url: a.url, ok: true, ready: readyOf(a.status).ready, status: a.status } : a,
          ),
        },
        null,
        2,
      ),
    );
  } else {
    for (const line of statusTable(answers, { color: io === processIo && useColor() })) io.out(line);
  }
  return healthy ? 0 : 1;
};

function useColor(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

/** "192.0.2.11:9742" → "http://192.0.2.11:9742"; no trailing slash. Undefined when not http(s). */
export function normaliseUrl(text: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  return u.toString().replace(/\/+$/, '');
}

/** GET URL/status; every failure is a sentence, never a throw. */
export async function fetchNodeStatus(url: string, timeoutMs: number): Promise<NodeAnswer> {
  const fail = (error: string): NodeAnswer => ({ url, ok: false, error });
  let res: Response;
  try {
    res = await fetch(`${url}/status`, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
  } catch (e) {
    return fail(fetchError(e, timeoutMs));
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    return fail(fetchError(e, timeoutMs));
  }
  if (res.status !== 200)
    return fail(`HTTP ${res.status} from ${url}/status: is this a keepgit agent's API?`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return fail(`the answer of ${url}/status is not JSON: is this a keepgit agent's API?`);
  }
  const missing = missingField(body);
  if (missing !== undefined)
    return fail(
      `the answer of ${url}/status is not a keepgit status document (no ${missing}): agent too old?`,
    );
  return { url, ok: true, status: body as NodeStatus };
}

function fetchError(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError'))
    return `no answer within ${timeoutMs} ms`;
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused: is the agent running with --listen on this address?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset';
  }
  return cause?.message ?? (e instanceof Error ? e.message : String(e));
}

/** The first field a usable document lacks; undefined when it has them all. */
function missingField(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return 'object';
  const b = body as Record<string, unknown>;
  if (typeof b.node !== 'string') return 'node';
  const rev = b.revision as Record<string, unknown> | undefined;
  if (typeof rev !== 'object' || rev === null || typeof rev.applied !== 'string') return 'revision.applied';
  if (!Array.isArray(rev.refused)) return 'revision.refused';
  for (const k of ['conditions', 'instances', 'drift', 'virtualServers']) if (!Array.isArray(b[k])) return k;
  return undefined;
}

export function readyOf(s: NodeStatus): { ready: boolean; reason: string } {
  const c = s.conditions.find((x) => x.type === 'Ready');
  return { ready: c?.status === 'True', reason: c?.reason ?? 'Unknown' };
}

/** A commit's first 7 hex digits; anything else (a directory revision) kept readable but short. */
export function shortRevision(rev: string | null): string {
  if (rev === null) return '-';
  if (/^[0-9a-f]{40}$/i.test(rev)) return rev.slice(0, 7);
  return rev.length > 32 ? `…${rev.slice(-31)}` : rev;
}

const ESC = '\u001b';
const ANSI = { bold: `${ESC}[1m`, green: `${ESC}[32m`, red: `${ESC}[31m`, reset: `${ESC}[0m` };
const ANSI_CODE = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');

export function statusTable(answers: readonly NodeAnswer[], o: { color: boolean }): string[] {
  const paint = (text: string, ...codes: string[]) =>
    o.color ? `${codes.join('')}${text}${ANSI.reset}` : text;
  const header = ['NODE', 'READY', 'REVISION', 'REFUSED', 'INSTANCES', 'DRIFT', 'REAL SERVERS'];
  const rows: string[][] = answers.map((a) => {
    if (!a.ok) return [a.url, paint('unreachable', ANSI.red), a.error];
    const s = a.status;
    const r = readyOf(s);
    const refused = s.revision.refused;
    const rs = s.virtualServers.reduce(
      (acc, vs) => ({ up: acc.up + vs.realServersUp, total: acc.total + vs.realServersTotal }),
      { up: 0, total: 0 },
    );
    return [
      s.node,
      r.ready ? paint('yes', ANSI.green) : paint(`no: ${r.reason}`, ANSI.red),
      shortRevision(s.revision.applied),
      refused.length === 0 ? '-' : `${refused.length} (${shortRevision(refused[0]?.rev ?? null)})`,
      s.instances.length === 0
        ? '-'
        : s.instances
            .map((i) => {
              // MASTER and FAULT in capitals (and colour on a terminal): the eye finds them.
              if (i.state === 'Master') return `${i.name}=${paint('MASTER', ANSI.bold, ANSI.green)}`;
              if (i.state === 'Fault') return `${i.name}=${paint('FAULT', ANSI.bold, ANSI.red)}`;
              return `${i.name}=${i.state.toLowerCase()}`;
            })
            .join(' '),
      s.drift.length === 0 ? '0' : paint(String(s.drift.length), ANSI.red),
      rs.total === 0 ? '-' : `${rs.up}/${rs.total}`,
    ];
  });
  const visible = (t: string) => t.replace(ANSI_CODE, '').length;
  // The last cell of a row is not padded (an unreachable row's reason runs on).
  const widths = header.map((h, c) =>
    Math.max(visible(h), ...rows.filter((r) => c < r.length - 1).map((r) => visible(r[c] ?? ''))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell + ' '.repeat((widths[c] ?? 0) - visible(cell))))
      .join('  ');
  return [line(header), ...rows.map(line)];
}
