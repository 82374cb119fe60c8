import jsyaml from 'js-yaml';
import {
  Composer,
  type CST,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  visit,
  type YAMLError,
} from 'yaml';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { PathSeg, Position } from '../model/repository.ts';

// One YAML file of a desired-state repository, parsed into a plain value that remembers
// where each part was written. Pure: text and a file name in, value or diagnostics out.

export interface YamlDocument {
  file: string;
  /** The document as plain data (null for an empty file). */
  value: unknown;
  /** Position of the value at `path`, or of its nearest ancestor that exists. */
  locate(path: readonly PathSeg[]): Position;
  /** Position of the key written for the last segment of `path`; else as locate. */
  locateKey(path: readonly PathSeg[]): Position;
}

export interface YamlParseResult {
  /** Present when the file parsed without errors (warnings may still be listed). */
  doc?: YamlDocument;
  diagnostics: Diagnostic[];
}

// Hostile or broken input must end in a diagnostic, never a hang or a crash. The yaml
// package composes recursively, and V8 may abort the whole process (not throw) when a
// stack that deep runs into a regular expression, so nesting is measured on the parser's
// token tree, which is built without recursion, before composing. Its duplicate-key check
// compares every key with every other, so keys are checked here instead, in linear time.
export const YAML_LIMITS = {
  maxBytes: 2 * 1024 * 1024,
  maxDepth: 64,
  maxAliasCount: 100,
} as const;

