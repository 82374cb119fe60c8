import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type HttpSpec, probeHttp, probeHttps } from '../../src/check/http-check.ts';
import { buildRequest, fetchRaw } from '../../src/check/http-fetch.ts';
import { parseStatusCodes } from '../../src/check/http-status-codes.ts';
import { nativeActive, useCheckSockets } from '../../src/check/native-sockets.ts';
import {
  closedPort,
  httpPeer,
  httpsPeer,
  loopback,
  md5sum,
  type Peer,
  probeCtx,
  selfSigned,
  silentPeer,
} from './check-peers.ts';

// HTTP_GET and SSL_GET against real node:http and node:https servers on loopback. Digests are
// checked against md5sum of the body, and — where keepalived's genhash is installed — against
// genhash itself, which is the definition of "the digest keepalived computes".

const run = promisify(execFile);

const BODY = 'keepgit health page\nall good\n';
const CHUNKS = ['hello ', 'chunked ', 'world\n'];

function routes(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
  const url = req.url ?? '/';
  if (url === '/ok') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(BODY) });
    res.end(BODY);
  } else if (url === '/chunked') {
    let i = 0;
    const next = () => {
      if (i < CHUNKS.length) {
        res.write(CHUNKS[i++]);
        setTimeout(next, 5);
      } else res.end();
    };
    next();
  } else if (url === '/moved') {
    res.writeHead(302, { Location: '/ok', 'Content-Length': 0 });
    res.end();
  } else if (url === '/unavailable') {
    res.writeHead(503, { 'Content-Length': 5 });
    res.end('sorry');
  } else if (url === '/health') {
    res.end('{"status":"healthy","db":"up"}');
  } else {
    res.writeHead(404);
    res.end('not found');
  }
}

const spec = (over: Partial<HttpSpec> & { urls: HttpSpec['urls'] }): HttpSpec => over;

describe('status codes', () => {
  it('parses single codes, ranges and lists; defaults to 2xx', () => {
    const d = parseStatusCodes(undefined);
    assert.ok(!('error' in d));
    assert.equal(d.matches(200), true);
    assert.equal(d.matches(299), true);
    assert.equal(d.matches(302), false);
    const l = parseStatusCodes('200-299,302');
    assert.ok(!('error' in l));
    assert.deepEqual(
      [199, 200, 250, 299, 300, 302, 303].map((c) => l.matches(c)),
      [false, true, true, true, false, true, false],
    );
    const one = parseStatusCodes(204);
    assert.ok(!('error' in one) && one.matches(204) && !one.matches(200));
    const bad = parseStatusCodes('299-200');
    assert.ok('error' in bad && bad.error.includes('statusCode'));
  });
});

describe('HTTP request bytes', () => {
  it("are keepalived's: User-Agent, Host ADDRESS:PORT or the virtualhost, Connection per protocol", () => {
    const t = loopback(8080);
    assert.equal(
      buildRequest(t, { path: '/x' }),
      'GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:8080\r\n\r\n',
    );
    assert.equal(
      buildRequest(t, { path: '/x', protocol: '1.1', virtualhost: 'www.example.com' }),
      'GET /x HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n',
    );
    assert.match(
      buildRequest(t, { path: '/', protocol: '1.0C' }),
      /^GET \/ HTTP\/1\.0\r\n.*Connection: close\r\n/s,
    );
    assert.match(buildRequest(t, { path: '/', protocol: '1.0K' }), /Connection: keep-alive\r\n/);
    assert.match(buildRequest(loopback(80, '::1'), { path: '/' }), /Host: \[::1\]:80\r\n/);
  });
});

