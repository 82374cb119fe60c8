import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

// The pull-request check shipped in repo-template/ci, run as a CI job would: in a Git
// repository made from the template, comparing a base and a head commit.

const keepgit = `${process.execPath} ${resolve('bin/keepgit.js')}`;
const dir = mkdtempSync(join(tmpdir(), 'keepgit-template-ci-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const git = (...args: string[]) => {
  const r = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const check = (base: string, head: string) =>
  spawnSync('bash', [join(dir, 'ci/keepgit-check.sh'), base, head], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, KEEPGIT: keepgit },
  });

describe('repo-template/ci/keepgit-check.sh', () => {
  cpSync('repo-template', dir, { recursive: true });
  git('init', '-q', '-b', 'main');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-qm', 'base');
  const base = git('rev-parse', 'HEAD');

  it('validates the head and prints the plan from base to head', () => {
    const f = join(dir, 'keepgit.yaml');
    writeFileSync(
      f,
      readFileSync(f, 'utf8').replace('priority: { lb1: 110, lb2: 100 }', 'priority: { lb1: 90, lb2: 100 }'),
    );
    git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-qam', 'move master');
    const r = check(base, git('rev-parse', 'HEAD'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /valid \(2 nodes/);
    assert.match(r.stdout, /master moves from lb1 to lb2/);
  });

  it('fails the job for a head that breaks policy', () => {
    const f = join(dir, 'keepgit.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('vrid: 51', 'vrid: 151'));
    git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-qam', 'bad vrid');
    const r = check(base, git('rev-parse', 'HEAD'));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /keepgit\.yaml:\d+:\d+: instances\.www\.vrid: .*\[vrid-range\]/);
  });
});
