import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadTrustKeys, parseTrustKeyText, type TrustKeys } from '../../src/source/trust-keys.ts';
import { makeSigningLab, readText, type SigningLab, signingToolsMissing } from './signing-lab.ts';

// The allow-list from the agent's configuration: key files and inline keys in the formats
// people already have (gpg --armor --export, id_*.pub, git's allowed_signers), and errors
// that name the file and line.

const why = signingToolsMissing();
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const loaded = (r: Awaited<ReturnType<typeof loadTrustKeys>>): TrustKeys => {
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.trust;
};
const failed = (r: Awaited<ReturnType<typeof loadTrustKeys>>): string[] => {
  if (r.ok) assert.fail(`expected errors, got ${r.trust.keys.length} keys`);
  return r.errors;
};

describe('loadTrustKeys', { skip }, () => {
  let lab: SigningLab;
  let ed = '';
  let rsa = '';
  let ecdsa = '';
  let gpgFpr = '';
  let asc = '';

  before(() => {
    if (why !== undefined) assert.fail(why);
    lab = makeSigningLab();
    ed = lab.sshKey('ed', 'ed25519', 'alice@example.org');
    rsa = lab.sshKey('rsa', 'rsa', 'bob laptop');
    ecdsa = lab.sshKey('ecdsa', 'ecdsa', '');
    gpgFpr = lab.gpgKey('Alice', 'alice@example.org');
    asc = lab.gpgExport(gpgFpr).toString('utf8');
  });

  after(() => lab?.cleanup());

  it('reads OpenSSH .pub files with the fingerprint ssh-keygen prints', async () => {
    const trust = loaded(await loadTrustKeys({ keys: [{ file: `${ed}.pub` }, { file: `${rsa}.pub` }] }));
    assert.equal(trust.keys.length, 2);
    const [a, b] = trust.keys;
    assert.equal(a?.kind, 'ssh');
    assert.equal(b?.kind, 'ssh');
    if (a?.kind !== 'ssh' || b?.kind !== 'ssh') return;
    assert.equal(a.key.type, 'ssh-ed25519');
    assert.equal(a.key.fingerprint, lab.sshFingerprint(ed));
    assert.deepEqual(a.principals, ['alice@example.org']);
    assert.equal(a.source, `${ed}.pub:1`);
    assert.equal(b.key.type, 'ssh-rsa');
    assert.equal(b.key.fingerprint, lab.sshFingerprint(rsa));
    assert.deepEqual(b.principals, ['bob laptop']);
  });

  it('reads allowed_signers lines with principals and options, skipping comments', async () => {
    const text =
      '# git gpg.ssh.allowedSignersFile\n\n' +
      `alice@example.org,alice@example.net ${readText(`${ed}.pub`)}\n` +
      `"bob@example.org" namespaces="git,file",valid-after="20240101Z",valid-before="203001021530Z" ${readText(`${rsa}.pub`)}\n` +
      `carol@example.org cert-authority ${readText(`${ecdsa}.pub`)}\n`;
    const { keys, errors } = await parseTrustKeyText(text, 'signers');
    assert.deepEqual(errors, [
      "signers:5: cert-authority (SSH certificates) is not supported: list the signer's own public key",
    ]);
    const [a, b] = keys;
    if (a?.kind !== 'ssh' || b?.kind !== 'ssh') return assert.fail('expected two SSH keys');
    assert.deepEqual(a.principals, ['alice@example.org', 'alice@example.net']);
    assert.equal(a.source, 'signers:3');
    assert.equal(a.namespaces, undefined);
    assert.deepEqual(b.principals, ['bob@example.org']);
    assert.deepEqual(b.namespaces, ['git', 'file']);
    assert.equal(b.validAfter, Date.UTC(2024, 0, 1) / 1000);
    assert.equal(b.validBefore, Date.UTC(2030, 0, 2, 15, 30) / 1000);
    assert.equal(b.key.fingerprint, lab.sshFingerprint(rsa));
  });

  it('reads ECDSA keys and inline keys', async () => {
    const trust = loaded(await loadTrustKeys({ keys: [readText(`${ecdsa}.pub`)] }));
    const [k] = trust.keys;
    if (k?.kind !== 'ssh') return assert.fail('expected an SSH key');
    assert.equal(k.key.type, 'ecdsa-sha2-nistp256');
    assert.equal(k.key.fingerprint, lab.sshFingerprint(ecdsa));
    assert.equal(k.source, 'trust.keys[0] (inline):1');
  });

  it('reads armoured and binary OpenPGP public keys, from a file or inline, beside SSH lines', async () => {
    const file = join(lab.root, 'alice.asc');
    writeFileSync(file, asc);
    const bin = join(lab.root, 'alice.gpg');
    writeFileSync(bin, lab.gpgExport(gpgFpr, false));
    const mixed = `# two kinds in one text\n${readText(`${ed}.pub`)}\n${asc}`;
    const trust = loaded(await loadTrustKeys({ keys: [{ file }, { file: bin }, mixed] }));
    const pgp = trust.keys.filter((k) => k.kind === 'openpgp');
    assert.equal(pgp.length, 3);
    for (const k of pgp) {
      assert.equal(k.fingerprint, gpgFpr);
      assert.deepEqual(k.userIds, ['Alice <alice@example.org>']);
    }
    assert.deepEqual(
      trust.keys.map((k) => k.source),
      [`${file}:1`, bin, 'trust.keys[2] (inline):2', 'trust.keys[2] (inline):3'],
    );
  });

  it('names the file and line of each unparseable key, and returns no key set', async () => {
    const pub = readText(`${ed}.pub`);
    const [type, b64] = pub.split(' ');
    const bad = join(lab.root, 'bad.pub');
    writeFileSync(
      bad,
      [
        pub,
        `${type} ***notbase64***`,
        `ssh-rsa ${b64}`,
        'alice@example.org weird-option=1 ssh-ed25519 AAAA',
        'just some words here',
        `ssh-ed25519 ${Buffer.from('truncated').toString('base64')}`,
        `alice@example.org valid-after="2024-01-01" ${pub}`,
        'ssh-dss AAAAB3NzaC1kc3MAAACBAP',
      ].join('\n'),
    );
    const errors = failed(await loadTrustKeys({ keys: [{ file: bad }] }));
    assert.deepEqual(errors, [
      `${bad}:2: ssh-ed25519 key: the key data is not base64`,
      `${bad}:3: the line says ssh-rsa but the key data is ssh-ed25519`,
      `${bad}:4: unknown option "weird-option=1" (known: namespaces="...", valid-after="...", valid-before="...")`,
      `${bad}:5: not an SSH public key line ("TYPE BASE64 [comment]") nor an allowed_signers line ("PRINCIPALS [OPTIONS] TYPE BASE64")`,
      `${bad}:6: not an SSH public key (no key type in the blob)`,
      `${bad}:7: valid-after="2024-01-01" is not a time: write YYYYMMDD or YYYYMMDDHHMM[SS], with Z for UTC`,
      `${bad}:8: key type "ssh-dss" is not supported (use ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521)`,
    ]);
  });

  it('refuses private keys, small RSA keys, broken armour and empty files with the place named', async () => {
    const small = lab.sshKey('small', 'rsa', 'small');
    // ssh-keygen -t rsa -b 1024 is refused by newer OpenSSH; forge the public key only.
    const smallKey = `ssh-rsa ${Buffer.concat([
      Buffer.from([0, 0, 0, 7]),
      Buffer.from('ssh-rsa'),
      Buffer.from([0, 0, 0, 3, 1, 0, 1, 0, 0, 0, 129, 0]),
      Buffer.alloc(128, 0xc3),
    ]).toString('base64')} tiny`;
    const secret = lab.run('gpg', ['--batch', '--armor', '--export-secret-keys', gpgFpr]);
    const cases: [string, RegExp][] = [
      [readText(small), /:1: this is an SSH private key; give the public key \(the \.pub file\) instead$/],
      [smallKey, /:1: RSA key of 1024 bits is too small \(2048 at least\)$/],
      [secret, new RegExp(`:1: OpenPGP key ${gpgFpr} is a private key; give the public key`)],
      [
        asc.replace(/\n-----END PGP PUBLIC KEY BLOCK-----\s*$/, '\n'),
        /:1: OpenPGP key block has no END line$/,
      ],
      // Key material changed under its self-signature: the signature check catches it.
      [
        asc.replace(/^(.{40}).{8}/m, '$1AAAAAAAA'),
        /:1: (not an OpenPGP public key|OpenPGP key [0-9A-F]{40} is not usable): /,
      ],
      [
        '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5IGF0IGFsbA==\n-----END PGP PUBLIC KEY BLOCK-----\n',
        /:1: not an OpenPGP public key: /,
      ],
      ['# nothing but a comment\n', /: holds no key$/],
    ];
    for (const [text, expected] of cases) {
      const file = join(lab.root, 'case.key');
      writeFileSync(file, text);
      const errors = failed(await loadTrustKeys({ keys: [{ file }] }));
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0] ?? '', expected);
      assert.ok(errors[0]?.startsWith(file), errors[0]);
    }
  });

  it('refuses a malformed trust section with the field named', async () => {
    const pub = readText(`${ed}.pub`);
    assert.deepEqual(failed(await loadTrustKeys('yes')), ['trust: expected a map with a "keys" list']);
    assert.match(
      failed(await loadTrustKeys({ keys: [] }))[0] ?? '',
      /^trust\.keys: expected a list of at least one key/,
    );
    assert.match(
      failed(await loadTrustKeys({}))[0] ?? '',
      /remove trust to switch signature verification off/,
    );
    assert.deepEqual(failed(await loadTrustKeys({ keys: [pub], key: 1 })), [
      'trust: unknown field "key" (known: keys)',
    ]);
    assert.deepEqual(
      failed(
        await loadTrustKeys({
          keys: [
            '/etc/keepgit/keys/alice.pub',
            42,
            { path: '/x' },
            { file: join(lab.root, 'missing.pub') },
            { file: lab.root },
          ],
        }),
      ),
      [
        'trust.keys[0]: "/etc/keepgit/keys/alice.pub" looks like a path; write { file: /etc/keepgit/keys/alice.pub }',
        'trust.keys[1]: expected { file: PATH } or the key text',
        'trust.keys[2]: unknown field "path" (known: file)',
        'trust.keys[2].file: expected the path of a key file',
        `trust.keys[3].file: cannot read ${join(lab.root, 'missing.pub')}: no such file`,
        `trust.keys[4].file: cannot read ${lab.root}: is a directory`,
      ],
    );
  });

  it('reads a key file that starts with a UTF-8 byte order mark', async () => {
    const file = join(lab.root, 'bom.pub');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(readText(`${ed}.pub`))]));
    const [k] = loaded(await loadTrustKeys({ keys: [{ file }] })).keys;
    assert.equal(k?.kind === 'ssh' ? k.key.fingerprint : undefined, lab.sshFingerprint(ed));
  });

  it('resolves relative key files against the given directory', async () => {
    const trust = loaded(await loadTrustKeys({ keys: [{ file: 'keys/ed.pub' }] }, { baseDir: lab.root }));
    assert.equal(trust.keys[0]?.source, `${join(lab.root, 'keys', 'ed.pub')}:1`);
  });
});
