import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { describe, it } from 'node:test';
import type { CheckTarget, ProbeContext } from '../../src/check/check-types.ts';
import { probeDns } from '../../src/check/dns-check.ts';
import { decodeMessage } from '../../src/check/dns-message.ts';
import { connectAddress } from '../../src/check/udp-exchange.ts';

// probeDns against a scripted DNS server on loopback (127.0.0.1 / ::1 only): what
// keepalived's check_dns.c accepts, ignores and fails. The lab test
// (test/lab/check-dns.test.ts) runs it against a real dnsmasq.

type Script = (query: Buffer, rinfo: RemoteInfo, send: (b: Buffer) => void) => void;

interface Server {
  port: number;
  queries: { query: Buffer; rinfo: RemoteInfo }[];
  close: () => Promise<void>;
}

async function server(family: 4 | 6, script: Script): Promise<Server> {
  const s: Socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  const queries: Server['queries'] = [];
  s.on('message', (query, rinfo) => {
    queries.push({ query, rinfo });
    script(query, rinfo, (b) => s.send(b, rinfo.port, rinfo.address));
  });
  await new Promise<void>((resolve) => s.bind(0, family === 6 ? '::1' : '127.0.0.1', resolve));
  return {
    port: s.address().port,
    queries,
    close: () => new Promise((resolve) => s.close(() => resolve())),
  };
}

/** A response to `query`: its id and question, QR set, the given RCODE and answer count. */
function response(
  query: Buffer,
  rcode: number,
  answers = 0,
  opts: { id?: number; qr?: boolean } = {},
): Buffer {
  const b = Buffer.from(query);
  b.writeUInt16BE(opts.id ?? query.readUInt16BE(0), 0);
  b.writeUInt16BE(((opts.qr ?? true) ? 0x8000 : 0) | 0x0180 | rcode, 2);
  b.writeUInt16BE(0, 6);
  if (answers === 0) return b;
  // one A record pointing at the question's name: 192.0.2.80
  const rr = Buffer.from('c00c000100010000003c0004c0000250', 'hex');
  b.writeUInt16BE(answers, 6);
  return Buffer.concat([b, ...Array.from({ length: answers }, () => rr)]);
}

function ctx(timeoutMs = 2000, signal = new AbortController().signal): ProbeContext {
  return { timeoutMs, signal, now: () => performance.now() };
}

const target = (port: number, family: 4 | 6 = 4, extra: Partial<CheckTarget> = {}): CheckTarget => ({
  address: family === 6 ? '::1' : '127.0.0.1',
  port,
  family,
  ...extra,
});

/** A port nobody listens on: bound and closed again, so the kernel answers ICMP port unreachable. */
async function closedPort(): Promise<number> {
  const s = await server(4, () => {});
  await s.close();
  return s.port;
}

