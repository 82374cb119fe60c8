import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { labCommand } from '../../src/cli/lab.ts';
import { listNamespaces } from '../../src/lab/namespaces.ts';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import { deleteNamespace, labUnavailable, newNamespace, RUN_PREFIX, sh } from './netns.ts';

// The lab harness itself: a switch namespace with a bridge and one namespace per host,
// reachable over IPv4 and IPv6 through the bridge, nothing in the root namespace, and
// everything gone afterwards; then `keepgit lab up|status|down` for people.

const why = labUnavailable(['ping', 'nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

/** The root namespace's interfaces, as "index: name" lines. */
const rootLinks = (): string[] =>
  sh('ip', ['-o', 'link', 'list'])
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.split(':').slice(0, 2).join(':').replace(/@.*/, ''))
    .sort();

const ours = (prefix: string) => listNamespaces().filter((ns) => ns.startsWith(`${prefix}-`));

const runLab = async (...args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await labCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('lab topology', { skip }, () => {
  let lab: Lab | undefined;
  let linksBefore: string[] = [];
  const prefix = `${RUN_PREFIX}-t`;

  before(() => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    linksBefore = rootLinks();
    lab = createLab({ prefix, hosts: ['lb1', 'lb2', 'client'] });
  });
  after(async () => {
    await lab?.destroy();
  });

  it('names one namespace per host plus the switch, with documentation addresses', () => {
    assert.ok(lab);
    assert.deepEqual(lab.namespaces, [
      `${prefix}-switch`,
      `${prefix}-lb1`,
      `${prefix}-lb2`,
      `${prefix}-client`,
    ]);
    assert.deepEqual(ours(prefix).sort(), [...lab.namespaces].sort());
    assert.equal(lab.address('lb1', 4), '192.0.2.11');
    assert.equal(lab.address('client', 6), '2001:db8::13');
    assert.equal(lab.mac('lb2'), '02:4b:47:00:00:02');
    const addrs = lab.execSync('lb2', 'ip', ['-o', 'addr', 'show', 'dev', 'eth0']).stdout;
    assert.match(addrs, /inet 192\.0\.2\.12\/24/);
    assert.match(addrs, /inet6 2001:db8::12\/64/);
    assert.match(addrs, /inet6 fe80::/, 'the link-local address is kept');
    assert.doesNotMatch(addrs, /tentative/);
    const sw = lab.execSync('switch', 'ip', ['-o', 'link', 'show', 'master', 'br0']).stdout;
    for (const h of ['lb1', 'lb2', 'client']) assert.match(sw, new RegExp(`p-${h}@`));
  });

  it('hosts reach each other over IPv4 and IPv6 through the bridge', async () => {
    assert.ok(lab);
    const l = lab;
    const pairs: [string, string][] = [
      ['lb1', 'lb2'],
      ['lb2', 'client'],
      ['client', 'lb1'],
    ];
    const results = await Promise.all(
      pairs.flatMap(([a, b]) => [l.ping(a, b, 4), l.ping(a, b, 6), l.ping(a, l.address(b, 6))]),
    );
    assert.deepEqual(results, Array(results.length).fill(true));
    // A literal address outside the segment is not reachable (and not routed anywhere).
    assert.equal(await l.ping('lb1', '198.51.100.1'), false);
  });

  it('creates nothing in the root namespace', () => {
    assert.deepEqual(rootLinks(), linksBefore);
  });

  it('a host whose link is down is unreachable, and reachable again once up', async () => {
    assert.ok(lab);
    lab.setLink('lb2', 'down');
    assert.deepEqual(await Promise.all([lab.ping('lb1', 'lb2', 4), lab.ping('lb1', 'lb2', 6)]), [
      false,
      false,
    ]);
    lab.setLink('lb2', 'up');
    assert.deepEqual(await Promise.all([lab.ping('lb1', 'lb2', 4), lab.ping('lb1', 'lb2', 6)]), [true, true]);
  });

  it('isolate cuts a host off at the bridge with its link up', async () => {
    assert.ok(lab);
    lab.isolate('client');
    assert.equal(await lab.ping('lb1', 'client', 4), false);
    assert.equal(await lab.ping('lb1', 'lb2', 4), true);
    lab.reconnect('client');
    assert.equal(await lab.ping('lb1', 'client', 4), true);
  });

  it('blockMulticast drops VRRP multicast on the bridge, not unicast', async () => {
    assert.ok(lab);
    lab.blockMulticast();
    // Echo requests to the VRRP groups: they reach the bridge and its counters.
    await Promise.all([
      lab.exec('lb1', 'ping', ['-4', '-c', '1', '-W', '1', '-I', 'eth0', '224.0.0.18']),
      lab.exec('lb1', 'ping', ['-6', '-c', '1', '-W', '1', '-I', 'eth0', 'ff02::12']),
    ]);
    const rules = lab.execSync('switch', 'nft', ['list', 'table', 'bridge', 'keepgit_lab_vrrp']).stdout;
    const counts = [...rules.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(counts.length, 2, rules);
    assert.ok(
      counts.every((n) => n > 0),
      rules,
    );
    assert.equal(await lab.ping('lb1', 'lb2', 4), true);
    lab.unblockMulticast();
    assert.notEqual(lab.execSync('switch', 'nft', ['list', 'table', 'bridge', 'keepgit_lab_vrrp']).status, 0);
  });

  it('destroy ends spawned processes and deletes every namespace, twice over', async () => {
    assert.ok(lab);
    const child = lab.spawn('lb1', 'sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await Promise.all([lab.destroy(), lab.destroy()]);
    await exited;
    assert.deepEqual(ours(prefix), []);
    await lab.destroy();
    assert.deepEqual(rootLinks(), linksBefore);
  });

  it('a failure half-way through leaves nothing behind, and leaves alone what was there', () => {
    const taken = newNamespace('u-lb2'); // the name createLab will want for lb2
    try {
      assert.throws(() => createLab({ prefix: `${RUN_PREFIX}-u`, hosts: ['lb1', 'lb2'] }), /netns add/);
      assert.deepEqual(ours(`${RUN_PREFIX}-u`), [taken]);
    } finally {
      deleteNamespace(taken);
    }
    assert.throws(() => createLab({ prefix, hosts: ['Bad'] }), /host name/);
    assert.deepEqual(ours(prefix), []);
  });
});

describe('lab clean-up when the process is interrupted', { skip }, () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} while a lab is up removes it`, async () => {
      if (why) assert.fail(`lab test cannot run: ${why}`);
      const prefix = `${RUN_PREFIX}-${sig.toLowerCase()}`;
      const script = [
        "const { createLab } = await import('./src/lab/topology.ts');",
        "const lab = createLab({ prefix: process.argv[1], hosts: ['a', 'b'] });",
        "lab.spawn('a', 'sleep', ['30'], { stdio: 'ignore' });",
        "console.log('ready');",
        'setInterval(() => {}, 1000);',
      ].join('\n');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, prefix],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
          child.on('exit', (code) => reject(new Error(`exited ${code} before the lab was up`)));
        });
        assert.equal(ours(prefix).length, 3);
        const exited = new Promise<NodeJS.Signals | null>((resolve) =>
          child.on('exit', (_c, s) => resolve(s)),
        );
        child.kill(sig);
        assert.equal(await exited, sig, 'the signal still ends the process');
        assert.deepEqual(ours(prefix), []);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        for (const ns of ours(prefix)) sh('ip', ['netns', 'del', ns]);
      }
    });
  }
});

describe('keepgit lab up|status|down', { skip }, () => {
  const prefix = `${RUN_PREFIX}-cli`;
  let dir = '';
  let stranger = '';
  const savedDir = process.env.KEEPGIT_LAB_STATE_DIR;

  before(() => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    dir = mkdtempSync(join(tmpdir(), 'keepgit-lab-state-'));
    process.env.KEEPGIT_LAB_STATE_DIR = dir;
    // Same prefix, not made by `lab up`: `lab down` must leave it alone.
    stranger = newNamespace('cli-other');
  });
  after(async () => {
    await runLab('down', '--prefix', prefix);
    if (stranger) deleteNamespace(stranger);
    if (savedDir === undefined) delete process.env.KEEPGIT_LAB_STATE_DIR;
    else process.env.KEEPGIT_LAB_STATE_DIR = savedDir;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('up, status, down: deletes exactly what up made', async () => {
    const upped = await runLab('up', '--prefix', prefix, '--hosts', 'lb1,lb2');
    assert.equal(upped.code, 0, upped.err);
    assert.match(upped.out, new RegExp(`ip netns exec ${prefix}-lb1 bash`));
    assert.match(upped.out, /192\.0\.2\.12\/24/);
    assert.match(upped.out, /2001:db8::11\/64/);
    assert.ok(existsSync(join(dir, `${prefix}.json`)));
    assert.deepEqual(
      ours(prefix).sort(),
      [stranger, `${prefix}-lb1`, `${prefix}-lb2`, `${prefix}-switch`].sort(),
    );
    const r = sh('ip', ['netns', 'exec', `${prefix}-lb1`, 'ping', '-c', '1', '-W', '1', '192.0.2.12']);
    assert.equal(r.status, 0, r.stdout + r.stderr);

    const again = await runLab('up', '--prefix', prefix);
    assert.equal(again.code, 1);
    assert.match(again.err, /already up/);

    const st = await runLab('status');
    assert.equal(st.code, 0, st.err);
    assert.match(st.out, new RegExp(`lab "${prefix}" up since`));
    assert.match(st.out, new RegExp(`${prefix}-lb2`));

    const down = await runLab('down', '--prefix', prefix);
    assert.equal(down.code, 0, down.err);
    assert.match(down.out, /3 namespaces deleted/);
    assert.deepEqual(ours(prefix), [stranger]);
    assert.ok(!existsSync(join(dir, `${prefix}.json`)));

    const none = await runLab('down', '--prefix', prefix);
    assert.equal(none.code, 1);
    assert.match(none.err, /nothing deleted/);
    assert.match((await runLab('status')).out, /no lab is up/);
  });

  it('rejects bad arguments with exit 2', async () => {
    assert.equal((await runLab('sideways')).code, 2);
    assert.equal((await runLab('up', '--hosts', 'lb1,switch', '--prefix', prefix)).code, 2);
    assert.equal((await runLab('down', '--hosts', 'lb1')).code, 2);
    assert.deepEqual(ours(prefix), [stranger]);
  });

  it('refuses to run without root (exit 2)', () => {
    const script = [
      "const { labCommand } = await import('./src/cli/lab.ts');",
      "const code = await labCommand(['up', '--prefix', process.argv[1]], { out: console.log, err: console.error });",
      'process.exit(code);',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, prefix], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      env: { ...process.env, HOME: '/tmp' },
    });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /needs root/);
    assert.deepEqual(ours(prefix), [stranger]);
  });
});
