import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ClusterDoc, NodeDoc } from '../../src/model/cluster-schema.ts';
import { formatDuration, parseDuration, secondsToDuration } from '../../src/model/duration.ts';
import { canonicalIp, cidrContains, compareIp, parseCidr } from '../../src/model/ip.ts';
import { instanceNodes, nodeView } from '../../src/model/node-view.ts';
import { renderSchemaDocs } from '../../src/model/schema-docs.ts';

describe('durations', () => {
  it('parses human strings', () => {
    assert.equal(parseDuration('1s'), 1000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('3h'), 10_800_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('0.1s'), 100);
    assert.equal(parseDuration('2d'), 172_800_000);
  });
  it('rejects what is not one', () => {
    for (const bad of ['', '1', 's', '1 s', '-1s', '1x', '1s2', 'abc', '1.s', `${'1'.repeat(70)}s`]) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });
  it('formats to the shortest text that reads back the same', () => {
    assert.equal(formatDuration(1000), '1s');
    assert.equal(formatDuration(10_800_000), '3h');
    assert.equal(formatDuration(100), '100ms');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(secondsToDuration(0.1), '100ms');
    assert.equal(secondsToDuration(10800), '3h');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 9 }), (n) => parseDuration(formatDuration(n)) === n),
    );
  });
});

