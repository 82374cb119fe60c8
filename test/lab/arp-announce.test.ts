import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadArpAddon } from '../../src/drivers/arp/addon.ts';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// The real announcer on a real segment: a client learns a VIP at lb1, the VIP moves to
// lb2, and lb2's gratuitous ARP / unsolicited NA alone must make the client's neighbour
// entry point at lb2 — the client sends nothing in between that could refresh it (no
// ping, no probe), and the entry is checked to still say lb1 just before announcing, so
// the change can only come from the announcement.

const why = labUnavailable(['ping']) ?? addonMissing();
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;
const repo = fileURLToPath(new URL('../..', import.meta.url));
const runner = fileURLToPath(new URL('./arp-announce-runner.ts', import.meta.url));
const listener = fileURLToPath(new URL('./arp-na-listener.ts', import.meta.url));

function addonMissing(): string | undefined {
  const load = loadArpAddon();
  return load.ok ? undefined : load.error.message;
}

interface RunnerResult {
  ok: boolean;
  sent?: number;
  micros?: number;
  errors?: { code: string; message: string }[];
}

describe('GARP and unsolicited NA move a client to the new master', { skip }, () => {
  let lab: Lab | undefined;

  before(() => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    lab = createLab({ prefix: `${RUN_PREFIX}-arp`, hosts: ['lb1', 'lb2', 'client'] });
  });
  after(async () => {
    await lab?.destroy();
  });

  const ip = async (host: string, args: string[]) => {
    const l = lab as Lab;
    const r = await l.exec(host, 'ip', args, { timeoutMs: 5000 });
    assert.equal(r.status, 0, `ip ${args.join(' ')} in ${host}: ${r.stderr}`);
    return r.stdout;
  };
  /** The MAC of the client's neighbour entry for `vip`, or undefined when it has none. */
  const neighbourMac = async (vip: string) => {
    const out = await ip('client', ['neigh', 'show', vip, 'dev', 'eth0']);
    return /lladdr ([0-9a-f:]{17})/.exec(out)?.[1];
  };
  const announce = (host: string, vips: string[]): Promise<RunnerResult> =>
    new Promise((resolve, reject) => {
      const l = lab as Lab;
      const child = l.spawn(host, process.execPath, ['--import', 'tsx', runner, 'eth0', '5', ...vips], {
        cwd: repo,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
      });
      child.stderr?.on('data', (b: Buffer) => {
        err += b.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        const line = out.split('\n').find((x) => x.startsWith('RESULT '));
        if (!line) reject(new Error(`announcer runner exited ${code} without a result:\n${out}\n${err}`));
        else resolve(JSON.parse(line.slice(7)) as RunnerResult);
      });
    });

  const takeover = async (vip: string, prefix: number, family: 4 | 6) => {
    const l = lab as Lab;
    const extra = family === 6 ? ['nodad'] : [];
    await ip('lb1', ['addr', 'add', `${vip}/${prefix}`, 'dev', 'eth0', ...extra]);
    assert.ok(await l.ping('client', vip, family), `client reaches ${vip} at lb1`);
    assert.equal(await neighbourMac(vip), l.mac('lb1'), 'the client learnt lb1');

    await ip('lb1', ['addr', 'del', `${vip}/${prefix}`, 'dev', 'eth0']);
    await ip('lb2', ['addr', 'add', `${vip}/${prefix}`, 'dev', 'eth0', ...extra]);
    assert.equal(await neighbourMac(vip), l.mac('lb1'), 'moving the VIP alone tells the client nothing');

    const result = await announce('lb2', [vip]);
    assert.ok(result.ok, `announce failed: ${JSON.stringify(result.errors)}`);
    assert.equal(result.sent, 5, 'garp_master_repeat 5');
    // The client's kernel handles the announcement as it arrives; allow it a moment.
    const until = Date.now() + 2000;
    let seen = await neighbourMac(vip);
    while (seen !== l.mac('lb2') && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
      seen = await neighbourMac(vip);
    }
    assert.equal(seen, l.mac('lb2'), `the client's entry for ${vip} points at lb2`);
    return result;
  };

  it('IPv4: gratuitous ARP from lb2 updates the client for 192.0.2.100', async () => {
    await takeover('192.0.2.100', 24, 4);
  });

  it('IPv6: unsolicited NA from lb2 updates the client for 2001:db8::100, sent from the VIP', async () => {
    const l = lab as Lab;
    const child = l.spawn('client', process.execPath, ['--import', 'tsx', listener, '30000'], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('READY')) resolve();
      }),
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await ready;
    await takeover('2001:db8::100', 64, 6);
    // The listener prints each NA as it reads it: on a busy machine it may still be
    // reading when the client's cache has already moved, so wait for its five lines.
    // Only the unsolicited ones (flags Override only): lb1 answered the ping's NS before.
    const unsolicited = () =>
      out
        .split('\n')
        .filter((x) => x.startsWith('NA ') && x.split(' ')[2]?.slice(8, 16) === '20000000')
        .map((x) => x.split(' ')[1]);
    const until = Date.now() + 5000;
    while (unsolicited().length < 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    await exited;
    const sources = unsolicited();
    // The client's neighbour entry (checked in takeover) and the listener agree: five
    // unsolicited NAs, each from the VIP itself.
    assert.deepEqual(sources, Array(5).fill('2001:db8::100'), `NAs seen by the client:\n${out}`);
  });
});
