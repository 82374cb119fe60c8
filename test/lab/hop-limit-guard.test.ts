import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nftRunner } from '../../src/drivers/dataplane/nft-runner.ts';
import { nftHopLimitGuard } from '../../src/drivers/vrrp-socket/hop-limit-guard.ts';
import { createLab } from '../../src/lab/topology.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// The kernel-side hop-limit check for IPv6 VRRP, for real: installed in lb1's namespace,
// a VRRP packet from lb2 with hop limit 1 is dropped (counted by the rule), one with 255
// passes; removing the guard removes its table and nothing else.

const why = labUnavailable(['nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

/** Sends one IPv6 VRRP-protocol datagram from the host's namespace with the given hop limit. */
const sendScript = (to: string, hops: number) => `
const raw=require('raw-socket');
const s=raw.createSocket({addressFamily:raw.AddressFamily.IPv6,protocol:112});
s.setOption(raw.SocketLevel.IPPROTO_IPV6,16,${hops});
const b=Buffer.alloc(8);b[0]=0x31;b[1]=1;b[2]=100;
s.send(b,0,b.length,'${to}',(e)=>{if(e){console.error(e.message);process.exit(1)}s.close()});`;

describe('IPv6 VRRP hop-limit guard (nftables)', { skip }, () => {
  it('drops VRRP packets whose hop limit is not 255, and only those', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const lab = createLab({ prefix: `${RUN_PREFIX}-hl`, hosts: ['lb1', 'lb2'] });
    try {
      const guard = nftHopLimitGuard(nftRunner(['ip', 'netns', 'exec', lab.nsName('lb1'), 'nft']));
      assert.deepEqual(await guard.install(), { ok: true });
      assert.deepEqual(await guard.install(), { ok: true }, 'installing twice replaces the table');
      assert.equal(await guard.dropped(), 0);
      const to = lab.address('lb1', 6);
      // The lab's addresses come up with DAD skipped; give the neighbour a moment all the same.
      for (const hops of [1, 255, 64]) {
        const r = await lab.exec('lb2', process.execPath, ['-e', sendScript(to, hops)], {
          timeoutMs: 10_000,
        });
        assert.equal(r.status, 0, r.stderr);
      }
      let dropped: number | undefined;
      for (let i = 0; i < 50 && dropped !== 2; i++) {
        dropped = await guard.dropped();
        if (dropped !== 2) await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(dropped, 2, 'hop limits 1 and 64 dropped; 255 passed');
      await guard.remove();
      const left = await lab.exec('lb1', 'nft', ['list', 'tables']);
      assert.ok(!left.stdout.includes('keepgit_vrrp'), left.stdout);
    } finally {
      await lab.destroy();
    }
  });
});
