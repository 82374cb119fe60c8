import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desiredFor } from '../../src/agent/load-desired.ts';
import type { AgentStatus } from '../../src/agent/run-agent.ts';
import { runAgent } from '../../src/agent/run-agent.ts';
import { agentStatusSource } from '../../src/api/agent-status-source.ts';
import { renderDashboard } from '../../src/api/dashboard.ts';
import { hookRoutes, WEBHOOK_DISABLED } from '../../src/api/hook-route.ts';
import type { NodeStatus } from '../../src/api/node-status.ts';
import { statusApp } from '../../src/api/status-app.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { FakeAddressDriver } from '../../src/drivers/addresses/fake-address-driver.ts';
import { FakeSegment } from '../../src/drivers/vrrp-socket/fake-transport.ts';
import { FakeTime } from '../../src/vrrp/instance-timers.ts';
import { agentStatus, instance, SECRET } from './status-fixtures.ts';

// The HTTP API through app.request: every route, JSON errors for unknown paths and wrong
// methods, readiness from the Ready condition, and no secret in any answer.

function sourceOf(agent: () => AgentStatus, url = 'https://git.example/fleet.git') {
  return agentStatusSource({
    agent: { status: agent },
    source: { kind: 'git', url, ref: 'main', lastFetchAt: null },
    vips: () => ({ web4: ['192.0.2.100/24'], web6: ['2001:db8::100/64'] }),
  });
}

