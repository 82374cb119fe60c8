import { createHash, createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';

// OpenSSH public keys and signatures in their wire form (RFC 4251 strings and mpints), as
// they appear in a key line's base64 blob and inside an SSHSIG signature. Keys become Node
// KeyObjects through JWK, so the checks are Node's own crypto and no key is re-encoded by
// hand into PEM/DER.
//
// Security-key types (sk-ssh-ed25519@openssh.com, sk-ecdsa-...) sign a different structure
// (application hash, flags, counter) and are refused with a message rather than half-supported.

export interface SshPublicKey {
  /** The blob's own type name: "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ... */
  type: string;
  /** The wire blob, exactly as in the key line: two keys are the same key iff their blobs are equal. */
  blob: Uint8Array;
  /** As `ssh-keygen -lf` prints it: "SHA256:" and unpadded base64 of SHA-256(blob). */
  fingerprint: string;
  key: KeyObject;
}

export const SUPPORTED_SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
] as const;

/** A cursor over wire data; every read returns undefined instead of running past the end. */
export interface WireReader {
  u32(): number | undefined;
  bytes(n: number): Uint8Array | undefined;
  string(): Uint8Array | undefined;
  text(): string | undefined;
  rest(): number;
}

export function wireReader(buf: Uint8Array): WireReader {
  let at = 0;
  const bytes = (n: number): Uint8Array | undefined => {
    if (n < 0 || at + n > buf.length) return undefined;
    const out = buf.subarray(at, at + n);
    at += n;
    return out;
  };
  const u32 = (): number | undefined => {
    const b = bytes(4);
    return b === undefined
      ? undefined
      : (b[0] ?? 0) * 2 ** 24 + ((b[1] ?? 0) << 16) + ((b[2] ?? 0) << 8) + (b[3] ?? 0);
  };
  const string = (): Uint8Array | undefined => {
    const n = u32();
    return n === undefined ? undefined : bytes(n);
  };
  // Type names and namespaces are ASCII; a non-ASCII one is malformed, not a different name.
  const text = (): string | undefined => {
    const s = string();
    if (s === undefined || s.some((c) => c < 0x20 || c > 0x7e)) return undefined;
    return Buffer.from(s).toString('latin1');
  };
  return { u32, bytes, string, text, rest: () => buf.length - at };
}

export function wireString(data: Uint8Array | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

export const sshFingerprint = (blob: Uint8Array): string =>
  `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** An mpint's magnitude without the sign byte; undefined for a negative value. */
function unsigned(mpint: Uint8Array): Uint8Array | undefined {
  if (mpint.length > 0 && ((mpint[0] ?? 0) & 0x80) !== 0) return undefined;
  let i = 0;
  while (i < mpint.length - 1 && mpint[i] === 0) i++;
  return mpint.subarray(i);
}

const CURVES: Record<string, { name: string; jwk: string; size: number; hash: string }> = {
  'ecdsa-sha2-nistp256': { name: 'nistp256', jwk: 'P-256', size: 32, hash: 'sha256' },
  'ecdsa-sha2-nistp384': { name: 'nistp384', jwk: 'P-384', size: 48, hash: 'sha384' },
  'ecdsa-sha2-nistp521': { name: 'nistp521', jwk: 'P-521', size: 66, hash: 'sha512' },
};

/** The JWK of a key blob's body (after its type string), or why it cannot be one. */
function jwkOf(type: string, r: WireReader): JsonWebKey | string {
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    return pk?.length === 32 ? { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) } : 'bad ed25519 key';
  }
  if (type === 'ssh-rsa') {
    const e = r.string();
    const n = r.string();
    const ue = e && unsigned(e);
    const un = n && unsigned(n);
    if (!ue || !un || ue.length === 0 || un.length === 0) return 'bad RSA key';
    // Below 2048 bits RSA is breakable with money; OpenSSH itself refuses under 1024.
    if (un.length * 8 < 2048) return `RSA key of ${un.length * 8} bits is too small (2048 at least)`;
    return { kty: 'RSA', n: b64url(un), e: b64url(ue) };
  }
  const curve = CURVES[type];
  if (curve) {
    const name = r.text();
    const q = r.string();
    if (name !== curve.name) return `curve "${name ?? '?'}" does not match key type ${type}`;
    if (!q || q.length !== 1 + 2 * curve.size || q[0] !== 0x04) return 'bad ECDSA point';
    return {
      kty: 'EC',
      crv: curve.jwk,
      x: b64url(q.subarray(1, 1 + curve.size)),
      y: b64url(q.subarray(1 + curve.size)),
    };
  }
  if (type.startsWith('sk-')) {
    return `security-key type ${type} is not supported (use ${SUPPORTED_SSH_KEY_TYPES.join(', ')})`;
  }
  if (type.includes('-cert-v01@')) {
    return `certificate type ${type} is not supported: list the signer's own public key instead`;
  }
  return `key type "${type}" is not supported (use ${SUPPORTED_SSH_KEY_TYPES.join(', ')})`;
}

