import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CheckTarget, ProbeContext } from '../../src/check/check-types.ts';
import { echoRequest, internetChecksum, ipv4Header } from '../../src/check/icmp-packet.ts';
import { createPinger } from '../../src/check/icmp-pinger.ts';
import {
  type IcmpSocketEvents,
  type IcmpSocketOptions,
  NEEDS_CAP_NET_RAW,
  type OpenIcmpSocket,
} from '../../src/check/icmp-socket.ts';

// The pinger's matching of replies to probes, over a fake raw socket that plays the
// network: it answers echo requests the way the kernel delivers them (IPv4 with an IP
// header, IPv6 bare), late, out of order, from the wrong host or with the wrong id when
// told to. The real socket is exercised in test/lab/check-ping.test.ts.

const LOCAL4 = '192.0.2.11';

interface Behaviour {
  /** Milliseconds before the reply; undefined: no reply. */
  delayMs?: number;
  /** Answer from another address than the one pinged. */
  from?: string;
  /** Answer with another identifier. */
  idDelta?: number;
  /** Answer with ICMP host unreachable from this address instead. */
  unreachableFrom?: string;
}

class FakeNetwork {
  readonly opened: { options: IcmpSocketOptions; closed: boolean; sent: { packet: Buffer; to: string }[] }[] =
    [];
  readonly hosts = new Map<string, Behaviour>();
  refuse?: string;
  sendError?: string;
  private readonly sockets: { events: IcmpSocketEvents; closed: boolean }[] = [];

  open: OpenIcmpSocket = (options, events) => {
    if (this.refuse) return { error: this.refuse };
    const record = { options, closed: false, sent: [] as { packet: Buffer; to: string }[] };
    const s = { events, closed: false };
    this.opened.push(record);
    this.sockets.push(s);
    return {
      socket: {
        send: async (packet, to) => {
          if (record.closed) throw new Error('socket closed');
          if (this.sendError) throw new Error(this.sendError);
          record.sent.push({ packet, to });
          this.answer(options.family, packet, to, events, () => record.closed);
        },
        close: () => {
          record.closed = true;
          s.closed = true;
        },
      },
    };
  };

  openNow(): number {
    return this.opened.filter((o) => !o.closed).length;
  }

  /** Fails every open socket, as raw-socket does: an error, then the socket is closed. */
  fail(message: string): void {
    for (const s of this.sockets) if (!s.closed) s.events.error(new Error(message));
  }

  private answer(
    family: 4 | 6,
    request: Buffer,
    to: string,
    events: IcmpSocketEvents,
    closed: () => boolean,
  ): void {
    const b = this.hosts.get(to);
    if (!b || b.delayMs === undefined) return;
    const id = (request.readUInt16BE(4) + (b.idDelta ?? 0)) & 0xffff;
    const seq = request.readUInt16BE(6);
    let packet: Buffer;
    let from = b.from ?? to;
    if (b.unreachableFrom) {
      from = b.unreachableFrom;
      const quoted =
        family === 4
          ? Buffer.concat([ipv4Header(LOCAL4, to, request.length) ?? Buffer.alloc(0), request.subarray(0, 8)])
          : Buffer.concat([v6Header(to), request.subarray(0, 8)]);
      packet = Buffer.concat([
        Buffer.from([family === 4 ? 3 : 1, family === 4 ? 1 : 3, 0, 0, 0, 0, 0, 0]),
        quoted,
      ]);
    } else {
      packet = Buffer.from(echoRequest(family, id, seq, request.subarray(8)));
      packet[0] = family === 4 ? 0 : 129;
      packet.writeUInt16BE(0, 2);
      if (family === 4) packet.writeUInt16BE(internetChecksum(packet), 2);
    }
    if (family === 4)
      packet = Buffer.concat([ipv4Header(from, LOCAL4, packet.length) ?? Buffer.alloc(0), packet]);
    setTimeout(() => {
      if (!closed()) events.message(packet, from);
    }, b.delayMs);
  }
}

function v6Header(to: string): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(8, 4);
  h[6] = 58;
  h[7] = 64;
  Buffer.from('20010db8000000000000000000000011', 'hex').copy(h, 8);
  const words = to.split('::');
  const tail = Number.parseInt(words[1] ?? '0', 16);
  Buffer.from('20010db8000000000000000000000000', 'hex').copy(h, 24);
  h.writeUInt16BE(tail, 38);
  return h;
}

