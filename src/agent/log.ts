import type { Log, LogEntry, LogLevel } from '../vrrp/instance-log.ts';

// The agent's one log writer: every event is one line, JSON for machines (journald,
// Loki, jq) or a short human line for someone watching a terminal. The writer adds the
// timestamp so that events from every part of the agent share one clock.

export type LogFormat = 'json' | 'text';

export interface LoggerOptions {
  format: LogFormat;
  write: (line: string) => void;
  /** Wall time for `ts` (default Date.now). */
  now?: () => number;
  /** Lines below this level are left out (default info). */
  level?: LogLevel;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function createLogger(o: LoggerOptions): Log {
  const now = o.now ?? Date.now;
  const min = RANK[o.level ?? 'info'];
  return (entry) => {
    if (RANK[entry.level] < min) return;
    const ts = new Date(now()).toISOString();
    o.write(o.format === 'json' ? jsonLine(ts, entry) : textLine(ts, entry));
  };
}

function jsonLine(ts: string, entry: LogEntry): string {
  // The fixed fields first, in one order: a person scanning raw lines reads them that way.
  const { level, event, instance, from, to, reason, ...rest } = entry;
  const out: Record<string, unknown> = { ts, level, event, instance, from, to, reason };
  for (const [k, v] of Object.entries(rest)) out[k] = v;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return JSON.stringify(out);
}

function textLine(ts: string, entry: LogEntry): string {
  const { level, event, instance, from, to, reason, message, ...rest } = entry;
  const parts = [ts, level.toUpperCase().padEnd(5)];
  if (instance !== undefined) parts.push(`[${instance}]`);
  parts.push(from !== undefined && to !== undefined ? `${event} ${from} -> ${to}` : event);
  if (reason !== undefined) parts.push(`(${reason})`);
  for (const [k, v] of Object.entries(rest))
    if (v !== undefined) parts.push(`${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  const line = parts.join(' ');
  return message === undefined ? line : `${line}: ${message}`;
}
