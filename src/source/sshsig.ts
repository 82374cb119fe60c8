import { createHash } from 'node:crypto';
import { type WireReader, wireReader, wireString } from './ssh-key.ts';

// OpenSSH's signature format for arbitrary data (PROTOCOL.sshsig), which `git commit -S`
// writes when gpg.format=ssh:
//
//   byte[6] "SSHSIG"  uint32 version (1)  string publickey  string namespace
//   string reserved   string hash_algorithm ("sha256" | "sha512")  string signature
//
// The signature is not over the message itself but over
//   byte[6] "SSHSIG"  string namespace  string reserved  string hash_algorithm  string H(message)
// so a signature made for one namespace (say "file") cannot be replayed as a commit
// signature ("git").

export interface Sshsig {
  publicKey: Uint8Array;
  namespace: string;
  reserved: Uint8Array;
  hashAlgorithm: 'sha256' | 'sha512';
  signature: Uint8Array;
}

const MAGIC = Buffer.from('SSHSIG', 'latin1');
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';

function body(
  r: WireReader,
): (Omit<Sshsig, 'hashAlgorithm'> & { hashAlgorithm: string | undefined }) | undefined {
  const magic = r.bytes(6);
  if (magic === undefined || !MAGIC.equals(magic)) return undefined;
  const version = r.u32();
  if (version !== 1) return undefined;
  const publicKey = r.string();
  const namespace = r.text();
  const reserved = r.string();
  const hashAlgorithm = r.text();
  const signature = r.string();
  if (!publicKey || namespace === undefined || !reserved || !signature || r.rest() !== 0) return undefined;
  return { publicKey, namespace, reserved, hashAlgorithm, signature };
}

/** The armoured signature parsed, or what is wrong with it. Never throws. */
export function parseSshsig(armoured: string): Sshsig | { error: string } {
  const text = armoured.trim();
  if (!text.startsWith(BEGIN) || !text.endsWith(END))
    return { error: 'the SSH signature armour is incomplete' };
  const b64 = text.slice(BEGIN.length, text.length - END.length).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { error: 'the SSH signature is not base64' };
  const parsed = body(wireReader(Buffer.from(b64, 'base64')));
  if (parsed === undefined) return { error: 'the SSH signature is not an SSHSIG version 1 blob' };
  const { hashAlgorithm } = parsed;
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512') {
    return { error: `the SSH signature uses hash "${hashAlgorithm ?? '?'}" (only sha256 and sha512 exist)` };
  }
  return { ...parsed, hashAlgorithm };
}

/** The bytes the signature inside SIG was made over, for MESSAGE. */
export function sshsigSignedData(sig: Sshsig, message: Uint8Array): Buffer {
  return Buffer.concat([
    MAGIC,
    wireString(sig.namespace),
    wireString(sig.reserved),
    wireString(sig.hashAlgorithm),
    wireString(createHash(sig.hashAlgorithm).update(message).digest()),
  ]);
}
