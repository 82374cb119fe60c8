import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DataplaneError } from '../../src/drivers/dataplane/dataplane.ts';
import { decodeListFamilies, encodeListFamilies } from '../../src/drivers/ipvs/genl-family.ts';
import { GENL_ID_CTRL, NLM_F, NLMSG } from '../../src/drivers/ipvs/ip-vs-constants.ts';
import { IpvsClient } from '../../src/drivers/ipvs/ipvs-client.ts';
import { createIpvsDataplane } from '../../src/drivers/ipvs/ipvs-dataplane.ts';
import { NO_IPVS_MESSAGE } from '../../src/drivers/ipvs/ipvs-errors.ts';
import { splitMessages } from '../../src/drivers/ipvs/netlink-codec.ts';
import { openGenlSocket } from '../../src/drivers/ipvs/netlink-genl-socket.ts';

// The real generic netlink socket against this machine's kernel. Only questions are asked
// (family lookups and the family list), which need no privileges and change nothing. This
// kernel has no IPVS: the probe must say so as a value, not throw.

const hasIpvs = existsSync('/proc/net/ip_vs');

describe('ipvs on the real kernel', () => {
  it('nlctrl resolves through the real socket (reply, then acknowledgement)', async () => {
    const client = new IpvsClient(openGenlSocket());
    try {
      const r = await client.family('nlctrl');
      assert.ok(r.ok, r.ok ? '' : `errno ${r.error.errno}`);
      assert.equal(r.value.id, GENL_ID_CTRL);
      assert.equal(r.value.name, 'nlctrl');
    } finally {
      client.close();
    }
  });

  it('the family list arrives as a multi-part dump ended by NLMSG_DONE', async () => {
    const socket = openGenlSocket();
    try {
      const replies = await socket.exchange(encodeListFamilies(4242));
      const messages = replies.flatMap((r) => splitMessages(r));
      assert.ok(messages.slice(0, -1).every((m) => (m.flags & NLM_F.MULTI) !== 0));
      assert.equal(messages.at(-1)?.type, NLMSG.DONE);
      const families = decodeListFamilies(messages);
      assert.ok(families.length >= 2, `${families.length} families`);
      assert.ok(families.some((f) => f.name === 'nlctrl' && f.id === GENL_ID_CTRL));
      assert.equal(
        families.some((f) => f.name === 'IPVS'),
        hasIpvs,
      );
    } finally {
      socket.close();
    }
  });

  it('the IPVS probe reports what the kernel has, as a value', async () => {
    const d = createIpvsDataplane();
    try {
      const p = await d.probe();
      if (!hasIpvs) assert.deepEqual(p, { ok: false, kind: 'ipvs', message: NO_IPVS_MESSAGE });
      else if (process.getuid?.() === 0) assert.equal(p.ok, true);
      else assert.ok(p.ok || /CAP_NET_ADMIN/.test(p.message));
    } finally {
      d.close();
    }
  });

  it('without IPVS, read and apply reject with the probe message (no crash, no change)', {
    skip: hasIpvs,
  }, async () => {
    const d = createIpvsDataplane();
    try {
      for (const p of [d.read(), d.apply({ services: [] }), d.clear()]) {
        await assert.rejects(p, (e: unknown) => {
          assert.ok(e instanceof DataplaneError);
          assert.equal(e.message, NO_IPVS_MESSAGE);
          return true;
        });
      }
    } finally {
      d.close();
    }
  });

  it('a closed socket refuses further requests instead of hanging', async () => {
    const socket = openGenlSocket();
    socket.close();
    await assert.rejects(socket.exchange(encodeListFamilies(1)), /closed/);
  });
});
