import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as connectSocket, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { checkSockets, nativeActive, useCheckSockets } from '../../src/check/native-sockets.ts';
import { DEFAULT_HELO_NAME, probeSmtp } from '../../src/check/smtp-check.ts';
import { probeTcp } from '../../src/check/tcp-check.ts';
import { closedPort, loopback, probeCtx, silentPeer, smtpPeer } from './check-peers.ts';

// TCP_CHECK and SMTP_CHECK against real listeners on loopback.

/**
 * A loopback listener whose accept queue is full, so that further SYNs are dropped and a
 * connect times out: a process that listens with backlog 0 and never accepts (Node's
 * servers always accept), and one connection queued.
 */
async function fullListener(): Promise<{ port: number; close(): void }> {
  const child = spawn(
    'python3',
    [
      '-c',
      'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
  });
  const filler = connectSocket({ host: '127.0.0.1', port });
  filler.on('error', () => {});
  await new Promise((r) => filler.once('connect', r));
  return {
    port,
    close: () => {
      filler.destroy();
      child.kill();
    },
  };
}

for (const sockets of ['native', 'node'] as const)
  describe(`TCP_CHECK (${sockets} sockets)`, () => {
    before(() => {
      useCheckSockets(sockets);
      if (sockets === 'native' && !checkSockets().native && process.env.CI === 'true')
        assert.fail('the TCP-probe addon is not built');
    });
    after(() => useCheckSockets('native'));

    it(
      sockets === 'native'
        ? 'succeeds when the server answers, and resets before its application sees a connection'
        : 'succeeds when the server accepts, and closes the connection at once',
      async () => {
        const accepted: boolean[] = [];
        const closed: boolean[] = [];
        const server = createServer((s: Socket) => {
          accepted.push(true);
          s.on('close', () => closed.push(true));
          s.on('error', () => {});
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const port = (server.address() as { port: number }).port;
        try {
          const r = await probeTcp({}, loopback(port), probeCtx());
          assert.equal(r.ok, true);
          assert.ok(r.latencyMs >= 0);
          if (sockets === 'native') {
            // Anything accepted would show within these 300 ms on loopback.
            await new Promise((res) => setTimeout(res, 300));
            assert.equal(accepted.length, 0, 'the server application saw the connection');
            assert.equal(nativeActive(), 0, 'the attempt was left open in the addon');
          } else {
            for (let i = 0; i < 100 && closed.length === 0; i++)
              await new Promise((res) => setTimeout(res, 10));
            assert.equal(closed.length, 1, 'the probe did not leave its connection open');
          }
        } finally {
          await new Promise<void>((r) => server.close(() => r()));
        }
      },
    );

    it('fails with ECONNREFUSED on a closed port', async () => {
      const r = await probeTcp({}, loopback(await closedPort()), probeCtx());
      assert.deepEqual(r.ok ? 'ok' : r.reason, 'connect ECONNREFUSED');
    });

    it('fails at the timeout when nothing answers, and an abort ends it at once', async () => {
      const full = await fullListener();
      try {
        const slow = await probeTcp({}, loopback(full.port), probeCtx(150));
        assert.equal(slow.ok ? '' : slow.reason, 'connect timeout after 150 ms');
        const ac = new AbortController();
        const pending = probeTcp({}, loopback(full.port), probeCtx(5000, ac.signal));
        setTimeout(() => ac.abort(), 20);
        const aborted = await pending;
        assert.equal(aborted.ok ? '' : aborted.reason, 'aborted');
        assert.equal(nativeActive(), 0);
      } finally {
        full.close();
      }
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
        if (sockets === 'node') {
          for (let i = 0; i < 100 && from === 0; i++) await new Promise((res) => setTimeout(res, 10));
          assert.equal(from, free);
        } else {
          // The application sees nothing of a native probe: show that the bind happens by
          // asking for a port that is taken.
          const taken = await probeTcp(
            {},
            { ...loopback(port), bindAddress: '127.0.0.1', bindPort: port },
            probeCtx(),
          );
          assert.equal(taken.ok ? '' : taken.reason, 'bind EADDRINUSE');
        }
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    it('an unusable bindTo is a failure with a reason, not a crash', async () => {
      const r = await probeTcp({}, { ...loopback(1), bindAddress: '192.0.2.1' }, probeCtx());
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.reason, sockets === 'native' ? /^bind EADDRNOTAVAIL$/ : /^connect E/);
      const malformed = await probeTcp({}, { ...loopback(1), bindAddress: 'not-an-ip' }, probeCtx());
      assert.equal(
        malformed.ok ? '' : malformed.reason,
        sockets === 'native' ? 'bind invalid address' : 'connect ERR_INVALID_IP_ADDRESS',
      );
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
