import { readFile as fsReadFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { type PublicKey, readKeys } from 'openpgp';
import { parseSshPublicKey, type SshPublicKey } from './ssh-key.ts';

// The keys whose signatures a node accepts, from the agent's own configuration: never from
// the repository being checked, or whoever can push could also allow their own key.
//
//   trust:
//     keys:
//       - file: /etc/keepgit/keys/alice.asc      # OpenPGP: gpg --armor --export
//       - file: /etc/keepgit/keys/bob.pub        # OpenSSH key line(s), or allowed_signers
//       - |                                      # inline: the same text, in the config
//         ssh-ed25519 AAAAC3Nza... carol@example.org
//
// One text may hold several keys: armoured OpenPGP blocks and SSH lines, in any order.
// SSH lines are either public key lines ("TYPE BASE64 [comment]") or git's
// gpg.ssh.allowedSignersFile lines ("PRINCIPALS [OPTIONS] TYPE BASE64 [comment]") with
// the options git honours: namespaces="..." and valid-after / valid-before (checked, as
// git does, against the commit's committer time).
//
// Every unparseable key is reported with its file and line; a set with any error is not
// returned at all, so a typo never silently shrinks the allow-list.

export interface SshTrustKey {
  kind: 'ssh';
  key: SshPublicKey;
  /** allowed_signers principals, or the key line's comment; for messages only. */
  principals: string[];
  /** From namespaces="..." on an allowed_signers line; absent means any. */
  namespaces?: string[];
  /** Seconds since the epoch, from valid-after / valid-before. */
  validAfter?: number;
  validBefore?: number;
  /** "FILE:LINE", for messages. */
  source: string;
}

export interface OpenPgpTrustKey {
  kind: 'openpgp';
  key: PublicKey;
  /** Upper-case hex, as gpg prints it. */
  fingerprint: string;
  userIds: string[];
  source: string;
}

export type TrustKey = SshTrustKey | OpenPgpTrustKey;

export interface TrustKeys {
  keys: TrustKey[];
}

export type TrustKeysResult = { ok: true; trust: TrustKeys } | { ok: false; errors: string[] };

const PGP_PUBLIC = /^-----BEGIN PGP PUBLIC KEY BLOCK-----\s*$/;
const PGP_PRIVATE = /^-----BEGIN PGP PRIVATE KEY BLOCK-----\s*$/;
const SSH_PRIVATE = /^-----BEGIN (OPENSSH|RSA|EC|DSA) PRIVATE KEY-----\s*$/;
const END = /^-----END [A-Z ]+-----\s*$/;
const isKeyType = (t: string): boolean => /^(ssh-|ecdsa-sha2-|sk-)/.test(t);

/** Split on blanks outside double quotes; quotes stay in the token. */
function tokens(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    if (!quoted && (c === ' ' || c === '\t')) {
      if (cur !== '') out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of s) {
    if (c === '"') quoted = !quoted;
    if (!quoted && c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const unquote = (s: string): string =>
  s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;

/** ssh-keygen's YYYYMMDD[HHMM[SS]][Z]: UTC with Z, the node's local time without. */
function parseSshTime(v: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z?)$/.exec(v);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = m[7] === 'Z' ? new Date(Date.UTC(y, mo - 1, d, h, mi, s)) : new Date(y, mo - 1, d, h, mi, s);
  const back =
    m[7] === 'Z'
      ? [
          date.getUTCFullYear(),
          date.getUTCMonth() + 1,
          date.getUTCDate(),
          date.getUTCHours(),
          date.getUTCMinutes(),
        ]
      : [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes()];
  // Date rolls 20240231 over into March; a date that does not round-trip was not a date.
  if (back.join() !== [y, mo, d, h, mi].join() || s > 59) return undefined;
  return Math.floor(date.getTime() / 1000);
}

type Options = Pick<SshTrustKey, 'namespaces' | 'validAfter' | 'validBefore'>;

function parseOptions(text: string): Options | string {
  const out: Options = {};
  for (const opt of splitOutsideQuotes(text, ',')) {
    const eq = opt.indexOf('=');
    const name = (eq === -1 ? opt : opt.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? undefined : unquote(opt.slice(eq + 1));
    if (name === 'cert-authority') {
      return "cert-authority (SSH certificates) is not supported: list the signer's own public key";
    }
    if (name === 'namespaces' && value !== undefined) {
      out.namespaces = value.split(',').map((n) => n.trim());
    } else if ((name === 'valid-after' || name === 'valid-before') && value !== undefined) {
      const t = parseSshTime(value);
      if (t === undefined)
        return `${name}="${value}" is not a time: write YYYYMMDD or YYYYMMDDHHMM[SS], with Z for UTC`;
      if (name === 'valid-after') out.validAfter = t;
      else out.validBefore = t;
    } else {
      return `unknown option "${opt}" (known: namespaces="...", valid-after="...", valid-before="...")`;
    }
  }
  return out;
}

/** One SSH key line, or why it is not one. */
function parseSshLine(line: string, source: string): SshTrustKey | string {
  const t = tokens(line);
  let principals: string[];
  let options: Options = {};
  let rest: string[];
  if (isKeyType(t[0] ?? '')) {
    rest = t;
    principals = t.length > 2 ? [t.slice(2).join(' ')] : [];
  } else {
    // allowed_signers: PRINCIPALS [OPTIONS] TYPE BASE64 [comment]
    if (!isKeyType(t[1] ?? '') && !isKeyType(t[2] ?? '')) {
      return 'not an SSH public key line ("TYPE BASE64 [comment]") nor an allowed_signers line ("PRINCIPALS [OPTIONS] TYPE BASE64")';
    }
    principals = unquote(t[0] ?? '').split(',');
    let i = 1;
    if (!isKeyType(t[1] ?? '')) {
      const o = parseOptions(t[1] ?? '');
      if (typeof o === 'string') return o;
      options = o;
      i = 2;
    }
    rest = t.slice(i);
  }
  const [type = '', b64 = ''] = rest;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return `${type} key: the key data is not base64`;
  const parsed = parseSshPublicKey(Buffer.from(b64, 'base64'));
  if ('error' in parsed) return parsed.error;
  if (parsed.type !== type) return `the line says ${type} but the key data is ${parsed.type}`;
  return { kind: 'ssh', key: parsed, principals, ...options, source };
}

async function parsePgp(
  input: { armoredKeys: string } | { binaryKeys: Uint8Array },
  source: string,
): Promise<{ keys: OpenPgpTrustKey[]; errors: string[] }> {
  const keys: OpenPgpTrustKey[] = [];
  const errors: string[] = [];
  let read: Awaited<ReturnType<typeof readKeys>>;
  try {
    read = 'armoredKeys' in input ? await readKeys(input) : await readKeys(input);
  } catch (e) {
    return {
      keys,
      errors: [`${source}: not an OpenPGP public key: ${e instanceof Error ? e.message : String(e)}`],
    };
  }
  for (const k of read) {
    const fingerprint = k.getFingerprint().toUpperCase();
    if (k.isPrivate()) {
      errors.push(
        `${source}: OpenPGP key ${fingerprint} is a private key; give the public key (gpg --armor --export ${fingerprint})`,
      );
      continue;
    }
    const key = k.toPublic();
    try {
      // Checks the self-signatures, expiry and revocation: a key that can verify nothing
      // should be a configuration error now, not a mystery refusal on the next commit.
      await key.verifyPrimaryKey();
    } catch (e) {
      errors.push(
        `${source}: OpenPGP key ${fingerprint} is not usable: ${e instanceof Error ? e.message : String(e)}`,
      );
      continue;
    }
    keys.push({ kind: 'openpgp', key, fingerprint, userIds: key.getUserIDs(), source });
  }
  return { keys, errors };
}

/** Keys in TEXT (from SOURCE, a file name or a config path, used in messages). */
export async function parseTrustKeyText(
  text: string | Uint8Array,
  source: string,
): Promise<{ keys: TrustKey[]; errors: string[] }> {
  if (typeof text !== 'string') {
    // Editors on some systems start a text file with a UTF-8 byte order mark.
    if (text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf) text = text.subarray(3);
    // An OpenPGP packet's first byte has its top bit set; text keys never do.
    if (text.length > 0 && ((text[0] ?? 0) & 0x80) !== 0) return parsePgp({ binaryKeys: text }, source);
    text = Buffer.from(text).toString('utf8');
  }
  const keys: TrustKey[] = [];
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    const at = `${source}:${i + 1}`;
    if (line === '' || line.startsWith('#')) continue;
    if (PGP_PUBLIC.test(line) || PGP_PRIVATE.test(line) || SSH_PRIVATE.test(line)) {
      let j = i + 1;
      while (j < lines.length && !END.test((lines[j] ?? '').trim())) j++;
      if (SSH_PRIVATE.test(line)) {
        errors.push(`${at}: this is an SSH private key; give the public key (the .pub file) instead`);
      } else if (j >= lines.length) {
        errors.push(`${at}: OpenPGP key block has no END line`);
      } else {
        const got = await parsePgp({ armoredKeys: lines.slice(i, j + 1).join('\n') }, at);
        keys.push(...got.keys);
        errors.push(...got.errors);
      }
      i = j;
      continue;
    }
    const k = parseSshLine(line, at);
    if (typeof k === 'string') errors.push(`${at}: ${k}`);
    else keys.push(k);
  }
  if (keys.length === 0 && errors.length === 0) errors.push(`${source}: holds no key`);
  return { keys, errors };
}

export interface LoadTrustOptions {
  /** Relative `file:` paths are resolved against this (the config file's directory). */
  baseDir?: string;
  readFile?: (path: string) => Promise<Uint8Array>;
}

const describeRead = (e: unknown): string => {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return e instanceof Error ? e.message : String(e);
};

/**
 * The `trust` section of the agent's configuration (already parsed from YAML) as a key set.
 * Undefined `trust` is not handled here: the caller decides that verification is off.
 */
export async function loadTrustKeys(
  trust: unknown,
  options: LoadTrustOptions = {},
): Promise<TrustKeysResult> {
  const read = options.readFile ?? ((p: string) => fsReadFile(p));
  if (typeof trust !== 'object' || trust === null || Array.isArray(trust)) {
    return { ok: false, errors: ['trust: expected a map with a "keys" list'] };
  }
  const errors: string[] = [];
  for (const field of Object.keys(trust)) {
    if (field !== 'keys') errors.push(`trust: unknown field "${field}" (known: keys)`);
  }
  const list: unknown = 'keys' in trust ? trust.keys : undefined;
  if (!Array.isArray(list) || list.length === 0) {
    errors.push(
      'trust.keys: expected a list of at least one key ({ file: PATH } or the key text); remove trust to switch signature verification off',
    );
    return { ok: false, errors };
  }
  const keys: TrustKey[] = [];
  for (const [i, entry] of list.entries()) {
    const at = `trust.keys[${i}]`;
    if (typeof entry === 'string') {
      if (/^[./~][^\n]*$/.test(entry.trim())) {
        errors.push(`${at}: "${entry.trim()}" looks like a path; write { file: ${entry.trim()} }`);
        continue;
      }
      const got = await parseTrustKeyText(entry, `${at} (inline)`);
      keys.push(...got.keys);
      errors.push(...got.errors);
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      errors.push(`${at}: expected { file: PATH } or the key text`);
      continue;
    }
    const extra = Object.keys(entry).filter((k) => k !== 'file');
    if (extra.length > 0) errors.push(`${at}: unknown field "${extra[0]}" (known: file)`);
    const file: unknown = 'file' in entry ? entry.file : undefined;
    if (typeof file !== 'string' || file === '') {
      errors.push(`${at}.file: expected the path of a key file`);
      continue;
    }
    const path = isAbsolute(file) ? file : resolve(options.baseDir ?? '.', file);
    let content: Uint8Array;
    try {
      content = await read(path);
    } catch (e) {
      errors.push(`${at}.file: cannot read ${path}: ${describeRead(e)}`);
      continue;
    }
    const got = await parseTrustKeyText(content, path);
    keys.push(...got.keys);
    errors.push(...got.errors);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, trust: { keys } };
}

/** "1 key", "2 keys": for messages. */
export const countKeys = (trust: TrustKeys): string =>
  `${trust.keys.length} ${trust.keys.length === 1 ? 'key' : 'keys'}`;
