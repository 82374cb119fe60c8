import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataplaneError } from '../../src/drivers/dataplane/dataplane.ts';
import { createFakeDataplane, type FakeKernel } from '../../src/drivers/dataplane/fake-dataplane.ts';
import { assertSameContent, dataplaneContract, sampleContent } from './dataplane-contract.ts';

// The in-memory dataplane: the same contract as nftables in a namespace
// (test/lab/dataplane-nft.test.ts), then what only the fake offers the layers above.

describe('fake dataplane (as nftables): the dataplane contract', () => {
  let kernel: FakeKernel = { services: [] };
  dataplaneContract({
    create: () => {
      kernel = { services: [] };
      return createFakeDataplane({ kernel });
    },
    again: () => createFakeDataplane({ kernel }),
  });
});

describe('fake dataplane hooks', () => {
  it('as IPVS, takes the schedulers and forwarding methods nftables refuses', async () => {
    const dp = createFakeDataplane({ kind: 'ipvs' });
    const content = sampleContent();
    for (const s of content.services) if (s.scheduler === 'random') s.scheduler = 'lc';
    const www = content.services[0];
    assert.ok(www);
    www.scheduler = 'wlc';
    www.destinations[0] = { address: '198.51.100.11', port: 8080, weight: 1, forwarding: 'dr' };
    await dp.apply(content);
    assertSameContent(await dp.read(), content);
    const p = await dp.probe();
    assert.ok(p.ok && p.capabilities.kind === 'ipvs' && p.capabilities.schedulers.includes('wlc'));
    www.scheduler = 'random';
    await assert.rejects(
      dp.apply(content),
      /virtual server "www-80", scheduler: scheduler random is not an IPVS scheduler/,
    );
  });

  it('rejects the next apply on request, all or nothing, then applies again', async () => {
    const dp = createFakeDataplane();
    await dp.apply(sampleContent());
    dp.rejectNextApply('EEXIST');
    await assert.rejects(dp.apply({ services: [] }), (e: unknown) => {
      assert.ok(e instanceof DataplaneError);
      assert.match(e.message, /content unchanged: EEXIST/);
      return true;
    });
    assertSameContent(await dp.read(), sampleContent());
    const stats = await dp.apply({ services: [] });
    assert.equal(stats.removed, sampleContent().services.length);
    assert.equal(dp.applied.length, 2);
  });

  it('lets a test change the content behind the driver (drift), and the next apply counts against it', async () => {
    const dp = createFakeDataplane();
    await dp.apply(sampleContent());
    dp.tamper({ services: sampleContent().services.slice(1) });
    assert.equal((await dp.read()).services.length, sampleContent().services.length - 1);
    const stats = await dp.apply(sampleContent());
    assert.deepEqual([stats.added, stats.changed, stats.removed], [1, 0, 0]);
  });

  it('stands for a missing kernel feature: probe says so, the rest fails with the same words', async () => {
    const message = 'kernel has no IPVS (family not registered); use dataplane: nftables';
    const dp = createFakeDataplane({ kind: 'ipvs', unavailable: message });
    assert.deepEqual(await dp.probe(), { ok: false, kind: 'ipvs', message });
    await assert.rejects(dp.read(), { name: 'DataplaneError', message });
    await assert.rejects(dp.apply({ services: [] }), { name: 'DataplaneError', message });
  });
});
