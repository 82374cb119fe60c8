import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadArpAddon } from '../../src/drivers/arp/addon.ts';
import { socketError } from '../../src/drivers/arp/announce-errors.ts';
import { type AnnounceLinks, createAnnouncer, openAnnouncer } from '../../src/drivers/arp/announcer.ts';
import { FakeAnnouncer } from '../../src/drivers/arp/fake-announcer.ts';
import { garpFrame } from '../../src/drivers/arp/garp-frame.ts';
import type { LinkFacts } from '../../src/drivers/arp/link-facts.ts';
import { naFrame } from '../../src/drivers/arp/na-packet.ts';

// The announcer's schedule and error values, with the sockets replaced by a recorder:
// bursts of garp_master_repeat rounds, garp_interval / gna_interval between sends, and
// what happens when a send fails. The sockets themselves are exercised in
// test/lab/arp-announce.test.ts.

const MAC = '02:4b:47:00:00:02';
const ETH0: LinkFacts = { index: 7, mac: MAC, ipv6Forwarding: false };

type Event = { kind: 'garp' | 'na' | 'sleep'; detail: string };

function recorder(opts: { facts?: LinkFacts; failNa?: (source: string) => string | undefined } = {}) {
  const events: Event[] = [];
  const frames: Buffer[] = [];
  let closed = 0;
  const links: AnnounceLinks = {
    facts: (ifname) => (ifname === 'eth0' ? (opts.facts ?? ETH0) : undefined),
    sendGarp: (_ifname, ifindex, frame) => {
      assert.equal(ifindex, (opts.facts ?? ETH0).index);
      events.push({ kind: 'garp', detail: [...frame.subarray(28, 32)].join('.') });
      frames.push(frame);
      return undefined;
    },
    sendNa: async (ifname, _ifindex, source, packet) => {
      const errno = opts.failNa?.(source);
      if (errno) return socketError('ICMPv6', ifname, errno, errno, errno === 'ENODEV' ? undefined : source);
      events.push({ kind: 'na', detail: source });
      frames.push(packet);
      return undefined;
    },
    close: () => {
      closed++;
    },
  };
  const sleep = async (ms: number) => {
    events.push({ kind: 'sleep', detail: String(ms) });
  };
  return { links, events, frames, sleep, closed: () => closed };
}

const v4 = (address: string) => ({ address, family: 4 as const });
const v6 = (address: string) => ({ address, family: 6 as const });

describe('announcer schedule', () => {
  it("sends garp_master_repeat rounds of every VIP, keepalived's default 5, from the interface's MAC", async () => {
    const r = recorder();
    const a = createAnnouncer(r.links, { sleep: r.sleep });
    const result = await a.announce([v4('192.0.2.100'), v4('192.0.2.101/24')], 'eth0');
    assert.deepEqual(result, { ok: true, sent: 10 });
    assert.deepEqual(
      r.events.map((e) => e.detail),
      Array.from({ length: 5 }, () => ['192.0.2.100', '192.0.2.101']).flat(),
    );
    assert.deepEqual(r.frames[0], garpFrame('192.0.2.100', MAC));
  });

  it('spaces sends by garp_interval and gna_interval, per family', async () => {
    const r = recorder();
    const a = createAnnouncer(r.links, { sleep: r.sleep, repeat: 2, garpIntervalMs: 10 });
    const result = await a.announce([v4('192.0.2.100'), v6('2001:db8::100')], 'eth0', undefined, {
      gnaIntervalMs: 30,
    });
    assert.deepEqual(result, { ok: true, sent: 4 });
    const sleeps = r.events.filter((e) => e.kind === 'sleep').map((e) => e.detail);
    assert.deepEqual(sleeps.sort(), ['10', '30']);
    assert.equal(r.events.filter((e) => e.kind === 'garp').length, 2);
    assert.equal(r.events.filter((e) => e.kind === 'na').length, 2);
  });

  it('takes a per-call MAC and sets the NA Router flag when the interface forwards', async () => {
    const r = recorder({ facts: { ...ETH0, ipv6Forwarding: true } });
    const a = createAnnouncer(r.links, { sleep: r.sleep, repeat: 1 });
    await a.announce([v6('2001:db8::100')], 'eth0', '02:00:5e:00:01:33');
    assert.deepEqual(r.frames[0], naFrame('2001:db8::100', '02:00:5e:00:01:33', { router: true }));
  });

  it('announces a VIP listed twice once', async () => {
    const r = recorder();
    const a = createAnnouncer(r.links, { sleep: r.sleep, repeat: 1 });
    assert.deepEqual(await a.announce([v4('192.0.2.100/24'), v4('192.0.2.100')], 'eth0'), {
      ok: true,
      sent: 1,
    });
  });

  it('a repeat below 1 still announces once', async () => {
    const r = recorder();
    const a = createAnnouncer(r.links, { sleep: r.sleep, repeat: 0 });
    assert.deepEqual(await a.announce([v4('192.0.2.100')], 'eth0'), { ok: true, sent: 1 });
  });
});

