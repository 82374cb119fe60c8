import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataplaneContent } from '../../src/drivers/dataplane/dataplane.ts';
import { createNftDataplane } from '../../src/drivers/dataplane/nft-dataplane.ts';
import type { NftRunner } from '../../src/drivers/dataplane/nft-runner.ts';
import { sampleContent } from './dataplane-contract.ts';

// What the nftables driver asks of nft, and how often (no kernel needed: a stand-in for
// nft that keeps only the table's generation mark, and refuses a patch whose mark swap
// does not match, as the kernel does). Every transaction is one `nft -f -` with the batch
// on stdin; after its own apply the driver patches without listing first; a table changed
// behind its back makes the patch fail whole, and then it lists and rewrites.

interface Call {
  args: string[];
  input?: string;
}

function fakeNft() {
  const calls: Call[] = [];
  /** The generation mark the "kernel" holds; undefined: no table. */
  let gen: number | undefined;
  const runner: NftRunner = async (args, input) => {
    const call: Call = { args: [...args] };
    if (input !== undefined) call.input = input;
    calls.push(call);
    const ok = (stdout = '') => ({ status: 0, stdout, stderr: '' });
    const missing = { status: 1, stdout: '', stderr: 'Error: No such file or directory\n' };
    if (args[0] === '-j' && args[1] === 'list') {
      if (gen === undefined) return missing;
      // The table as listed: the mark and no services (enough for the stats).
      return ok(JSON.stringify({ nftables: [{ set: { name: 'gen', type: 'mark', elem: [gen] } }] }));
    }
    if (args.at(-2) !== '-f' || args.at(-1) !== '-' || input === undefined)
      return { status: 2, stdout: '', stderr: `unexpected nft ${args.join(' ')}` };
    const swap =
      /^delete element inet keepgit_lb gen \{ (\d+) \}\nadd element inet keepgit_lb gen \{ (\d+) \}\n/.exec(
        input,
      );
    if (swap) {
      if (Number(swap[1]) !== gen)
        return {
          status: 1,
          stdout: '',
          stderr: '/dev/stdin:1:1-40: Error: Could not process rule: No such file or directory\n',
        };
      gen = Number(swap[2]);
      return ok();
    }
    const full = /set gen \{ type mark; elements = \{ (\d+) \}; \}/.exec(input);
    if (full) gen = Number(full[1]);
    else if (/^table inet keepgit_lb \{\}\ndelete table inet keepgit_lb\n$/.test(input)) gen = undefined;
    return ok();
  };
  return {
    runner,
    calls,
    /** Someone deletes the table behind the driver's back. */
    dropTable: () => {
      gen = undefined;
    },
    /** Someone rewrites the table (a new mark) behind the driver's back. */
    remark: () => {
      gen = (gen ?? 0) + 1;
    },
  };
}

const kinds = (calls: Call[]) => calls.map((c) => (c.input === undefined ? c.args.join(' ') : 'batch'));

/** The sample content with one real server of www-80 (rr) replaced. */
function oneServerChanged(): DataplaneContent {
  const c = sampleContent();
  const www = c.services.find((s) => s.key === 'www-80');
  assert.ok(www);
  www.destinations[2] = { address: '198.51.100.19', port: 8080, weight: 1, forwarding: 'nat' };
  return c;
}

