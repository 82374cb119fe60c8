import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { admitSignedRevisions } from '../../src/source/admit-signed.ts';
import { splitSignedCommit } from '../../src/source/signed-commit.ts';
import { loadTrustKeys, type TrustKeys } from '../../src/source/trust-keys.ts';
import { type CommitVerification, verifyCommit } from '../../src/source/verify-signature.ts';
import { makeSigningLab, readText, type SigningLab, signingToolsMissing } from './signing-lab.ts';

// Commits signed for real by git (SSH through ssh-keygen, OpenPGP through gpg), and commit
// objects forged from them with `git hash-object`, checked against an allow-list.

const why = signingToolsMissing();
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const ok = (v: CommitVerification): Extract<CommitVerification, { ok: true }> => {
  if (!v.ok) assert.fail(v.reason);
  return v;
};
const refused = (v: CommitVerification): string => {
  if (v.ok) assert.fail(`expected a refusal, got ok by ${v.signer}`);
  return v.reason;
};

async function trustOf(entries: unknown[]): Promise<TrustKeys> {
  const r = await loadTrustKeys({ keys: entries });
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.trust;
}

/** The raw commit with its message (everything after the blank line) replaced. */
const withMessage = (raw: string, message: string): string =>
  `${raw.slice(0, raw.indexOf('\n\n'))}\n\n${message}\n`;

/** The raw commit with its gpgsig header replaced by SIG (armour lines, unindented). */
function withSignature(raw: string, sig: string | undefined): string {
  const headers = raw.slice(0, raw.indexOf('\n\n')).split('\n');
  const kept = headers.filter((l, i) => !l.startsWith('gpgsig') && !(l.startsWith(' ') && inSig(headers, i)));
  const sigLines = sig === undefined ? [] : [`gpgsig ${sig.split('\n').join('\n ')}`];
  return `${[...kept, ...sigLines].join('\n')}${raw.slice(raw.indexOf('\n\n'))}`;
}
function inSig(headers: string[], i: number): boolean {
  for (let j = i; j >= 0; j--) {
    const l = headers[j] ?? '';
    if (!l.startsWith(' ')) return l.startsWith('gpgsig');
  }
  return false;
}
const signatureOf = (raw: string): string => {
  const headers = raw.slice(0, raw.indexOf('\n\n')).split('\n');
  const start = headers.findIndex((l) => l.startsWith('gpgsig '));
  const lines = [headers[start]?.slice('gpgsig '.length) ?? ''];
  for (let j = start + 1; j < headers.length && headers[j]?.startsWith(' '); j++)
    lines.push(headers[j]?.slice(1) ?? '');
  return lines.join('\n');
};

