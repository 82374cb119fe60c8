import * as fs from 'node:fs';
import { expandOid, readObject } from 'isomorphic-git';
import { createMessage, readSignature, verify } from 'openpgp';
import { splitSignedCommit } from './signed-commit.ts';
import { parseSshPublicKey, verifySshSignature } from './ssh-key.ts';
import { parseSshsig, sshsigSignedData } from './sshsig.ts';
import { countKeys, type OpenPgpTrustKey, type SshTrustKey, type TrustKeys } from './trust-keys.ts';

// Is this commit signed by a key the node trusts? The answer is a value with a sentence for
// the operator; malformed objects, signatures and keys are answers too, never exceptions,
// because everything here comes from a repository that someone else can push to.
//
// Only the commit itself is checked: the caller decides which commits need checking (the
// head it is about to apply, like Flux), and with that head's signature git's hash chain
// vouches for the tree and the history below it.

export type CommitVerification =
  | {
      ok: true;
      commit: string;
      kind: 'ssh' | 'openpgp';
      /** SSH: "SHA256:..." of the key; OpenPGP: the primary key's fingerprint (upper-case hex). */
      fingerprint: string;
      /** OpenPGP only: the ID of the (sub)key that made the signature. */
      keyId?: string;
      /** Who the allow-list says the key belongs to: principals, key comment or user ID. */
      signer: string;
      /** Where the trusted key came from ("FILE:LINE"). */
      source: string;
    }
  | { ok: false; commit: string; reason: string };

const refuse = (commit: string, reason: string): CommitVerification => ({ ok: false, commit, reason });
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

const SSH_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const PGP_BEGIN = '-----BEGIN PGP SIGNATURE-----';

/** Why ENTRY does not admit a signature in NAMESPACE on a commit made at TIME, if it does not. */
function entryRefusal(entry: SshTrustKey, namespace: string, time: number | undefined): string | undefined {
  if (entry.namespaces && !entry.namespaces.includes(namespace)) {
    return `is allowed only for namespaces "${entry.namespaces.join(',')}" (${entry.source}), not "${namespace}"`;
  }
  if (entry.validAfter !== undefined || entry.validBefore !== undefined) {
    if (time === undefined)
      return `has a validity period (${entry.source}) but the commit has no committer time`;
    if (entry.validAfter !== undefined && time < entry.validAfter) {
      return `is valid only from ${iso(entry.validAfter)} (${entry.source}); the commit is dated ${iso(time)}`;
    }
    if (entry.validBefore !== undefined && time > entry.validBefore) {
      return `was valid only until ${iso(entry.validBefore)} (${entry.source}); the commit is dated ${iso(time)}`;
    }
  }
  return undefined;
}

function verifySsh(
  short: string,
  commit: string,
  armoured: string,
  payload: Uint8Array,
  committerTime: number | undefined,
  trust: TrustKeys,
): CommitVerification {
  const sig = parseSshsig(armoured);
  if ('error' in sig) return refuse(commit, `signature of commit ${short} is malformed: ${sig.error}`);
  const key = parseSshPublicKey(sig.publicKey);
  if ('error' in key)
    return refuse(commit, `signature of commit ${short} names a key keepgit cannot use: ${key.error}`);
  if (sig.namespace !== 'git') {
    return refuse(
      commit,
      `signature of commit ${short} was made for namespace "${sig.namespace}", not "git"`,
    );
  }
  const entries = trust.keys.filter(
    (k): k is SshTrustKey => k.kind === 'ssh' && Buffer.from(k.key.blob).equals(Buffer.from(key.blob)),
  );
  if (entries.length === 0) {
    return refuse(
      commit,
      `commit ${short} is signed by SSH key ${key.fingerprint}, which is not in trust.keys`,
    );
  }
  const refusals = entries.map((e) => entryRefusal(e, sig.namespace, committerTime));
  const entry = entries.find((_, i) => refusals[i] === undefined);
  if (entry === undefined) {
    return refuse(
      commit,
      `commit ${short} is signed by SSH key ${key.fingerprint}, which ${refusals.join('; and ')}`,
    );
  }
  const checked = verifySshSignature(key, sig.signature, sshsigSignedData(sig, payload));
  if (!checked.ok) {
    return refuse(
      commit,
      checked.malformed
        ? `signature of commit ${short} is malformed: ${checked.reason}`
        : checked.reason === 'the signature does not verify'
          ? `signature of commit ${short} does not verify (the commit was changed after signing?)`
          : `signature of commit ${short} is refused: ${checked.reason}`,
    );
  }
  return {
    ok: true,
    commit,
    kind: 'ssh',
    fingerprint: key.fingerprint,
    signer: entry.principals.join(',') || key.fingerprint,
    source: entry.source,
  };
}

