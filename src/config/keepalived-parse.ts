// keepalived.conf syntax: `keyword arg...` lines, `{ }` blocks, comments, includes,
// $parameters and @conditional lines, read the way keepalived's own reader (lib/parser.c)
// reads them, so a file keepalived accepts gives the same statements here. What a pure
// parser cannot reproduce, and what it does instead:
//  - `@id line` / `@^id line` depend on keepalived's config id (its -i option, else the host
//    name). Without options.configId every such line is dropped with a notice; with it,
//    keepalived's rule decides, silently.
//  - `$NAME=value` and multiline `$NAME= \` definitions are expanded where used, as
//    keepalived does (recursively, at use time); each definition is also reported as a
//    notice, because an import keeps the expansion and loses the template.
//  - ${_PWD}, ${_INSTANCE}, ${_RANDOM}, ${_ENV X} depend on the running daemon: they stay
//    as written, with a notice. ${_HASH} and ${_BANG} become a literal `#` and `!`.
//  - `~SEQ(...)` / `~LST(...)` lines are not expanded: dropped with a notice.
//  - An included file must balance its own braces. keepalived splices raw lines, so a
//    block could open in one file and close in another; refusing that keeps every
//    position in the file that holds it.
//  - Only double quotes group words, as in keepalived's general tokenizer. Single quotes
//    stay in the text: keepalived re-splits script command lines with them itself.
//  - An unsubstituted ${NAME} stays one word (keepalived would split it at its braces).
//  - A backslash keeps the next character literal and stays in the word, except that
//    `\#` and `\!` outside quotes give a bare `#` / `!` (keepalived's comment escape).

import type { KaIncludeResolver, KaNotice, KaParseResult, KaPos, KaStatement } from './keepalived-ast.ts';

export interface KaParseOptions {
  /** keepalived's config id (`keepalived -i`, default the short host name) for @id lines. */
  configId?: string;
}

const MAX_FILE_BYTES = 16 * 1024 * 1024;
// Diamond includes multiply text without any cycle; these caps keep the work bounded.
const MAX_TOTAL_CHARS = 64 * 1024 * 1024;
const MAX_INCLUDED_FILES = 10_000;
const MAX_INCLUDE_DEPTH = 10;
// The largest real configurations hold tens of thousands of statements; each costs a few
// hundred bytes of heap, so this bounds memory well before the process would run out.
const MAX_STATEMENTS = 2_000_000;
// A generated file can repeat one notice a million times; a person reads the first ones.
const MAX_NOTICES = 1000;
// keepalived itself refuses lines over 1 KiB after substitution; we are more lenient but
// a self-referencing parameter must still end in an error, not a hang.
const MAX_SUBSTITUTED_LINE = 64 * 1024;
// Substitution work (characters copied, plus a fixed cost per step) may grow with the
// input but stays linear in it.
const SUBSTITUTION_WORK_BASE = 64 * 1024 * 1024;
const SUBSTITUTION_WORK_PER_CHAR = 64;
const SUBSTITUTION_COST = 256;

interface Failure {
  error: { pos: KaPos; message: string };
}

interface ParamDef {
  lines: string[];
  multiline: boolean;
}

interface Ctx {
  include: KaIncludeResolver | undefined;
  configId: string | undefined;
  defs: Map<string, ParamDef>;
  notices: KaNotice[];
  /** Files being parsed, outermost first: an include of one of them is a cycle. */
  chain: string[];
  totalChars: number;
  files: number;
  statements: number;
  /** Notices not recorded past MAX_NOTICES, and where the first of them was. */
  droppedNotices: number;
  firstDropped: KaPos | undefined;
  work: number;
}

interface Frame {
  stmts: KaStatement[];
  opener: KaStatement | undefined;
  line: number;
}

/** Lines queued by a multiline parameter, all attributed to the line that used it. */
interface Expansion {
  lines: string[];
  next: number;
  line: number;
}

interface FileState {
  file: string;
  ctx: Ctx;
  stack: Frame[];
  /** The statement a following `{` belongs to; cleared by anything a block cannot follow. */
  last: KaStatement | undefined;
  collecting: ParamDef | undefined;
  pending: Expansion[];
  /** Line of a dropped @id line that held a brace: the likely cause of a brace error. */
  droppedBraceLine: number | undefined;
  /** Where the word readWord returned ends: spares an allocation per word. */
  wordEnd: number;
}

