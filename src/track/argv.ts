// keepalived runs a script string with execve, splitting it on unquoted white space and taking
// single- or double-quoted stretches whole, with backslash escapes (keepalived.conf(5), "quoted
// strings"). It never uses a shell; we do only when the text holds an unquoted shell operator, because
// keepalived would have passed `|` or `>` as a literal argument and the script could never
// have worked as written, and because `</path` (keepalived's "is this file readable") needs one.

export interface ScriptCommand {
  /** The text as configured, for logs and for `sh -c`. */
  text: string;
  argv: string[];
  /** argv is ['/bin/sh', '-c', text]: the text uses shell syntax. */
  shell: boolean;
}

const SHELL_OPERATORS = new Set(['|', '&', ';', '<', '>', '`', '$', '(', ')', '*', '?', '~', '[']);

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** Splits a script string into words; reports whether an unquoted shell operator appears. */
export function splitArgv(text: string): { argv: string[]; shellSyntax: boolean } | { error: string } {
  const argv: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  let shellSyntax = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) return { error: `trailing backslash in "${text}"` };
      word += ESCAPES[next] ?? next;
      inWord = true;
      i++;
      continue;
    }
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) argv.push(word);
      word = '';
      inWord = false;
      continue;
    }
    if (SHELL_OPERATORS.has(c)) shellSyntax = true;
    word += c;
    inWord = true;
  }
  if (quote !== undefined) return { error: `unterminated ${quote} quote in "${text}"` };
  if (inWord) argv.push(word);
  if (argv.length === 0) return { error: 'empty script' };
  return { argv, shellSyntax };
}

export function parseScript(text: string): ScriptCommand | { error: string } {
  const split = splitArgv(text);
  if ('error' in split) return split;
  if (split.shellSyntax) return { text, argv: ['/bin/sh', '-c', text], shell: true };
  return { text, argv: split.argv, shell: false };
}