describe('status API routes', () => {
  it('GET /status serves the node document as JSON, uncached', async () => {
    const app = statusApp(sourceOf(() => agentStatus()));
    const res = await app.request('/status');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as NodeStatus;
    assert.equal(body.node, 'lb1');
    assert.deepEqual(
      body.instances.map((i) => [i.name, i.state, i.master]),
      [
        ['web4', 'Master', 'self'],
        ['web6', 'Backup', '192.0.2.12'],
      ],
    );
    assert.equal(body.conditions.find((c) => c.type === 'Ready')?.status, 'True');
  });

  it('GET /healthz says alive; /readyz is 200 when Ready, else 503 with the reason', async () => {
    let agent = agentStatus();
    const app = statusApp(sourceOf(() => agent));
    const health = await app.request('/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { alive: true });

    const ok = await app.request('/readyz');
    assert.equal(ok.status, 200);
    assert.deepEqual(((await ok.json()) as { ready: boolean; reason: string }).reason, 'Converged');

    agent = agentStatus({ instances: [instance({ state: 'Fault', faults: ['interface eth0 down'] })] });
    const notReady = await app.request('/readyz');
    assert.equal(notReady.status, 503);
    const body = (await notReady.json()) as { ready: boolean; reason: string; message: string };
    assert.equal(body.ready, false);
    assert.equal(body.reason, 'InstanceFault');
    assert.match(body.message, /interface eth0 down/);
  });

  it('GET /metrics serves the text format 0.0.4', async () => {
    const res = await statusApp(sourceOf(() => agentStatus())).request('/metrics');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    assert.match(text, /^# TYPE keepgit_instance_state gauge$/m);
    assert.match(text, /^keepgit_instance_state\{instance="web4",state="Master"\} 1$/m);
  });

  it('GET / is the dashboard, rendered on the server, everything escaped, nothing external', async () => {
    const hostile = '<img src=x onerror=alert(1)>';
    const app = statusApp(sourceOf(() => agentStatus({ node: hostile })));
    const res = await app.request('/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.ok(!html.includes(hostile), 'the node name is escaped');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    // The first view is in the page itself: it works without JavaScript.
    assert.match(html, /<tr data-instance="web4" class="state-master">/);
    assert.match(html, /<td class="master"><b>this node \(&lt;img/);
    assert.match(html, /<td class="master">192\.0\.2\.12<\/td>/);
    assert.match(html, /<tr data-rs="198\.51\.100\.12:80" class="down">/);
    // Self-contained: no src= or href= to anywhere (the empty icon is inline), no external stylesheet.
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="(?!data:)/);
    assert.doesNotMatch(html, /url\(|@import/);
  });

  it('highlights drift and refused revisions', () => {
    const base = sourceOf(() => agentStatus()).status();
    const html = renderDashboard({
      ...base,
      revision: { ...base.revision, refused: [{ rev: 'abc', reason: 'bad <b>', at: 'now' }] },
      drift: [
        { kind: 'vip', subject: 'web4 192.0.2.100/24', expected: 'present', actual: 'absent', since: 'x' },
      ],
    });
    assert.match(html, /<tr class="drift"><td>vip<\/td><td>web4 192\.0\.2\.100\/24<\/td>/);
    assert.match(html, /<tr class="refused"><td><code>abc<\/code><\/td><td>bad &lt;b&gt;<\/td>/);
  });

  it('answers JSON 404 for unknown paths and JSON 405 for wrong methods', async () => {
    const app = statusApp(sourceOf(() => agentStatus()));
    const missing = await app.request('/nope');
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /no such endpoint: \/nope/);

    for (const [method, path] of [
      ['POST', '/status'],
      ['DELETE', '/'],
      ['PUT', '/metrics'],
      ['POST', '/readyz'],
    ] as const) {
      const res = await app.request(path, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      assert.match(((await res.json()) as { error: string }).error, new RegExp(`${method} is not allowed`));
    }
    // No webhook configured: the path does not exist.
    assert.equal((await app.request('/hooks/git', { method: 'POST' })).status, 404);
    // HEAD works where GET does.
    assert.equal((await app.request('/healthz', { method: 'HEAD' })).status, 200);
  });

  it('mounts the webhook when given: POST reaches it, other methods are 405', async () => {
    const hooks = hookRoutes({ secret: undefined, onPush: () => true });
    const app = statusApp(
      sourceOf(() => agentStatus()),
      { hooks },
    );
    const post = await app.request('/hooks/git', { method: 'POST', body: '{}' });
    assert.equal(post.status, 404);
    assert.deepEqual(await post.json(), { error: WEBHOOK_DISABLED });
    const get = await app.request('/hooks/git');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('a bug while answering is a JSON 500 without the stack', async () => {
    const errors: unknown[] = [];
    const app = statusApp(
      {
        status: () => {
          throw new Error('boom at /secret/path.ts:12');
        },
        metrics: () => '',
      },
      { onError: (e) => errors.push(e) },
    );
    const res = await app.request('/status');
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.doesNotMatch(text, /boom|path\.ts/);
    assert.equal(errors.length, 1);
  });
});

describe('no secret leaks through the API', () => {
  it('a running agent with a VRRP password, a token in the source URL and a MISC_CHECK password', async () => {
    // A real agent on fakes, its instance authenticated with a PASS secret read from the env.
    const loaded = loadRepository(
      new Map([
        [
          'keepgit.yaml',
          `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lab }
instances:
  - name: v4
    vrid: 51
    version: 2
    interface: eth0
    priority: { lb1: 110 }
    vips: [192.0.2.100/24]
    auth: { type: PASS, secretRef: { env: KG_STATUS_PASS } }
`,
        ],
        ['nodes/lb1.yaml', 'apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: lb1 }\n'],
      ]),
    );
    assert.ok(loaded.repository, JSON.stringify(loaded.diagnostics));
    const desired = desiredFor(loaded.repository, 'lb1');
    assert.ok(desired.ok);
    const time = new FakeTime();
    const addresses = new FakeAddressDriver();
    addresses.outside.addAddress({ address: '192.0.2.11/24', dev: 'eth0' });
    const password = SECRET.slice(0, 8); // VRRP v2 passwords are at most 8 bytes
    const started = await runAgent(
      { node: 'lb1', repository: loaded.repository, view: desired.view, revision: 'r1' },
      {
        openTransport: new FakeSegment().open,
        addresses,
        clock: time,
        timers: time,
        log: () => {},
        secrets: { env: { KG_STATUS_PASS: password }, readFile: () => '' },
      },
    );
    assert.ok(started.ok, started.ok ? '' : started.message);
    try {
      await time.advance(5000);
      const real = started.agent.status();
      // Beside the real instance, the fixture's load balancer with a password in a check.
      const lb = agentStatus().loadBalancer;
      const app = statusApp(
        sourceOf(
          () => ({ ...real, ...(lb ? { loadBalancer: lb } : {}) }),
          `https://deploy:${SECRET}@git.example/fleet.git?private_token=${SECRET}`,
        ),
      );
      const status = await (await app.request('/status')).text();
      assert.match(status, /"name":"v4"/, 'the real instance is reported');
      for (const path of ['/status', '/', '/metrics', '/readyz']) {
        const text = await (await app.request(path)).text();
        assert.ok(!text.includes(SECRET), `${path} leaks the secret`);
        assert.ok(!text.includes(password), `${path} leaks the VRRP password`);
      }
    } finally {
      // Make-before-break waits on the (fake) clock: move it on while stopping.
      const stopping = started.agent.stop();
      await time.advance(10_000);
      await stopping;
    }
  });
});
