import { formatDuration } from '../model/duration.ts';
import type { FieldChange } from './plan-types.ts';

// Turns a view object into "field → value as a person would write it", so a diff reads
// like the YAML it came from: the view keeps durations as milliseconds in fields named
// "…Ms", which print back as "1s" under the name without the suffix.

type Values = Map<string, string>;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const fieldName = (key: string, value: unknown): string =>
  key.endsWith('Ms') && typeof value === 'number' ? key.slice(0, -2) : key;

function scalar(key: string, value: unknown): string {
  if (key.endsWith('Ms') && typeof value === 'number') return formatDuration(value);
  return String(value);
}

/** One value on one line: `chk_haproxy (weight -20)` or `{ path: /health, statusCode: 200 }`. */
export function inline(value: unknown, key = ''): string {
  if (Array.isArray(value)) return value.map((v) => inline(v)).join(', ');
  if (!isRecord(value)) return scalar(key, value);
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && v !== null);
  const named = typeof value.name === 'string';
  const rest = entries
    .filter(([k]) => !(named && k === 'name'))
    .map(
      ([k, v]) => `${fieldName(k, v)}: ${isRecord(v) || Array.isArray(v) ? `[${inline(v)}]` : scalar(k, v)}`,
    );
  if (named) return rest.length === 0 ? String(value.name) : `${String(value.name)} (${rest.join(', ')})`;
  return `{ ${rest.join(', ')} }`;
}

/** Flatten an object to dotted field names; unset fields and empty lists are left out. */
export function fieldValues(obj: Record<string, unknown>, prefix = '', out: Values = new Map()): Values {
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined || value === null) continue;
    const name = prefix + fieldName(key, value);
    if (Array.isArray(value)) {
      if (value.length > 0) out.set(name, inline(value));
    } else if (isRecord(value)) {
      fieldValues(value, `${name}.`, out);
    } else {
      out.set(name, scalar(key, value));
    }
  }
  return out;
}

/** Field-by-field differences, in the order the fields first appear. */
export function diffValues(before: Values, after: Values): FieldChange[] {
  const names = [...new Set([...before.keys(), ...after.keys()])];
  const changes: FieldChange[] = [];
  for (const field of names) {
    const from = before.get(field) ?? null;
    const to = after.get(field) ?? null;
    if (from !== to) changes.push({ field, from, to });
  }
  return changes;
}

/** The fields of something added (or removed), for a reviewer to see what it is. */
export function listValues(
  values: Values,
  side: 'added' | 'removed',
  only?: readonly string[],
): FieldChange[] {
  const names = only ? only.filter((n) => values.has(n)) : [...values.keys()];
  return names.map((field) => {
    const v = values.get(field) ?? null;
    return side === 'added' ? { field, from: null, to: v } : { field, from: v, to: null };
  });
}
