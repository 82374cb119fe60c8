import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { ipFamily, parseCidr } from './ip.ts';

// Building blocks of the desired-state schema. Every message says what is expected,
// because the loader prints it beside file:line:column for a person to fix.

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export const intRange = (min: number, max: number) =>
  z
    .number({ error: (i) => `expected a whole number ${min}..${max}, got ${describe(i.input)}` })
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, {
      error: (i) => `expected ${min}..${max}, got ${show(i.input)}`,
      abort: true,
    })
    .meta({ minimum: min, maximum: max });

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${show(v)}`;
}

export const duration = z
  .string({ error: (i) => `expected a duration such as "1s", "250ms" or "3h", got ${describe(i.input)}` })
  .refine((s) => parseDuration(s) !== undefined, {
    error: (i) => `expected a duration such as "1s", "250ms" or "3h", got ${show(i.input)}`,
  })
  .meta({ format: 'duration' });

export const ipAddress = z
  .string({ error: (i) => `expected an IP address, got ${describe(i.input)}` })
  .refine((s) => ipFamily(s) !== undefined, { error: (i) => `expected an IP address, got ${show(i.input)}` })
  .meta({ format: 'ip' });

export const cidr = z
  .string({ error: (i) => `expected an address such as 192.0.2.10/24, got ${describe(i.input)}` })
  .refine((s) => parseCidr(s) !== undefined, {
    error: (i) => `expected an IP address with an optional /prefix, got ${show(i.input)}`,
  })
  .meta({ format: 'ip[/prefix]' });

export const name = z
  .string({ error: (i) => `expected a name, got ${describe(i.input)}` })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$/, {
    error: (i) =>
      `expected a name of letters, digits, '_', '.', ':' or '-' (at most 63), got ${show(i.input)}`,
  });

export const port = intRange(0, 65535);

/** A command line: a path to an executable and its arguments, as keepalived takes it. */
export const script = z
  .string({ error: (i) => `expected a command line (a path and arguments), got ${describe(i.input)}` })
  .min(1, { error: 'expected a command line, got an empty string' });

export const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, {
    error: (i) => `expected one of ${values.join(', ')}, got ${describe(i.input)}`,
  });

/** A secret is referenced, never written: from the agent's environment or a file on the node. */
export const secretRef = z.union(
  [
    z.strictObject({
      env: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
        .describe('environment variable name'),
    }),
    z.strictObject({ file: z.string().min(1).describe('path of a file on the node') }),
  ],
  { error: 'expected { env: NAME } or { file: /path/on/node }' },
);

export const bool = z.boolean({ error: (i) => `expected true or false, got ${describe(i.input)}` });

export const metadata = z.strictObject({
  name,
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const API_VERSION = 'keepgit/v1';
export const apiVersion = z.literal(API_VERSION, {
  error: (i) => `expected "${API_VERSION}", got ${describe(i.input)}`,
});
