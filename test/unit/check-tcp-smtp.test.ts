import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { DEFAULT_HELO_NAME, probeSmtp } from '../../src/check/smtp-check.ts';
import { probeTcp } from '../../src/check/tcp-check.ts';
import { closedPort, loopback, probeCtx, silentPeer, smtpPeer } from './check-peers.ts';

// TCP_CHECK and SMTP_CHECK against real listeners on loopback.

describe('TCP_CHECK', () => {
  it('succeeds when the server accepts, and closes the connection at once', async () => {
    const closed: boolean[] = [];
    const server = createServer((s: Socket) => {
      s.on('close', () => closed.push(true));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await probeTcp({}, loopback(port), probeCtx());
      assert.equal(r.ok, true);
      assert.ok(r.latencyMs >= 0);
      for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
      assert.equal(closed.length, 1, 'the probe did not leave its connection open');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('fails with ECONNREFUSED on a closed port', async () => {
    const r = await probeTcp({}, loopback(await closedPort()), probeCtx());
    assert.deepEqual(r.ok ? 'ok' : r.reason, 'connect ECONNREFUSED');
  });

  it('works over IPv6 loopback', async (t) => {
    let peer: Awaited<ReturnType<typeof silentPeer>>;
    try {
      peer = await silentPeer('::1');
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    try {
      const r = await probeTcp({}, loopback(peer.port, '::1'), probeCtx());
      assert.equal(r.ok, true);
    } finally {
      await peer.close();
    }
  });

  it('connects from bindTo / bindPort', async () => {
    const free = await closedPort();
    let from = 0;
    const server = createServer((s: Socket) => {
      from = s.remotePort ?? 0;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await probeTcp(
        {},
        { ...loopback(port), bindAddress: '127.0.0.1', bindPort: free },
        probeCtx(),
      );
      assert.equal(r.ok, true);
      for (let i = 0; i < 100 && from === 0; i++) await new Promise((res) => setTimeout(res, 10));
      assert.equal(from, free);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('an unusable bindTo is a failure with a reason, not a crash', async () => {
    const r = await probeTcp({}, { ...loopback(1), bindAddress: '192.0.2.1' }, probeCtx());
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, /^connect E/);
    const malformed = await probeTcp({}, { ...loopback(1), bindAddress: 'not-an-ip' }, probeCtx());
    assert.equal(malformed.ok ? '' : malformed.reason, 'connect ERR_INVALID_IP_ADDRESS');
  });
});

describe('SMTP_CHECK', () => {
  it('reads 220, says HELO with the default name, expects 250, says QUIT', async () => {
    const peer = await smtpPeer();
    try {
      const r = await probeSmtp({}, loopback(peer.port), probeCtx());
      assert.equal(r.ok, true, r.ok ? '' : r.reason);
      assert.deepEqual(peer.lines, [`HELO ${DEFAULT_HELO_NAME}`, 'QUIT']);
    } finally {
      await peer.close();
    }
  });

  it('uses heloName', async () => {
    const peer = await smtpPeer();
    try {
      await probeSmtp({ heloName: 'lb1.example.com' }, loopback(peer.port), probeCtx());
      assert.equal(peer.lines[0], 'HELO lb1.example.com');
    } finally {
      await peer.close();
    }
  });

  it('accepts multi-line replies', async () => {
    const peer = await smtpPeer({
      greeting: ['220-mail.example.com ESMTP', '220-no UCE', '220 ready'],
      heloReply: ['250-mail.example.com', '250 PIPELINING'],
    });
    try {
      const r = await probeSmtp({}, loopback(peer.port), probeCtx());
      assert.equal(r.ok, true, r.ok ? '' : r.reason);
    } finally {
      await peer.close();
    }
  });

  it('fails on a bad greeting or a refused HELO, naming the reply', async () => {
    const busy = await smtpPeer({ greeting: ['554 no service'] });
    const picky = await smtpPeer({ heloReply: ['501 bad HELO'] });
    try {
      const a = await probeSmtp({}, loopback(busy.port), probeCtx());
      assert.equal(a.ok ? '' : a.reason, 'bad greeting: 554 no service');
      const b = await probeSmtp({}, loopback(picky.port), probeCtx());
      assert.equal(b.ok ? '' : b.reason, 'bad HELO reply: 501 bad HELO');
      assert.deepEqual(picky.lines, [`HELO ${DEFAULT_HELO_NAME}`], 'no QUIT after a refused HELO');
    } finally {
      await busy.close();
      await picky.close();
    }
  });

  it('a server that closes after QUIT without a 221 has still passed', async () => {
    const peer = await smtpPeer({ quitReply: [] });
    try {
      const r = await probeSmtp({}, loopback(peer.port), probeCtx());
      assert.equal(r.ok, true);
    } finally {
      await peer.close();
    }
  });

  it('a silent server fails at the timeout; a closed port is refused', async () => {
    const silent = await silentPeer();
    try {
      const r = await probeSmtp({}, loopback(silent.port), probeCtx(300));
      assert.equal(r.ok ? '' : r.reason, 'timeout after 300 ms waiting for the greeting reply');
    } finally {
      await silent.close();
    }
    const refused = await probeSmtp({}, loopback(await closedPort()), probeCtx());
    assert.equal(refused.ok ? '' : refused.reason, 'connect ECONNREFUSED');
  });

  it('a server that speaks something else is unreadable, not a crash', async () => {
    const peer = await smtpPeer({ greeting: ['SSH-2.0-OpenSSH_9.2'] });
    try {
      const r = await probeSmtp({}, loopback(peer.port), probeCtx());
      assert.equal(r.ok ? '' : r.reason, 'unreadable greeting reply: SSH-2.0-OpenSSH_9.2');
    } finally {
      await peer.close();
    }
  });
});
