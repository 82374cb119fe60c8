import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadRepository } from '../config/load-repository.ts';
import { type Diagnostic, formatDiagnostic, hasErrors, sortDiagnostics } from '../model/diagnostic.ts';
import type { Repository } from '../model/repository.ts';
import { runPolicies } from '../policy/run-policies.ts';
import { readRepositoryDir } from '../source/read-repository-dir.ts';
import type { Command } from './io.ts';

// keepgit validate DIR [--json]: what CI runs on every pull request. Schema, references
// and policies; every finding at once. Exit 0 valid (warnings allowed), 1 invalid, 2 usage.

const USAGE = 'usage: keepgit validate DIR [--json]';

export const validateCommand: Command = async (args, io) => {
  let values: { json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    io.err(`keepgit validate: ${e instanceof Error ? e.message : String(e)}`);
    io.err(USAGE);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [dir, extra] = positionals;
  if (dir === undefined || extra !== undefined) {
    io.err(USAGE);
    return 2;
  }

  const read = await readRepositoryDir(dir);
  if (read.diagnostics.some((d) => d.file === dir)) {
    // No directory to validate: the argument is wrong, not the repository.
    for (const d of read.diagnostics) io.err(formatDiagnostic(d));
    return 2;
  }
  // A file that could not be read would show up as missing; report it and stop there.
  const loaded = hasErrors(read.diagnostics) ? { diagnostics: [] } : loadRepository(read.files);
  const diagnostics = [...read.diagnostics, ...loaded.diagnostics];
  const repo = loaded.repository;

  // Policies run only on a repository that loaded cleanly: their rules assume valid,
  // cross-referenced documents.
  if (repo !== undefined) diagnostics.push(...runPolicies(repo));

  sortDiagnostics(diagnostics);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const valid = repo !== undefined && errors === 0;

  if (values.json) {
    io.out(JSON.stringify({ dir, valid, errors, warnings, diagnostics }, null, 2));
  } else {
    for (const d of diagnostics) io.out(formatDiagnostic(shownFrom(dir, d)));
    io.out(summary(dir, valid, errors, warnings, repo));
  }
  return valid ? 0 : 1;
};

/** File names as the person can open them from where they ran the command. */
function shownFrom(dir: string, d: Diagnostic): Diagnostic {
  return d.file === dir || dir === '.' ? d : { ...d, file: join(dir, d.file) };
}

const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function summary(
  dir: string,
  valid: boolean,
  errors: number,
  warnings: number,
  repo: Repository | undefined,
): string {
  const warned = warnings > 0 ? `, ${count(warnings, 'warning')}` : '';
  if (!valid || repo === undefined) return `${dir}: invalid: ${count(errors, 'error')}${warned}`;
  const c = repo.cluster.doc;
  const parts = [
    count(repo.nodes.length, 'node'),
    count(c.instances?.length ?? 0, 'instance'),
    count(c.virtualServers?.length ?? 0, 'virtual server'),
    count(repo.policies.length, 'policy file'),
  ];
  return `${dir}: valid (${parts.join(', ')})${warned}`;
}
