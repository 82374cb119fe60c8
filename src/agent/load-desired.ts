import { loadRepository } from '../config/load-repository.ts';
import { type Diagnostic, hasErrors, sortDiagnostics } from '../model/diagnostic.ts';
import type { NodeView } from '../model/node-view.ts';
import type { Repository } from '../model/repository.ts';
import { viewOf } from '../model/repository-views.ts';
import { runPolicies } from '../policy/run-policies.ts';
import { readRepositoryDir } from '../source/read-repository-dir.ts';

// What the agent runs, from a checked-out directory: the same gate as `keepgit validate`
// (schema, references, policies), then this node's view. An agent never runs a
// repository that validate would refuse.

export type Desired =
  | { ok: true; repository: Repository; view: NodeView; warnings: Diagnostic[] }
  | { ok: false; diagnostics: Diagnostic[] };

export async function loadDesiredDir(dir: string, node: string): Promise<Desired> {
  const read = await readRepositoryDir(dir);
  if (hasErrors(read.diagnostics)) return { ok: false, diagnostics: sortDiagnostics(read.diagnostics) };
  return loadDesiredFiles(read.files, node, read.diagnostics);
}

/** The same gate for files read some other way (a Git revision: path → text). */
export function loadDesiredFiles(
  files: ReadonlyMap<string, string>,
  node: string,
  earlier: Diagnostic[] = [],
): Desired {
  const loaded = loadRepository(files);
  const diagnostics = [...earlier, ...loaded.diagnostics];
  if (loaded.repository === undefined || hasErrors(diagnostics))
    return { ok: false, diagnostics: sortDiagnostics(diagnostics) };
  return desiredFor(loaded.repository, node, diagnostics);
}

/** The policy gate and the node's view of a loaded repository (also for revisions from other sources). */
export function desiredFor(repository: Repository, node: string, earlier: Diagnostic[] = []): Desired {
  const diagnostics = sortDiagnostics([...earlier, ...runPolicies(repository)]);
  if (hasErrors(diagnostics)) return { ok: false, diagnostics };
  const view = viewOf(repository, node);
  if (view === undefined) {
    const known = repository.nodes.map((n) => n.doc.metadata.name).join(', ') || 'none';
    return {
      ok: false,
      diagnostics: [
        {
          severity: 'error',
          file: `nodes/${node}.yaml`,
          message: `no node "${node}" in the repository (nodes: ${known}); add nodes/${node}.yaml or start the agent with --node set to one of them`,
        },
      ],
    };
  }
  return { ok: true, repository, view, warnings: diagnostics };
}
