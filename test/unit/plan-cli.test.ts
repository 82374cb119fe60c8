import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/io.ts';
import { planCommand } from '../../src/cli/plan.ts';
import type { Plan } from '../../src/plan/plan-types.ts';
import { git } from './helpers.ts';

// `keepgit plan` end to end on the starter repository: two directories, then two commits.

const TEMPLATE = fileURLToPath(new URL('../../repo-template', import.meta.url));

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  return { io, out, err, text: () => out.join('\n'), errors: () => err.join('\n') };
};

const run = async (args: string[]) => {
  const c = capture();
  const code = await planCommand(args, c.io);
  return { code, out: c.text(), err: c.errors() };
};

/** The template's keepgit.yaml with one text substitution. */
function edit(dir: string, from: string, to: string): void {
  const file = join(dir, 'keepgit.yaml');
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(from), `template no longer contains ${from}`);
  writeFileSync(file, text.replace(from, to));
}

describe('keepgit plan', () => {
  let root = '';
  let oldDir = '';
  let newDir = '';

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'keepgit-plan-cli-'));
    oldDir = join(root, 'old');
    newDir = join(root, 'new');
    cpSync(TEMPLATE, oldDir, { recursive: true });
    cpSync(TEMPLATE, newDir, { recursive: true });
    edit(newDir, 'priority: { lb1: 110, lb2: 100 }', 'priority: { lb1: 110, lb2: 120 }');
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it('plans two directories: exit 0, the master move marked', async () => {
    const r = await run([oldDir, newDir]);
    assert.equal(r.code, 0, r.err);
    assert.ok(
      r.out.includes('~ instance www\n    priority: 100 → 120\n  ! disruptive: master moves from lb1 to lb2'),
      r.out,
    );
    assert.match(r.out, /2 nodes, 2 changes, 2 disruptive$/);
  });

  it('--node and --json', async () => {
    const r = await run([oldDir, newDir, '--node', 'lb2', '--json']);
    assert.equal(r.code, 0, r.err);
    const plan = JSON.parse(r.out) as Plan;
    assert.deepEqual(
      plan.nodes.map((n) => [n.node, n.status, n.changes.length]),
      [['lb2', 'changed', 1]],
    );
    assert.equal((await run([oldDir, newDir, '--node', 'lb9'])).code, 2);
  });

  it('--markdown', async () => {
    const r = await run([oldDir, newDir, '--markdown']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^### keepgit plan: 2 nodes, 2 changes, 2 disruptive/);
    assert.ok(r.out.includes('```diff'));
  });

  it('an empty old directory is "nothing before"', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const r = await run([empty, newDir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /node lb1 \(added\)/);
  });

  it('exit 1 when the new side is invalid or violates policy', async () => {
    const bad = join(root, 'bad');
    cpSync(TEMPLATE, bad, { recursive: true });
    edit(bad, 'vrid: 51', 'vrid: 300');
    const invalid = await run([oldDir, bad]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.err, /keepgit\.yaml:\d+:\d+: .*vrid/);
    assert.equal(invalid.out, '');

    const refused = join(root, 'refused');
    cpSync(TEMPLATE, refused, { recursive: true });
    edit(refused, 'vrid: 51', 'vrid: 20');
    const policy = await run([oldDir, refused]);
    assert.equal(policy.code, 1);
    assert.match(policy.err, /\[vrid-range\]/);
    // The reviewer still sees what the refused revision would do.
    assert.match(policy.out, /vrid: 51 → 20/);
  });

  it('exit 2 on usage errors and unreadable input', async () => {
    assert.equal((await run([oldDir])).code, 2);
    assert.equal((await run([oldDir, newDir, '--json', '--markdown'])).code, 2);
    assert.equal((await run([oldDir, newDir, '--bogus'])).code, 2);
    assert.equal((await run([oldDir, newDir, '--from', 'HEAD'])).code, 2);
    const missing = await run([join(root, 'absent'), newDir]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no such directory/);
  });

  it('plans two revisions of a Git repository', async () => {
    const repo = join(root, 'repo');
    cpSync(TEMPLATE, repo, { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'start');
    edit(repo, 'weight: 2', 'weight: 3');
    git(repo, 'commit', '-q', '-am', 'reweight');

    const r = await run(['--repo', repo, '--from', 'HEAD~1', '--to', 'main']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^plan HEAD~1 \([0-9a-f]{7}\) → main \([0-9a-f]{7}\)/);
    assert.ok(
      r.out.includes('~ real server 198.51.100.11:8080 in www-80\n    weight: 2 → 3\n  hitless:'),
      r.out,
    );
    assert.match(r.out, /2 nodes, 2 changes, 0 disruptive$/);

    const first = await run(['--repo', repo, '--to', 'HEAD~1']);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /node lb2 \(added\)/);

    const unknown = await run(['--repo', repo, '--from', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown revision "nope"/);
    assert.equal((await run(['--repo', repo, '--from', 'HEAD~9'])).code, 2);
    assert.equal((await run(['--repo', root, '--from', 'HEAD'])).code, 2);
  });
});
