import type { AdmitRevision } from './git-poller.ts';
import type { TrustKeys } from './trust-keys.ts';
import { verifyCommit } from './verify-signature.ts';

// The signature check as the Git poller's admission hook: a fetched head that is not signed
// by a trusted key is refused before it is handed over, with the verifier's sentence as the
// poller's message (the poller keeps the node on its current revision and reports it).
export function admitSignedRevisions(trust: TrustKeys): AdmitRevision {
  return async (revision) => {
    const v = await verifyCommit(revision.gitdir, revision.commit, trust);
    return v.ok ? { ok: true } : { ok: false, message: v.reason };
  };
}