export function parseKeepalivedConf(
  text: string,
  file: string,
  include?: KaIncludeResolver,
  options?: KaParseOptions,
): KaParseResult {
  const ctx: Ctx = {
    include,
    configId: options?.configId,
    defs: new Map(),
    notices: [],
    chain: [file],
    totalChars: 0,
    files: 1,
    statements: 0,
    droppedNotices: 0,
    firstDropped: undefined,
    work: 0,
  };
  try {
    const r = parseFile(text, file, ctx);
    if (!Array.isArray(r)) return { ok: false, error: r.error };
    if (ctx.firstDropped) {
      const message = `${ctx.droppedNotices} more notices like the ones above are not listed`;
      ctx.notices.push({ pos: ctx.firstDropped, message });
    }
    return { ok: true, statements: r, notices: ctx.notices };
  } catch (e) {
    // Only a bug gets here; a caller still gets a value, never a stack trace.
    const message = `internal parser error: ${e instanceof Error ? e.message : String(e)}`;
    return { ok: false, error: { pos: { file, line: 1 }, message } };
  }
}

const fail = (file: string, line: number, message: string): Failure => ({
  error: { pos: { file, line }, message },
});

function parseFile(text: string, file: string, ctx: Ctx): KaStatement[] | Failure {
  const bad = checkText(text, file);
  if (bad) return bad;
  ctx.totalChars += text.length;
  if (ctx.totalChars > MAX_TOTAL_CHARS) {
    return fail(file, 1, 'the configuration with its includes exceeds 64 MiB of text');
  }
  // Lines are cut one at a time rather than split() up front: short-lived strings keep
  // the garbage collector out of the way on large files.
  let at = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const root: KaStatement[] = [];
  const st: FileState = {
    file,
    ctx,
    stack: [{ stmts: root, opener: undefined, line: 0 }],
    last: undefined,
    collecting: undefined,
    pending: [],
    droppedBraceLine: undefined,
    wordEnd: 0,
  };
  let n = 0;
  for (;;) {
    let raw: string;
    let line: number;
    let fromFile = false;
    const top = st.pending[st.pending.length - 1];
    if (top) {
      if (top.next >= top.lines.length) {
        st.pending.pop();
        continue;
      }
      raw = top.lines[top.next++] as string;
      line = top.line;
      ctx.work += raw.length + SUBSTITUTION_COST;
      if (overBudget(ctx)) return runawaySubstitution(file, line);
    } else if (at <= text.length) {
      let eol = text.indexOf('\n', at);
      if (eol === -1) eol = text.length;
      raw = stripCr(text.slice(at, eol));
      at = eol + 1;
      line = ++n;
      fromFile = true;
    } else break;
    const r = processLine(st, raw, line, fromFile);
    if (r) return r;
  }
  finishCollecting(st);
  if (st.stack.length > 1) {
    const open = st.stack[st.stack.length - 1] as Frame;
    const more =
      st.stack.length > 2 ? ` (${st.stack.length - 1} blocks are open at the end of the file)` : '';
    const keyword = open.opener?.keyword ?? '';
    return fail(
      file,
      open.line,
      `block "${keyword}" opened here is never closed: missing '}'${more}${droppedHint(st)}`,
    );
  }
  return root;
}

const overBudget = (ctx: Ctx): boolean =>
  ctx.work > SUBSTITUTION_WORK_BASE + SUBSTITUTION_WORK_PER_CHAR * ctx.totalChars;

const runawaySubstitution = (file: string, line: number): Failure =>
  fail(
    file,
    line,
    'parameter substitution does not end or grows too large (is a parameter defined in terms of itself?)',
  );

function stripCr(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 13) end--;
  return end === s.length ? s : s.slice(0, end);
}

