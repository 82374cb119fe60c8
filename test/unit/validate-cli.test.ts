import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { riskyPattern } from '../../src/policy/declarative-rule.ts';
import { runCli } from './helpers.ts';

const run = runCli;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function template(): string {
  const d = mkdtempSync(join(tmpdir(), 'keepgit-validate-'));
  dirs.push(d);
  cpSync('repo-template', d, { recursive: true });
  return d;
}
const edit = (file: string, from: string | RegExp, to: string) => {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  assert.notEqual(next, text, `pattern ${from} not found in ${file}`);
  writeFileSync(file, next);
};

describe('keepgit validate', () => {
  it('accepts the starter repository (schema and policies)', async () => {
    const r = await run(['validate', 'repo-template']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /valid \(2 nodes, 1 instance, 1 virtual server/);
  });

  it('lists every error with file:line:col and field path, and exits 1', async () => {
    const d = template();
    edit(join(d, 'keepgit.yaml'), 'priority: { lb1: 110, lb2: 100 }', 'priority: { lb1: 110, lb2: 300 }');
    edit(join(d, 'keepgit.yaml'), 'weight: 2', 'wieght: 2');
    edit(join(d, 'nodes/lb2.yaml'), 'routerId: lb2', 'routerId: lb2\nrouterId: again');
    const r = await run(['validate', d]);
    assert.equal(r.code, 1);
    const text = r.out + r.err;
    assert.match(text, /keepgit\.yaml:\d+:\d+: instances\.www\.priority\.lb2: expected 1\.\.255, got 300/);
    assert.match(text, /unknown field "wieght" \(did you mean "weight"\?\)/);
    assert.match(text, /nodes\/lb2\.yaml:\d+:\d+: duplicate key "routerId"/);
  });

  it('runs the site policies: a repository rule and a built-in rule', async () => {
    const d = template();
    edit(join(d, 'keepgit.yaml'), 'vrid: 51', 'vrid: 151');
    edit(join(d, 'keepgit.yaml'), 'version: 3', 'version: 2');
    edit(
      join(d, 'keepgit.yaml'),
      /# auth: \{ type: PASS.*\n/,
      "auth: { type: PASS, password: 'hunter22' }\n",
    );
    edit(join(d, 'keepgit.yaml'), / {4}# VRRPv3 has no.*\n/, '');
    const r = await run(['validate', d]);
    const text = r.out + r.err;
    assert.equal(r.code, 1, text);
    assert.match(text, /instances\.www\.vrid: .*\[vrid-range\]/);
    assert.match(text, /\[no-plaintext-secret\]/);
    assert.doesNotMatch(text, /hunter22/, 'a secret must never be printed');
  });

  it('refuses a policy regular expression that could backtrack for ever', async () => {
    for (const p of [
      '(a+)+$',
      '^(a|aa)*$',
      '((a)+)+$',
      '^((a+))+$',
      '(a?)*',
      '(.*a){20}',
      '(x)\\1',
      '([a-z]+)*',
    ])
      assert.ok(riskyPattern(p), p);
    for (const p of ['^eth[0-9]+$', '^lb[0-9]{1,3}$', '(ab){2,}', '(?:ab)+', '^(eth|bond)[0-9]+$'])
      assert.ok(!riskyPattern(p), p);
    const d = template();
    writeFileSync(
      join(d, 'policies/bad.yaml'),
      [
        'apiVersion: keepgit/v1',
        'kind: Policy',
        'metadata: { name: bad }',
        'rules:',
        '  - { id: evil, severity: error, message: m, for: instances, require: { field: name, matches: "(a+)+$" } }',
        '',
      ].join('\n'),
    );
    const r = await run(['validate', d]);
    assert.equal(r.code, 1);
    assert.match(r.out + r.err, /policies\/bad\.yaml:5:\d+: .*exponential time/);
  });

  it('prints JSON with --json', async () => {
    const d = template();
    edit(join(d, 'keepgit.yaml'), 'vrid: 51', 'vrid: 0');
    const r = await run(['validate', d, '--json']);
    assert.equal(r.code, 1);
    const parsed = JSON.parse(r.out) as { diagnostics: { file: string; line: number; path: string }[] };
    assert.ok(parsed.diagnostics.some((x) => x.file === 'keepgit.yaml' && x.path === 'instances.www.vrid'));
  });

  it('exits 2 on usage errors and a missing directory', async () => {
    assert.equal((await run(['validate'])).code, 2);
    const r = await run(['validate', join(tmpdir(), 'keepgit-no-such-dir')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /keepgit-no-such-dir/);
    assert.equal((await run(['no-such-command'])).code, 2);
  });
});

describe('the keepgit executable', () => {
  it('runs from bin/ with --help and a subcommand', () => {
    const help = spawnSync(process.execPath, ['bin/keepgit.js', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const c of ['validate', 'plan', 'import', 'export'])
      assert.match(help.stdout, new RegExp(`\\n  ${c} `));
    const v = spawnSync(process.execPath, ['bin/keepgit.js', 'validate', 'repo-template'], {
      encoding: 'utf8',
    });
    assert.equal(v.status, 0, v.stderr);
    const version = spawnSync(process.execPath, ['bin/keepgit.js', '--version'], { encoding: 'utf8' });
    assert.match(version.stdout, /^keepgit \d+\.\d+\.\d+/);
    const sub = spawnSync(process.execPath, ['bin/keepgit.js', 'plan', '--help'], { encoding: 'utf8' });
    assert.equal(sub.status, 0);
    assert.match(sub.stdout, /Usage: keepgit plan/);
  });
});
