// The syntax tree of a keepalived.conf: statements are a keyword, its arguments and an
// optional { block }. It knows nothing of what keywords mean; the importer does.

export interface KaPos {
  file: string;
  line: number;
}

export interface KaStatement {
  keyword: string;
  args: string[];
  pos: KaPos;
  /** Present when the statement opened a { block }, possibly empty. */
  block?: KaStatement[];
}

export interface KaNotice {
  pos: KaPos;
  /** e.g. "@host conditional line", "$VAR definition", "include matched no file". */
  message: string;
}

export type KaParseResult =
  | { ok: true; statements: KaStatement[]; notices: KaNotice[] }
  | { ok: false; error: { pos: KaPos; message: string } };

/** Resolves an `include` pattern (globs allowed) relative to the including file. */
export type KaIncludeResolver = (pattern: string, fromFile: string) => { file: string; text: string }[];
