import { z } from 'zod';
import { describe } from '../model/common-schema.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { PathSeg, Position } from '../model/repository.ts';
import { suggestion } from './did-you-mean.ts';
import { displayPath } from './display-path.ts';

// Schema errors as a person should read them: one per problem, at the line and column it
// was written, with the field path by name. The schemas word most of their own messages;
// zod's built-in ones are replaced here. A value under a key that names a password,
// secret or token is never repeated back.

/** What a schema check needs to know about the document it checks. */
export interface SchemaSource {
  file: string;
  value: unknown;
  locate(path: readonly PathSeg[]): Position;
  locateKey(path: readonly PathSeg[]): Position;
}

type Issue = z.core.$ZodIssue;

// The per-parse error map ranks below every message a schema sets itself, so an issue that
// comes back with this text is one zod would have worded: ours to word instead.
const BUILTIN = '\u0000builtin';

/** Parse options that keep the input on each issue and mark zod's own messages. */
export const schemaParseParams = { reportInput: true, error: () => BUILTIN } as const;

export function checkSchema<S extends z.ZodType>(
  schema: S,
  src: SchemaSource,
): { data?: z.output<S>; diagnostics: Diagnostic[] } {
  const result = schema.safeParse(src.value, schemaParseParams);
  if (result.success) return { data: result.data, diagnostics: [] };
  return { diagnostics: issuesToDiagnostics(result.error.issues, schema, src) };
}