describe('verifyCommit', { skip }, () => {
  let lab: SigningLab;
  let alice = ''; // ed25519, allowed as a .pub file
  let bob = ''; // rsa, allowed through an allowed_signers file
  let carol = ''; // ecdsa nistp256, allowed inline
  let mallory = ''; // ed25519, not allowed
  let gpgAlice = ''; // OpenPGP, allowed
  let gpgEve = ''; // OpenPGP, not allowed
  let trust: TrustKeys;
  let allowedSigners = '';

  before(async () => {
    if (why !== undefined) assert.fail(why);
    lab = makeSigningLab();
    alice = lab.sshKey('alice', 'ed25519', 'alice@example.org');
    bob = lab.sshKey('bob', 'rsa', 'bob-laptop');
    carol = lab.sshKey('carol', 'ecdsa', 'carol@example.org');
    mallory = lab.sshKey('mallory', 'ed25519', 'mallory@example.org');
    gpgAlice = lab.gpgKey('Alice', 'alice@example.org');
    gpgEve = lab.gpgKey('Eve', 'eve@example.org');
    allowedSigners = join(lab.root, 'allowed_signers');
    writeFileSync(
      allowedSigners,
      `# who may sign\nbob@example.org namespaces="git" ${readText(`${bob}.pub`)}\n` +
        `alice@example.org ${readText(`${alice}.pub`)}\ncarol@example.org ${readText(`${carol}.pub`)}\n`,
    );
    const asc = join(lab.root, 'alice.asc');
    writeFileSync(asc, lab.gpgExport(gpgAlice));
    trust = await trustOf([
      { file: `${alice}.pub` },
      { file: allowedSigners },
      readText(`${carol}.pub`),
      { file: asc },
    ]);
  });

  after(() => lab?.cleanup());

  const gitVerifies = (oid: string): boolean =>
    spawnSync('git', ['-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`, 'verify-commit', oid], {
      cwd: lab.repo,
      env: {
        ...process.env,
        HOME: join(lab.root, 'home'),
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
      },
      stdio: 'ignore',
    }).status === 0;

  it('accepts an ed25519 SSH-signed commit from an allowed key, naming key and signer', async () => {
    const oid = lab.commit('signed by alice, naïvely ünicode', { ssh: alice });
    const v = ok(await verifyCommit(lab.gitdir, oid, trust));
    assert.equal(v.kind, 'ssh');
    assert.equal(v.commit, oid);
    assert.equal(v.fingerprint, lab.sshFingerprint(alice));
    assert.equal(v.signer, 'alice@example.org');
    assert.match(v.source, /alice\.pub:1$/);
  });

  it('accepts RSA (rsa-sha2-512) and ECDSA nistp256 SSH signatures', async () => {
    const byBob = ok(await verifyCommit(lab.gitdir, lab.commit('by bob', { ssh: bob }), trust));
    assert.equal(byBob.fingerprint, lab.sshFingerprint(bob));
    assert.equal(byBob.signer, 'bob@example.org');
    assert.match(byBob.source, /allowed_signers:2$/);
    const byCarol = ok(await verifyCommit(lab.gitdir, lab.commit('by carol', { ssh: carol }), trust));
    assert.equal(byCarol.fingerprint, lab.sshFingerprint(carol));
  });

  it('uses rsa-sha2-512 for git-made RSA signatures, and accepts rsa-sha2-256 over sha256 too', async () => {
    const signed = lab.git('cat-file', 'commit', lab.commit('which rsa', { ssh: bob }));
    const blob = Buffer.from(signatureOf(signed).split('\n').slice(1, -1).join(''), 'base64');
    assert.ok(blob.includes(Buffer.from('rsa-sha2-512')), 'git signed with rsa-sha2-512');
    // An SSHSIG made here, independently of the code under test, with the sha256 choices.
    const pem = join(lab.root, 'bob.pem');
    lab.run('cp', [bob, pem]);
    lab.run('ssh-keygen', ['-q', '-p', '-m', 'PEM', '-N', '', '-P', '', '-f', pem]);
    const str = (b: Buffer | string): Buffer => {
      const body = Buffer.from(b);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      return Buffer.concat([len, body]);
    };
    // lab.git trims output; the object ends with the message's newline.
    const raw = `${lab.git('cat-file', 'commit', lab.commit('rsa-sha2-256'))}\n`;
    const payload = Buffer.from(raw);
    const magic = Buffer.from('SSHSIG');
    const toSign = Buffer.concat([
      magic,
      str('git'),
      str(''),
      str('sha256'),
      str(createHash('sha256').update(payload).digest()),
    ]);
    const rsaSig = sign('sha256', toSign, createPrivateKey(readText(pem)));
    const pub = Buffer.from(readText(`${bob}.pub`).split(' ')[1] ?? '', 'base64');
    const version = Buffer.from([0, 0, 0, 1]);
    const sshsig = Buffer.concat([
      magic,
      version,
      str(pub),
      str('git'),
      str(''),
      str('sha256'),
      str(Buffer.concat([str('rsa-sha2-256'), str(rsaSig)])),
    ]);
    const armour = `-----BEGIN SSH SIGNATURE-----\n${sshsig
      .toString('base64')
      .match(/.{1,70}/g)
      ?.join('\n')}\n-----END SSH SIGNATURE-----`;
    const oid = lab.writeCommit(withSignature(raw, armour));
    assert.equal(ok(await verifyCommit(lab.gitdir, oid, trust)).signer, 'bob@example.org');
    assert.equal(gitVerifies(oid), true, 'git verify-commit agrees');
  });

  it('accepts ECDSA nistp384 and nistp521 SSH signatures', async () => {
    for (const bits of [384, 521]) {
      const key = lab.sshKey(`p${bits}`, 'ecdsa', `p${bits}@example.org`, bits);
      const v = ok(
        await verifyCommit(
          lab.gitdir,
          lab.commit(`p${bits}`, { ssh: key }),
          await trustOf([{ file: `${key}.pub` }]),
        ),
      );
      assert.equal(v.fingerprint, lab.sshFingerprint(key));
    }
  });

  it('accepts an abbreviated commit id', async () => {
    const oid = lab.commit('short id', { ssh: alice });
    assert.equal(ok(await verifyCommit(lab.gitdir, oid.slice(0, 10), trust)).commit, oid);
  });

  it('accepts an OpenPGP-signed commit from an allowed key', async () => {
    const oid = lab.commit('signed with gpg', { gpg: gpgAlice });
    const v = ok(await verifyCommit(lab.gitdir, oid, trust));
    assert.equal(v.kind, 'openpgp');
    assert.equal(v.fingerprint, gpgAlice);
    assert.equal(v.keyId, gpgAlice.slice(-16));
    assert.equal(v.signer, 'Alice <alice@example.org>');
  });

  it('accepts a signature by a signing subkey of an allowed OpenPGP key', async () => {
    const dave = lab.gpgKey('Dave', 'dave@example.org');
    lab.run('gpg', [
      '--batch',
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      '--quick-add-key',
      dave,
      'ed25519',
      'sign',
      '0',
    ]);
    const withSubkey = await trustOf([lab.gpgExport(dave).toString('utf8')]);
    const v = ok(await verifyCommit(lab.gitdir, lab.commit('by a subkey', { gpg: dave }), withSubkey));
    assert.equal(v.fingerprint, dave);
    assert.ok(
      v.keyId !== undefined && !dave.endsWith(v.keyId),
      `signed by subkey ${v.keyId}, not the primary`,
    );
    assert.equal(v.signer, 'Dave <dave@example.org>');
  });

  it('refuses an unsigned commit, saying verification is on', async () => {
    const oid = lab.commit('not signed');
    assert.equal(
      refused(await verifyCommit(lab.gitdir, oid, trust)),
      `commit ${oid.slice(0, 7)} is not signed; signature verification is on (trust.keys lists 6 keys)`,
    );
  });

  it('refuses a commit signed by an SSH key that is not allowed, naming its fingerprint', async () => {
    const oid = lab.commit('by mallory', { ssh: mallory });
    assert.equal(
      refused(await verifyCommit(lab.gitdir, oid, trust)),
      `commit ${oid.slice(0, 7)} is signed by SSH key ${lab.sshFingerprint(mallory)}, which is not in trust.keys`,
    );
  });

  it('refuses a commit signed by an OpenPGP key that is not allowed, naming its fingerprint', async () => {
    const oid = lab.commit('by eve', { gpg: gpgEve });
    assert.equal(
      refused(await verifyCommit(lab.gitdir, oid, trust)),
      `commit ${oid.slice(0, 7)} is signed by OpenPGP key ${gpgEve}, which is not in trust.keys`,
    );
    // An allow-list of SSH keys only does not accept an OpenPGP signature either.
    const sshOnly = await trustOf([{ file: `${alice}.pub` }]);
    const good = lab.commit('gpg, but only ssh trusted', { gpg: gpgAlice });
    assert.match(refused(await verifyCommit(lab.gitdir, good, sshOnly)), /OpenPGP key .* not in trust\.keys/);
  });

  it('refuses SSH- and OpenPGP-signed commits whose content changed after signing', async () => {
    for (const sign of [{ ssh: alice }, { ssh: bob }, { ssh: carol }, { gpg: gpgAlice }]) {
      const signed = lab.commit('deploy 203.0.113.10', sign);
      const raw = lab.git('cat-file', 'commit', signed);
      const forged = lab.writeCommit(withMessage(raw, 'deploy 203.0.113.66'));
      assert.notEqual(forged, signed);
      assert.equal(
        refused(await verifyCommit(lab.gitdir, forged, trust)),
        `signature of commit ${forged.slice(0, 7)} does not verify (the commit was changed after signing?)`,
        JSON.stringify(sign),
      );
      // The signature of one commit grafted onto another commit's payload.
      const other = lab.git('cat-file', 'commit', lab.commit('another change'));
      const grafted = lab.writeCommit(withSignature(other, signatureOf(raw)));
      assert.match(refused(await verifyCommit(lab.gitdir, grafted, trust)), /does not verify/);
    }
  });

  it('agrees with git verify-commit on good and forged SSH commits', async () => {
    const signed = lab.commit('oracle', { ssh: bob });
    const forged = lab.writeCommit(withMessage(lab.git('cat-file', 'commit', signed), 'oracle, edited'));
    for (const [oid, expected] of [
      [signed, true],
      [forged, false],
    ] as const) {
      assert.equal(gitVerifies(oid), expected);
      assert.equal((await verifyCommit(lab.gitdir, oid, trust)).ok, expected);
    }
  });

  it('refuses garbage signatures with a reason, never throwing', async () => {
    const raw = lab.git('cat-file', 'commit', lab.commit('base for garbage'));
    const real = signatureOf(lab.git('cat-file', 'commit', lab.commit('real', { ssh: alice })));
    const b64 = real.split('\n').slice(1, -1).join('');
    const rewrap = (s: string): string =>
      `-----BEGIN SSH SIGNATURE-----\n${s.match(/.{1,70}/g)?.join('\n') ?? ''}\n-----END SSH SIGNATURE-----`;
    const blob = Buffer.from(b64, 'base64');
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 0xff;
    const bigLength = Buffer.from(blob);
    bigLength.writeUInt32BE(0xfffffff0, 10);
    const cases: [string, string, RegExp][] = [
      ['random base64', rewrap(Buffer.alloc(90, 7).toString('base64')), /malformed/],
      ['truncated blob', rewrap(blob.subarray(0, 60).toString('base64')), /malformed/],
      ['length past the end', rewrap(bigLength.toString('base64')), /malformed|cannot use/],
      ['not base64', '-----BEGIN SSH SIGNATURE-----\n!!!***\n-----END SSH SIGNATURE-----', /not base64/],
      ['no END line', '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH', /incomplete/],
      ['flipped signature byte', rewrap(flipped.toString('base64')), /does not verify/],
      ['empty SSH armour', '-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----', /malformed/],
      ['garbage PGP', '-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----', /malformed/],
      ['PGP no body', '-----BEGIN PGP SIGNATURE-----', /malformed/],
      ['X.509', '-----BEGIN SIGNED MESSAGE-----\nMIIB\n-----END SIGNED MESSAGE-----', /does not read/],
      ['plain words', 'trust me', /does not read/],
    ];
    for (const [name, sig, reason] of cases) {
      const oid = lab.writeCommit(withSignature(raw, sig));
      const v = await verifyCommit(lab.gitdir, oid, trust);
      assert.match(refused(v), reason, name);
    }
  });

  it('refuses a valid SSH signature made for another namespace', async () => {
    const raw = lab.git('cat-file', 'commit', lab.commit('namespace'));
    const payload = join(lab.root, 'payload');
    writeFileSync(payload, raw.endsWith('\n') ? raw : `${raw}\n`);
    lab.run('ssh-keygen', ['-Y', 'sign', '-q', '-f', alice, '-n', 'file', payload]);
    const oid = lab.writeCommit(withSignature(raw, readText(`${payload}.sig`).trim()));
    assert.match(refused(await verifyCommit(lab.gitdir, oid, trust)), /made for namespace "file", not "git"/);
  });

  it('honours namespaces and validity periods of allowed_signers lines', async () => {
    const line = readText(`${alice}.pub`);
    const fileOnly = await trustOf([`alice@example.org namespaces="file" ${line}`]);
    const expired = await trustOf([`alice@example.org valid-before="20000101Z" ${line}`]);
    const future = await trustOf([`alice@example.org valid-after="29990101Z" ${line}`]);
    const current = await trustOf([
      `alice@example.org valid-after="20000101Z",valid-before="29990101Z" ${line}`,
    ]);
    const oid = lab.commit('validity', { ssh: alice });
    assert.match(
      refused(await verifyCommit(lab.gitdir, oid, fileOnly)),
      /allowed only for namespaces "file"/,
    );
    assert.match(
      refused(await verifyCommit(lab.gitdir, oid, expired)),
      /valid only until 2000-01-01T00:00:00Z/,
    );
    assert.match(
      refused(await verifyCommit(lab.gitdir, oid, future)),
      /valid only from 2999-01-01T00:00:00Z/,
    );
    ok(await verifyCommit(lab.gitdir, oid, current));
  });

  it('serves as the Git poller admission hook', async () => {
    const admit = admitSignedRevisions(trust);
    const revision = (commit: string) => ({
      commit,
      files: new Map<string, string>(),
      ref: 'refs/heads/main',
      gitdir: lab.gitdir,
      downloaded: true,
      warnings: [],
    });
    assert.deepEqual(await admit(revision(lab.commit('admitted', { ssh: alice }))), { ok: true });
    const unsigned = lab.commit('not admitted');
    assert.deepEqual(await admit(revision(unsigned)), {
      ok: false,
      message: `commit ${unsigned.slice(0, 7)} is not signed; signature verification is on (trust.keys lists 6 keys)`,
    });
  });

  it('reports a missing commit and a non-commit object as refusals', async () => {
    assert.match(refused(await verifyCommit(lab.gitdir, 'f'.repeat(40), trust)), /cannot read commit f{40}/);
    const tree = lab.git('rev-parse', 'HEAD^{tree}');
    assert.match(refused(await verifyCommit(lab.gitdir, tree, trust)), /is a tree, not a commit/);
    assert.match(
      refused(await verifyCommit(join(lab.root, 'nowhere'), 'HEAD', trust)),
      /cannot read commit HEAD/,
    );
  });
});

