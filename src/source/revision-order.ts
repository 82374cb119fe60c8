import * as fs from 'node:fs';
import { readCommit } from 'isomorphic-git';

// Whether a newly fetched commit moves the node forward from the commit it runs. A
// branch that jumps backwards (a force-push, a revert of a ref, a compromised mirror
// replaying an old revision) would silently undo changes, so it is refused unless the
// operator allows rewinds. The cache is shallow, so "not found" may only mean "not
// fetched yet": before deciding, more history is fetched a bounded number of times.

export type RevisionOrder = 'descendant' | 'same' | 'rewind' | 'unrelated' | 'unknown';

export interface OrderResult {
  order: RevisionOrder;
  message: string;
}

export interface OrderOptions {
  /** The (bare) repository holding both commits, as far as they were fetched. */
  gitdir: string;
  /** The commit just fetched. */
  fetched: string;
  /** The commit the node runs. */
  applied: string;
  /**
   * Fetch `depth` commits of the fetched ref's history into `gitdir`; returns an error
   * message or undefined. Without it nothing more is fetched.
   */
  deepen?: (depth: number) => Promise<string | undefined>;
  /** The depths to try, in order. Default 10, 100, 1000. */
  deepenSteps?: readonly number[];
  /** Commits walked per search at most, so a huge history cannot stall a poll. Default 100 000. */
  maxWalk?: number;
}

export const DEFAULT_DEEPEN_STEPS: readonly number[] = [10, 100, 1000];
const DEFAULT_MAX_WALK = 100_000;

const short = (oid: string): string => oid.slice(0, 7);

interface Search {
  found: boolean;
  /** Every commit reachable from the start was present: "not found" is final. */
  complete: boolean;
}

/** Is `target` reachable from `from` through the commits present in `gitdir`? */
async function reaches(gitdir: string, from: string, target: string, maxWalk: number): Promise<Search> {
  const cache = {};
  const seen = new Set<string>([from]);
  const queue = [from];
  let complete = true;
  for (let next = 0; next < queue.length; next++) {
    const oid = queue[next] as string;
    if (oid === target) return { found: true, complete };
    if (seen.size > maxWalk) return { found: false, complete: false };
    let parents: string[];
    try {
      parents = (await readCommit({ fs, gitdir, oid, cache })).commit.parent;
    } catch {
      // Missing: beyond the shallow boundary of the cache.
      complete = false;
      continue;
    }
    for (const p of parents) {
      if (!seen.has(p)) {
        seen.add(p);
        queue.push(p);
      }
    }
  }
  return { found: false, complete };
}

const REFUSED = 'refused: set source.allowRewind: true to allow it';

export async function orderRevisions(opts: OrderOptions): Promise<OrderResult> {
  const { gitdir, fetched, applied } = opts;
  const maxWalk = opts.maxWalk ?? DEFAULT_MAX_WALK;
  if (fetched === applied) return { order: 'same', message: `revision ${short(fetched)} is already applied` };

  let forward = await reaches(gitdir, fetched, applied, maxWalk);
  let deepest = 0;
  for (const depth of opts.deepenSteps ?? DEFAULT_DEEPEN_STEPS) {
    if (forward.found || forward.complete || opts.deepen === undefined) break;
    const error = await opts.deepen(depth);
    if (error !== undefined)
      return {
        order: 'unknown',
        message: `cannot tell whether revision ${short(fetched)} follows the applied ${short(applied)}: fetching more history failed: ${error}`,
      };
    deepest = depth;
    forward = await reaches(gitdir, fetched, applied, maxWalk);
  }
  if (forward.found)
    return {
      order: 'descendant',
      message: `revision ${short(fetched)} follows the applied ${short(applied)}`,
    };

  const backward = await reaches(gitdir, applied, fetched, maxWalk);
  if (backward.found)
    return {
      order: 'rewind',
      message: `revision ${short(fetched)} is older than the applied ${short(applied)} (a force-push backwards?); ${REFUSED}`,
    };
  if (forward.complete)
    return {
      order: 'unrelated',
      message: `revision ${short(fetched)} does not contain the applied ${short(applied)} (history rewritten by a force-push?); ${REFUSED}`,
    };
  const within = deepest > 0 ? ` within its ${deepest} most recent commits` : ' in the fetched history';
  return {
    order: 'unknown',
    message: `cannot tell whether revision ${short(fetched)} follows the applied ${short(applied)}: the applied commit is not${within}; ${REFUSED}`,
  };
}

/** Whether a revision in this order may be applied. Pure. */
export function admitRevision(
  result: OrderResult,
  allowRewind: boolean,
): { ok: true; warning?: string } | { ok: false; message: string } {
  if (result.order === 'descendant' || result.order === 'same') return { ok: true };
  if (allowRewind)
    return {
      ok: true,
      warning: `${result.message.replace(`; ${REFUSED}`, '')}; applied anyway because source.allowRewind is true`,
    };
  return { ok: false, message: result.message };
}