for (const sockets of ['native', 'node'] as const) {
  describe(`HTTP_GET against a real server (${sockets} sockets)`, () => {
    let peer: Peer;
    before(async () => {
      useCheckSockets(sockets);
      peer = await httpPeer(routes);
    });
    after(async () => {
      useCheckSockets('native');
      await peer.close();
    });

    it('succeeds on a 2xx and fails on a 503 by default', async () => {
      const ok = await probeHttp(spec({ urls: [{ path: '/ok' }] }), loopback(peer.port), probeCtx());
      assert.equal(ok.ok, true);
      const bad = await probeHttp(
        spec({ urls: [{ path: '/unavailable' }] }),
        loopback(peer.port),
        probeCtx(),
      );
      assert.deepEqual(bad.ok ? 'ok' : bad.reason, 'status 503, expected 200-299');
    });

    it('honours statusCode lists and ranges', async () => {
      const t = loopback(peer.port);
      const def = await probeHttp(spec({ urls: [{ path: '/moved' }] }), t, probeCtx());
      assert.equal(def.ok, false, '302 is not 2xx');
      const listed = await probeHttp(
        spec({ urls: [{ path: '/moved', statusCode: '200-299,302' }] }),
        t,
        probeCtx(),
      );
      assert.equal(listed.ok, true);
      const exact = await probeHttp(
        spec({ urls: [{ path: '/unavailable', statusCode: 503 }] }),
        t,
        probeCtx(),
      );
      assert.equal(exact.ok, true);
    });

    it('compares the MD5 of the body with the digest, as md5sum computes it', async () => {
      const digest = await md5sum(BODY);
      const t = loopback(peer.port);
      const good = await probeHttp(spec({ urls: [{ path: '/ok', digest }] }), t, probeCtx());
      assert.equal(good.ok, true);
      const upper = await probeHttp(
        spec({ urls: [{ path: '/ok', digest: digest.toUpperCase() }] }),
        t,
        probeCtx(),
      );
      assert.equal(upper.ok, true, 'digests compare case-insensitively');
      const wrong = await probeHttp(
        spec({ urls: [{ path: '/ok', digest: '0123456789abcdef0123456789abcdef' }] }),
        t,
        probeCtx(),
      );
      assert.equal(wrong.ok, false);
      assert.equal(
        wrong.ok ? '' : wrong.reason,
        `digest ${digest}, expected 0123456789abcdef0123456789abcdef`,
      );
    });

    it('hashes a chunked HTTP/1.0 body (the server closes) as the plain bytes', async () => {
      const r = await fetchRaw(
        loopback(peer.port),
        { path: '/chunked' },
        { timeoutMs: 5000, signal: new AbortController().signal },
      );
      assert.ok(r.ok);
      assert.equal(r.digest, await md5sum(CHUNKS.join('')));
      assert.equal(r.status, 200);
    });

    it('hashes a chunked HTTP/1.1 body with its chunk framing, as keepalived does', async () => {
      const r = await fetchRaw(
        loopback(peer.port),
        { path: '/chunked', protocol: '1.1' },
        { timeoutMs: 5000, signal: new AbortController().signal },
      );
      assert.ok(r.ok);
      const framed = `${CHUNKS.map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`;
      assert.equal(r.digest, await md5sum(framed));
    });

    it("gives the digest keepalived's genhash prints for the same pages", async (t) => {
      const found = await run('genhash', ['-h']).then(
        () => true,
        (e: NodeJS.ErrnoException) => e.code !== 'ENOENT',
      );
      if (!found) {
        t.skip('genhash (Debian package keepalived) is not installed');
        return;
      }
      for (const [path, protocol] of [
        ['/ok', '1.0'],
        ['/ok', '1.1'],
        ['/chunked', '1.0'],
        ['/chunked', '1.1'],
        ['/health', '1.1'],
      ] as const) {
        const { stdout } = await run('genhash', [
          '-s',
          '127.0.0.1',
          '-p',
          String(peer.port),
          '-u',
          path,
          '-P',
          protocol,
        ]);
        const theirs = stdout.trim().split('\n').at(-1)?.trim();
        const ours = await fetchRaw(
          loopback(peer.port),
          { path, protocol },
          { timeoutMs: 5000, signal: new AbortController().signal },
        );
        assert.ok(ours.ok);
        assert.equal(ours.digest, theirs, `${path} over HTTP/${protocol}`);
      }
    });

    it('matches a regex against the body, and regexNoMatch reverses it', async () => {
      const t = loopback(peer.port);
      const yes = await probeHttp(
        spec({ urls: [{ path: '/health', regex: '"status":\\s*"healthy"' }] }),
        t,
        probeCtx(),
      );
      assert.equal(yes.ok, true);
      const no = await probeHttp(spec({ urls: [{ path: '/health', regex: '"db":"down"' }] }), t, probeCtx());
      assert.equal(no.ok ? '' : no.reason, 'body does not match regex "db":"down"');
      const reversed = await probeHttp(
        spec({ urls: [{ path: '/health', regex: '"db":"down"', regexNoMatch: true }] }),
        t,
        probeCtx(),
      );
      assert.equal(reversed.ok, true);
      const reversedHit = await probeHttp(
        spec({ urls: [{ path: '/health', regex: 'healthy', regexNoMatch: true }] }),
        t,
        probeCtx(),
      );
      assert.equal(reversedHit.ok, false);
      const invalid = await probeHttp(spec({ urls: [{ path: '/health', regex: '([' }] }), t, probeCtx());
      assert.match(invalid.ok ? '' : invalid.reason, /regex "\(\[" is not a valid regular expression/);
    });

    it('sends the virtualhost as Host, a url-level one overriding the check-level one', async () => {
      const t = loopback(peer.port);
      peer.seen.length = 0;
      await probeHttp(
        spec({
          virtualhost: 'www.example.com',
          urls: [{ path: '/ok' }, { path: '/ok', virtualhost: 'api.example.com' }],
        }),
        t,
        probeCtx(),
      );
      await probeHttp(spec({ urls: [{ path: '/ok' }] }), t, probeCtx());
      assert.deepEqual(
        peer.seen.map((s) => s.headers.host),
        ['www.example.com', 'api.example.com', `127.0.0.1:${peer.port}`],
      );
      assert.ok(peer.seen.every((s) => s.headers['user-agent'] === 'KeepAliveClient'));
    });

    it('speaks the configured http_protocol', async () => {
      const t = loopback(peer.port);
      peer.seen.length = 0;
      for (const httpProtocol of ['1.0', '1.0C', '1.1', '1.0K'] as const) {
        const r = await probeHttp(spec({ httpProtocol, urls: [{ path: '/ok' }] }), t, probeCtx(10_000));
        assert.equal(r.ok, true, `${httpProtocol}: ${r.ok ? '' : r.reason}`);
      }
      assert.deepEqual(
        peer.seen.map((s) => [s.httpVersion, s.headers.connection]),
        [
          ['1.0', undefined],
          ['1.0', 'close'],
          ['1.1', 'close'],
          ['1.0', 'keep-alive'],
        ],
      );
    });

    it('needs every url to pass, and names the one that failed', async () => {
      const t = loopback(peer.port);
      const all = await probeHttp(spec({ urls: [{ path: '/ok' }, { path: '/health' }] }), t, probeCtx());
      assert.deepEqual(all.ok && all.detail, '2 urls ok');
      const one = await probeHttp(spec({ urls: [{ path: '/ok' }, { path: '/missing' }] }), t, probeCtx());
      assert.equal(one.ok ? '' : one.reason, '/missing: status 404, expected 200-299');
    });

    it('reaches an IPv6 loopback server with a bracketed Host', async (t) => {
      let v6: Peer;
      try {
        v6 = await httpPeer(routes, '::1');
      } catch {
        t.skip('no IPv6 loopback here');
        return;
      }
      try {
        const r = await probeHttp(spec({ urls: [{ path: '/ok' }] }), loopback(v6.port, '::1'), probeCtx());
        assert.equal(r.ok, true);
        assert.equal(v6.seen[0]?.headers.host, `[::1]:${v6.port}`);
      } finally {
        await v6.close();
      }
    });

    it('binds to bindTo/bindPort when asked', async () => {
      const free = await closedPort();
      let remotePort = 0;
      const p = await httpPeer((req, res) => {
        remotePort = req.socket.remotePort ?? 0;
        res.end('x');
      });
      try {
        const r = await probeHttp(
          spec({ urls: [{ path: '/' }] }),
          { ...loopback(p.port), bindAddress: '127.0.0.1', bindPort: free },
          probeCtx(),
        );
        assert.equal(r.ok, true);
        assert.equal(remotePort, free);
      } finally {
        await p.close();
      }
    });
  });

  describe(`HTTP_GET failures (${sockets} sockets)`, () => {
    before(() => useCheckSockets(sockets));
    after(() => {
      useCheckSockets('native');
      assert.equal(nativeActive(), 0, 'an attempt was left open in the addon');
    });
    it('a refused connection fails with the reason', async () => {
      const r = await probeHttp(spec({ urls: [{ path: '/' }] }), loopback(await closedPort()), probeCtx());
      assert.equal(r.ok ? '' : r.reason, 'connect ECONNREFUSED');
    });

    it('a server that never answers fails at the timeout', async () => {
      const silent = await silentPeer();
      try {
        const r = await probeHttp(spec({ urls: [{ path: '/' }] }), loopback(silent.port), probeCtx(300));
        assert.equal(r.ok ? '' : r.reason, 'read timeout after 300 ms');
      } finally {
        await silent.close();
      }
    });

    it('an abort ends the attempt at once', async () => {
      const silent = await silentPeer();
      try {
        const ac = new AbortController();
        const pending = probeHttp(
          spec({ urls: [{ path: '/' }] }),
          loopback(silent.port),
          probeCtx(60_000, ac.signal),
        );
        setTimeout(() => ac.abort(), 50);
        const r = await pending;
        assert.equal(r.ok ? '' : r.reason, 'aborted');
      } finally {
        await silent.close();
      }
    });
  });
}

