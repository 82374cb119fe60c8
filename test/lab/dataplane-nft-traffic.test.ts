import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dataplane, Destination, Service } from '../../src/drivers/dataplane/dataplane.ts';
import { DataplaneError } from '../../src/drivers/dataplane/dataplane.ts';
import {
  BACKENDS,
  CLIENT4,
  CLIENT4_OTHER,
  createLbLab,
  duplicateLine,
  type LbLab,
  tally,
  VIP4,
  VIP6,
} from './dataplane-lab.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// Real traffic through the nftables dataplane: a client, an LB (ip_forward on, keepgit's
// table) and three backends answering their own name, in namespaces this test creates.
// Requests are made one after the other by a lone client, so the schedulers' shared
// counters make the spreads exact where the scheduler is deterministic.

const why = labUnavailable(['nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const backend = (lab: LbLab, name: string, port = 8080, weight = 1): Destination => ({
  address: lab.lab.address(name, 4),
  port,
  weight,
  forwarding: 'nat',
});

const service = (over: Partial<Service> & Pick<Service, 'key' | 'destinations'>): Service => ({
  family: 4,
  protocol: 'TCP',
  address: VIP4,
  port: 80,
  scheduler: 'rr',
  ...over,
});

describe('nftables dataplane: traffic in the lab', { skip, timeout: 600_000 }, () => {
  let lb: LbLab | undefined;
  let dp: Dataplane;
  const L = () => {
    assert.ok(lb, 'lab not created');
    return lb;
  };

  before(async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    lb = await createLbLab(`${RUN_PREFIX}-dp`);
    dp = lb.dataplane();
    const p = await dp.probe();
    assert.ok(p.ok, p.ok ? '' : p.message);
  });
  after(async () => {
    await lb?.destroy();
  });

  it('rr: 30 requests spread evenly (within ±1) over three backends, client address kept', async () => {
    const l = L();
    await dp.apply({
      services: [service({ key: 'rr', destinations: BACKENDS.map((b) => backend(l, b)) })],
    });
    const answers = await l.requests({ host: VIP4, port: 80, count: 30 });
    const t = tally(answers);
    assert.equal(t.error, undefined, JSON.stringify(answers));
    for (const b of BACKENDS) assert.ok(Math.abs((t[b] ?? 0) - 10) <= 1, JSON.stringify(t));
    // Plain DNAT: the backends see the client itself.
    assert.ok(
      answers.every((a) => a.seenAs === CLIENT4),
      JSON.stringify(answers.slice(0, 3)),
    );
  });

  it('wrr: 3:2:1 over 60 requests is exactly 30/20/10', async () => {
    const l = L();
    await dp.apply({
      services: [
        service({
          key: 'wrr',
          scheduler: 'wrr',
          destinations: [backend(l, 'b1', 8080, 3), backend(l, 'b2', 8080, 2), backend(l, 'b3', 8080, 1)],
        }),
      ],
    });
    const t = tally(await l.requests({ host: VIP4, port: 80, count: 60 }));
    assert.deepEqual(t, { b1: 30, b2: 20, b3: 10 });
  });

  it('sh: each client address sticks to one backend', async () => {
    const l = L();
    await dp.apply({
      services: [service({ key: 'sh', scheduler: 'sh', destinations: BACKENDS.map((b) => backend(l, b)) })],
    });
    for (const localAddress of [CLIENT4, CLIENT4_OTHER]) {
      const answers = await l.requests({ host: VIP4, port: 80, count: 10, localAddress });
      const t = tally(answers);
      assert.equal(Object.keys(t).length, 1, `${localAddress}: ${JSON.stringify(t)}`);
      assert.ok(BACKENDS.includes(answers[0]?.backend as (typeof BACKENDS)[number]));
      assert.ok(answers.every((a) => a.seenAs === localAddress));
    }
  });

  it('dh sends one VIP to one backend; random spreads and every request is answered', async () => {
    const l = L();
    await dp.apply({
      services: [
        service({ key: 'dh', scheduler: 'dh', destinations: BACKENDS.map((b) => backend(l, b)) }),
        service({
          key: 'random',
          scheduler: 'random',
          port: 81,
          destinations: BACKENDS.map((b) => backend(l, b)),
        }),
      ],
    });
    const dh = tally(await l.requests({ host: VIP4, port: 80, count: 10 }));
    assert.equal(Object.keys(dh).length, 1, JSON.stringify(dh));
    const random = tally(await l.requests({ host: VIP4, port: 81, count: 60 }));
    assert.equal(random.error, undefined, JSON.stringify(random));
    assert.ok(Object.keys(random).length >= 2, JSON.stringify(random));
  });

  it('persistence: a client (and its /24) sticks to one backend until the timeout, then moves', async () => {
    const l = L();
    await dp.apply({
      services: [
        service({
          key: 'sticky',
          persistence: { timeoutMs: 2000, granularity: '255.255.255.0' },
          destinations: BACKENDS.map((b) => backend(l, b)),
        }),
      ],
    });
    const first = await l.requests({ host: VIP4, port: 80, count: 6 });
    const sticky = first[0]?.backend;
    assert.ok(sticky, JSON.stringify(first));
    assert.deepEqual(tally(first), { [sticky]: 6 });
    // Another address of the same /24 is the same client for persistence.
    assert.deepEqual(
      tally(await l.requests({ host: VIP4, port: 80, count: 3, localAddress: CLIENT4_OTHER })),
      {
        [sticky]: 3,
      },
    );
    await sleep(3500);
    // Past the timeout the scheduler picks again: rr's next slot, another backend.
    const later = await l.requests({ host: VIP4, port: 80, count: 1 });
    assert.ok(later[0]?.backend, JSON.stringify(later));
    assert.notEqual(later[0]?.backend, sticky);
  });

  it('persistence: removing the sticky backend moves its clients at once, without a failed request', async () => {
    const l = L();
    const all = BACKENDS.map((b) => backend(l, b));
    const sticky = (destinations: Destination[]) =>
      service({ key: 'sticky-long', port: 82, persistence: { timeoutMs: 600_000 }, destinations });
    await dp.apply({ services: [sticky(all)] });
    const first = await l.requests({ host: VIP4, port: 82, count: 3 });
    const held = first[0]?.backend;
    assert.ok(held);
    assert.deepEqual(tally(first), { [held]: 3 });
    const heldAddress = l.lab.address(held, 4);
    assert.match(
      l.nft('list', 'map', 'inet', 'keepgit_lb', 'persist4_tcp'),
      new RegExp(`${heldAddress} \\. 8080`),
    );
    const prerouting = () =>
      /chain prerouting \{ # handle \d+/.exec(l.nft('-a', 'list', 'chains', 'inet'))?.[0];
    const handle = prerouting();
    assert.ok(handle);
    const stats = await dp.apply({
      services: [sticky(all.filter((d) => d.address !== l.lab.address(held, 4)))],
    });
    assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
    // Patched in place (the table was not rebuilt: same base chain), and the client's record
    // went in the same batch.
    assert.equal(prerouting(), handle);
    assert.doesNotMatch(l.nft('list', 'map', 'inet', 'keepgit_lb', 'persist4_tcp'), new RegExp(heldAddress));
    const after = await l.requests({ host: VIP4, port: 82, count: 4 });
    const t = tally(after);
    assert.equal(t.error, undefined, JSON.stringify(after));
    assert.equal(t[held], undefined, JSON.stringify(t));
    assert.equal(Object.keys(t).length, 1, `still sticky, to another backend: ${JSON.stringify(t)}`);
  });

  it('weight 0 gets no new connections; all weights 0 or no backend: no DNAT; a sorry server answers', async () => {
    const l = L();
    await dp.apply({
      services: [
        service({
          key: 'drain',
          destinations: [backend(l, 'b1'), backend(l, 'b2'), backend(l, 'b3', 8080, 0)],
        }),
      ],
    });
    assert.deepEqual(tally(await l.requests({ host: VIP4, port: 80, count: 30 })), { b1: 15, b2: 15 });
    for (const destinations of [[backend(l, 'b1', 8080, 0)], []]) {
      await dp.apply({ services: [service({ key: 'drain', destinations })] });
      const none = await l.requests({ host: VIP4, port: 80, count: 1 });
      assert.deepEqual(tally(none), { error: 1 }, JSON.stringify(none));
    }
    // The caller's sorry server: the one destination, and it answers.
    await dp.apply({ services: [service({ key: 'drain', destinations: [backend(l, 'b3')] })] });
    assert.deepEqual(tally(await l.requests({ host: VIP4, port: 80, count: 3 })), { b3: 3 });
  });

  it('IPv6 and UDP: rr over three backends, evenly', async () => {
    const l = L();
    const v6 = (name: string): Destination => ({
      address: l.lab.address(name, 6),
      port: 8080,
      weight: 1,
      forwarding: 'nat',
    });
    await dp.apply({
      services: [
        service({ key: 'v6', family: 6, address: VIP6, destinations: BACKENDS.map(v6) }),
        service({
          key: 'udp',
          protocol: 'UDP',
          port: 53,
          destinations: BACKENDS.map((b) => backend(l, b, 5353)),
        }),
      ],
    });
    const t6 = tally(await l.requests({ host: VIP6, port: 80, count: 30 }));
    assert.deepEqual(t6, { b1: 10, b2: 10, b3: 10 });
    const tu = tally(await l.requests({ host: VIP4, port: 53, count: 30, udp: true }));
    assert.deepEqual(tu, { b1: 10, b2: 10, b3: 10 });
  });

  it('source NAT (masquerade) for one-armed set-ups: the backends see the LB', async () => {
    const l = L();
    await dp.apply({
      services: [service({ key: 'snat', sourceNat: 'masquerade', destinations: [backend(l, 'b1')] })],
    });
    const answers = await l.requests({ host: VIP4, port: 80, count: 3 });
    assert.deepEqual(
      answers.map((a) => a.seenAs),
      [1, 2, 3].map(() => l.lab.address('lb', 4)),
    );
  });

  it('atomicity: a batch the kernel rejects half-way leaves the table byte for byte, and traffic flows', async () => {
    const l = L();
    const good = { services: [service({ key: 'rr', destinations: BACKENDS.map((b) => backend(l, b)) })] };
    await dp.apply(good);
    const beforeText = l.listTable();
    assert.match(beforeText, /goto c4_rr_m3/);
    const changed = {
      services: [
        service({
          key: 'rr',
          scheduler: 'wrr',
          destinations: BACKENDS.map((b, i) => backend(l, b, 8080, i + 1)),
        }),
        service({ key: 'other', port: 9000, destinations: [backend(l, 'b1')] }),
      ],
    };
    // A second dataplane whose batches carry one element the kernel refuses (EEXIST), after
    // everything else: both the full rewrite (no copy yet) and, below, a patch.
    const broken = l.dataplane({ mangleBatch: (text) => duplicateLine(text, `${VIP4} . 9000 . 0 `) });
    await assert.rejects(
      broken.apply(changed),
      (e: unknown) => e instanceof DataplaneError && /File exists/.test(e.message),
    );
    assert.equal(l.listTable(), beforeText);
    // The patch path: a dataplane whose copy is current patches; its patch is refused by the
    // kernel (then so is the full rewrite it falls back to), and the table is as it was.
    let mangle = false;
    const batches: string[] = [];
    const patching = l.dataplane({
      mangleBatch: (text) => {
        if (!mangle) return text;
        const bad = duplicateLine(text, `${VIP4} . 9000 . 0 `);
        batches.push(bad);
        return bad;
      },
    });
    await patching.apply(good);
    const patchedBefore = l.listTable();
    mangle = true;
    await assert.rejects(
      patching.apply(changed),
      (e: unknown) => e instanceof DataplaneError && /File exists/.test(e.message),
    );
    assert.equal(l.listTable(), patchedBefore);
    assert.equal(batches.length, 2, 'a patch, then a full rewrite');
    assert.match(batches[0] ?? '', /^delete element inet keepgit_lb gen/);
    assert.match(batches[1] ?? '', /^table inet keepgit_lb \{\}/);
    // The refused patch, run by hand: the kernel refuses it half-way (EEXIST), nothing changes.
    const file = join(mkdtempSync(join(tmpdir(), 'kgt-dp-')), 'patch.nft');
    writeFileSync(file, batches[0] ?? '');
    const r = l.lab.execSync('lb', 'nft', ['-f', file]);
    rmSync(dirname(file), { recursive: true, force: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /File exists/);
    assert.equal(l.listTable(), patchedBefore);
    const t = tally(await l.requests({ host: VIP4, port: 80, count: 30 }));
    assert.deepEqual(t, { b1: 10, b2: 10, b3: 10 });
    await dp.clear();
  });
});
