import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataplaneError } from '../../src/drivers/dataplane/dataplane.ts';
import { createNftDataplane } from '../../src/drivers/dataplane/nft-dataplane.ts';
import { nftRunner } from '../../src/drivers/dataplane/nft-runner.ts';
import { assertSameContent, dataplaneContract, sampleContent } from '../unit/dataplane-contract.ts';
import { duplicateLine } from './dataplane-lab.ts';
import { deleteNamespace, labUnavailable, newNamespace, sh } from './netns.ts';

// The nftables dataplane against the real kernel, inside a network namespace this test
// creates (nft runs there through `ip netns exec`): the same contract as the fake, then
// what only the real one shows — the listing it leaves, a table it does not own left
// alone, a table changed behind its back, and a clear error without nft.

const why = labUnavailable(['nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

describe('nftables dataplane in a network namespace', { skip }, () => {
  let ns = '';
  const runner = () => nftRunner(['ip', 'netns', 'exec', ns, 'nft']);
  const nft = (...args: string[]) => sh('ip', ['netns', 'exec', ns, 'nft', ...args]);
  before(() => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    ns = newNamespace('dpnft');
    // Someone else's table: keepgit must never touch it.
    assert.equal(nft('add', 'table', 'inet', 'someone_else').status, 0);
    assert.equal(nft('add', 'chain', 'inet', 'someone_else', 'c').status, 0);
    assert.equal(nft('add', 'rule', 'inet', 'someone_else', 'c', 'tcp', 'dport', '22', 'accept').status, 0);
  });
  after(() => {
    if (ns) deleteNamespace(ns);
  });

  describe('the dataplane contract', () => {
    dataplaneContract({
      create: () => createNftDataplane({ runner: runner() }),
      again: () => createNftDataplane({ runner: runner() }),
    });
  });

  it('holds one table, inet keepgit_lb, and leaves the other tables alone', async () => {
    const othersBefore = nft('list', 'table', 'inet', 'someone_else').stdout;
    const dp = createNftDataplane({ runner: runner() });
    await dp.apply(sampleContent());
    const tables = nft('list', 'tables').stdout.trim().split('\n').sort();
    assert.deepEqual(tables, ['table inet keepgit_lb', 'table inet someone_else']);
    await dp.clear();
    assert.deepEqual(nft('list', 'tables').stdout.trim().split('\n'), ['table inet someone_else']);
    assert.equal(nft('list', 'table', 'inet', 'someone_else').stdout, othersBefore);
  });

  it('notices a table changed by hand: read shows it, the next apply rewrites it', async () => {
    const dp = createNftDataplane({ runner: runner() });
    try {
      await dp.apply(sampleContent());
      // An operator deletes a real server's slot and the service's key by hand.
      assert.equal(
        nft('delete', 'element', 'inet', 'keepgit_lb', 'slots4_tcp', '{ 203.0.113.10 . 80 . 0 }').status,
        0,
      );
      const drifted = await dp.read();
      const www = drifted.services.find((s) => s.key === 'www-80');
      assert.equal(www?.destinations.length, 2, 'read shows the kernel, not the last apply');
      const stats = await dp.apply(sampleContent());
      assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
      assertSameContent(await dp.read(), sampleContent());
      // Same content, but the table was flushed behind our back: the generation check sees it.
      assert.equal(nft('delete', 'table', 'inet', 'keepgit_lb').status, 0);
      const again = await dp.apply(sampleContent());
      assert.equal(again.added, sampleContent().services.length);
      assertSameContent(await dp.read(), sampleContent());
    } finally {
      await dp.clear();
    }
  });

  it('patches a one-server change in place: the other elements keep their handles', async () => {
    const dp = createNftDataplane({ runner: runner() });
    try {
      await dp.apply(sampleContent());
      const chainsBefore = nft('-a', 'list', 'chains', 'inet').stdout;
      const tableBefore = /# handle (\d+)/.exec(nft('-a', 'list', 'table', 'inet', 'keepgit_lb').stdout)?.[1];
      const next = sampleContent();
      const www = next.services[0];
      assert.ok(www);
      www.destinations[2] = { address: '198.51.100.19', port: 8080, weight: 1, forwarding: 'nat' };
      const stats = await dp.apply(next);
      assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
      // A full rewrite would have created the table anew (a new table handle).
      assert.equal(nft('-a', 'list', 'chains', 'inet').stdout, chainsBefore);
      assert.equal(
        /# handle (\d+)/.exec(nft('-a', 'list', 'table', 'inet', 'keepgit_lb').stdout)?.[1],
        tableBefore,
      );
      assertSameContent(await dp.read(), next);
    } finally {
      await dp.clear();
    }
  });

  it('a patch over a table someone re-marked fails whole, and the table is rewritten in its place', async () => {
    const dp = createNftDataplane({ runner: runner() });
    try {
      await dp.apply(sampleContent());
      // Someone else writes the generation mark (as another process applying would).
      assert.equal(nft('flush', 'set', 'inet', 'keepgit_lb', 'gen').status, 0);
      assert.equal(nft('add', 'element', 'inet', 'keepgit_lb', 'gen', '{ 7 }').status, 0);
      // The table's handle: a rewrite creates the table anew, a patch keeps it.
      const tableHandle = () =>
        /# handle (\d+)/.exec(nft('-a', 'list', 'table', 'inet', 'keepgit_lb').stdout)?.[1];
      const handleBefore = tableHandle();
      assert.ok(handleBefore);
      const next = sampleContent();
      const www = next.services[0];
      assert.ok(www);
      www.destinations[2] = { address: '198.51.100.19', port: 8080, weight: 1, forwarding: 'nat' };
      const stats = await dp.apply(next);
      // Counted against what the kernel held (the sample), and written whole.
      assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
      assert.notEqual(tableHandle(), handleBefore);
      assertSameContent(await dp.read(), next);
      assert.doesNotMatch(nft('list', 'set', 'inet', 'keepgit_lb', 'gen').stdout, /\{ 7 \}/);
    } finally {
      await dp.clear();
    }
  });

  it('reports the kernel rejecting a batch as a DataplaneError naming the service', async () => {
    const dp = createNftDataplane({
      runner: runner(),
      // The same slot twice in one batch: the kernel refuses the second (EEXIST).
      mangleBatch: (text) => duplicateLine(text, '203.0.113.11 . 9000 . 0 '),
    });
    try {
      await assert.rejects(dp.apply(sampleContent()), (e: unknown) => {
        assert.ok(e instanceof DataplaneError);
        assert.match(
          e.message,
          /nftables refused the transaction, table inet keepgit_lb unchanged: .*File exists/,
        );
        assert.equal(e.service, 'sctp-dh');
        return true;
      });
      assert.deepEqual(await dp.read(), { services: [] });
    } finally {
      await dp.clear();
    }
  });

  it('probe: capabilities here, a clear message when nft is missing', async () => {
    const ok = await createNftDataplane({ runner: runner() }).probe();
    assert.ok(ok.ok);
    const missing = await createNftDataplane({ runner: nftRunner(['/nonexistent/nft']) }).probe();
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.message, /nft not found .*install nftables/);
    // A dry run leaves nothing behind.
    assert.doesNotMatch(nft('list', 'tables').stdout, /keepgit_lb/);
  });
});
