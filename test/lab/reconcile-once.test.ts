import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reconcileCommand } from '../../src/cli/reconcile.ts';
import { nodeDoc } from './agent-harness.ts';
import { type GitHttpServer, startGitHttpServer } from './git-http-server.ts';

// keepgit reconcile --once without an agent, against a real git http-backend on 127.0.0.1:
// the head is fetched, its signature and history checked against the state directory, and
// it is put through the gate; the exit code says accepted (0), refused (1) or error (2).
// No root needed: nothing is applied and only loopback is used.

const hasTools = ['git', 'ssh-keygen'].every((t) => {
  try {
    execFileSync('which', [t], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
const skip = !hasTools && process.env.CI !== 'true' ? 'needs git and ssh-keygen' : false;

const CLUSTER = (vip: string) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: once }
instances:
  - name: a
    vrid: 71
    interface: eth0
    priority: { lb1: 110, lb2: 100 }
    vips: [${vip}/24]
`;
const REPO = (vip: string) => ({
  'keepgit.yaml': CLUSTER(vip),
  'nodes/lb1.yaml': nodeDoc('lb1', 1),
  'nodes/lb2.yaml': nodeDoc('lb2', 2),
});

async function once(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await reconcileCommand(['--once', ...args], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('keepgit reconcile --once', { skip }, () => {
  let dir: string;
  let server: GitHttpServer;
  let key: string;
  let config: string;
  before(async () => {
    if (!hasTools) assert.fail('reconcile --once tests need git and ssh-keygen');
    dir = mkdtempSync(join(tmpdir(), 'keepgit-once-'));
    key = join(dir, 'signer');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    server = await startGitHttpServer({ signingKey: key });
    config = join(dir, 'agent.yaml');
    writeFileSync(
      config,
      `node: lb1\nstateDir: ${join(dir, 'state')}\nsource: { git: { url: ${server.url} } }\ntrust: { keys: [ { file: ${key}.pub } ] }\n`,
    );
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a signed head that passes the gate, and applies nothing without an agent', async () => {
    const commit = server.push(REPO('192.0.2.100'), 'first');
    const r = await once(['--config', config]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`accepted ${commit} for node lb1.*nothing applied`));
  });

  it('refuses an unsigned head (exit 1), naming why', async () => {
    const commit = server.push(REPO('192.0.2.101'), 'unsigned', undefined, false);
    const r = await once(['--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.out, new RegExp(`refused ${commit}: commit ${commit.slice(0, 7)} is not signed`));
  });

  it('refuses a head that fails the gate, with the diagnostics', async () => {
    server.push({ 'keepgit.yaml': 'instances: [ {name: a\n' }, 'broken');
    const r = await once(['--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.err, /keepgit\.yaml:\d+:\d+/);
  });

  it('refuses a head older than the applied revision (a force-push backwards)', async () => {
    const old = server.push(REPO('192.0.2.102'), 'old');
    const newer = server.push(REPO('192.0.2.103'), 'newer');
    assert.equal((await once(['--config', config])).code, 0, 'the node fetches and runs the newer one');
    writeFileSync(
      join(dir, 'state', 'state.json'),
      JSON.stringify({
        applied: { revision: newer, at: new Date().toISOString() },
        lastGood: null,
        refused: [],
      }),
    );
    server.forcePush(old);
    const r = await once(['--config', config]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /older than the applied/);
    rmSync(join(dir, 'state', 'state.json'));
  });

  it('is an error (exit 2) when the remote cannot be reached, or the usage is wrong', async () => {
    const r = await once([
      '--repo',
      'http://127.0.0.1:9/none.git',
      '--node',
      'lb1',
      '--state-dir',
      join(dir, 's2'),
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot reach http:\/\/127\.0\.0\.1:9\/none\.git/);
    const usage = await reconcileCommand([], { out: () => {}, err: () => {} });
    assert.equal(usage, 2);
  });
});