describe('addresses', () => {
  it('canonicalises IPv6 per RFC 5952', () => {
    assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(canonicalIp('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
    assert.equal(canonicalIp('fd4b:4100:0:1::10'), 'fd4b:4100:0:1::10');
    assert.equal(canonicalIp('::'), '::');
    assert.equal(canonicalIp('192.0.2.1'), '192.0.2.1');
  });
  it('parses CIDRs and tests containment', () => {
    assert.deepEqual(parseCidr('192.0.2.10/24'), { address: '192.0.2.10', prefix: 24, family: 4 });
    assert.deepEqual(parseCidr('2001:db8::10'), { address: '2001:db8::10', prefix: 128, family: 6 });
    assert.equal(parseCidr('192.0.2.10/33'), undefined);
    assert.equal(parseCidr('300.0.2.10'), undefined);
    assert.equal(parseCidr('192.0.2.10/'), undefined);
    const net = parseCidr('203.0.113.0/24');
    assert.ok(net && cidrContains(net, '203.0.113.77'));
    assert.ok(net && !cidrContains(net, '198.51.100.1'));
    assert.ok(net && !cidrContains(net, '2001:db8::1'));
    assert.equal(compareIp('192.0.2.9', '192.0.2.10'), -1);
  });
});

const cluster: ClusterDoc = {
  apiVersion: 'keepgit/v1',
  kind: 'Cluster',
  metadata: { name: 'c' },
  defaults: { vrrp: { version: 3, advertInterval: '500ms' }, check: { delayLoop: '5s' } },
  instances: [
    {
      name: 'www',
      vrid: 51,
      interface: 'eth0',
      priority: { lb1: 110, lb2: 100 },
      vips: ['203.0.113.10/32', { address: '2001:DB8::10', label: 'x' }].slice(0, 1),
      unicast: {},
    },
    { name: 'v6', vrid: 52, interface: { lb1: 'eth1', lb2: 'eth2' }, vips: ['2001:db8::10/64'], version: 2 },
    { name: 'only-lb2', vrid: 53, nodes: ['lb2'], interface: 'eth0', vips: ['203.0.113.20'] },
  ],
  virtualServers: [
    {
      address: '203.0.113.10',
      port: 80,
      realServers: [{ address: '198.51.100.11', checks: [{ type: 'tcp', connectTimeout: '2s' }] }],
    },
  ],
};
const nodes: NodeDoc[] = [
  {
    apiVersion: 'keepgit/v1',
    kind: 'Node',
    metadata: { name: 'lb1' },
    interfaces: { eth0: { unicastSource: '192.0.2.11' } },
    instances: { www: { priority: 120 } },
  },
  {
    apiVersion: 'keepgit/v1',
    kind: 'Node',
    metadata: { name: 'lb2' },
    routerId: 'LVS_B',
    interfaces: { eth0: { unicastSource: '192.0.2.12' } },
  },
];

describe('per-node view', () => {
  it('gives each node its instances with defaults and overrides applied', () => {
    const v1 = nodeView(cluster, nodes, 'lb1');
    assert.deepEqual(
      v1.instances.map((i) => i.name),
      ['v6', 'www'],
    );
    const www = v1.instances.find((i) => i.name === 'www');
    assert.ok(www);
    assert.equal(www.priority, 120, 'node override wins over the priority map');
    assert.equal(www.version, 3);
    assert.equal(www.advertIntervalMs, 500);
    assert.equal(www.preempt, true);
    assert.deepEqual(www.vips, [{ address: '203.0.113.10/32', family: 4 }]);
    assert.deepEqual(www.unicast, { source: '192.0.2.11', peers: ['192.0.2.12'] });
    assert.deepEqual(www.peers, [{ node: 'lb2', priority: 100, preempt: true }]);
    assert.equal(www.garp.masterDelayMs, 5000);
    assert.equal(v1.routerId, 'lb1');
    const v6 = v1.instances.find((i) => i.name === 'v6');
    assert.equal(v6?.interface, 'eth1');
    assert.equal(v6?.version, 3, 'IPv6 instances always speak VRRPv3');
    assert.equal(v6?.family, 6);
    assert.equal(v6?.vips[0]?.address, '2001:db8::10/64');
  });
  it('resolves virtual servers and check timings', () => {
    const v2 = nodeView(cluster, nodes, 'lb2');
    assert.equal(v2.routerId, 'LVS_B');
    assert.deepEqual(
      v2.instances.map((i) => i.name),
      ['only-lb2', 'v6', 'www'],
    );
    const vs = v2.virtualServers[0];
    assert.equal(vs?.key, '203.0.113.10:80/TCP');
    assert.equal(vs?.scheduler, 'wlc');
    const rs = vs?.realServers[0];
    assert.equal(rs?.key, '198.51.100.11:80');
    assert.equal(rs?.weight, 1);
    assert.deepEqual(rs?.checks[0], {
      type: 'tcp',
      connectTimeoutMs: 2000,
      retry: 1,
      delayBeforeRetryMs: 1000,
      delayLoopMs: 5000,
      warmupMs: 0,
      spec: {},
    });
  });
  it("applies keepalived's per-kind retry defaults (DNS 3, MISC 0; HTTP waits 3 s, DNS a delay_loop)", () => {
    const base = cluster.virtualServers?.[0];
    assert.ok(base);
    const withChecks: ClusterDoc = {
      ...cluster,
      virtualServers: [
        {
          ...base,
          delayLoop: '7s',
          realServers: [
            {
              address: '198.51.100.11',
              checks: [
                { type: 'dns' },
                { type: 'misc', script: '/bin/true' },
                { type: 'http', urls: [{ path: '/' }] },
                { type: 'smtp' },
              ],
            },
          ],
        },
      ],
    };
    const checks = nodeView(withChecks, nodes, 'lb2').virtualServers[0]?.realServers[0]?.checks ?? [];
    assert.deepEqual(
      checks.map((c) => [c.type, c.retry, c.delayBeforeRetryMs]),
      [
        ['dns', 3, 7000],
        ['misc', 0, 1000],
        ['http', 1, 3000],
        ['smtp', 1, 1000],
      ],
    );
  });
  it('takes participants from nodes, else a per-node map, else every node', () => {
    const [www, v6, only] = cluster.instances ?? [];
    assert.ok(www && v6 && only);
    assert.deepEqual(instanceNodes(www, ['lb1', 'lb2', 'lb3']), ['lb1', 'lb2']);
    assert.deepEqual(instanceNodes(v6, ['lb1', 'lb2', 'lb3']), ['lb1', 'lb2']);
    assert.deepEqual(instanceNodes(only, ['lb1', 'lb2']), ['lb2']);
    assert.deepEqual(instanceNodes({ name: 'x', vrid: 1, vips: ['192.0.2.1'] }, ['a', 'b']), ['a', 'b']);
  });
});

describe('schema reference', () => {
  it('docs/schema.md is generated from the current schema (run npm run gen:schema-docs)', () => {
    assert.equal(readFileSync('docs/schema.md', 'utf8'), renderSchemaDocs());
  });
});
