import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { AgentStatus } from '../../src/agent/run-agent.ts';
import { agentStatusSource } from '../../src/api/agent-status-source.ts';
import { type Listening, listen } from '../../src/api/listen.ts';
import { statusApp } from '../../src/api/status-app.ts';
import { main } from '../../src/cli/main.ts';
import { normaliseUrl, shortRevision } from '../../src/cli/status.ts';
import { agentStatus, COMMIT, instance } from './status-fixtures.ts';

// keepgit status against real HTTP servers on 127.0.0.1 (port 0): two agents' APIs, a port
// nobody listens on, a server that never answers and one that is not keepgit.

async function agentApi(agent: AgentStatus): Promise<Listening> {
  const source = agentStatusSource({
    agent: { status: () => agent },
    source: { kind: 'dir', url: '/srv/fleet', ref: null, lastFetchAt: null },
  });
  return listen(statusApp(source), { host: '127.0.0.1', port: 0 });
}

async function rawServer(
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port that was just free: listened on, then closed. */
async function deadPort(): Promise<number> {
  const s = await rawServer(() => {});
  const port = Number(new URL(s.url).port);
  await s.close();
  return port;
}

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['status', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const lb2Status = () =>
  agentStatus({
    node: 'lb2',
    instances: [
      instance({ state: 'Backup', master: '192.0.2.11', priority: 100, effectivePriority: 100 }),
      instance({ name: 'web6', state: 'Master', master: 'self' }),
    ],
  });

describe('keepgit status', () => {
  it('prints one row per node, an unreachable node as a row saying why, and exits 1', async () => {
    const lb1 = await agentApi(agentStatus());
    const lb2 = await agentApi(lb2Status());
    const dead = await deadPort();
    try {
      const r = await run([
        `http://127.0.0.1:${lb1.port}`,
        `127.0.0.1:${lb2.port}`,
        `http://127.0.0.1:${dead}/`,
      ]);
      assert.equal(r.code, 1, r.out + r.err);
      const lines = r.out.split('\n');
      assert.equal(lines.length, 4, r.out);
      assert.match(lines[0] ?? '', /^NODE +READY +REVISION +REFUSED +INSTANCES +DRIFT +REAL SERVERS$/);
      assert.match(lines[1] ?? '', /^lb1 +yes +0123456 +- +web4=MASTER web6=backup +0 +1\/2$/);
      assert.match(lines[2] ?? '', /^lb2 +yes +0123456 +- +web4=backup web6=MASTER +0 +1\/2$/);
      assert.match(
        lines[3] ?? '',
        new RegExp(
          `^http://127\\.0\\.0\\.1:${dead} +unreachable +connection refused: is the agent running with --listen`,
        ),
      );
      // Columns line up: every row's READY starts where the header's does.
      const at = (lines[0] ?? '').indexOf('READY');
      for (const l of lines.slice(1, 3)) assert.equal(l.indexOf('yes'), at, r.out);
    } finally {
      await lb1.close();
      await lb2.close();
    }
  });

  it('exits 0 when every node is Ready; 1 when one is not, naming the reason', async () => {
    const lb1 = await agentApi(agentStatus());
    const faulty = await agentApi(
      agentStatus({
        node: 'lb3',
        instances: [instance({ state: 'Fault', faults: ['interface eth0 down'] })],
      }),
    );
    try {
      assert.equal((await run([`http://127.0.0.1:${lb1.port}`])).code, 0);
      const r = await run([`http://127.0.0.1:${lb1.port}`, `http://127.0.0.1:${faulty.port}`]);
      assert.equal(r.code, 1);
      assert.match(r.out, /^lb3 +no: InstanceFault +0123456 +- +web4=FAULT /m);
    } finally {
      await lb1.close();
      await faulty.close();
    }
  });

  it('--json carries every document, or the error, per node', async () => {
    const lb1 = await agentApi(agentStatus());
    const dead = await deadPort();
    try {
      const r = await run(['--json', `http://127.0.0.1:${lb1.port}`, `http://127.0.0.1:${dead}`]);
      assert.equal(r.code, 1);
      const doc = JSON.parse(r.out) as {
        ready: boolean;
        nodes: { url: string; ok: boolean; ready?: boolean; error?: string; status?: { node: string } }[];
      };
      assert.equal(doc.ready, false);
      assert.deepEqual(
        doc.nodes.map((n) => [n.ok, n.ready, n.status?.node]),
        [
          [true, true, 'lb1'],
          [false, undefined, undefined],
        ],
      );
      assert.match(doc.nodes[1]?.error ?? '', /connection refused/);
    } finally {
      await lb1.close();
    }
  });

  it('a silent server times out, a foreign one is named as such; nothing crashes', async () => {
    const silent = await rawServer(() => {}); // never answers
    const html = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hello</html>');
    });
    const wrongJson = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"node":"x","revision":{"applied":3}}');
    });
    const notFound = await rawServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    try {
      const r = await run(['--timeout', '300', silent.url, html.url, wrongJson.url, notFound.url]);
      assert.equal(r.code, 1);
      assert.match(r.out, /unreachable +no answer within 300 ms/);
      assert.match(r.out, /unreachable +the answer of .*\/status is not JSON/);
      assert.match(
        r.out,
        /unreachable +the answer of .*\/status is not a keepgit status document \(no revision\.applied\)/,
      );
      assert.match(r.out, /unreachable +HTTP 404 from/);
    } finally {
      await Promise.all([silent.close(), html.close(), wrongJson.close(), notFound.close()]);
    }
  });

  it('usage errors exit 2', async () => {
    assert.equal((await run(['ftp://192.0.2.1'])).code, 2);
    assert.equal((await run(['--timeout', 'soon'])).code, 2);
    assert.equal((await run(['--bogus'])).code, 2);
  });

  it('normalises URLs and shortens revisions', () => {
    assert.equal(normaliseUrl('192.0.2.11:9742'), 'http://192.0.2.11:9742');
    assert.equal(normaliseUrl('http://[::1]:9742/'), 'http://[::1]:9742');
    assert.equal(normaliseUrl('ftp://x'), undefined);
    assert.equal(shortRevision(COMMIT), '0123456');
    assert.equal(shortRevision('dir:/srv/fleet#2'), 'dir:/srv/fleet#2');
    assert.equal(shortRevision(null), '-');
  });
});