/** Parse a public key blob. Errors are values; malformed input never throws. */
export function parseSshPublicKey(blob: Uint8Array): SshPublicKey | { error: string } {
  const r = wireReader(blob);
  const type = r.text();
  if (type === undefined) return { error: 'not an SSH public key (no key type in the blob)' };
  const jwk = jwkOf(type, r);
  if (typeof jwk === 'string') return { error: jwk };
  if (r.rest() !== 0) return { error: `${type} key blob has ${r.rest()} bytes too many` };
  try {
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    return { type, blob: Uint8Array.from(blob), fingerprint: sshFingerprint(blob), key };
  } catch (e) {
    return { error: `${type} key is not valid: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** ECDSA's wire signature (mpint r, mpint s) as IEEE P1363 r||s, each padded to the curve size. */
function p1363(sig: Uint8Array, size: number): Buffer | undefined {
  const r = wireReader(sig);
  const rr = r.string();
  const ss = r.string();
  const ur = rr && unsigned(rr);
  const us = ss && unsigned(ss);
  if (!ur || !us || ur.length > size || us.length > size || r.rest() !== 0) return undefined;
  const out = Buffer.alloc(2 * size);
  out.set(ur, size - ur.length);
  out.set(us, 2 * size - us.length);
  return out;
}

export type SshVerifyResult = { ok: true } | { ok: false; reason: string; malformed?: boolean };

/**
 * Check an SSH signature blob (string format, string signature) made by KEY over DATA.
 * `malformed` marks a blob that could not even be read, as opposed to one that does not verify.
 */
export function verifySshSignature(
  key: SshPublicKey,
  sigBlob: Uint8Array,
  data: Uint8Array,
): SshVerifyResult {
  const r = wireReader(sigBlob);
  const format = r.text();
  const sig = r.string();
  if (format === undefined || sig === undefined || r.rest() !== 0) {
    return { ok: false, reason: 'the signature blob is malformed', malformed: true };
  }
  let hash: string | null;
  let signature: Uint8Array | undefined = sig;
  if (key.type === 'ssh-ed25519' && format === 'ssh-ed25519') {
    hash = null;
  } else if (key.type === 'ssh-rsa' && (format === 'rsa-sha2-256' || format === 'rsa-sha2-512')) {
    hash = format === 'rsa-sha2-256' ? 'sha256' : 'sha512';
  } else if (key.type === 'ssh-rsa' && format === 'ssh-rsa') {
    return { ok: false, reason: 'the signature uses SHA-1 (ssh-rsa), which is not accepted; re-sign it' };
  } else if (CURVES[key.type] && format === key.type) {
    const curve = CURVES[key.type];
    hash = curve?.hash ?? null;
    signature = curve && p1363(sig, curve.size);
    if (signature === undefined)
      return { ok: false, reason: 'the ECDSA signature is malformed', malformed: true };
  } else {
    return { ok: false, reason: `a ${format} signature cannot come from a ${key.type} key`, malformed: true };
  }
  try {
    const good =
      hash === null
        ? verify(null, data, key.key, signature)
        : CURVES[key.type]
          ? verify(hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
          : verify(hash, data, key.key, signature);
    return good ? { ok: true } : { ok: false, reason: 'the signature does not verify' };
  } catch {
    // Node throws for some malformed signatures (wrong length, bad encoding): not a valid one.
    return { ok: false, reason: 'the signature does not verify' };
  }
}