describe('DNS_CHECK probe (loopback)', () => {
  it('is up on NOERROR with an answer, and asks what the spec says', async () => {
    const srv = await server(4, (q, _r, send) => send(response(q, 0, 1)));
    try {
      const out = await probeDns({ queryType: 'A', queryName: 'www.example.test' }, target(srv.port), ctx());
      assert.equal(out.ok, true, JSON.stringify(out));
      assert.ok(out.ok && out.detail === 'A www.example.test: NOERROR, 1 answer');
      assert.ok(out.latencyMs >= 0);
      const m = decodeMessage(srv.queries[0]?.query ?? Buffer.alloc(0));
      assert.deepEqual(m?.questions, [{ name: 'www.example.test', type: 1, class: 1 }]);
      assert.equal(m?.header.recursionDesired, true);
    } finally {
      await srv.close();
    }
  });

  it("asks keepalived's default, SOA for the root, when the spec names nothing", async () => {
    const srv = await server(4, (q, _r, send) => send(response(q, 0, 1)));
    try {
      const out = await probeDns({}, target(srv.port), ctx());
      assert.equal(out.ok, true, JSON.stringify(out));
      assert.deepEqual(decodeMessage(srv.queries[0]?.query ?? Buffer.alloc(0))?.questions, [
        { name: '.', type: 6, class: 1 },
      ]);
    } finally {
      await srv.close();
    }
  });

  it('is up on NOERROR without any answer (NODATA), as keepalived is', async () => {
    const srv = await server(4, (q, _r, send) => send(response(q, 0, 0)));
    try {
      const out = await probeDns({ queryType: 'MX', queryName: 'www.example.test' }, target(srv.port), ctx());
      assert.ok(out.ok && /NOERROR, 0 answers/.test(out.detail ?? ''), JSON.stringify(out));
    } finally {
      await srv.close();
    }
  });

  it('ignores another id, a query and a runt, then fails on the NXDOMAIN that answers it', async () => {
    const srv = await server(4, (q, _r, send) => {
      send(response(q, 0, 1, { id: (q.readUInt16BE(0) + 1) & 0xffff }));
      send(response(q, 0, 1, { qr: false }));
      send(Buffer.from('1234', 'hex'));
      setTimeout(() => send(response(q, 3)), 20);
    });
    try {
      const out = await probeDns({ queryType: 'A', queryName: 'gone.example.test' }, target(srv.port), ctx());
      assert.equal(out.ok, false);
      assert.ok(!out.ok && out.reason === 'A gone.example.test: rcode 3 (NXDOMAIN)', JSON.stringify(out));
    } finally {
      await srv.close();
    }
  });

  it('fails on REFUSED and SERVFAIL', async () => {
    for (const rcode of [5, 2]) {
      const srv = await server(4, (q, _r, send) => send(response(q, rcode)));
      try {
        const out = await probeDns({}, target(srv.port), ctx());
        assert.ok(!out.ok && out.reason.includes(`rcode ${rcode}`), JSON.stringify(out));
      } finally {
        await srv.close();
      }
    }
  });

  it('times out on silence', async () => {
    const srv = await server(4, () => {});
    try {
      const out = await probeDns({}, target(srv.port), ctx(300));
      assert.ok(!out.ok && out.reason === 'SOA .: timeout after 300 ms, no response', JSON.stringify(out));
      assert.equal(srv.queries.length, 1);
    } finally {
      await srv.close();
    }
  });

  it('fails at once on ICMP port unreachable (a connected socket reports ECONNREFUSED)', async () => {
    const out = await probeDns({}, target(await closedPort()), ctx(10_000));
    assert.ok(!out.ok && /^receive: ECONNREFUSED \(port unreachable/.test(out.reason), JSON.stringify(out));
  });

  it('works over IPv6', async () => {
    const srv = await server(6, (q, _r, send) => send(response(q, 0, 1)));
    try {
      const out = await probeDns(
        { queryType: 'AAAA', queryName: 'www.example.test' },
        target(srv.port, 6),
        ctx(),
      );
      assert.equal(out.ok, true, JSON.stringify(out));
    } finally {
      await srv.close();
    }
  });

  it('sends from bindTo and bindPort, and names bindTo when that is not an address here', async () => {
    const srv = await server(4, (q, _r, send) => send(response(q, 0, 1)));
    const free = await closedPort();
    try {
      const out = await probeDns(
        {},
        target(srv.port, 4, { bindAddress: '127.0.0.1', bindPort: free }),
        ctx(),
      );
      assert.equal(out.ok, true, JSON.stringify(out));
      assert.equal(srv.queries[0]?.rinfo.port, free);
      const bad = await probeDns({}, target(srv.port, 4, { bindAddress: '192.0.2.254' }), ctx());
      assert.ok(!bad.ok && /^bindTo 192\.0\.2\.254: EADDRNOTAVAIL/.test(bad.reason), JSON.stringify(bad));
    } finally {
      await srv.close();
    }
  });

  it('runs with bindIf on a non-link-local target, and says it was not applied', async () => {
    const srv = await server(4, (q, _r, send) => send(response(q, 0, 1)));
    try {
      const out = await probeDns({}, target(srv.port, 4, { bindInterface: 'lo' }), ctx());
      assert.ok(
        out.ok && /; bindIf lo not applied: UDP sockets here cannot bind to a device/.test(out.detail ?? ''),
        JSON.stringify(out),
      );
    } finally {
      await srv.close();
    }
  });

  it('gives bindIf as the scope of an IPv6 link-local target', () => {
    assert.deepEqual(connectAddress({ address: 'fe80::1', port: 53, family: 6, bindInterface: 'eth1' }), {
      address: 'fe80::1%eth1',
    });
    assert.deepEqual(
      connectAddress({ address: 'fe80::1%eth2', port: 53, family: 6, bindInterface: 'eth1' }),
      {
        address: 'fe80::1%eth2',
      },
    );
    assert.deepEqual(connectAddress({ address: '2001:db8::1', port: 53, family: 6 }), {
      address: '2001:db8::1',
    });
  });

  it('ends at once when aborted, before or during the wait', async () => {
    const srv = await server(4, () => {});
    try {
      const before = new AbortController();
      before.abort();
      const a = await probeDns({}, target(srv.port), ctx(10_000, before.signal));
      assert.ok(!a.ok && a.reason === 'aborted');
      const during = new AbortController();
      const pending = probeDns({}, target(srv.port), ctx(10_000, during.signal));
      setTimeout(() => during.abort(), 50);
      const b = await pending;
      assert.ok(!b.ok && b.reason === 'aborted', JSON.stringify(b));
    } finally {
      await srv.close();
    }
  });

  it('reports a name it cannot encode, naming queryName, without sending anything', async () => {
    const out = await probeDns({ queryName: 'www..example.test' }, target(53), ctx());
    assert.ok(!out.ok && /^queryName: name "www\.\.example\.test" has an empty label/.test(out.reason));
  });

  it('measures latency with the injected clock', async () => {
    const srv = await server(4, (q, _r, send) => send(response(q, 0, 1)));
    let t = 1000;
    try {
      const out = await probeDns({}, target(srv.port), {
        timeoutMs: 2000,
        signal: new AbortController().signal,
        now: () => {
          t += 7;
          return t;
        },
      });
      assert.equal(out.latencyMs, 7);
    } finally {
      await srv.close();
    }
  });
});
