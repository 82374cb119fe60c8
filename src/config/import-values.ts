import { secondsToDuration } from '../model/duration.ts';
import { canonicalIp, ipFamily } from '../model/ip.ts';
import { note, type Sink, unsupported } from './import-types.ts';
import type { KaStatement } from './keepalived-ast.ts';

// Readers for the arguments of one keepalived statement. Each returns the value in the
// model's form, or undefined after reporting what was expected: a bad value is left out
// of the model and named, never guessed at and never a crash.

const show = (s: string): string => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** Reports arguments past `used` that nothing reads, and a { block } unless it is the point. */
export function expectArgs(stmt: KaStatement, sink: Sink, used: number, blockOk = false): void {
  if (stmt.args.length > used) {
    const extra = stmt.args.slice(used);
    const words = extra.length === 1 ? 'argument' : 'arguments';
    unsupported(sink, stmt, `unexpected ${words} ${extra.map(show).join(' ')} ignored`);
  }
  if (stmt.block && !blockOk) unsupported(sink, stmt, 'unexpected { block } ignored');
}

export function arg(stmt: KaStatement, sink: Sink, i: number, expected: string): string | undefined {
  const v = stmt.args[i];
  if (v === undefined || v === '') {
    unsupported(sink, stmt, `expected ${expected}, got nothing`);
    return undefined;
  }
  return v;
}

export function readInt(stmt: KaStatement, sink: Sink, min: number, max: number, i = 0): number | undefined {
  const expected = `a whole number ${min}..${max}`;
  const v = arg(stmt, sink, i, expected);
  if (v === undefined) return undefined;
  const n = /^[+-]?\d{1,15}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    unsupported(sink, stmt, `expected ${expected}, got ${show(v)}`);
    return undefined;
  }
  return n;
}

/** keepalived's timers are seconds, fractions allowed; the model writes durations ("1s", "100ms"). */
export function readSeconds(stmt: KaStatement, sink: Sink, maxSeconds = 10 ** 7, i = 0): string | undefined {
  const expected = 'seconds, such as 1 or 0.5';
  const v = arg(stmt, sink, i, expected);
  if (v === undefined) return undefined;
  if (!/^(\d{1,12}(\.\d{1,6})?|\.\d{1,6})$/.test(v) || Number(v) > maxSeconds) {
    unsupported(sink, stmt, `expected ${expected} (at most ${maxSeconds}), got ${show(v)}`);
    return undefined;
  }
  return secondsToDuration(Number(v));
}

const TRUE = new Set(['true', 'on', 'yes']);
const FALSE = new Set(['false', 'off', 'no']);

/** A flag with an optional <BOOL>: bare means true, as in keepalived. */
export function readBool(stmt: KaStatement, sink: Sink, i = 0): boolean | undefined {
  const v = stmt.args[i];
  if (v === undefined) return true;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  unsupported(sink, stmt, `expected true/false, on/off or yes/no, got ${show(v)}`);
  return undefined;
}

export function readIp(stmt: KaStatement, sink: Sink, i = 0): string | undefined {
  const v = arg(stmt, sink, i, 'an IP address');
  if (v === undefined) return undefined;
  if (ipFamily(v) === undefined) {
    unsupported(sink, stmt, `expected an IP address, got ${show(v)}`);
    return undefined;
  }
  return canonicalIp(v);
}

/** One of a fixed set of words, case-insensitive as keepalived compares most of them. */
export function readChoice<T>(
  stmt: KaStatement,
  sink: Sink,
  choices: Record<string, T>,
  i = 0,
): T | undefined {
  const names = Object.keys(choices);
  const expected = `one of ${names.join(', ')}`;
  const v = arg(stmt, sink, i, expected);
  if (v === undefined) return undefined;
  const key = names.find((k) => k.toLowerCase() === v.toLowerCase());
  if (key === undefined) {
    unsupported(sink, stmt, `expected ${expected}, got ${show(v)}`);
    return undefined;
  }
  return choices[key];
}

/**
 * A script as keepalived takes it: the first word (a quoted command line, or a path) is
 * the command; words after it name the user[:group] to run it as.
 */
export function readScript(stmt: KaStatement, sink: Sink): { script: string; user?: string } | undefined {
  const script = arg(stmt, sink, 0, 'a script path or a "quoted command line"');
  if (script === undefined) return undefined;
  if (stmt.block) unsupported(sink, stmt, 'unexpected { block } ignored');
  const rest = stmt.args.slice(1);
  return rest.length === 0 ? { script } : { script, user: rest.join('') };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/;

/** A keepalived name made valid for the model's name rule (letters, digits, _ . : -). */
export function modelName(raw: string): string {
  if (NAME.test(raw)) return raw;
  let s = raw.replace(/[^A-Za-z0-9_.:-]+/g, '-');
  if (!/^[A-Za-z0-9]/.test(s)) s = `x${s}`;
  return s.slice(0, 63);
}

export const isModelName = (s: string): boolean => NAME.test(s);

/** Equality of model values, as they would be written. */
export function sameValue(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}

export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

/** The first path at which two model values differ, for a reason a person can act on. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (sameValue(a, b)) return undefined;
  const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object';
  if (!bothObjects || Array.isArray(a) !== Array.isArray(b)) return path || '(the whole value)';
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return `${path || 'list'} (length)`;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
    const d = firstDifference(x[k], y[k], path ? `${path}.${k}` : k);
    if (d !== undefined) return d;
  }
  return path || '(the whole value)';
}

/** The name a block is opened with ("vrrp_instance VI_1 {"), made to fit the model's name rule. */
export function blockName(stmt: KaStatement, sink: Sink, keyword: string): string | undefined {
  const raw = arg(stmt, sink, 0, `a ${keyword} name`);
  if (raw === undefined) return undefined;
  expectArgs(stmt, sink, 1, true);
  const name = modelName(raw);
  if (name !== raw) note(sink, stmt.pos, `${keyword} "${raw}" is named "${name}" (the model's name rule)`);
  return name;
}
