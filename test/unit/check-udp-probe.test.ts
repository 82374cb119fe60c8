import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { describe, it } from 'node:test';
import type { CheckTarget, ProbeContext } from '../../src/check/check-types.ts';
import {
  parseReplyPattern,
  payloadBytes,
  probeUdp,
  replyMatches,
  UDP_DEFAULT_PAYLOAD,
} from '../../src/check/udp-check.ts';

// UDP_CHECK's reply patterns (keepalived's read_hex_str and check_udp_reply rules) and
// the probe against scripted peers on 127.0.0.1. The lab test (test/lab/check-udp.test.ts)
// runs it between network namespaces.

interface Peer {
  port: number;
  got: Buffer[];
  close: () => Promise<void>;
}

async function peer(answer: (payload: Buffer) => Buffer | undefined): Promise<Peer> {
  const s: Socket = createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m, r) => {
    got.push(m);
    const a = answer(m);
    if (a) s.send(a, r.port, r.address);
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return { port: s.address().port, got, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

const ctx = (timeoutMs = 2000): ProbeContext => ({
  timeoutMs,
  signal: new AbortController().signal,
  now: () => performance.now(),
});
const at = (port: number): CheckTarget => ({ address: '127.0.0.1', port, family: 4 });

describe('UDP_CHECK reply patterns', () => {
  it('reads hex with spaces and x wildcards as keepalived does', () => {
    assert.deepEqual(parseReplyPattern('4f4b'), {
      data: Buffer.from('4f4b', 'hex'),
      mask: Buffer.from([0, 0]),
    });
    assert.deepEqual(parseReplyPattern(' 4f 4B\t0a '), {
      data: Buffer.from('4f4b0a', 'hex'),
      mask: Buffer.from([0, 0, 0]),
    });
    assert.deepEqual(parseReplyPattern('4x xX'), {
      data: Buffer.from('4000', 'hex'),
      mask: Buffer.from([0x0f, 0xff]),
    });
    // a lone digit before a space or the end is a byte of its own
    assert.deepEqual(parseReplyPattern('a b'), {
      data: Buffer.from([0x0a, 0x0b]),
      mask: Buffer.from([0, 0]),
    });
    for (const bad of ['', '   ', '4g', 'zz', '4f;']) assert.equal(parseReplyPattern(bad), undefined, bad);
    // keepalived has no 0x prefix: "0x4f" is 0 with a wildcard nibble, then 4f
    assert.deepEqual(parseReplyPattern('0x4f'), {
      data: Buffer.from('004f', 'hex'),
      mask: Buffer.from([0x0f, 0]),
    });
  });

  it('compares only the bytes both have, honours wildcards, and refuses replies over 255 bytes', () => {
    const p = parseReplyPattern('4f4b xx 21');
    assert.ok(p);
    assert.equal(replyMatches(Buffer.from('OK!!'), p), true);
    assert.equal(replyMatches(Buffer.from('OK?!'), p), true); // the third byte is a wildcard
    assert.equal(replyMatches(Buffer.from('OK!?'), p), false);
    assert.equal(replyMatches(Buffer.from('NO!!'), p), false);
    assert.equal(replyMatches(Buffer.from('O'), p), true); // shorter, agrees as far as it goes
    assert.equal(replyMatches(Buffer.from('OK!!and more'), p), true);
    assert.equal(replyMatches(Buffer.alloc(0), p), true);
    const long = Buffer.concat([Buffer.from('OK!!'), Buffer.alloc(252)]);
    assert.equal(replyMatches(long, p), false);
    assert.equal(replyMatches(long.subarray(0, 255), p), true);
  });

  it("sends the payload's bytes, or keepalived's 32 filler bytes when there is none", () => {
    assert.equal(UDP_DEFAULT_PAYLOAD.toString('latin1'), 'keepalived check - keepalived ch');
    assert.equal(payloadBytes(undefined), UDP_DEFAULT_PAYLOAD);
    assert.equal(payloadBytes(''), UDP_DEFAULT_PAYLOAD);
    assert.deepEqual(payloadBytes('00ff10'), Buffer.from([0, 255, 16]));
    assert.equal(payloadBytes('0g'), undefined);
    assert.equal(payloadBytes('abc'), undefined);
  });
});

describe('UDP_CHECK probe (loopback)', () => {
  it('without requireReply: up on a reply and on silence, down on port unreachable', async () => {
    const echo = await peer((m) => m);
    const silent = await peer(() => undefined);
    try {
      const replied = await probeUdp({ payload: '68656c6c6f' }, at(echo.port), ctx());
      assert.ok(replied.ok && replied.detail === 'reply of 5 bytes', JSON.stringify(replied));
      assert.deepEqual(echo.got[0], Buffer.from('hello'));
      const quiet = await probeUdp({}, at(silent.port), ctx(300));
      assert.ok(quiet.ok && /no reply within 300 ms/.test(quiet.detail ?? ''), JSON.stringify(quiet));
      assert.deepEqual(silent.got[0], UDP_DEFAULT_PAYLOAD);
    } finally {
      await echo.close();
      await silent.close();
    }
    const closed = await probeUdp({}, at(silent.port), ctx(10_000));
    assert.ok(!closed.ok && /ECONNREFUSED/.test(closed.reason), JSON.stringify(closed));
  });

  it('with requireReply: true, silence is down', async () => {
    const silent = await peer(() => undefined);
    try {
      const out = await probeUdp({ requireReply: true }, at(silent.port), ctx(300));
      assert.ok(!out.ok && /timeout after 300 ms, no reply/.test(out.reason), JSON.stringify(out));
    } finally {
      await silent.close();
    }
  });

  it('with a requireReply pattern: a match is up, a mismatch is down', async () => {
    const server = await peer((m) => (m.toString() === 'ping' ? Buffer.from('PONG v1') : Buffer.from('ERR')));
    try {
      const ok = await probeUdp({ payload: '70696e67', requireReply: '504f4e47 xx' }, at(server.port), ctx());
      assert.equal(ok.ok, true, JSON.stringify(ok));
      const mismatch = await probeUdp(
        { payload: '70696e67', requireReply: '504f4e48' },
        at(server.port),
        ctx(),
      );
      assert.ok(
        !mismatch.ok && /reply 504f4e47207631 does not match/.test(mismatch.reason),
        JSON.stringify(mismatch),
      );
      const other = await probeUdp({ payload: '00', requireReply: '504f4e47' }, at(server.port), ctx());
      assert.ok(!other.ok, JSON.stringify(other));
    } finally {
      await server.close();
    }
  });

  it('reports a bad payload or pattern, naming the field, without sending', async () => {
    const a = await probeUdp({ payload: 'nothex' }, at(9), ctx());
    assert.ok(!a.ok && /^payload: expected hex bytes/.test(a.reason));
    const b = await probeUdp({ requireReply: 'OK' }, at(9), ctx());
    assert.ok(!b.ok && /^requireReply: "OK" is not a hex pattern/.test(b.reason));
  });
});
