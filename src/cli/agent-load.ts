import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Desired } from '../agent/load-desired.ts';
import type { ClusterDoc, NodeDoc, PolicyDoc } from '../model/cluster-schema.ts';
import type { Diagnostic } from '../model/diagnostic.ts';
import type { NodeView } from '../model/node-view.ts';
import { unlocated } from '../model/repository.ts';

// How `keepgit agent` gets its desired state: the repository is read, validated (zod
// schemas, YAML with positions, policies) and turned into the node's view in a child
// process that exits once it has answered, so that none of that code stays in the
// agent's memory for the weeks it runs (about 17 MB of the ~75 MB it held when loading
// in-process). The agent keeps the documents and the view; positions (`locate`) are not
// carried over, as every diagnostic that needs one is made in the child.
//
// Run from TypeScript (tsx, a developer's clone with a stale or no dist/), the loader runs
// in-process instead: a second process would need the loader registered again and
// memory does not matter there.

interface Doc<T> {
  file: string;
  doc: T;
}

export type LoadReply =
  | {
      ok: true;
      cluster: Doc<ClusterDoc>;
      nodes: Doc<NodeDoc>[];
      policies: Doc<PolicyDoc>[];
      view: NodeView;
      warnings: Diagnostic[];
    }
  | { ok: false; diagnostics: Diagnostic[] }
  | { ok: 'crashed'; message: string };

export type LoadResult = Desired | { ok: 'crashed'; message: string };

/** From a checked-out directory, or from a revision's files (path → text). */
export async function loadDesired(
  input: string | ReadonlyMap<string, string>,
  node: string,
): Promise<LoadResult> {
  if (!import.meta.url.endsWith('.js')) {
    const { loadDesiredDir, loadDesiredFiles } = await import('../agent/load-desired.ts');
    return typeof input === 'string' ? loadDesiredDir(input, node) : loadDesiredFiles(input, node);
  }
  const reply = await inChild(input, node);
  if (reply.ok !== true) return reply;
  return {
    ok: true,
    repository: {
      cluster: unlocated(reply.cluster.file, reply.cluster.doc),
      nodes: reply.nodes.map((n) => unlocated(n.file, n.doc)),
      policies: reply.policies.map((p) => unlocated(p.file, p.doc)),
    },
    view: reply.view,
    warnings: reply.warnings,
  };
}

/** A loader started ahead of time for the next revision (see `keepWarm`). */
let spare: { child: ChildProcess; node: string } | undefined;

/**
 * After each load, start the next loader process at once and leave it waiting, modules
 * loaded: a new revision then skips Node's start (a few hundred ms of a webhook's latency)
 * at the price of one idle process beside the agent. For the agent, not one-off commands.
 */
export function keepLoaderWarm(node: string): void {
  if (!import.meta.url.endsWith('.js') || spare?.node === node) return;
  const child = forkLoader('-', node);
  // Waiting must not keep the agent's process alive, nor outlive it (the child exits on disconnect).
  child.unref();
  child.channel?.unref();
  child.once('exit', () => {
    if (spare?.child === child) spare = undefined;
  });
  spare = { child, node };
}

function forkLoader(dir: string, node: string): ChildProcess {
  return fork(fileURLToPath(new URL('./agent-load-child.js', import.meta.url)), [dir, node], {
    // The structured clone keeps what JSON would lose (undefined fields, Maps).
    serialization: 'advanced',
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

function inChild(input: string | ReadonlyMap<string, string>, node: string): Promise<LoadReply> {
  return new Promise((resolve) => {
    const warm =
      spare !== undefined && spare.node === node && spare.child.exitCode === null ? spare.child : undefined;
    spare = undefined;
    const child = warm ?? forkLoader(typeof input === 'string' ? input : '-', node);
    if (warm) {
      warm.ref();
      warm.channel?.ref();
    }
    let reply: LoadReply | undefined;
    child.once('message', (m) => {
      reply = m as LoadReply;
    });
    child.once('error', (e) => resolve({ ok: 'crashed', message: e.message }));
    if (warm) child.send(typeof input === 'string' ? { dir: input } : { files: new Map(input) });
    else if (typeof input !== 'string') child.send({ files: new Map(input) });
    child.once('exit', (code, signal) => {
      resolve(
        reply ?? {
          ok: 'crashed',
          message: `the repository loader exited ${signal ?? `with code ${code}`} without an answer`,
        },
      );
      if (warmFor === node) keepLoaderWarm(node);
    });
  });
}

/** The node whose loads keep a spare loader ready (set by the agent). */
let warmFor: string | undefined;

export function warmLoadsFor(node: string): void {
  warmFor = node;
  keepLoaderWarm(node);
}