describe('announcer errors are values', () => {
  it('an unknown interface', async () => {
    const r = recorder();
    const result = await createAnnouncer(r.links).announce([v4('192.0.2.100')], 'eth9');
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.errors[0]?.code, 'no-such-interface');
    assert.match(!result.ok ? (result.errors[0]?.message ?? '') : '', /eth9/);
    assert.equal(r.events.length, 0);
  });

  it('a bad MAC or address, while the good VIPs still go out', async () => {
    const r = recorder();
    const a = createAnnouncer(r.links, { sleep: r.sleep, repeat: 1 });
    const badMac = await a.announce([v4('192.0.2.100')], 'eth0', 'ff:ff:ff:ff:ff:ff');
    assert.equal(!badMac.ok && badMac.errors[0]?.code, 'invalid-mac');
    const mixed = await a.announce([v4('2001:db8::1'), v4('192.0.2.100')], 'eth0');
    assert.equal(mixed.ok, false);
    assert.equal(mixed.sent, 1);
    assert.deepEqual(!mixed.ok && mixed.errors.map((e) => e.code), ['invalid-address']);
  });

  it('a refused source drops that VIP only; a dead socket ends the burst', async () => {
    const r = recorder({
      failNa: (s) =>
        s === '2001:db8::bad' ? 'EADDRNOTAVAIL' : s === '2001:db8::dead' ? 'ENODEV' : undefined,
    });
    const a = createAnnouncer(r.links, { sleep: r.sleep, repeat: 3 });
    const one = await a.announce([v6('2001:db8::bad'), v6('2001:db8::100')], 'eth0');
    assert.equal(one.sent, 3);
    assert.deepEqual(!one.ok && one.errors.map((e) => [e.code, e.errno, e.address]), [
      ['kernel', 'EADDRNOTAVAIL', '2001:db8::bad'],
    ]);
    assert.match(!one.ok ? (one.errors[0]?.message ?? '') : '', /after the VIP is on eth0/);
    const dead = await a.announce([v6('2001:db8::dead'), v6('2001:db8::100'), v4('192.0.2.1')], 'eth0');
    assert.equal(dead.sent, 3, 'the IPv4 burst is not held back by the IPv6 one');
    assert.deepEqual(!dead.ok && dead.errors.map((e) => e.code), ['no-such-interface']);
  });

  it('permission and kernel feature errors say what to do', () => {
    assert.match(socketError('AF_PACKET', 'eth0', 'EPERM', '').message, /CAP_NET_RAW/);
    assert.equal(socketError('AF_PACKET', 'eth0', 'EAFNOSUPPORT', '').code, 'no-af-packet');
    assert.match(socketError('AF_PACKET', 'eth0', 'EAFNOSUPPORT', '').message, /CONFIG_PACKET|af_packet/);
  });

  it('an addon that is not built', () => {
    const missing = '/nonexistent/keepgit_arp.node';
    const load = loadArpAddon(missing);
    assert.equal(load.ok, false);
    assert.equal(!load.ok && load.error.code, 'addon-not-built');
    assert.match(!load.ok ? load.error.message : '', /run npm install to build the ARP addon/);
    const open = openAnnouncer({ addonPath: missing });
    assert.deepEqual(open, load);
  });
});

describe('fake announcer', () => {
  it('records calls and answers as the real one would', async () => {
    let now = 1000;
    const fake = new FakeAnnouncer({ interfaces: { eth0: MAC }, now: () => now, repeat: 3 });
    assert.deepEqual(await fake.announce([v4('192.0.2.100'), v6('2001:db8::100')], 'eth0'), {
      ok: true,
      sent: 6,
    });
    now = 6000;
    await fake.announce([v4('192.0.2.100')], 'eth0', undefined, { repeat: 1 });
    assert.deepEqual(
      fake.calls.map((c) => [c.ifname, c.mac, c.vips.length, c.timing.repeat, c.at]),
      [
        ['eth0', MAC, 2, 3, 1000],
        ['eth0', MAC, 1, 1, 6000],
      ],
    );
    const unknown = await fake.announce([v4('192.0.2.100')], 'eth1');
    assert.equal(!unknown.ok && unknown.errors[0]?.code, 'no-such-interface');
    const bad = await fake.announce([v6('192.0.2.100')], 'eth0');
    assert.equal(!bad.ok && bad.errors[0]?.code, 'invalid-address');
  });

  it('fails the next call on request', async () => {
    const fake = new FakeAnnouncer();
    const error = socketError('AF_PACKET', 'eth0', 'EPERM', '');
    fake.failNext({ ok: false, sent: 0, errors: [error] });
    assert.deepEqual(await fake.announce([v4('192.0.2.100')], 'eth0'), {
      ok: false,
      sent: 0,
      errors: [error],
    });
    assert.deepEqual(await fake.announce([v4('192.0.2.100')], 'eth0'), { ok: true, sent: 5 });
    fake.close();
    assert.equal(fake.closed, 1);
  });
});