const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`),
);

export function parseYamlDocument(text: string, file: string): YamlParseResult {
  // A NUL, or bytes that were not UTF-8 (read as U+FFFD), mean this is no YAML a person
  // wrote: say that rather than echo the bytes back.
  const binary = Math.min(
    ...[text.indexOf('\u0000'), text.indexOf('\uFFFD')].map((i) => (i < 0 ? Infinity : i)),
  );
  if (binary !== Infinity) {
    const line = text.slice(0, binary).split('\n').length;
    return {
      diagnostics: [
        error(
          file,
          { line, col: 1 },
          'not a UTF-8 text file (a NUL or a byte that is not UTF-8); keepgit reads YAML text',
        ),
      ],
    };
  }
  return fastParse(text, file) ?? parseFully(text, file);
}

// The yaml package keeps every position but reads about 1 MB/s here; js-yaml reads the
// same text some 20 times faster and keeps none. A large fleet is read on every
// revision and almost always valid, so valid plain documents take the fast road and
// positions are worked out only when something asks for one (a diagnostic). Anything
// unusual — anchors, aliases, tags, deep flow nesting, numbers with underscores (which
// the two libraries read differently), or any error — takes the careful road, so the
// diagnostics are the same either way.
const UNUSUAL = /(^|[\s[{,])[&*!]|\d_\d|^%|^\s*\?/m;

const DEEP_INDENT = new RegExp(`^[ -]{${YAML_LIMITS.maxDepth},}`, 'm');

function fastParse(text: string, file: string): YamlParseResult | undefined {
  if (
    Buffer.byteLength(text, 'utf8') > YAML_LIMITS.maxBytes ||
    UNUSUAL.test(text) ||
    flowDepth(text) > YAML_LIMITS.maxDepth
  )
    return undefined;
  let value: unknown;
  try {
    value = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
  // Block nesting needs a deeper indent (or a longer "- - -" run) per level, so a text
  // with no line starting with maxDepth of them cannot nest too deep outside [ and {.
  if (DEEP_INDENT.test(text) && valueDepth(value) > YAML_LIMITS.maxDepth) return undefined;
  let full: YamlDocument | undefined | null = null;
  const slow = (): YamlDocument | undefined => {
    if (full === null) full = parseFully(text, file).doc;
    return full;
  };
  return {
    doc: {
      file,
      value: value === undefined ? null : value,
      locate: (path) => slow()?.locate(path) ?? { line: 1, col: 1 },
      locateKey: (path) => slow()?.locateKey(path) ?? { line: 1, col: 1 },
    },
    diagnostics: [],
  };
}

/** Nesting depth of plain data, walked without recursion. */
function valueDepth(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 0]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, d] = next;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) max = d + 1;
    if (max > YAML_LIMITS.maxDepth) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Deepest nesting of [ and { outside quotes and comments, in one linear pass. */
function flowDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\n') quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else if (c === '[' || c === '{') max = Math.max(max, ++depth);
    else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return max;
}

function parseFully(text: string, file: string): YamlParseResult {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > YAML_LIMITS.maxBytes) {
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    return {
      diagnostics: [
        error(
          file,
          { line: 1, col: 1 },
          `file is ${mib(bytes)} MiB; keepgit reads at most ${mib(YAML_LIMITS.maxBytes)} MiB`,
        ),
      ],
    };
  }

  const lines = new LineCounter();
  const pos = (offset: number): Position => {
    const p = lines.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  const deep = tooDeepAt(tokens);
  if (deep !== undefined) {
    return {
      diagnostics: [
        error(
          file,
          pos(deep),
          `nested more than ${YAML_LIMITS.maxDepth} levels deep; keepgit documents are far shallower`,
        ),
      ],
    };
  }

  const composer = new Composer({
    version: '1.2',
    schema: 'core',
    // Checked below in linear time (see YAML_LIMITS).
    uniqueKeys: false,
    stringKeys: true,
    prettyErrors: false,
    logLevel: 'silent',
  });
  const docs = Array.from(composer.compose(tokens, true, text.length));
  const diagnostics: Diagnostic[] = [];
  // After the first error on a line the parser's view is off; later ones there are echoes.
  const linesWithError = new Set<number>();
  for (const d of docs) {
    for (const e of d.errors) {
      const at = pos(e.pos[0]);
      if (linesWithError.has(at.line)) continue;
      linesWithError.add(at.line);
      diagnostics.push(error(file, at, yamlMessage(e)));
    }
    for (const w of d.warnings) {
      // Reported by checkNodes with a clearer message.
      if (w.code === 'TAG_RESOLVE_FAILED') continue;
      diagnostics.push({ ...error(file, pos(w.pos[0]), yamlMessage(w)), severity: 'warn' });
    }
  }
  const [doc, second] = docs;
  if (second !== undefined) {
    diagnostics.push(
      error(
        file,
        pos(second.range[0]),
        'a second YAML document starts here; a keepgit file holds exactly one document (remove the "---" or move it to a file of its own)',
      ),
    );
  }
  if (doc === undefined) return { diagnostics: [error(file, { line: 1, col: 1 }, 'no YAML document')] };
  diagnostics.push(...checkNodes(doc, file, pos));
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount });
  } catch (e) {
    const first = firstAlias(doc);
    const at = first === undefined ? { line: 1, col: 1 } : pos(first);
    const msg =
      e instanceof Error && /alias count/i.test(e.message)
        ? `aliases expand to too many copies (more than ${YAML_LIMITS.maxAliasCount}); write the values out instead`
        : `cannot read this document: ${e instanceof Error ? e.message : String(e)}`;
    return { diagnostics: [...diagnostics, error(file, at, msg)] };
  }

  return {
    doc: {
      file,
      value,
      locate: (path) => locateIn(doc, path, false, pos),
      locateKey: (path) => locateIn(doc, path, true, pos),
    },
    diagnostics,
  };
}

function error(file: string, at: Position, message: string): Diagnostic {
  return { severity: 'error', file, line: at.line, col: at.col, message };
}

/** Offset of the first collection nested deeper than the limit, walking without recursion. */
function tooDeepAt(tokens: readonly CST.Token[]): number | undefined {
  const stack: { token: CST.Token; depth: number }[] = tokens.map((token) => ({ token, depth: 0 }));
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { token, depth } = next;
    if (token.type === 'document') {
      if (token.value) stack.push({ token: token.value, depth });
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection')
      continue;
    if (depth + 1 > YAML_LIMITS.maxDepth) return token.offset;
    for (const item of token.items) {
      if (item.key) stack.push({ token: item.key, depth: depth + 1 });
      if (item.value) stack.push({ token: item.value, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * The yaml package's message, shortened, with any quoted source text left out: the
 * offending line may hold a value that must not be printed (a password pasted by mistake).
 */
function yamlMessage(e: YAMLError): string {
  switch (e.code) {
    case 'TAB_AS_INDENT':
      return 'tab used for indentation; indent with spaces';
    case 'BLOCK_AS_IMPLICIT_KEY':
      return 'a "key: value" cannot follow another key on the same line; put it on its own indented line, or quote the value if it contains ": "';
    case 'NON_STRING_KEY':
      return 'a key must be plain text, not a list or a map';
    case 'RESOURCE_EXHAUSTION':
      return 'document too large or nested too deeply';
    case 'KEY_OVER_1024_CHARS':
      return 'key longer than 1024 characters';
    case 'MULTIPLE_ANCHORS':
      return 'more than one anchor (&name) on one value';
    case 'MULTIPLE_TAGS':
      return 'more than one tag (!tag) on one value';
    case 'DUPLICATE_KEY':
      return 'duplicate key';
    default: {
      const text = e.message
        .replace(/:\s*(["'`]).*$/s, '')
        .replace(/ in YAML stream$/, '')
        .replace(/\.$/, '')
        .replace(/\b[a-z]+(?:-[a-z]+)+\b/g, (t) => TOKEN_NAMES[t] ?? t);
      return text.charAt(0).toLowerCase() + text.slice(1);
    }
  }
}

