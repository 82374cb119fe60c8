import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { importCommand } from '../../src/cli/import.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { formatDiagnostic } from '../../src/model/diagnostic.ts';

const FIXTURES = 'test/fixtures/keepalived';
const tmp = mkdtempSync(join(tmpdir(), 'keepgit-import-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let dirs = 0;
const newDir = (): string => join(tmp, `out${++dirs}`);

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await importCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function write(name: string, text: string | Buffer): string {
  const file = join(tmp, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** The written repository, read back as the agent would, loads without errors. */
function assertRepository(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  files.set('keepgit.yaml', readFileSync(join(dir, 'keepgit.yaml'), 'utf8'));
  for (const n of readdirSync(join(dir, 'nodes')))
    files.set(`nodes/${n}`, readFileSync(join(dir, 'nodes', n), 'utf8'));
  const errors = loadRepository(files).diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors.map(formatDiagnostic), []);
  return files;
}

const VALID = `vrrp_instance V {
  interface eth0
  virtual_router_id 7
  virtual_ipaddress {
    192.0.2.7
  }
}
`;

describe('keepgit import', () => {
  it('imports a pair: exit 0, one repository, secrets named but never shown', async () => {
    const dir = newDir();
    const r = await run(`lb1=${FIXTURES}/basic-master.conf`, `lb2=${FIXTURES}/basic-backup.conf`, '-o', dir);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    assert.match(r.out, /imported 2 nodes into .*: lb1 \(.*basic-master\.conf\), lb2/);
    assert.match(r.out, /1 instance, 0 sync groups, 0 virtual servers/);
    assert.match(r.out, /KEEPGIT_VRRP_PASS_VI_1/);
    const files = assertRepository(dir);
    assert.deepEqual([...files.keys()].sort(), ['keepgit.yaml', 'nodes/lb1.yaml', 'nodes/lb2.yaml']);
    const env = readFileSync(join(dir, '.env.example'), 'utf8');
    assert.match(env, /^KEEPGIT_VRRP_PASS_VI_1=$/m);
    for (const text of [r.out, r.err, env, ...files.values()]) assert.ok(!text.includes('1111'));
  });

  it('names nodes after router_id, and never prints P@ssW0rd', async () => {
    const dir = newDir();
    const r = await run(`${FIXTURES}/rtr-master.conf`, `${FIXTURES}/rtr-backup.conf`, '-o', dir);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(join(dir, 'nodes')).sort(), ['rtr_0.yaml', 'rtr_1.yaml']);
    assert.match(r.out, /note: vrrp_instance VI_1 is merged into VI_0/);
    assertRepository(dir);
    const all = [r.out, r.err, ...readdirSync(dir, { recursive: true }).map(String)]
      .concat(
        readFileSync(join(dir, 'keepgit.yaml'), 'utf8'),
        readFileSync(join(dir, '.env.example'), 'utf8'),
      )
      .join('\n');
    assert.ok(!all.includes('P@ssW0rd'));
  });

  it('falls back to the file name when router_ids collide', async () => {
    const dir = newDir();
    const r = await run(
      `${FIXTURES}/lvs-nat-sh-master.conf`,
      `${FIXTURES}/lvs-nat-sh-backup.conf`,
      '-o',
      dir,
    );
    assert.equal(r.code, 2);
    assert.deepEqual(readdirSync(join(dir, 'nodes')).sort(), ['LVS_MAIN.yaml', 'lvs-nat-sh-backup.yaml']);
    assert.match(
      r.err,
      /lvs-nat-sh-master\.conf:4: notification_email \(e-mail alerts are not supported; use notify scripts\)/,
    );
    assertRepository(dir);
  });

  it('imports every single fixture', async () => {
    for (const f of ['tracking-master.conf', 'upstream-sample.conf', 'pair-eth1-master.conf']) {
      const dir = newDir();
      const r = await run(`${FIXTURES}/${f}`, '-o', dir);
      assert.ok(r.code === 0 || r.code === 2, `${f}: ${r.err}`);
      assertRepository(dir);
    }
  });

  it('exits 1 with file:line on unbalanced braces, writing nothing', async () => {
    const dir = newDir();
    const f = write(
      'unbalanced.conf',
      'vrrp_instance V {\n  interface eth0\n  virtual_ipaddress {\n    192.0.2.1\n}\n',
    );
    const r = await run(f, '-o', dir);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: .*never closed`));
    assert.throws(() => readdirSync(dir));
  });

  it('exits 2 and names an unknown block', async () => {
    const f = write('unknown.conf', `${VALID}vrrp_instanc X {\n  priority 1\n}\n`);
    const r = await run(f, '-o', newDir());
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown\.conf:8: vrrp_instanc \(unknown keyword\)/);
  });

  it('exits 2 on a bad VIP and writes a repository without it', async () => {
    const dir = newDir();
    const f = write('badip.conf', VALID.replace('192.0.2.7', '192.0.2.7\n    192.0.2.300'));
    const r = await run(f, '-o', dir);
    assert.equal(r.code, 2);
    assert.match(r.err, /badip\.conf:6: 192\.0\.2\.300 \(expected an IP address/);
    assert.match(readFileSync(join(dir, 'keepgit.yaml'), 'utf8'), /vips: \[ 192\.0\.2\.7 \]/);
    assertRepository(dir);
  });

  it('exits 2 on an empty file, saying there is nothing to import', async () => {
    const dir = newDir();
    const r = await run(write('empty.conf', ''), '-o', dir);
    assert.equal(r.code, 2);
    assert.match(r.err, /empty\.conf:1: no vrrp_instance or virtual_server found/);
    assertRepository(dir);
  });

  it('exits 1 on binary garbage and on a missing file', async () => {
    const noise = Buffer.alloc(4096);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 256;
    const bin = await run(write('garbage.conf', noise), '-o', newDir());
    assert.equal(bin.code, 1);
    assert.match(bin.err, /garbage\.conf:\d+: not a text file/);
    const missing = await run(join(tmp, 'nope.conf'), '-o', newDir());
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.conf: cannot read: no such file/);
  });

  it('imports a 10 MB file quickly', async () => {
    const filler = `# ${'x'.repeat(76)}\n`.repeat(Math.ceil((10 * 1024 * 1024) / 80));
    const servers = Array.from(
      { length: 300 },
      (_, i) =>
        `virtual_server 198.51.100.${(i % 250) + 1} ${1000 + i} {\n  lb_algo rr\n  real_server 192.0.2.${(i % 250) + 1} 80 {\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n`,
    );
    const f = write('big.conf', `${VALID}${filler}${servers.join('')}`);
    const dir = newDir();
    const r = await run(f, '-o', dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /300 virtual servers/);
  });

  it('resolves includes with globs relative to the including file', async () => {
    write('inc/conf.d/10-vrrp.conf', VALID);
    write(
      'inc/conf.d/20-vs.conf',
      'virtual_server 192.0.2.7 80 {\n  real_server 198.51.100.1 80 {\n  }\n}\n',
    );
    write('inc/conf.d/notes.txt', 'garbage that must not be read {');
    const main = write('inc/keepalived.conf', 'global_defs {\n  router_id lb9\n}\ninclude conf.d/*.conf\n');
    const dir = newDir();
    const r = await run(main, '-o', dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /imported 1 node .*lb9/);
    assert.match(r.out, /1 instance, 0 sync groups, 1 virtual server/);
    assertRepository(dir);
  });

  it('refuses a non-empty directory without --force', async () => {
    const dir = newDir();
    mkdirSync(dir);
    writeFileSync(join(dir, 'README'), 'mine');
    const f = write('ok.conf', VALID);
    const r = await run(f, '-o', dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /is not empty; nothing written \(use --force/);
    const forced = await run(f, '-o', dir, '--force', '--name', 'www');
    assert.equal(forced.code, 0, forced.err);
    assert.match(readFileSync(join(dir, 'keepgit.yaml'), 'utf8'), /metadata: \{ name: www \}/);
  });

  it('--force replaces an earlier import, node files included', async () => {
    const dir = newDir();
    const first = await run(
      `lb1=${FIXTURES}/basic-master.conf`,
      `lb2=${FIXTURES}/basic-backup.conf`,
      '-o',
      dir,
    );
    assert.equal(first.code, 0, first.err);
    const again = await run(
      `a=${FIXTURES}/basic-master.conf`,
      `b=${FIXTURES}/basic-backup.conf`,
      '-o',
      dir,
      '--force',
    );
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /nodes\/lb1\.yaml: note: removed/);
    assert.deepEqual(readdirSync(join(dir, 'nodes')).sort(), ['a.yaml', 'b.yaml']);
    assertRepository(dir);
  });

  it('--config-id selects the @ID lines, as keepalived -i does', async () => {
    const f = write(
      'conditional.conf',
      [
        'vrrp_instance V {',
        '  interface eth0',
        '  virtual_router_id 7',
        '@lb1 priority 150',
        '@^lb1 priority 50',
        '  virtual_ipaddress {',
        '    192.0.2.7',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const dropped = await run(f, '-o', newDir());
    assert.equal(dropped.code, 2);
    assert.match(dropped.err, /conditional line dropped: .* --config-id ID/);
    const dir = newDir();
    const chosen = await run(f, '-o', dir, '--config-id', 'lb1');
    assert.equal(chosen.code, 0, chosen.err);
    assert.match(readFileSync(join(dir, 'keepgit.yaml'), 'utf8'), /priority: 150/);
  });

  it('explains bad usage', async () => {
    assert.equal((await run('-o', newDir())).code, 1);
    assert.equal((await run(`${FIXTURES}/basic-master.conf`)).code, 1);
    const dup = await run(
      `a=${FIXTURES}/basic-master.conf`,
      `a=${FIXTURES}/basic-backup.conf`,
      '-o',
      newDir(),
    );
    assert.equal(dup.code, 1);
    assert.match(dup.err, /node a is given twice/);
    assert.match((await run('--bogus', '-o', newDir())).err, /unknown option --bogus/);
  });
});
