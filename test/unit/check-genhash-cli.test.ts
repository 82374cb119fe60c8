import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closedPort, httpPeer, httpsPeer, md5sum, type Peer, selfSigned } from './check-peers.ts';
import { runCli } from './helpers.ts';

// keepgit genhash through the CLI, against real servers on loopback; the digest is checked
// against md5sum of the body the server sent.

const BODY = '<html><body>keepgit genhash test</body></html>\n';
const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
  if (req.url === '/gone') {
    res.writeHead(404, { 'Content-Length': 4 });
    res.end('gone');
    return;
  }
  res.writeHead(200, { 'Content-Length': Buffer.byteLength(BODY) });
  res.end(BODY);
};

describe('keepgit genhash', () => {
  let peer: Peer;
  let tlsPeer: Peer;
  let cleanup: () => Promise<void>;
  before(async () => {
    peer = await httpPeer(handler);
    const tls = await selfSigned('www.example.com');
    cleanup = tls.cleanup;
    tlsPeer = await httpsPeer(handler, tls);
  });
  after(async () => {
    await peer.close();
    await tlsPeer.close();
    await cleanup();
  });

  it('prints the digest of a URL first, then the status', async () => {
    const r = await runCli(['genhash', `http://127.0.0.1:${peer.port}/index.html`]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines[0], await md5sum(BODY));
    assert.match(lines[1] ?? '', /^HTTP status 200, 47 bytes of body/);
    assert.equal(peer.seen.at(-1)?.url, '/index.html');
  });

  it("takes genhash's options, long and short", async () => {
    const digest = await md5sum(BODY);
    const long = await runCli([
      'genhash',
      '--server',
      '127.0.0.1',
      '--port',
      String(peer.port),
      '--url',
      '/x',
      '--virtualhost',
      'www.example.com',
      '--protocol',
      '1.1',
    ]);
    assert.equal(long.code, 0, long.err);
    assert.equal(long.out.split('\n')[0], digest);
    assert.equal(peer.seen.at(-1)?.headers.host, 'www.example.com');
    assert.equal(peer.seen.at(-1)?.httpVersion, '1.1');
    const short = await runCli(['genhash', '-s', '127.0.0.1', '-p', String(peer.port), '-u', '/y', '--json']);
    assert.equal(short.code, 0, short.err);
    assert.deepEqual(JSON.parse(short.out), {
      url: `http://127.0.0.1:${peer.port}/y`,
      status: 200,
      digest,
      bodyBytes: Buffer.byteLength(BODY),
    });
  });

  it('fetches over TLS with --ssl or an https URL, with SNI on --sni', async () => {
    const digest = await md5sum(BODY);
    const a = await runCli(['genhash', `https://127.0.0.1:${tlsPeer.port}/`]);
    assert.equal(a.code, 0, a.err);
    assert.equal(a.out.split('\n')[0], digest);
    const b = await runCli([
      'genhash',
      '-S',
      '-I',
      '-s',
      '127.0.0.1',
      '-p',
      String(tlsPeer.port),
      '-u',
      '/',
      '-V',
      'www.example.com',
    ]);
    assert.equal(b.code, 0, b.err);
    assert.equal(b.out.split('\n')[0], digest);
    assert.equal(tlsPeer.seen.at(-1)?.servername, 'www.example.com');
  });

  it('prints the digest of a non-2xx page but says the check needs statusCode', async () => {
    const r = await runCli(['genhash', `http://127.0.0.1:${peer.port}/gone`]);
    assert.equal(r.code, 0);
    assert.equal(r.out.split('\n')[0], await md5sum('gone'));
    assert.match(r.err, /status 404 is outside 200-299, so the check also needs statusCode: 404/);
  });

  it('exits 1 with a clear message when the server cannot be reached', async () => {
    const port = await closedPort();
    const r = await runCli(['genhash', `http://127.0.0.1:${port}/`]);
    assert.equal(r.code, 1);
    assert.equal(r.err, `keepgit genhash: cannot fetch http://127.0.0.1:${port}/: connect ECONNREFUSED`);
    assert.equal(r.out, '');
  });

  it('exits 2 on usage errors, naming the option', async () => {
    const cases: [string[], RegExp][] = [
      [['genhash'], /missing --server, --port, --url/],
      [['genhash', '-s', 'lb1', '-p', '80', '-u', '/'], /--server: expected an IP address, got "lb1"/],
      [['genhash', '-s', '127.0.0.1', '-p', '0', '-u', '/'], /--port: expected 1\.\.65535/],
      [['genhash', '-s', '127.0.0.1', '-p', '80', '-u', 'x'], /--url: expected a path starting with \//],
      [['genhash', 'ftp://127.0.0.1/'], /ftp: URLs are not checked/],
      [['genhash', 'not a url'], /is not a URL/],
      [['genhash', 'http://127.0.0.1/', '-P', '2.0'], /--protocol: expected one of 1\.0, 1\.0C, 1\.1, 1\.0K/],
      [['genhash', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, message, args.join(' '));
      assert.doesNotMatch(r.err, /at .*\.ts:\d+/, 'no stack trace');
    }
  });

  it('is listed in keepgit --help', async () => {
    const r = await runCli(['--help']);
    assert.match(r.out, /genhash/);
  });
});
