import assert from 'node:assert/strict';
import { it } from 'node:test';
import { canonicalContent } from '../../src/drivers/dataplane/content-canonical.ts';
import {
  type Dataplane,
  type DataplaneContent,
  DataplaneError,
  type Destination,
  type Service,
} from '../../src/drivers/dataplane/dataplane.ts';

// What every nftables-kind dataplane owes the layers above, run against the in-memory fake
// (test/unit/dataplane-fake.test.ts) and against real nft in a network namespace
// (test/lab/dataplane-nft.test.ts). Each case starts from an empty dataplane and leaves
// it empty.

export interface DataplaneHarness {
  /** A dataplane over an empty "kernel". */
  create(): Dataplane | Promise<Dataplane>;
  /**
   * A second driver over the same kernel as the last one created (an agent restarted),
   * when the implementation has a kernel to share.
   */
  again?(): Dataplane | Promise<Dataplane>;
}

const nat = (address: string, port: number, weight = 1): Destination => ({
  address,
  port,
  weight,
  forwarding: 'nat',
});

/** A bit of everything: both families, every protocol and scheduler, weights 0, persistence, source NAT. */
export function sampleContent(): DataplaneContent {
  return {
    services: [
      {
        key: 'www-80',
        family: 4,
        protocol: 'TCP',
        address: '203.0.113.10',
        port: 80,
        scheduler: 'rr',
        destinations: [nat('198.51.100.11', 8080), nat('198.51.100.12', 8080), nat('198.51.100.13', 8080)],
      },
      {
        key: 'www-443',
        family: 4,
        protocol: 'TCP',
        address: '203.0.113.10',
        port: 443,
        scheduler: 'wrr',
        persistence: { timeoutMs: 300_000, granularity: '255.255.255.0' },
        sourceNat: 'masquerade',
        destinations: [
          nat('198.51.100.11', 443, 3),
          nat('198.51.100.12', 443, 2),
          nat('198.51.100.13', 443, 0),
        ],
      },
      {
        key: 'dns',
        family: 4,
        protocol: 'UDP',
        address: '203.0.113.10',
        port: 53,
        scheduler: 'sh',
        sourceNat: { address: '192.0.2.1' },
        destinations: [nat('198.51.100.11', 53, 2), nat('198.51.100.12', 53, 4)],
      },
      {
        key: 'sctp-dh',
        family: 4,
        protocol: 'SCTP',
        address: '203.0.113.11',
        port: 9000,
        scheduler: 'dh',
        persistence: { timeoutMs: 1500 },
        destinations: [nat('198.51.100.21', 9000, 1000), nat('198.51.100.22', 9001, 1)],
      },
      {
        key: 'sorry-only-drained',
        family: 4,
        protocol: 'TCP',
        address: '203.0.113.12',
        port: 80,
        scheduler: 'wrr',
        destinations: [nat('198.51.100.31', 80, 0)],
      },
      {
        key: 'v6-web',
        family: 6,
        protocol: 'TCP',
        address: '2001:db8:100::10',
        port: 80,
        scheduler: 'random',
        sourceNat: { address: '2001:db8::1' },
        destinations: [nat('2001:db8::11', 80, 5), nat('2001:db8::12', 80, 5), nat('2001:db8::13', 80, 0)],
      },
      {
        key: '[2001:db8:100::10]:53/UDP',
        family: 6,
        protocol: 'UDP',
        address: '2001:db8:100::10',
        port: 53,
        scheduler: 'rr',
        sourceNat: 'masquerade',
        destinations: [nat('2001:db8::11', 53, 7), nat('2001:db8::12', 53)],
      },
      {
        key: 'v6-empty',
        family: 6,
        protocol: 'SCTP',
        address: '2001:db8:100::11',
        port: 7000,
        scheduler: 'sh',
        destinations: [],
      },
    ],
  };
}

