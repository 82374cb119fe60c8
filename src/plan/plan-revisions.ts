import type { Repository } from '../model/repository.ts';
import { viewOf as cachedView } from '../model/repository-views.ts';
import { diffNodeViews } from './diff-node-views.ts';
import type { Plan } from './plan-types.ts';

// The plan a reviewer reads in a pull request: every node named on either side, each
// diffed between the view it computes from the old revision and from the new one.

const nodeNames = (repo: Repository | undefined): string[] =>
  repo ? repo.nodes.map((n) => n.doc.metadata.name) : [];

const viewOf = (repo: Repository | undefined, node: string) => (repo ? cachedView(repo, node) : undefined);

/** `before` undefined means nothing was there (a first commit). `onlyNode` limits the plan to one node. */
export function planRepositories(before: Repository | undefined, after: Repository, onlyNode?: string): Plan {
  const names = [...new Set([...nodeNames(before), ...nodeNames(after)])].sort();
  const wanted = onlyNode === undefined ? names : names.filter((n) => n === onlyNode);
  const afterViews = new Map(names.map((n) => [n, viewOf(after, n)]));
  const runsAfter = (instance: string, node: string) =>
    afterViews.get(node)?.instances.some((i) => i.name === instance) ?? false;
  return { nodes: wanted.map((n) => diffNodeViews(viewOf(before, n), afterViews.get(n), runsAfter)) };
}