async function verifyPgp(
  short: string,
  commit: string,
  armoured: string,
  payload: Uint8Array,
  trust: TrustKeys,
): Promise<CommitVerification> {
  let signature: Awaited<ReturnType<typeof readSignature>>;
  try {
    signature = await readSignature({ armoredSignature: armoured });
  } catch (e) {
    return refuse(commit, `signature of commit ${short} is malformed: ${message(e)}`);
  }
  const ids = signature.getSigningKeyIDs();
  const issuerFpr = signature.packets
    .map((p) => p.issuerFingerprint)
    .find((f): f is Uint8Array => f instanceof Uint8Array);
  const claimed = issuerFpr
    ? Buffer.from(issuerFpr).toString('hex').toUpperCase()
    : ids.map((id) => id.toHex().toUpperCase()).join(', ') || 'with no key ID';
  const allowed = trust.keys.filter(
    (k): k is OpenPgpTrustKey => k.kind === 'openpgp' && ids.some((id) => k.key.getKeys(id).length > 0),
  );
  if (allowed.length === 0) {
    return refuse(commit, `commit ${short} is signed by OpenPGP key ${claimed}, which is not in trust.keys`);
  }
  let lastError = '';
  for (const entry of allowed) {
    try {
      const result = await verify({
        message: await createMessage({ binary: payload }),
        signature,
        verificationKeys: [entry.key],
        format: 'binary',
        expectSigned: true,
      });
      const good = result.signatures[0];
      if (good === undefined) continue;
      await good.verified;
      return {
        ok: true,
        commit,
        kind: 'openpgp',
        fingerprint: entry.fingerprint,
        keyId: good.keyID.toHex().toUpperCase(),
        signer: entry.userIds[0] ?? entry.fingerprint,
        source: entry.source,
      };
    } catch (e) {
      lastError = message(e);
    }
  }
  // openpgp says "digest did not match" or "signature verification failed" when the signed
  // bytes changed; anything else (expired or revoked key, weak algorithm) is worth showing.
  return refuse(
    commit,
    /digest did not match|verification failed/i.test(lastError) && !/expired|revoked/i.test(lastError)
      ? `signature of commit ${short} does not verify (the commit was changed after signing?)`
      : `signature of commit ${short} by OpenPGP key ${claimed} is refused: ${lastError}`,
  );
}

/** Check the signature of COMMITOID in GITDIR against TRUST. Never throws. */
export async function verifyCommit(
  gitdir: string,
  commitOid: string,
  trust: TrustKeys,
): Promise<CommitVerification> {
  let oid = commitOid.trim().toLowerCase();
  const short = () => oid.slice(0, 7);
  let object: Uint8Array;
  try {
    if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(oid)) oid = await expandOid({ fs, gitdir, oid });
    const read = await readObject({ fs, gitdir, oid, format: 'content' });
    if (read.type !== 'commit' || !(read.object instanceof Uint8Array)) {
      return refuse(
        oid,
        `${short()} is a ${read.type}, not a commit; only commits carry the signature checked`,
      );
    }
    object = read.object;
  } catch (e) {
    return refuse(oid, `cannot read commit ${commitOid} in ${gitdir}: ${message(e)}`);
  }
  const { payload, signature, committerTime } = splitSignedCommit(object);
  if (signature === undefined) {
    return refuse(
      oid,
      `commit ${short()} is not signed; signature verification is on (trust.keys lists ${countKeys(trust)})`,
    );
  }
  const first = signature.trimStart().split('\n', 1)[0]?.trim() ?? '';
  try {
    if (first === SSH_BEGIN) return verifySsh(short(), oid, signature, payload, committerTime, trust);
    if (first === PGP_BEGIN) return await verifyPgp(short(), oid, signature, payload, trust);
  } catch (e) {
    // Not expected (both paths return values); kept so that a library surprise on hostile
    // input still ends as a refusal and not as a crashed agent.
    return refuse(oid, `signature of commit ${short()} could not be checked: ${message(e)}`);
  }
  return refuse(
    oid,
    `commit ${short()} carries a signature keepgit does not read ("${first.slice(0, 60)}"); sign with OpenPGP (gpg) or SSH`,
  );
}