describe('splitSignedCommit', () => {
  it('drops every gpgsig* header from the payload and keeps the message byte-exact', () => {
    const latin1 = Buffer.from('caf\xe9\n', 'latin1'); // not UTF-8: must survive untouched
    const object = Buffer.concat([
      Buffer.from(
        'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' +
          'author A <a@example.org> 1700000000 +0100\n' +
          'committer A <a@example.org> 1700000123 -0200\n' +
          'gpgsig -----BEGIN SSH SIGNATURE-----\n U1NI\n \n -----END SSH SIGNATURE-----\n' +
          'gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n OTHER\n -----END SSH SIGNATURE-----\n' +
          'encoding ISO-8859-1\n\n' +
          'gpgsig in the message is just text\n',
        'latin1',
      ),
      latin1,
    ]);
    const split = splitSignedCommit(object);
    assert.equal(split.signature, '-----BEGIN SSH SIGNATURE-----\nU1NI\n\n-----END SSH SIGNATURE-----\n');
    assert.equal(split.committerTime, 1700000123);
    assert.deepEqual(
      Buffer.from(split.payload),
      Buffer.concat([
        Buffer.from(
          'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' +
            'author A <a@example.org> 1700000000 +0100\n' +
            'committer A <a@example.org> 1700000123 -0200\n' +
            'encoding ISO-8859-1\n\ngpgsig in the message is just text\n',
          'latin1',
        ),
        latin1,
      ]),
    );
  });

  it('finds no signature in an unsigned commit and survives a truncated object', () => {
    assert.equal(splitSignedCommit(Buffer.from('tree 4b82\n\nmsg\n')).signature, undefined);
    assert.equal(splitSignedCommit(Buffer.from('gpgsig -----BEGIN')).signature, '-----BEGIN');
    assert.equal(splitSignedCommit(new Uint8Array(0)).payload.length, 0);
  });
});
