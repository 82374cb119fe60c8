import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type CheckFact, CheckScheduler } from '../../src/check/check-scheduler.ts';
import { checkTarget, scheduledServers } from '../../src/check/real-server-checks.ts';
import type { ClusterDoc, NodeDoc } from '../../src/model/cluster-schema.ts';
import { nodeView } from '../../src/model/node-view.ts';
import { systemClock, systemTimers } from '../../src/vrrp/instance-timers.ts';
import { httpPeer, probeCtx } from './check-peers.ts';

// From the node view to scheduled checks: targets, timeouts, identities across revisions, the
// per-kind rules (alpha from the virtual server, FILE_CHECK without retries), and one run
// end to end against a real HTTP server that goes away and comes back.

const node: NodeDoc = { apiVersion: 'keepgit/v1', kind: 'Node', metadata: { name: 'lb1' } } as NodeDoc;

function cluster(virtualServers: unknown[], extra: Record<string, unknown> = {}): ClusterDoc {
  return {
    apiVersion: 'keepgit/v1',
    kind: 'Cluster',
    metadata: { name: 't' },
    virtualServers,
    ...extra,
  } as ClusterDoc;
}

const view = (c: ClusterDoc) => nodeView(c, [node], 'lb1');

describe('scheduled checks from the node view', () => {
  it('targets connectIp/connectPort, else the real server; binds as asked', () => {
    const v = view(
      cluster([
        {
          name: 'www',
          address: '203.0.113.10',
          port: 80,
          realServers: [
            {
              address: '198.51.100.11',
              checks: [
                { type: 'tcp' },
                {
                  type: 'tcp',
                  connectIp: '198.51.100.99',
                  connectPort: 8080,
                  bindTo: '198.51.100.1',
                  bindPort: 4000,
                },
              ],
            },
            { address: '2001:db8::11', port: 8443, checks: [{ type: 'tcp' }] },
          ],
        },
      ]),
    );
    const vs = v.virtualServers[0];
    assert.ok(vs);
    const [a, b] = vs.realServers[0]?.checks ?? [];
    assert.ok(a && b);
    assert.deepEqual(checkTarget(a, vs.realServers[0] as never), {
      address: '198.51.100.11',
      port: 80,
      family: 4,
    });
    assert.deepEqual(checkTarget(b, vs.realServers[0] as never), {
      address: '198.51.100.99',
      port: 8080,
      family: 4,
      bindAddress: '198.51.100.1',
      bindPort: 4000,
    });
    const c6 = vs.realServers[1]?.checks[0];
    assert.ok(c6);
    assert.deepEqual(checkTarget(c6, vs.realServers[1] as never), {
      address: '2001:db8::11',
      port: 8443,
      family: 6,
    });
  });

  it('sets the attempt timeout per kind and alpha from the virtual server', () => {
    const v = view(
      cluster([
        {
          name: 'www',
          address: '203.0.113.10',
          port: 80,
          alpha: true,
          connectTimeout: '2s',
          realServers: [
            {
              address: '198.51.100.11',
              checks: [
                { type: 'http', urls: [{ path: '/a' }, { path: '/b' }, { path: '/c' }] },
                { type: 'misc', script: '/bin/true', delayLoop: '7s' },
                { type: 'misc', script: '/bin/true', timeout: '500ms' },
                { type: 'smtp' },
              ],
            },
          ],
        },
      ]),
    );
    const checks = scheduledServers(v)[0]?.checks ?? [];
    assert.deepEqual(
      checks.map((c) => [c.kind, c.timeoutMs, c.alpha]),
      [
        ['http', 6000, true],
        ['misc', 7000, true],
        ['misc', 500, true],
        ['smtp', 2000, true],
      ],
    );
  });

  it('gives an unchanged check the same id in the next revision, and a changed one a new id', () => {
    const base = {
      name: 'www',
      address: '203.0.113.10',
      port: 80,
      realServers: [
        { address: '198.51.100.11', checks: [{ type: 'http', urls: [{ path: '/health' }] }] },
        { address: '198.51.100.12', checks: [{ type: 'tcp' }] },
      ],
    };
    const before = scheduledServers(view(cluster([base])));
    const again = scheduledServers(view(cluster([structuredClone(base)])));
    assert.deepEqual(
      again.map((s) => s.checks.map((c) => c.id)),
      before.map((s) => s.checks.map((c) => c.id)),
    );
    const changed = structuredClone(base);
    (changed.realServers[0] as { checks: unknown[] }).checks = [
      { type: 'http', urls: [{ path: '/health', statusCode: 204 }] },
    ];
    const after = scheduledServers(view(cluster([changed])));
    assert.notEqual(after[0]?.checks[0]?.id, before[0]?.checks[0]?.id);
    assert.equal(after[1]?.checks[0]?.id, before[1]?.checks[0]?.id, 'the other server is untouched');
  });

  it('the virtual server virtualhost reaches HTTP checks that set none', async () => {
    const peer = await httpPeer((_req, res) => res.end('ok'));
    try {
      const v = view(
        cluster([
          {
            name: 'www',
            address: '127.0.0.1',
            port: peer.port,
            virtualhost: 'www.example.com',
            realServers: [{ address: '127.0.0.1', checks: [{ type: 'http', urls: [{ path: '/' }] }] }],
          },
        ]),
      );
      const check = scheduledServers(v)[0]?.checks[0];
      assert.ok(check);
      const r = await check.run(probeCtx());
      assert.equal(r.ok, true);
      assert.equal(peer.seen[0]?.headers.host, 'www.example.com');
    } finally {
      await peer.close();
    }
  });

  it('a FILE_CHECK naming no track file fails with a message saying what to fix', async () => {
    const v = view(
      cluster([
        {
          name: 'www',
          address: '203.0.113.10',
          port: 80,
          realServers: [{ address: '198.51.100.11', checks: [{ type: 'file', file: 'nope' }] }],
        },
      ]),
    );
    const check = scheduledServers(v)[0]?.checks[0];
    assert.ok(check);
    const r = await check.run(probeCtx());
    assert.equal(
      r.ok ? '' : r.reason,
      'FILE_CHECK file: no trackFiles entry named "nope": add it to trackFiles or fix the name',
    );
  });

  it('an HTTP check marks a real server down when its server answers 503, and up when it recovers', async () => {
    let healthy = true;
    const peer = await httpPeer((_req, res) => {
      res.writeHead(healthy ? 200 : 503);
      res.end(healthy ? 'ok' : 'no');
    });
    const v = view(
      cluster([
        {
          name: 'www',
          address: '127.0.0.1',
          port: peer.port,
          realServers: [
            {
              address: '127.0.0.1',
              checks: [
                {
                  type: 'http',
                  urls: [{ path: '/' }],
                  delayLoop: '100ms',
                  delayBeforeRetry: '50ms',
                  retry: 1,
                  warmup: '10ms',
                  connectTimeout: '2s',
                },
              ],
            },
          ],
        },
      ]),
    );
    const facts: CheckFact[] = [];
    const scheduler = new CheckScheduler({
      timers: systemTimers(),
      clock: systemClock,
      onFact: (f) => facts.push(f),
    });
    const waitFor = async (pred: () => boolean) => {
      for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
      return pred();
    };
    try {
      scheduler.update(scheduledServers(v));
      assert.ok(await waitFor(() => peer.seen.length >= 2), 'checks are running');
      assert.equal(facts.length, 0);
      healthy = false;
      assert.ok(await waitFor(() => facts.length >= 1));
      assert.equal(facts[0]?.up, false);
      assert.equal(facts[0]?.last?.ok === false && facts[0].last.reason, 'status 503, expected 200-299');
      healthy = true;
      assert.ok(await waitFor(() => facts.length >= 2));
      assert.equal(facts[1]?.up, true);
      const status = scheduler.snapshot()[0];
      assert.equal(status?.up, true);
      assert.equal(status?.checks[0]?.last?.ok, true);
    } finally {
      scheduler.stop();
      await peer.close();
    }
  });

  it('a MISC_CHECK with dynamic re-weights the real server from its exit status', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keepgit-rs-misc-'));
    const status = join(dir, 'status');
    const script = join(dir, 'weight.sh');
    await writeFile(status, '12\n');
    await writeFile(script, `#!/bin/sh\nexit $(cat ${status})\n`);
    await chmod(script, 0o755);
    const v = view(
      cluster([
        {
          name: 'www',
          address: '203.0.113.10',
          port: 80,
          realServers: [
            {
              address: '198.51.100.11',
              weight: 3,
              checks: [{ type: 'misc', script, dynamic: true, delayLoop: '100ms', warmup: '10ms', retry: 0 }],
            },
          ],
        },
      ]),
    );
    const facts: CheckFact[] = [];
    const scheduler = new CheckScheduler({
      timers: systemTimers(),
      clock: systemClock,
      onFact: (f) => facts.push(f),
    });
    const waitFor = async (pred: () => boolean) => {
      for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
      return pred();
    };
    try {
      scheduler.update(scheduledServers(v));
      assert.ok(await waitFor(() => facts.length >= 1));
      assert.deepEqual([facts[0]?.up, facts[0]?.weight], [true, 10], 'exit 12: weight 10');
      await writeFile(status, '0\n');
      assert.ok(await waitFor(() => facts.length >= 2));
      assert.deepEqual([facts[1]?.up, facts[1]?.weight], [true, 3], 'exit 0: the configured weight again');
      await writeFile(status, '1\n');
      assert.ok(await waitFor(() => facts.length >= 3));
      assert.equal(facts[2]?.up, false);
    } finally {
      scheduler.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