function processLine(st: FileState, raw: string, line: number, fromFile: boolean): Failure | undefined {
  if (st.collecting) return collectLine(st, raw, line, fromFile);
  const d = decomment(raw);
  if (d === undefined) return fail(st.file, line, 'unterminated quote (")');
  let s: string | undefined = d;
  if (s === '') return undefined;
  s = applyCondition(st, s, line);
  if (s === undefined) return undefined;
  if (defineParam(st, s, line)) return undefined;
  if (s.charCodeAt(0) === 0x7e /* ~ */) {
    if (s.startsWith('~SEQ') || s.startsWith('~LST')) {
      notice(st, line, `${s.slice(0, 4)} line not expanded and dropped: write its lines out in full`);
      return undefined;
    }
  } else if (s.includes('$')) {
    const r = substitute(st, s, line);
    if (typeof r !== 'string') return r;
    if (r !== s) {
      const again = decomment(r);
      if (again === undefined)
        return fail(st.file, line, 'unterminated quote (") after parameter substitution');
      // The man page lets a parameter expand to an @id prefix ($IF_MAIN=@main).
      s = again === '' ? undefined : applyCondition(st, again, line);
      if (s === undefined) return undefined;
    }
  }
  return feedLine(st, s, line);
}

// ---- comments and conditions -------------------------------------------------------

const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 13 || c === 11 || c === 12;

/**
 * The line without its comment and surrounding blanks; undefined when a quote is left open.
 * `#` and `!` inside double quotes, or after a backslash, do not start a comment.
 */
