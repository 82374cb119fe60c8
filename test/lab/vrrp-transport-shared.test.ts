import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { TransportCounters } from '../../src/drivers/vrrp-socket/transport.ts';
import type { AdvertFields } from '../../src/vrrp/advert.ts';
import { deleteNamespace, labUnavailable } from './netns.ts';
import { A, B, killAll, run, twoHosts } from './vrrp-transport-lab.ts';
import { type Step, stepToJson } from './vrrp-transport-wire.ts';

// The real transport shares one raw socket among the instances on an interface (as
// keepalived does) and hands each packet, decoded once, to the transport of its VRID.
// Seen from each transport nothing changes: it hears its own VRID only, and its counters
// read as if the socket were its own (another VRID's advert is a `wrong-vrid` drop, a
// bad TTL a `ttl` drop). Two namespaces on one veth pair; documentation addresses only;
// nothing in the root namespace; everything removed in `after`.

const why = labUnavailable();
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;
const RUNNER = new URL('./vrrp-shared-runner.ts', import.meta.url).pathname;

const advert = (vrid: number): AdvertFields => ({
  version: 3,
  type: 1,
  family: 4,
  vrid,
  priority: 100,
  addresses: ['192.0.2.100'],
  advertIntervalCs: 100,
});

interface Line {
  event: string;
  transport?: number;
  advert?: { vrid: number };
  sockets?: number;
  counters?: TransportCounters[];
  socketsAfterClose?: number;
  message?: string;
}

describe('VRRP transports sharing one raw socket', { skip }, () => {
  let nsA = '';
  let nsB = '';
  const children: ChildProcess[] = [];
  before(() => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    ({ nsA, nsB } = twoHosts('vs'));
  });
  after(() => {
    for (const c of children)
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
    killAll();
    if (nsA) deleteNamespace(nsA);
    if (nsB) deleteNamespace(nsB);
  });

  it('one socket for three transports; each hears its VRID and counts the rest as the old sockets did', async () => {
    const job = {
      options: { family: 4, ifname: B.ifname, sourceAddress: B.ipv4 },
      vrids: [51, 52, null],
      expect: 4,
      timeoutMs: 8000,
    };
    const child = spawn(
      'ip',
      ['netns', 'exec', nsB, process.execPath, '--import', 'tsx', RUNNER, JSON.stringify(job)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    const lines: Line[] = [];
    let out = '';
    let err = '';
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const l = JSON.parse(out.slice(0, nl)) as Line;
        out = out.slice(nl + 1);
        lines.push(l);
        if (l.event === 'ready') ready();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await Promise.race([isReady, exited]);
    assert.equal(
      lines.find((l) => l.event === 'ready')?.sockets,
      1,
      `one VRRP socket in the namespace ${err}`,
    );

    const steps: Step[] = [
      { kind: 'crafted-ttl', ttl: 64, advert: advert(51) },
      // The same advert twice: the second is recognised as a repeat, not decoded again.
      { kind: 'advert', advert: advert(51) },
      { kind: 'advert', advert: advert(51) },
      { kind: 'advert', advert: advert(52) },
      { kind: 'advert', advert: advert(99) },
    ];
    await run(nsA, {
      role: 'send',
      options: { family: 4, ifname: A.ifname, sourceAddress: A.ipv4 },
      steps: steps.map(stepToJson),
    }).done;
    assert.equal(await exited, 0, err);
    const failed = lines.find((l) => l.event === 'error');
    assert.equal(failed, undefined, failed?.message);

    const heard = (i: number) =>
      lines.filter((l) => l.event === 'advert' && l.transport === i).map((l) => l.advert?.vrid);
    assert.deepEqual(heard(0), [51, 51]);
    assert.deepEqual(heard(1), [52]);
    assert.deepEqual(heard(2), [51, 51, 52, 99]);

    const done = lines.find((l) => l.event === 'done');
    const [c51, c52, cAll] = done?.counters ?? [];
    assert.equal(c51?.received, 2);
    assert.deepEqual(c51?.dropped, { ttl: 1, 'wrong-vrid': 2 });
    assert.equal(c52?.received, 1);
    assert.deepEqual(c52?.dropped, { ttl: 1, 'wrong-vrid': 3 });
    assert.equal(cAll?.received, 4);
    assert.deepEqual(cAll?.dropped, { ttl: 1 });
    assert.equal(done?.socketsAfterClose, 0, 'the last transport closed the socket');
  });
});