const ctx = (timeoutMs = 1000, signal = new AbortController().signal): ProbeContext => ({
  timeoutMs,
  signal,
  now: () => performance.now(),
});
const v4 = (address: string, extra: Partial<CheckTarget> = {}): CheckTarget => ({
  address,
  port: 0,
  family: 4,
  ...extra,
});
const v6 = (address: string): CheckTarget => ({ address, port: 0, family: 6 });

describe('pinger: matching replies to probes', () => {
  it('matches concurrent pings to many servers on one shared socket, whatever the reply order', async () => {
    const net = new FakeNetwork();
    for (let i = 1; i <= 50; i++) net.hosts.set(`198.51.100.${i}`, { delayMs: 60 - i });
    const pinger = createPinger({ open: net.open, lingerMs: 50 });
    const outs = await Promise.all(
      Array.from({ length: 50 }, (_, k) => pinger.ping(v4(`198.51.100.${k + 1}`), ctx())),
    );
    outs.forEach((o, k) => {
      assert.ok(o.ok && o.detail === `echo reply from 198.51.100.${k + 1}`, JSON.stringify(o));
    });
    assert.equal(net.opened.length, 1);
    const seqs = new Set(net.opened[0]?.sent.map((s) => s.packet.readUInt16BE(6)));
    assert.equal(seqs.size, 50, 'every ping in flight has a sequence number of its own');
    pinger.close();
  });

  it('sends keepalived-sized echo requests with a valid checksum', async () => {
    const net = new FakeNetwork();
    net.hosts.set('198.51.100.1', { delayMs: 1 });
    const pinger = createPinger({ open: net.open, identifier: () => 0x4242 });
    assert.equal((await pinger.ping(v4('198.51.100.1'), ctx())).ok, true);
    const sent = net.opened[0]?.sent[0]?.packet ?? Buffer.alloc(0);
    assert.equal(sent.length, 8 + 128);
    assert.equal(sent[0], 8);
    assert.equal(sent.readUInt16BE(4), 0x4242);
    assert.equal(internetChecksum(sent), 0);
    assert.equal(sent.subarray(8, 27).toString(), 'keepalived check - ');
    pinger.close();
  });

  it('does not take a reply from another host, or with another identifier, for its own', async () => {
    const net = new FakeNetwork();
    net.hosts.set('198.51.100.1', { delayMs: 1, from: '198.51.100.2' });
    net.hosts.set('198.51.100.3', { delayMs: 1, idDelta: 1 });
    const pinger = createPinger({ open: net.open });
    const [a, b] = await Promise.all([
      pinger.ping(v4('198.51.100.1'), ctx(200)),
      pinger.ping(v4('198.51.100.3'), ctx(200)),
    ]);
    assert.ok(!a.ok && a.reason === 'timeout after 200 ms, no echo reply', JSON.stringify(a));
    assert.ok(!b.ok && /timeout/.test(b.reason), JSON.stringify(b));
    pinger.close();
  });

  it('fails at once on an ICMP error that quotes its request, naming who sent it', async () => {
    const net = new FakeNetwork();
    net.hosts.set('198.51.100.9', { delayMs: 1, unreachableFrom: '198.51.100.254' });
    net.hosts.set('2001:db8::99', { delayMs: 1, unreachableFrom: '2001:db8::11' });
    const pinger = createPinger({ open: net.open });
    const a = await pinger.ping(v4('198.51.100.9'), ctx(10_000));
    assert.ok(!a.ok && a.reason === 'host unreachable (reported by 198.51.100.254)', JSON.stringify(a));
    const b = await pinger.ping(v6('2001:db8::99'), ctx(10_000));
    assert.ok(!b.ok && b.reason === 'address unreachable (reported by 2001:db8::11)', JSON.stringify(b));
    pinger.close();
  });

  it('pings IPv6 on a socket of its own, matching the canonical form of the address', async () => {
    const net = new FakeNetwork();
    net.hosts.set('2001:0db8:0000::0012', { delayMs: 1, from: '2001:db8::12' });
    const pinger = createPinger({ open: net.open });
    const out = await pinger.ping(v6('2001:0db8:0000::0012'), ctx());
    assert.ok(out.ok, JSON.stringify(out));
    assert.equal(net.opened[0]?.options.family, 6);
    assert.equal(net.opened[0]?.sent[0]?.packet[0], 128);
    pinger.close();
  });

  it('keeps a socket per bindTo and bindIf, and passes them on', async () => {
    const net = new FakeNetwork();
    net.hosts.set('198.51.100.1', { delayMs: 1 });
    const pinger = createPinger({ open: net.open });
    await pinger.ping(v4('198.51.100.1'), ctx());
    await pinger.ping(v4('198.51.100.1', { bindAddress: LOCAL4 }), ctx());
    await pinger.ping(v4('198.51.100.1', { bindInterface: 'eth1' }), ctx());
    await pinger.ping(v4('198.51.100.1', { bindAddress: LOCAL4 }), ctx());
    assert.deepEqual(
      net.opened.map((o) => o.options),
      [{ family: 4 }, { family: 4, bindAddress: LOCAL4 }, { family: 4, bindInterface: 'eth1' }],
    );
    assert.equal(pinger.openSockets(), 3);
    pinger.close();
    assert.equal(net.openNow(), 0);
  });
});