function decomment(s: string): string | undefined {
  const n = s.length;
  let start = 0;
  while (start < n && isBlank(s.charCodeAt(start))) start++;
  let quote = false;
  let end = n;
  for (let i = start; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 /* " */) quote = !quote;
    else if (c === 92 /* \ */) i++;
    else if (!quote && (c === 35 /* # */ || c === 33) /* ! */) {
      end = i;
      break;
    }
  }
  if (quote) return undefined;
  while (end > start && isBlank(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === n ? s : s.slice(start, end);
}

/** The line with its @id prefix removed when it applies here, undefined when it does not. */
function applyCondition(st: FileState, s: string, line: number): string | undefined {
  if (s.charCodeAt(0) !== 0x40 /* @ */) return s;
  const negated = s.charCodeAt(1) === 0x5e; /* ^ */
  const idStart = negated ? 2 : 1;
  let sp = idStart;
  while (sp < s.length && !isBlank(s.charCodeAt(sp))) sp++;
  const id = s.slice(idStart, sp);
  const prefix = `@${negated ? '^' : ''}${id}`;
  if (sp >= s.length) {
    notice(st, line, `${prefix} conditional line has nothing after the id: ignored`);
    return undefined;
  }
  const configId = st.ctx.configId;
  if (configId === undefined) {
    const where = negated ? `everywhere except config id ${id}` : `only on config id ${id}`;
    notice(
      st,
      line,
      `${prefix} conditional line dropped: it applies ${where}; import with --config-id ID (keepalived -i) to resolve it`,
    );
    if (s.includes('{') || s.includes('}')) st.droppedBraceLine = line;
    return undefined;
  }
  if ((id === configId) === negated) return undefined;
  let rest = sp;
  while (rest < s.length && isBlank(s.charCodeAt(rest))) rest++;
  return s.slice(rest);
}

function droppedHint(st: FileState): string {
  return st.droppedBraceLine === undefined
    ? ''
    : ` (the conditional line ${st.droppedBraceLine} that holds a brace was dropped: import with --config-id ID)`;
}

function notice(st: FileState, line: number, message: string): void {
  const ctx = st.ctx;
  if (ctx.notices.length < MAX_NOTICES) ctx.notices.push({ pos: { file: st.file, line }, message });
  else if (ctx.droppedNotices++ === 0) ctx.firstDropped = { file: st.file, line };
}

// ---- parameters ---------------------------------------------------------------------

const isNameStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isNameChar = (c: number): boolean => isNameStart(c) || (c >= 48 && c <= 57);

/** Records `$NAME=value` (true), or says the line is not a definition (false). */
function defineParam(st: FileState, s: string, line: number): boolean {
  if (s.charCodeAt(0) !== 0x24 /* $ */ || !isNameStart(s.charCodeAt(1))) return false;
  let eq = 2;
  while (eq < s.length && isNameChar(s.charCodeAt(eq))) eq++;
  if (s.charCodeAt(eq) !== 0x3d /* = */) return false;
  const name = s.slice(1, eq);
  let v = eq + 1;
  while (v < s.length && isBlank(s.charCodeAt(v))) v++;
  const value = s.slice(v);
  const multiline = value.endsWith('\\');
  let def: ParamDef;
  if (multiline) {
    const first = trimEnd(value.slice(0, -1));
    def = { lines: first === '' ? [] : [first], multiline: true };
    st.collecting = def;
  } else def = { lines: [value], multiline: false };
  st.ctx.defs.set(name, def);
  const kind = multiline ? 'multiline parameter' : 'parameter';
  notice(st, line, `$${name} ${kind} definition: its uses below are substituted`);
  return true;
}

function trimEnd(s: string): string {
  let end = s.length;
  while (end > 0 && isBlank(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end);
}

/** One more line of a multiline definition; a truly empty line or one without `\` ends it. */
function collectLine(st: FileState, raw: string, line: number, fromFile: boolean): Failure | undefined {
  const def = st.collecting as ParamDef;
  if (fromFile && raw === '') {
    finishCollecting(st);
    return undefined;
  }
  const d = decomment(raw);
  if (d === undefined) return fail(st.file, line, 'unterminated quote (")');
  if (d === '') return undefined;
  if (d.endsWith('\\')) {
    const piece = trimEnd(d.slice(0, -1));
    if (piece !== '') def.lines.push(piece);
  } else {
    def.lines.push(d);
    finishCollecting(st);
  }
  return undefined;
}

function finishCollecting(st: FileState): void {
  const def = st.collecting;
  if (def && def.lines.length === 0) {
    def.lines.push('');
    def.multiline = false;
  }
  st.collecting = undefined;
}

interface ParamRef {
  name: string;
  end: number;
  hasParams: boolean;
}

/** `$NAME` (ended by a blank, `,`, `)` or the line end) or `${NAME}` / `${NAME params}` at i. */
function readRef(s: string, i: number): ParamRef | undefined {
  const braces = s.charCodeAt(i + 1) === 0x7b; /* { */
  const start = braces ? i + 2 : i + 1;
  if (!isNameStart(s.charCodeAt(start))) return undefined;
  let p = start + 1;
  while (p < s.length && isNameChar(s.charCodeAt(p))) p++;
  const name = s.slice(start, p);
  if (!braces) {
    if (p < s.length) {
      const c = s.charCodeAt(p);
      if (c !== 32 && c !== 9 && c !== 44 /* , */ && c !== 41 /* ) */) return undefined;
    }
    return { name, end: p, hasParams: false };
  }
  if (s.charCodeAt(p) === 0x7d /* } */) return { name, end: p + 1, hasParams: false };
  if (!isBlank(s.charCodeAt(p))) return undefined;
  let q = p;
  while (q < s.length && (isNameChar(s.charCodeAt(q)) || isBlank(s.charCodeAt(q)))) q++;
  if (s.charCodeAt(q) !== 0x7d || isBlank(s.charCodeAt(q - 1))) return undefined;
  return { name, end: q + 1, hasParams: true };
}

const DAEMON_PARAMS = new Set(['_PWD', '_INSTANCE', '_RANDOM', '_ENV']);
const LITERAL_PARAMS = new Map([
  ['_HASH', '\\#'],
  ['_BANG', '\\!'],
]);

/**
 * The line with defined parameters replaced. As in keepalived the replacement is scanned
 * again, so values may use other parameters, and a multiline parameter (only at the end
 * of a line) queues its remaining lines to be read next.
 */
function substitute(st: FileState, line0: string, line: number): string | Failure {
  const ctx = st.ctx;
  let s = line0;
  let i = s.indexOf('$');
  const queued: string[][] = [];
  while (i !== -1 && i + 1 < s.length) {
    const ref = readRef(s, i);
    const def = ref && !ref.hasParams ? ctx.defs.get(ref.name) : undefined;
    let text: string | undefined;
    if (ref && def && (!def.multiline || ref.end === s.length)) {
      text = def.lines[0] ?? '';
      if (def.multiline && def.lines.length > 1) queued.push(def.lines.slice(1));
    } else if (ref && !def && !ref.hasParams) {
      const literal = LITERAL_PARAMS.get(ref.name);
      // Inside quotes a bare # or ! is already literal, and an escape would stay in the word.
      if (literal !== undefined) text = insideQuotes(s, i) ? literal.slice(1) : literal;
      else if (DAEMON_PARAMS.has(ref.name)) {
        notice(st, line, `${s.slice(i, ref.end)} depends on the running keepalived: left as written`);
      } else if (s[i] === '$') {
        // keepalived keeps it as written too; say so, since it is most likely a typo or a
        // definition in a file that was not given (keepgit export writes auth_pass $NAME).
        notice(st, line, `${s.slice(i, ref.end)} is not a defined parameter: kept as written`);
      }
    }
    if (ref === undefined || text === undefined) {
      i = s.indexOf('$', i + 1);
      continue;
    }
    s = s.slice(0, i) + text + s.slice(ref.end);
    ctx.work += s.length + SUBSTITUTION_COST;
    if (s.length > MAX_SUBSTITUTED_LINE) {
      return fail(st.file, line, 'parameter substitution makes this line longer than 64 KiB');
    }
    if (overBudget(ctx)) return runawaySubstitution(st.file, line);
    // A value is scanned again, as keepalived does, so it may use other parameters.
    if (def === undefined) i = s.indexOf('$', i + text.length);
  }
  // Later expansions are read first: keepalived stacks a nested multiline parameter.
  for (const lines of queued) st.pending.push({ lines, next: 0, line });
  return s;
}

function insideQuotes(s: string, end: number): boolean {
  let quote = false;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) quote = !quote;
    else if (c === 92) i++;
  }
  return quote;
}

