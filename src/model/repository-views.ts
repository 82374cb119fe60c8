import { type NodeView, nodeView } from './node-view.ts';
import type { Repository } from './repository.ts';

// The policy gate and the planner both need every node's view of the same revision;
// computing them once per loaded repository halves the work of `plan` on a large fleet.
// A loaded repository is never changed, and neither is a view: share, never mutate.

const cache = new WeakMap<Repository, Map<string, NodeView | undefined>>();

/** `node`'s view of `repo`, or undefined when the repository has no such node. */
export function viewOf(repo: Repository, node: string): NodeView | undefined {
  let views = cache.get(repo);
  if (!views) {
    views = new Map();
    cache.set(repo, views);
  }
  if (!views.has(node)) {
    const known = repo.nodes.some((n) => n.doc.metadata.name === node);
    views.set(
      node,
      known
        ? nodeView(
            repo.cluster.doc,
            repo.nodes.map((n) => n.doc),
            node,
          )
        : undefined,
    );
  }
  return views.get(node);
}