describe('nftables driver: transactions and nft calls', () => {
  it('a fresh driver lists the table once, then writes it whole in one batch on stdin', async () => {
    const nft = fakeNft();
    const dp = createNftDataplane({ runner: nft.runner });
    const stats = await dp.apply(sampleContent());
    assert.deepEqual(kinds(nft.calls), ['-j list table inet keepgit_lb', 'batch']);
    assert.deepEqual(nft.calls[1]?.args, ['-f', '-']);
    assert.match(
      nft.calls[1]?.input ?? '',
      /^table inet keepgit_lb \{\}\ndelete table inet keepgit_lb\ntable inet keepgit_lb \{\n/,
    );
    assert.deepEqual([stats.added, stats.changed, stats.removed], [sampleContent().services.length, 0, 0]);
  });

  it('after its own apply, a one-server change is one batch: the mark swap and that server, nothing listed', async () => {
    const nft = fakeNft();
    const dp = createNftDataplane({ runner: nft.runner });
    await dp.apply(sampleContent());
    nft.calls.length = 0;
    const stats = await dp.apply(oneServerChanged());
    assert.deepEqual(kinds(nft.calls), ['batch']);
    const lines = (nft.calls[0]?.input ?? '').trimEnd().split('\n');
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.match(lines[0] ?? '', /^delete element inet keepgit_lb gen \{ \d+ \}$/);
    assert.match(lines[1] ?? '', /^add element inet keepgit_lb gen \{ \d+ \}$/);
    assert.equal(lines[2], 'delete element inet keepgit_lb slots4_tcp { 203.0.113.10 . 80 . 2 }');
    assert.equal(
      lines[3],
      'add element inet keepgit_lb slots4_tcp { 203.0.113.10 . 80 . 2 : 198.51.100.19 . 8080 }',
    );
    assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
    // And back: the same one server, again without a listing.
    nft.calls.length = 0;
    await dp.apply(sampleContent());
    assert.deepEqual(kinds(nft.calls), ['batch']);
  });

  it('a table changed behind its back fails the patch whole; then it lists and rewrites the table', async () => {
    for (const change of ['dropTable', 'remark'] as const) {
      const nft = fakeNft();
      const dp = createNftDataplane({ runner: nft.runner });
      await dp.apply(sampleContent());
      nft[change]();
      nft.calls.length = 0;
      const stats = await dp.apply(oneServerChanged());
      assert.deepEqual(kinds(nft.calls), ['batch', '-j list table inet keepgit_lb', 'batch'], change);
      assert.match(nft.calls[0]?.input ?? '', /^delete element inet keepgit_lb gen/, change);
      assert.match(nft.calls[2]?.input ?? '', /^table inet keepgit_lb \{\}\ndelete table/, change);
      // Counted against what the kernel held: here, no services at all.
      assert.deepEqual([stats.added, stats.changed, stats.removed], [sampleContent().services.length, 0, 0]);
      // The rewrite is trusted again: the next change is a patch.
      nft.calls.length = 0;
      await dp.apply(sampleContent());
      assert.deepEqual(kinds(nft.calls), ['batch'], change);
    }
  });

  it('nothing to change: one look at the generation mark, no batch; a missing table is rewritten', async () => {
    const nft = fakeNft();
    const dp = createNftDataplane({ runner: nft.runner });
    await dp.apply(sampleContent());
    nft.calls.length = 0;
    const same = await dp.apply(sampleContent());
    assert.deepEqual(kinds(nft.calls), ['-j list set inet keepgit_lb gen']);
    assert.deepEqual([same.added, same.changed, same.removed, same.ms], [0, 0, 0, 0]);
    nft.dropTable();
    nft.calls.length = 0;
    const again = await dp.apply(sampleContent());
    assert.deepEqual(kinds(nft.calls), [
      '-j list set inet keepgit_lb gen',
      '-j list table inet keepgit_lb',
      'batch',
    ]);
    assert.equal(again.added, sampleContent().services.length);
  });

  it('a service changed in place by the caller after an apply is seen by the next apply', async () => {
    const nft = fakeNft();
    const dp = createNftDataplane({ runner: nft.runner });
    const content = sampleContent();
    await dp.apply(content);
    const www = content.services.find((s) => s.key === 'www-80');
    assert.ok(www?.destinations[2]);
    www.destinations[2].address = '198.51.100.19';
    nft.calls.length = 0;
    const stats = await dp.apply(content);
    assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
    assert.match(nft.calls[0]?.input ?? '', /198\.51\.100\.19 \. 8080/);
  });

  it('refuses before sending any batch when it cannot program the content', async () => {
    const nft = fakeNft();
    const dp = createNftDataplane({ runner: nft.runner });
    await dp.apply(sampleContent());
    nft.calls.length = 0;
    const bad = sampleContent();
    const first = bad.services[0];
    assert.ok(first);
    first.scheduler = 'wlc';
    await assert.rejects(dp.apply(bad), /scheduler wlc needs IPVS/);
    assert.deepEqual(nft.calls, []);
    // A fresh driver may have started its (read-only) listing, but sends no batch either.
    const fresh = fakeNft();
    await assert.rejects(createNftDataplane({ runner: fresh.runner }).apply(bad), /scheduler wlc/);
    assert.deepEqual(
      fresh.calls.filter((c) => c.input !== undefined),
      [],
    );
  });
});
