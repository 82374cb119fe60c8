import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from './helpers.ts';

const run = runCli;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'keepgit-export-'));
  dirs.push(d);
  return d;
};

/** repo-template with VRRPv2 PASS authentication from the environment. */
function withAuth(): string {
  const d = temp();
  cpSync('repo-template', d, { recursive: true });
  const f = join(d, 'keepgit.yaml');
  const text = readFileSync(f, 'utf8')
    .replace('version: 3 ', 'version: 2 ')
    .replace(
      / {4}# auth: \{ type: PASS.*\n/,
      '    auth: { type: PASS, secretRef: { env: KEEPGIT_TEST_VRRP_PASS } }\n',
    );
  writeFileSync(f, text);
  return d;
}

describe('keepgit export', () => {
  it("renders a node's view as keepalived.conf on stdout", async () => {
    const r = await run(['export', 'repo-template', '--node', 'lb2']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /router_id lb2/);
    assert.match(r.out, /vrrp_instance www \{/);
    assert.match(r.out, /priority 100/);
    assert.match(r.out, /virtual_server 203\.0\.113\.10 80 \{/);
    assert.match(r.out, /HTTP_GET \{/);
  });

  it('names the secret instead of writing it, unless asked', async () => {
    const d = withAuth();
    const plain = await run(['export', d, '--node', 'lb1']);
    assert.equal(plain.code, 0, plain.err);
    assert.match(plain.out, /auth_pass \$KEEPGIT_TEST_VRRP_PASS/);

    delete process.env.KEEPGIT_TEST_VRRP_PASS;
    const missing = await run(['export', d, '--node', 'lb1', '--with-secrets']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /environment variable KEEPGIT_TEST_VRRP_PASS is not set/);

    process.env.KEEPGIT_TEST_VRRP_PASS = 'pw-4711';
    try {
      const out = join(temp(), 'keepalived.conf');
      writeFileSync(out, 'an older, world-readable file\n', { mode: 0o644 });
      const r = await run(['export', d, '--node', 'lb1', '--with-secrets', '-o', out]);
      assert.equal(r.code, 0, r.err);
      assert.match(readFileSync(out, 'utf8'), /^\$KEEPGIT_TEST_VRRP_PASS=pw-4711$/m);
      assert.equal(statSync(out).mode & 0o777, 0o600, 'a file holding a password is private');
      assert.doesNotMatch(r.out + r.err, /pw-4711/);
    } finally {
      delete process.env.KEEPGIT_TEST_VRRP_PASS;
    }
  });

  it('exit codes: 2 for usage and an unknown node, 1 for an invalid repository', async () => {
    assert.equal((await run(['export', 'repo-template'])).code, 2);
    assert.equal((await run(['export', 'repo-template', '--node', 'lb1', '--format', 'json'])).code, 2);
    const unknown = await run(['export', 'repo-template', '--node', 'lb9']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no node "lb9".*nodes: lb1, lb2/);
    const d = temp();
    cpSync('repo-template', d, { recursive: true });
    writeFileSync(join(d, 'keepgit.yaml'), 'apiVersion: keepgit/v1\nkind: Cluster\n');
    const bad = await run(['export', d, '--node', 'lb1']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /keepgit\.yaml:\d+:\d+: .*metadata/);
  });
});
