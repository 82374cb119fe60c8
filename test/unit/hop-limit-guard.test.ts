import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hopLimitBatch, nftHopLimitGuard } from '../../src/drivers/vrrp-socket/hop-limit-guard.ts';

// The guard's batch and its error wording, with a fake nft.

describe('hop-limit guard', () => {
  it('replaces its own table in one batch and touches no other', () => {
    const b = hopLimitBatch();
    assert.match(
      b,
      /^table inet keepgit_vrrp \{\}\ndelete table inet keepgit_vrrp\ntable inet keepgit_vrrp \{/,
    );
    assert.match(b, /meta nfproto ipv6 meta l4proto 112 ip6 hoplimit != 255 counter drop/);
    assert.equal((b.match(/table inet /g) ?? []).length, 3);
  });

  it('says what is missing when nft is not there, or refuses', async () => {
    const missing = nftHopLimitGuard(async () => ({ status: 127, stdout: '', stderr: 'spawn nft ENOENT' }));
    const r = await missing.install();
    assert.equal(r.ok, false);
    assert.match(
      r.ok ? '' : r.message,
      /nft is not installed \(apt-get install nftables\); IPv6 adverts from off the link would be accepted$/,
    );
    const refused = nftHopLimitGuard(async () => ({
      status: 1,
      stdout: '',
      stderr: 'Error: Could not process rule: Operation not permitted\n',
    }));
    const r2 = await refused.install();
    assert.match(r2.ok ? '' : r2.message, /Operation not permitted; IPv6 adverts/);
    assert.equal(await refused.dropped(), undefined);
  });
});