export function issuesToDiagnostics(
  issues: readonly Issue[],
  schema: z.ZodType,
  src: SchemaSource,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    for (const flat of flatten(issue, [])) {
      for (const d of toDiagnostics(flat, schema, src)) {
        // Union branches can repeat a finding; say it once.
        const key = `${d.line}:${d.col}:${d.path}:${d.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(d);
      }
    }
  }
  return out;
}

interface Flat {
  issue: Issue;
  path: PathSeg[];
}

const seg = (k: PropertyKey): PathSeg => (typeof k === 'number' ? k : String(k));

/** Nested issues (union branches, record keys) brought to the top with full paths. */
function flatten(issue: Issue, prefix: readonly PathSeg[]): Flat[] {
  const path = [...prefix, ...issue.path.map(seg)];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const branch = closestBranch(issue.errors, issue.message !== BUILTIN);
    if (branch !== undefined) return branch.flatMap((i) => flatten(i, path));
    return [{ issue: { code: 'custom', path: [], input: issue.input, message: unionMessage(issue) }, path }];
  }
  if (issue.code === 'invalid_key' || issue.code === 'invalid_element') {
    return issue.issues.flatMap((i) => flatten(i, path));
  }
  return [{ issue, path }];
}

/** A branch that refused the value outright (wrong type, or not its literal) was not meant. */
const rejectsShape = (i: Issue): boolean =>
  i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value');

/**
 * The union branch the writer most likely meant: not one that rejected the value's very
 * shape, then the one with the fewest complaints. Undefined when no branch fits the shape,
 * or when two fit equally well and the union has a message of its own to say instead.
 */
function closestBranch(branches: readonly Issue[][], unionHasMessage: boolean): Issue[] | undefined {
  const fits = branches.filter((b) => !b.some(rejectsShape));
  if (fits.length === 0) return undefined;
  const sorted = [...fits].sort((a, b) => a.length - b.length);
  const [best, next] = sorted;
  if (unionHasMessage && next !== undefined && best !== undefined && next.length === best.length)
    return undefined;
  return best;
}

function unionMessage(issue: Issue & { code: 'invalid_union' }): string {
  if (issue.message !== BUILTIN) return issue.message;
  const roots = issue.errors.flatMap((b) => b.filter((i) => i.path.length === 0));
  const worded = roots.find((i) => i.message !== BUILTIN);
  if (worded !== undefined) return worded.message;
  const expected = [
    ...new Set(
      roots.flatMap((i) =>
        i.code === 'invalid_type'
          ? [typeName(i.expected)]
          : i.code === 'invalid_value'
            ? i.values.map(literal)
            : [],
      ),
    ),
  ];
  return `expected ${expected.join(' or ') || 'another form'}, got ${brief(issue.input)}`;
}

function toDiagnostics({ issue, path }: Flat, schema: z.ZodType, src: SchemaSource): Diagnostic[] {
  const at = (p: readonly PathSeg[], pos: Position, message: string): Diagnostic => {
    const d: Diagnostic = { severity: 'error', file: src.file, line: pos.line, col: pos.col, message };
    const shown = displayPath(src.value, p);
    if (shown !== '') d.path = shown;
    return d;
  };
  const secret = isSecretPath(path);

  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(schema, src.value, path) ?? [];
    return issue.keys.map((key) => at(path, src.locateKey([...path, key]), unknownField(key, allowed)));
  }

  const parent = path.slice(0, -1);
  const field = String(path[path.length - 1]);
  const container = valueAt(src.value, parent);
  if (
    issue.input === undefined &&
    path.length > 0 &&
    isRecord(container) &&
    !Object.hasOwn(container, field)
  ) {
    const said = issue.message === BUILTIN ? builtinMessage(issue) : issue.message;
    const want = said.replace(/,? got nothing$/, '');
    return [at(parent, src.locate(parent), `missing field "${field}" (${want})`)];
  }

  const worded = issue.message === BUILTIN ? builtinMessage(issue) : issue.message;
  return [at(path, src.locate(path), secret ? redact(worded, issue.input) : worded)];
}

function unknownField(key: string, allowed: readonly string[]): string {
  if (key === '<<') return 'YAML merge keys (<<) are not supported; write the fields out';
  const hint = suggestion(key, allowed);
  if (hint !== '') return `unknown field "${key}"${hint}`;
  if (allowed.length > 0 && allowed.length <= 8)
    return `unknown field "${key}" (expected one of: ${allowed.join(', ')})`;
  return `unknown field "${key}"`;
}

const SECRET_KEY = /password|secret|token/i;

export function isSecretPath(path: readonly PathSeg[]): boolean {
  return path.some((s) => typeof s === 'string' && SECRET_KEY.test(s));
}

/** The message without the offending value: only what kind of value it was. */
function redact(message: string, input: unknown): string {
  let m = message.replace(/,? got [\s\S]*$/, '');
  if (typeof input === 'string' && input !== '') m = m.split(input).join('***');
  const scalar = input !== null && typeof input !== 'object' && input !== undefined;
  return `${m}, got ${kindOf(input)}${scalar ? ' (not shown: the field holds a secret)' : ''}`;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return 'text';
  return `a ${typeof v}`;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
    case 'map':
      return 'a map';
    case 'array':
    case 'tuple':
    case 'set':
      return 'a list';
    case 'string':
      return 'text';
    case 'number':
    case 'bigint':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    default:
      return 'a value';
  }
}

/** describe(), with a long text cut short: a message is one line a person reads. */
const brief = (v: unknown): string =>
  typeof v === 'string' && v.length > 60 ? describe(`${v.slice(0, 57)}...`) : describe(v);

const literal = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function builtinMessage(issue: Issue): string {
  const got = `got ${brief(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${typeName(issue.expected)}, ${got}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${literal(issue.values[0])}, ${got}`
        : `expected one of ${issue.values.map(literal).join(', ')}, ${got}`;
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = small ? issue.minimum : issue.maximum;
      const word = small ? 'at least' : 'at most';
      if (issue.origin === 'string')
        return `expected ${word} ${bound} character${bound === 1 ? '' : 's'}, ${got}`;
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `expected ${word} ${bound} item${bound === 1 ? '' : 's'}, got ${Array.isArray(issue.input) ? issue.input.length : brief(issue.input)}`;
      }
      const strict = issue.inclusive === false ? (small ? 'more than' : 'less than') : word;
      return `expected ${strict} ${bound}, ${got}`;
    }
    case 'invalid_format':
      if (issue.format === 'regex' && issue.pattern) return `expected text matching ${issue.pattern}, ${got}`;
      if (issue.format === 'starts_with' && 'prefix' in issue)
        return `expected text starting with ${literal(issue.prefix)}, ${got}`;
      if (issue.format === 'ends_with' && 'suffix' in issue)
        return `expected text ending with ${literal(issue.suffix)}, ${got}`;
      return `expected a valid ${issue.format}, ${got}`;
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}, ${got}`;
    case 'invalid_union':
      return `matches more than one form; ${got}`;
    default:
      return `invalid value, ${got}`;
  }
}

/** Field names an object schema allows at `path`, found by walking the schema beside the value. */
export function allowedKeys(
  schema: z.core.$ZodType,
  value: unknown,
  path: readonly PathSeg[],
): string[] | undefined {
  const s = unwrap(schema);
  if (s instanceof z.ZodUnion) {
    const here = valueAt(value, path);
    const disc = s instanceof z.ZodDiscriminatedUnion ? s.def.discriminator : undefined;
    let best: { keys: string[]; score: number } | undefined;
    for (const option of s.options) {
      const keys = allowedKeys(option, value, path);
      if (keys === undefined) continue;
      let score = isRecord(here) ? Object.keys(here).filter((k) => keys.includes(k)).length : 0;
      const o = unwrap(option);
      if (disc !== undefined && isRecord(here) && o instanceof z.ZodObject) {
        const tags = o._zod.propValues?.[disc];
        if (tags && [...tags].some((t) => t === here[disc])) score += 1000;
      }
      if (best === undefined || score > best.score) best = { keys, score };
    }
    return best?.keys;
  }
  const [head, ...rest] = path;
  if (s instanceof z.ZodObject) {
    if (head === undefined) return Object.keys(s.shape);
    const field = (s.shape as Record<string, z.core.$ZodType | undefined>)[String(head)];
    return field === undefined
      ? undefined
      : allowedKeys(field, isRecord(value) ? value[String(head)] : undefined, rest);
  }
  if (head === undefined) return undefined;
  if (s instanceof z.ZodArray) {
    return allowedKeys(s.element, Array.isArray(value) ? value[Number(head)] : undefined, rest);
  }
  if (s instanceof z.ZodRecord) {
    return allowedKeys(s.valueType, isRecord(value) ? value[String(head)] : undefined, rest);
  }
  return undefined;
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let s = schema;
  // Wrappers nest only a few deep; the bound keeps a self-referencing lazy schema finite.
  for (let i = 0; i < 32; i++) {
    if (
      s instanceof z.ZodOptional ||
      s instanceof z.ZodNullable ||
      s instanceof z.ZodDefault ||
      s instanceof z.ZodPrefault ||
      s instanceof z.ZodNonOptional ||
      s instanceof z.ZodReadonly ||
      s instanceof z.ZodCatch ||
      s instanceof z.ZodLazy
    ) {
      s = s.unwrap();
    } else if (s instanceof z.ZodPipe) {
      s = s.in;
    } else {
      return s;
    }
  }
  return s;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function valueAt(value: unknown, path: readonly PathSeg[]): unknown {
  let v = value;
  for (const s of path) {
    if (Array.isArray(v) && typeof s === 'number') v = v[s];
    else if (isRecord(v)) v = v[String(s)];
    else return undefined;
  }
  return v;
}