// ---- statements and blocks ----------------------------------------------------------

/** Splits a comment-free line into statements and braces; `include` takes the rest of it. */
function feedLine(st: FileState, s: string, line: number): Failure | undefined {
  const n = s.length;
  let stmt: KaStatement | undefined;
  let k = 0;
  for (;;) {
    while (k < n && isBlank(s.charCodeAt(k))) k++;
    if (k >= n) return undefined;
    const c = s.charCodeAt(k);
    if (c === 0x7b /* { */ || c === 0x7d /* } */) {
      stmt = undefined;
      const r = c === 0x7b ? openBlock(st, line) : closeBlock(st, line);
      if (r) return r;
      k++;
      continue;
    }
    if (!stmt) {
      const pattern = includePattern(s, k);
      if (pattern !== undefined) return includeFiles(st, pattern, line);
    }
    const word = readWord(s, k, st);
    k = st.wordEnd;
    if (stmt) stmt.args.push(word);
    else {
      if (++st.ctx.statements > MAX_STATEMENTS) {
        return fail(st.file, line, `more than ${MAX_STATEMENTS} statements: too large for a keepalived.conf`);
      }
      stmt = { keyword: word, args: [], pos: { file: st.file, line } };
      (st.stack[st.stack.length - 1] as Frame).stmts.push(stmt);
      st.last = stmt;
    }
  }
}

function openBlock(st: FileState, line: number): Failure | undefined {
  const owner = st.last;
  if (!owner || owner.block) return fail(st.file, line, "'{' with no keyword before it");
  owner.block = [];
  st.stack.push({ stmts: owner.block, opener: owner, line });
  st.last = undefined;
  return undefined;
}

function closeBlock(st: FileState, line: number): Failure | undefined {
  if (st.stack.length === 1) return fail(st.file, line, `unexpected '}': no block is open${droppedHint(st)}`);
  st.stack.pop();
  st.last = undefined;
  return undefined;
}

/** The word starting at k, quotes removed; where it ends goes to st.wordEnd. */
function readWord(s: string, k: number, st: FileState): string {
  const n = s.length;
  let quote = false;
  let out = '';
  let from = k;
  let i = k;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 /* " */) {
      out += s.slice(from, i);
      from = i + 1;
      quote = !quote;
    } else if (c === 92 /* \ */ && i + 1 < n) {
      const e = s.charCodeAt(i + 1);
      if (!quote && (e === 35 || e === 33)) {
        out += s.slice(from, i);
        from = i + 1;
      }
      i++;
    } else if (c === 0x24 /* $ */ && s.charCodeAt(i + 1) === 0x7b) {
      // An unsubstituted ${NAME} is one word, not a block: the importer can then name it.
      const ref = readRef(s, i);
      if (ref) i = ref.end - 1;
    } else if (!quote && (isBlank(c) || c === 0x7b || c === 0x7d)) break;
  }
  st.wordEnd = i;
  return from === k ? s.slice(k, i) : out + s.slice(from, i);
}

// ---- include ------------------------------------------------------------------------