describe('pinger: failures, abort and the socket lifetime', () => {
  it('says CAP_NET_RAW is needed when the socket cannot be opened for lack of it', async () => {
    const net = new FakeNetwork();
    net.refuse = NEEDS_CAP_NET_RAW;
    const pinger = createPinger({ open: net.open });
    const out = await pinger.ping(v4('198.51.100.1'), ctx());
    assert.ok(!out.ok && out.reason === 'PING_CHECK needs CAP_NET_RAW (run the agent as root or grant it)');
  });

  it('reports a send error, and a target that is not of its family', async () => {
    const net = new FakeNetwork();
    net.sendError = 'Network is unreachable';
    const pinger = createPinger({ open: net.open });
    const a = await pinger.ping(v4('198.51.100.1'), ctx());
    assert.ok(!a.ok && a.reason === 'send: Network is unreachable', JSON.stringify(a));
    const b = await pinger.ping(v4('2001:db8::1'), ctx());
    assert.ok(!b.ok && b.reason === '2001:db8::1 is not an IPv4 address', JSON.stringify(b));
    pinger.close();
  });

  it('ends every ping in flight when the socket fails, and opens a new one for the next', async () => {
    const net = new FakeNetwork();
    const pinger = createPinger({ open: net.open });
    const pending = [
      pinger.ping(v4('198.51.100.1'), ctx(10_000)),
      pinger.ping(v4('198.51.100.2'), ctx(10_000)),
    ];
    await sleep(5);
    net.fail('Network is down');
    for (const o of await Promise.all(pending))
      assert.ok(!o.ok && o.reason === 'ICMP socket failed: Network is down', JSON.stringify(o));
    net.hosts.set('198.51.100.1', { delayMs: 1 });
    assert.equal((await pinger.ping(v4('198.51.100.1'), ctx())).ok, true);
    assert.equal(net.opened.length, 2);
    pinger.close();
  });

  it('ends at once when aborted, and a late reply then changes nothing', async () => {
    const net = new FakeNetwork();
    net.hosts.set('198.51.100.1', { delayMs: 100 });
    const pinger = createPinger({ open: net.open, lingerMs: 10_000 });
    const ac = new AbortController();
    const pending = pinger.ping(v4('198.51.100.1'), ctx(10_000, ac.signal));
    setTimeout(() => ac.abort(), 10);
    const out = await pending;
    assert.ok(!out.ok && out.reason === 'aborted');
    await sleep(150);
    const aborted = new AbortController();
    aborted.abort();
    const early = await pinger.ping(v4('198.51.100.1'), ctx(1000, aborted.signal));
    assert.ok(!early.ok && early.reason === 'aborted');
    pinger.close();
  });

  it('closes an idle socket after the linger time, and reuses it while busy', async () => {
    const net = new FakeNetwork();
    net.hosts.set('198.51.100.1', { delayMs: 1 });
    const pinger = createPinger({ open: net.open, lingerMs: 80 });
    for (let i = 0; i < 5; i++) assert.equal((await pinger.ping(v4('198.51.100.1'), ctx())).ok, true);
    assert.equal(net.opened.length, 1);
    assert.equal(pinger.openSockets(), 1);
    await sleep(200);
    assert.equal(pinger.openSockets(), 0);
    assert.equal(net.openNow(), 0);
    assert.equal((await pinger.ping(v4('198.51.100.1'), ctx())).ok, true);
    assert.equal(net.opened.length, 2);
    pinger.close();
  });

  it('measures latency with the injected clock', async () => {
    const net = new FakeNetwork();
    net.hosts.set('198.51.100.1', { delayMs: 1 });
    const pinger = createPinger({ open: net.open });
    let t = 0;
    const out = await pinger.ping(v4('198.51.100.1'), {
      timeoutMs: 1000,
      signal: new AbortController().signal,
      now: () => (t += 3),
    });
    assert.equal(out.latencyMs, 3);
    pinger.close();
  });
});