/** Order-insensitive comparison of what a dataplane holds with what it was given. */
export function assertSameContent(actual: DataplaneContent, expected: DataplaneContent, note = ''): void {
  assert.deepEqual(canonicalContent(actual), canonicalContent(expected), note);
}

const clone = (c: DataplaneContent): DataplaneContent => structuredClone(c);
const withService = (c: DataplaneContent, key: string, f: (s: Service) => Service): DataplaneContent => ({
  services: c.services.map((s) => (s.key === key ? f(structuredClone(s)) : s)),
});

async function rejects(p: Promise<unknown>, check: (e: DataplaneError) => void): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DataplaneError, `expected a DataplaneError, got ${String(e)}`);
    check(e);
    return;
  }
  assert.fail('expected the apply to be refused');
}

/** Registers the contract's cases (call inside a describe). */
export function dataplaneContract(h: DataplaneHarness): void {
  const withPlane = async (f: (dp: Dataplane) => Promise<void>) => {
    const dp = await h.create();
    try {
      await f(dp);
    } finally {
      await dp.clear();
    }
  };

  it('probes as nftables, with what nftables can do', async () => {
    await withPlane(async (dp) => {
      const p = await dp.probe();
      assert.ok(p.ok, p.ok ? '' : p.message);
      assert.equal(p.capabilities.kind, 'nftables');
      assert.deepEqual([...p.capabilities.schedulers].sort(), ['dh', 'random', 'rr', 'sh', 'wrr']);
      assert.deepEqual(p.capabilities.forwarding, ['nat']);
      assert.equal(p.capabilities.fwmark, false);
    });
  });

  it('reads empty before anything is applied', async () => {
    await withPlane(async (dp) => {
      assert.deepEqual(await dp.read(), { services: [] });
    });
  });

  it('reads back what it applied (IPv4 and IPv6, every scheduler, weights 0, persistence, source NAT)', async () => {
    await withPlane(async (dp) => {
      const content = sampleContent();
      const stats = await dp.apply(content);
      assert.deepEqual(
        { added: stats.added, changed: stats.changed, removed: stats.removed },
        { added: content.services.length, changed: 0, removed: 0 },
      );
      assert.ok(stats.ms >= 0);
      assertSameContent(await dp.read(), content);
      // Order does not matter, on the way in either.
      const shuffled = { services: [...clone(content).services].reverse() };
      for (const s of shuffled.services) s.destinations.reverse();
      const again = await dp.apply(shuffled);
      assert.deepEqual([again.added, again.changed, again.removed], [0, 0, 0]);
      assertSameContent(await dp.read(), content);
    });
  });

  it('changes only what differs, and says how much', async () => {
    await withPlane(async (dp) => {
      const first = sampleContent();
      await dp.apply(first);
      let next = withService(first, 'www-80', (s) => {
        s.destinations[1] = nat('198.51.100.14', 8080);
        return s;
      });
      next = withService(next, 'v6-web', (s) => ({ ...s, scheduler: 'sh' }));
      next = { services: next.services.filter((s) => s.key !== 'dns') };
      next.services.push({
        key: 'new-one',
        family: 4,
        protocol: 'UDP',
        address: '203.0.113.20',
        port: 514,
        scheduler: 'random',
        destinations: [nat('198.51.100.41', 514)],
      });
      const stats = await dp.apply(next);
      assert.deepEqual([stats.added, stats.changed, stats.removed], [1, 2, 1]);
      assertSameContent(await dp.read(), next);
      // A weight going to 0 and back, a key renamed: each is one changed service.
      const drained = withService(next, 'www-443', (s) => {
        s.destinations[0] = { ...s.destinations[0], weight: 0 } as Destination;
        return s;
      });
      const renamed = withService(drained, 'sctp-dh', (s) => ({ ...s, key: 'sctp-renamed' }));
      const s2 = await dp.apply(renamed);
      assert.deepEqual([s2.added, s2.changed, s2.removed], [0, 2, 0]);
      assertSameContent(await dp.read(), renamed);
      const s3 = await dp.apply(next);
      assert.deepEqual([s3.added, s3.changed, s3.removed], [0, 2, 0]);
      assertSameContent(await dp.read(), next);
    });
  });

  it('refuses a scheduler it cannot do, naming the service, the field and the alternative; content intact', async () => {
    await withPlane(async (dp) => {
      const content = sampleContent();
      await dp.apply(content);
      const bad = withService(content, 'www-80', (s) => ({ ...s, scheduler: 'wlc' }));
      await rejects(dp.apply(bad), (e) => {
        assert.equal(e.kind, 'nftables');
        assert.equal(e.service, 'www-80');
        assert.match(
          e.message,
          /virtual server "www-80", scheduler: scheduler wlc needs IPVS; with nftables use rr, wrr, sh, dh or random/,
        );
      });
      assertSameContent(await dp.read(), content);
    });
  });

  it('refuses DR/TUN, fwmark services, scheduler flags and IPv6 persistence, all or nothing', async () => {
    await withPlane(async (dp) => {
      const content = sampleContent();
      await dp.apply(content);
      const cases: [DataplaneContent, RegExp][] = [
        [
          withService(content, 'www-443', (s) => {
            s.destinations[1] = { ...nat('198.51.100.12', 443), forwarding: 'dr' };
            return s;
          }),
          /destinations\[1\]\.forwarding: forwarding dr \(lb_kind DR\) needs IPVS; with nftables use forwarding nat/,
        ],
        [
          withService(content, 'dns', (s) => ({ ...s, address: undefined, fwmark: 7 }) as Service),
          /fwmark: fwmark services need IPVS/,
        ],
        [
          withService(content, 'dns', (s) => ({ ...s, schedulerFlags: ['sh-port'] })),
          /schedulerFlags: .*need IPVS/,
        ],
        [
          withService(content, 'v6-web', (s) => ({ ...s, persistence: { timeoutMs: 1000 } })),
          /persistence: persistence on an IPv6 virtual server needs IPVS/,
        ],
        [
          withService(content, 'www-80', (s) => {
            s.destinations.push(nat('2001:db8::99', 80));
            return s;
          }),
          /destinations\[3\]\.address: 2001:db8::99 is not an IPv4 address/,
        ],
        [
          {
            services: [
              ...content.services,
              { ...structuredClone(content.services[0] as Service), key: 'dup' },
            ],
          },
          /TCP 203\.0\.113\.10 port 80 is also virtual server "www-80"/,
        ],
      ];
      for (const [bad, message] of cases) {
        await rejects(dp.apply(bad), (e) => assert.match(e.message, message));
        assertSameContent(await dp.read(), content, String(message));
      }
    });
  });

  it('applies an empty content and clears, twice over', async () => {
    await withPlane(async (dp) => {
      await dp.apply(sampleContent());
      const stats = await dp.apply({ services: [] });
      assert.equal(stats.removed, sampleContent().services.length);
      assert.deepEqual(await dp.read(), { services: [] });
      await dp.apply(sampleContent());
      await dp.clear();
      await dp.clear();
      assert.deepEqual(await dp.read(), { services: [] });
      const after = await dp.apply(sampleContent());
      assert.equal(after.added, sampleContent().services.length);
    });
  });

  it('a restarted driver takes the kernel as it is: stats against what the kernel holds', async (t) => {
    if (!h.again) {
      t.skip('no kernel shared between instances');
      return;
    }
    await withPlane(async (dp) => {
      await dp.apply(sampleContent());
      const second = await h.again?.();
      assert.ok(second);
      assertSameContent(await second.read(), sampleContent());
      const next = withService(sampleContent(), 'www-80', (s) => ({ ...s, scheduler: 'wrr' }));
      const stats = await second.apply(next);
      assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
      // The first driver's copy is stale now: it must notice and still end up right.
      const back = await dp.apply(sampleContent());
      assert.deepEqual([back.added, back.changed, back.removed], [0, 1, 0]);
      assertSameContent(await second.read(), sampleContent());
    });
  });
}