describe('SSL_GET against a real HTTPS server', () => {
  let peer: Peer;
  let cleanup: () => Promise<void>;
  before(async () => {
    const tls = await selfSigned('www.example.com');
    cleanup = tls.cleanup;
    peer = await httpsPeer(routes, tls);
  });
  after(async () => {
    await peer.close();
    await cleanup();
  });

  it('checks status and digest over TLS without verifying the certificate', async () => {
    const digest = await md5sum(BODY);
    const r = await probeHttps(spec({ urls: [{ path: '/ok', digest }] }), loopback(peer.port), probeCtx());
    assert.equal(r.ok, true, r.ok ? '' : r.reason);
    const bad = await probeHttps(spec({ urls: [{ path: '/unavailable' }] }), loopback(peer.port), probeCtx());
    assert.equal(bad.ok ? '' : bad.reason, 'status 503, expected 200-299');
  });

  it('sends the virtualhost as SNI only with sni: true', async () => {
    peer.seen.length = 0;
    const t = loopback(peer.port);
    await probeHttps(
      spec({ virtualhost: 'www.example.com', sni: true, urls: [{ path: '/ok' }] }),
      t,
      probeCtx(),
    );
    await probeHttps(spec({ virtualhost: 'www.example.com', urls: [{ path: '/ok' }] }), t, probeCtx());
    assert.equal(peer.seen[0]?.servername, 'www.example.com');
    assert.equal(peer.seen[1]?.servername, false);
    assert.equal(peer.seen[1]?.headers.host, 'www.example.com');
  });

  it('a plain HTTP check against the TLS port fails cleanly', async () => {
    const r = await probeHttp(spec({ urls: [{ path: '/ok' }] }), loopback(peer.port), probeCtx(3000));
    assert.equal(r.ok, false);
  });

  it('a TLS check against a plain HTTP server fails with a TLS reason', async () => {
    const plain = await httpPeer(routes);
    try {
      const r = await probeHttps(spec({ urls: [{ path: '/ok' }] }), loopback(plain.port), probeCtx(3000));
      assert.match(r.ok ? '' : r.reason, /^tls /);
    } finally {
      await plain.close();
    }
  });
});