/** The pattern of `include PATTERN` (or includer/m/w/b/a) starting at k, else undefined. */
function includePattern(s: string, k: number): string | undefined {
  if (!s.startsWith('include', k)) return undefined;
  let p = k + 7;
  if (p + 1 < s.length && 'rmwba'.includes(s.charAt(p)) && isBlank(s.charCodeAt(p + 1))) p++;
  if (!isBlank(s.charCodeAt(p))) return undefined;
  const pattern = s.slice(p).trim();
  const quoted =
    pattern.length >= 2 && pattern.startsWith('"') && pattern.indexOf('"', 1) === pattern.length - 1;
  return quoted ? pattern.slice(1, -1) : pattern;
}

function includeFiles(st: FileState, pattern: string, line: number): Failure | undefined {
  const ctx = st.ctx;
  st.last = undefined;
  if (!ctx.include) {
    notice(st, line, `include ${pattern} matched no file (no include resolver given)`);
    return undefined;
  }
  let found: unknown;
  try {
    found = ctx.include(pattern, st.file);
  } catch (e) {
    return fail(st.file, line, `include ${pattern}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(found)) return fail(st.file, line, `include ${pattern}: the resolver returned no list`);
  if (found.length === 0) {
    notice(st, line, `include ${pattern} matched no file`);
    return undefined;
  }
  if (ctx.chain.length > MAX_INCLUDE_DEPTH) {
    return fail(
      st.file,
      line,
      `include ${pattern}: includes are nested deeper than ${MAX_INCLUDE_DEPTH} files`,
    );
  }
  const into = (st.stack[st.stack.length - 1] as Frame).stmts;
  for (const f of found as unknown[]) {
    if (!isIncluded(f))
      return fail(st.file, line, `include ${pattern}: the resolver returned a malformed entry`);
    if (ctx.chain.includes(f.file)) {
      return fail(st.file, line, `include cycle: ${[...ctx.chain, f.file].join(' -> ')}`);
    }
    if (++ctx.files > MAX_INCLUDED_FILES) {
      return fail(st.file, line, `include ${pattern}: more than ${MAX_INCLUDED_FILES} files included in all`);
    }
    ctx.chain.push(f.file);
    const r = parseFile(f.text, f.file, ctx);
    ctx.chain.pop();
    if (!Array.isArray(r)) return r;
    // A loop, not push(...r): a spread of a huge file would exceed the argument limit.
    for (const stmt of r) into.push(stmt);
  }
  return undefined;
}

function isIncluded(f: unknown): f is { file: string; text: string } {
  if (typeof f !== 'object' || f === null) return false;
  const o = f as { file?: unknown; text?: unknown };
  return typeof o.file === 'string' && typeof o.text === 'string';
}

// ---- input sanity -------------------------------------------------------------------

// Characters text in any encoding hardly ever holds: C0 and C1 controls other than the
// blanks, and what a UTF-8 decoder leaves for an invalid sequence.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const SUSPECT = /[\u0001-\u0008\u000e-\u001f\u007f-\u009f\ufffd]/g;

/** Refuses what is too large or is not text at all, before any line is read. */
function checkText(text: string, file: string): Failure | undefined {
  if (typeof text !== 'string') return fail(file, 1, 'not a text file');
  const n = text.length;
  if (n > MAX_FILE_BYTES || (n * 3 > MAX_FILE_BYTES && utf8Length(text) > MAX_FILE_BYTES)) {
    return fail(file, 1, 'file is larger than 16 MiB');
  }
  const nul = text.indexOf('\0');
  if (nul !== -1) return fail(file, lineAt(text, nul), 'not a text file (it contains NUL bytes)');
  // Binary data has many control characters. A text file in a legacy encoding decoded as
  // UTF-8 has invalid sequences, but mostly in its comments, never in most of it.
  let controls = 0;
  let invalid = 0;
  SUSPECT.lastIndex = 0;
  while (SUSPECT.test(text)) {
    if (text.charCodeAt(SUSPECT.lastIndex - 1) === 0xfffd) invalid++;
    else controls++;
  }
  if (controls >= 8 && controls * 32 > n)
    return fail(file, 1, 'not a text file (it is full of control characters)');
  if (invalid >= 8 && invalid * 2 > n) return fail(file, 1, 'not a text file (it is mostly invalid UTF-8)');
  return undefined;
}

function utf8Length(text: string): number {
  let bytes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