const TOKEN_NAMES: Record<string, string> = {
  'map-value-ind': '":"',
  'seq-item-ind': '"-"',
  'explicit-key-ind': '"?"',
  'flow-map-start': '"{"',
  'flow-map-end': '"}"',
  'flow-seq-start': '"["',
  'flow-seq-end': '"]"',
  'flow-error-end': 'end of a flow collection',
  'block-scalar-header': 'block scalar header',
  'doc-start': '"---"',
  'doc-end': '"..."',
};

/** Keys given twice in one map, tags outside YAML's core schema, aliases with no anchor. */
function checkNodes(doc: Document.Parsed, file: string, pos: (offset: number) => Position): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (node: { range?: readonly number[] | null | undefined }): Position => pos(node.range?.[0] ?? 0);
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, Position>();
      for (const pair of map.items) {
        const k = keyText(doc, pair.key);
        if (k === undefined || (!isScalar(pair.key) && !isAlias(pair.key))) continue;
        const here = at(pair.key);
        const first = seen.get(k);
        if (first === undefined) seen.set(k, here);
        else out.push(error(file, here, `duplicate key "${k}" (first given on line ${first.line})`));
      }
    },
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        out.push(error(file, at(alias), `alias *${alias.source} has no anchor &${alias.source} before it`));
      }
    },
    Node(_, node) {
      if (node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
        const shown = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
        out.push(error(file, at(node), `tag ${shown} is not supported; write plain YAML values`));
      }
    },
  });
  return out;
}

function keyText(doc: Document.Parsed, key: unknown): string | undefined {
  const k = isAlias(key) ? key.resolve(doc) : key;
  return isScalar(k) ? String(k.value) : undefined;
}

function firstAlias(doc: Document.Parsed): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Alias(_, alias) {
      found = alias.range?.[0];
      return visit.BREAK;
    },
  });
  return found;
}

function locateIn(
  doc: Document.Parsed,
  path: readonly PathSeg[],
  wantKey: boolean,
  pos: (offset: number) => Position,
): Position {
  let node: unknown = doc.contents;
  let best: Position = { line: 1, col: 1 };
  const start = (n: unknown): number | undefined =>
    n !== null && typeof n === 'object' && 'range' in n && Array.isArray(n.range)
      ? (n.range[0] as number)
      : undefined;
  const root = start(node);
  if (root !== undefined) best = pos(root);
  for (const [i, seg] of path.entries()) {
    const last = i === path.length - 1;
    const here = isAlias(node) ? node.resolve(doc) : node;
    if (isMap(here)) {
      const pair = here.items.find((p) => keyText(doc, p.key) === String(seg));
      if (pair === undefined) return best;
      const keyAt = start(pair.key);
      node = pair.value;
      // An empty value ("key:") has no text of its own: point at its key.
      const valueAt = start(node);
      const empty = isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1];
      const at = (last && wantKey) || valueAt === undefined || empty ? keyAt : valueAt;
      if (at !== undefined) best = pos(at);
    } else if (isSeq(here) && typeof seg === 'number') {
      node = here.items[seg];
      const at = start(node);
      if (at === undefined) return best;
      best = pos(at);
    } else {
      return best;
    }
  }
  return best;
}
