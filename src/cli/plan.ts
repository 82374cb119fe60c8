import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadRepository } from '../config/load-repository.ts';
import { type Diagnostic, formatDiagnostic, hasErrors, sortDiagnostics } from '../model/diagnostic.ts';
import type { Repository } from '../model/repository.ts';
import { planRepositories } from '../plan/plan-revisions.ts';
import { renderPlan, renderPlanJson, renderPlanMarkdown } from '../plan/render-plan.ts';
import { runPolicies } from '../policy/run-policies.ts';
import { readRepositoryAtRevision } from '../source/git-tree.ts';
import { readRepositoryDir } from '../source/read-repository-dir.ts';
import type { CliIo, Command } from './io.ts';

// keepgit plan OLD_DIR NEW_DIR | --repo DIR [--from REV] [--to REV]  [--node NAME] [--json | --markdown]
// What the new desired state changes on each node compared with the old one, and which
// changes are disruptive. Nothing is applied. The new side is validated and checked
// against policy first, because a plan of a revision that will be refused misleads.
// Exit 0 plan printed; 1 the new side is invalid or violates an error-severity policy;
// 2 usage error or unreadable input (missing directory, unknown revision, invalid old side).

const USAGE =
  'usage: keepgit plan OLD_DIR NEW_DIR [--node NAME] [--json | --markdown]\n' +
  '       keepgit plan --repo DIR [--from REV] [--to REV] [--node NAME] [--json | --markdown]\n' +
  '  REV: a branch or tag name, a full or short commit SHA, optionally with ~N / ^N (main~1).\n' +
  '  Without --from the plan starts from nothing (a first commit); --to defaults to HEAD.';

type Side = { files: Map<string, string>; label: string } | { error: string };

const hasCluster = (files: Map<string, string>): boolean =>
  files.has('keepgit.yaml') || files.has('keepgit.yml');

async function readDirSide(dir: string, old: boolean): Promise<Side | { diagnostics: Diagnostic[] }> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return { error: `cannot read ${dir}: no such directory` };
  // An old side with no keepgit.yaml is "nothing before", not an error to report.
  if (old) {
    const found = await Promise.all(
      ['keepgit.yaml', 'keepgit.yml'].map((f) => stat(join(dir, f)).catch(() => undefined)),
    );
    if (!found.some(Boolean)) return { files: new Map(), label: dir };
  }
  const read = await readRepositoryDir(dir);
  if (hasErrors(read.diagnostics)) return { diagnostics: read.diagnostics };
  return { files: read.files, label: dir };
}

async function readGitSide(repo: string, rev: string | undefined): Promise<Side> {
  if (rev === undefined) return { files: new Map(), label: '(nothing)' };
  const read = await readRepositoryAtRevision(repo, rev);
  if ('error' in read) return read;
  return { files: read.files, label: `${rev} (${read.commit.slice(0, 7)})` };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      repo: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      node: { type: 'string' },
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
    },
  });
}

const printAll = (io: CliIo, ds: Diagnostic[], prefix = ''): void => {
  for (const d of sortDiagnostics(ds)) io.err(`${prefix}${formatDiagnostic(d)}`);
};

export const planCommand: Command = async (args, io) => {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    io.err(`keepgit plan: ${e instanceof Error ? e.message : String(e)}`);
    io.err(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  const gitMode = values.repo !== undefined;
  const usageError = gitMode
    ? positionals.length > 0
      ? 'give either --repo or two directories, not both'
      : undefined
    : values.from !== undefined || values.to !== undefined
      ? '--from and --to need --repo DIR'
      : positionals.length !== 2
        ? 'expected OLD_DIR and NEW_DIR'
        : undefined;
  if (usageError || (values.json && values.markdown)) {
    io.err(`keepgit plan: ${usageError ?? '--json and --markdown exclude each other'}`);
    io.err(USAGE);
    return 2;
  }

  const [oldSide, newSide] = gitMode
    ? await Promise.all([
        readGitSide(values.repo ?? '', values.from),
        readGitSide(values.repo ?? '', values.to ?? 'HEAD'),
      ])
    : await Promise.all([readDirSide(positionals[0] ?? '', true), readDirSide(positionals[1] ?? '', false)]);

  for (const [side, which] of [
    [oldSide, 'old'],
    [newSide, 'new'],
  ] as const) {
    if ('error' in side) {
      io.err(`keepgit plan: ${side.error}`);
      return 2;
    }
    if ('diagnostics' in side) {
      printAll(io, side.diagnostics);
      io.err(`keepgit plan: cannot read the ${which} side`);
      return 2;
    }
  }
  if (!('files' in oldSide) || !('files' in newSide)) return 2;

  // The old side is what runs now: if it does not load there is nothing sound to compare with.
  let before: Repository | undefined;
  if (hasCluster(oldSide.files)) {
    const old = loadRepository(oldSide.files);
    if (!old.repository || hasErrors(old.diagnostics)) {
      printAll(io, old.diagnostics, 'old side: ');
      io.err(
        `keepgit plan: the old side (${oldSide.label}) is not a valid repository; cannot plan against it`,
      );
      return 2;
    }
    before = old.repository;
  }

  const loaded = loadRepository(newSide.files);
  const after = loaded.repository;
  if (!after || hasErrors(loaded.diagnostics)) {
    printAll(io, loaded.diagnostics);
    io.err(`keepgit plan: ${newSide.label} is not a valid repository; no plan`);
    return 1;
  }
  const policy = runPolicies(after);
  printAll(io, [...loaded.diagnostics, ...policy]);

  const names = new Set([...(before?.nodes ?? []), ...after.nodes].map((n) => n.doc.metadata.name));
  if (values.node !== undefined && !names.has(values.node)) {
    io.err(
      `keepgit plan: no node "${values.node}" on either side (nodes: ${[...names].sort().join(', ') || 'none'})`,
    );
    return 2;
  }

  const plan = planRepositories(before, after, values.node);
  if (values.json) io.out(renderPlanJson(plan));
  else if (values.markdown) io.out(renderPlanMarkdown(plan, { from: oldSide.label, to: newSide.label }));
  else io.out(renderPlan(plan, { from: oldSide.label, to: newSide.label }));

  // The plan is still shown for a revision policy refuses: the reviewer needs both.
  if (hasErrors(policy)) {
    io.err('keepgit plan: the new side violates policy; it would not be applied');
    return 1;
  }
  return 0;
};
