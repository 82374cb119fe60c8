// What every layer reports to a person: a value, never a thrown stack trace.

export type Severity = 'error' | 'warn';

export interface Diagnostic {
  severity: Severity;
  /** Repository-relative path (or the path the user gave). */
  file: string;
  line?: number;
  col?: number;
  /** Field path for display, e.g. "instances.www-http.priority". */
  path?: string;
  message: string;
  /** Policy rule id or error code, e.g. "vrid-unique". */
  rule?: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where =
    d.line === undefined ? d.file : `${d.file}:${d.line}${d.col === undefined ? '' : `:${d.col}`}`;
  const sev = d.severity === 'warn' ? 'warning: ' : '';
  const path = d.path ? `${d.path}: ` : '';
  const rule = d.rule ? ` [${d.rule}]` : '';
  return `${where}: ${sev}${path}${d.message}${rule}`;
}

export const hasErrors = (ds: readonly Diagnostic[]): boolean => ds.some((d) => d.severity === 'error');

/** Stable order: by file, then line, then column. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return ds.sort(
    (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0),
  );
}
