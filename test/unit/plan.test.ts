import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterDoc, Instance, NodeDoc, VirtualServer } from '../../src/model/cluster-schema.ts';
import { nodeView } from '../../src/model/node-view.ts';
import { repositoryOf } from '../../src/model/repository.ts';
import { nextMasters, possibleMasters } from '../../src/plan/classify-disruption.ts';
import { diffNodeViews } from '../../src/plan/diff-node-views.ts';
import { planRepositories } from '../../src/plan/plan-revisions.ts';
import type { Change, NodePlan, Plan } from '../../src/plan/plan-types.ts';
import { renderPlan, renderPlanJson, renderPlanMarkdown } from '../../src/plan/render-plan.ts';

// Revision pairs built in memory: a base fleet of two nodes, and small edits of it.

const node = (name: string, extra: Partial<NodeDoc> = {}): NodeDoc => ({
  apiVersion: 'keepgit/v1',
  kind: 'Node',
  metadata: { name },
  ...extra,
});

const www = (extra: Partial<Instance> = {}): Instance => ({
  name: 'www-http',
  vrid: 100,
  interface: 'eth0',
  priority: { lb1: 110, lb2: 100 },
  vips: ['203.0.113.10/32'],
  ...extra,
});

const web = (extra: Partial<VirtualServer> = {}): VirtualServer => ({
  name: 'www-80',
  address: '203.0.113.10',
  port: 80,
  protocol: 'TCP',
  scheduler: 'wrr',
  forwarding: 'nat',
  realServers: [
    { address: '198.51.100.11', port: 80, weight: 2, checks: [{ type: 'tcp', connectTimeout: '3s' }] },
    { address: '198.51.100.12', port: 80, weight: 1 },
  ],
  ...extra,
});

const clusterOf = (extra: Partial<ClusterDoc> = {}): ClusterDoc => ({
  apiVersion: 'keepgit/v1',
  kind: 'Cluster',
  metadata: { name: 'www-ha' },
  defaults: { vrrp: { version: 3, advertInterval: '1s', preempt: true } },
  instances: [www()],
  virtualServers: [web()],
  ...extra,
});

const nodes = [node('lb1'), node('lb2')];
const base = repositoryOf(clusterOf(), nodes);

const planFor = (after: ClusterDoc, afterNodes: NodeDoc[] = nodes, before = base): Plan =>
  planRepositories(before, repositoryOf(after, afterNodes));

const nodePlan = (plan: Plan, name: string): NodePlan => {
  const n = plan.nodes.find((x) => x.node === name);
  assert.ok(n, `no plan for ${name}`);
  return n;
};

const find = (n: NodePlan, target: string): Change => {
  const c = n.changes.find((x) => x.target === target);
  assert.ok(c, `no change "${target}" in ${JSON.stringify(n.changes.map((x) => x.target))}`);
  return c;
};

describe('plan: instances', () => {
  it('no change leaves every node unchanged', () => {
    const plan = planFor(clusterOf());
    assert.deepEqual(
      plan.nodes.map((n) => [n.node, n.status, n.changes.length]),
      [
        ['lb1', 'unchanged', 0],
        ['lb2', 'unchanged', 0],
      ],
    );
    assert.match(renderPlan(plan), /No changes\. 2 nodes, 0 changes, 0 disruptive/);
  });

  it('an added instance is hitless and lists what it is', () => {
    const plan = planFor(
      clusterOf({ instances: [www(), www({ name: 'www-https', vrid: 101, vips: ['203.0.113.11/32'] })] }),
    );
    const c = find(nodePlan(plan, 'lb1'), 'instance www-https');
    assert.equal(c.op, '+');
    assert.equal(c.disruptive, false);
    assert.deepEqual(
      c.fields?.find((f) => f.field === 'vips'),
      { field: 'vips', from: null, to: '203.0.113.11/32' },
    );
    assert.deepEqual(
      c.fields?.find((f) => f.field === 'advertInterval'),
      { field: 'advertInterval', from: null, to: '1s' },
    );
  });

  it('a removed instance drops its VIPs on the master, and is hitless on the backup', () => {
    const plan = planFor(clusterOf({ instances: [] }));
    const lb1 = find(nodePlan(plan, 'lb1'), 'instance www-http');
    assert.equal(lb1.op, '-');
    assert.equal(lb1.disruptive, true);
    assert.match(lb1.reason ?? '', /drops its VIPs \(203\.0\.113\.10\/32\): no other node runs it any more/);
    const lb2 = find(nodePlan(plan, 'lb2'), 'instance www-http');
    assert.equal(lb2.disruptive, false);
    assert.match(lb2.reason ?? '', /backup \(lb1 is master\)/);
  });

  it('an instance taken off the master only: its peer takes over', () => {
    const plan = planFor(clusterOf({ instances: [www({ priority: { lb2: 100 } })] }));
    const lb1 = find(nodePlan(plan, 'lb1'), 'instance www-http');
    assert.equal(lb1.op, '-');
    assert.equal(lb1.disruptive, true);
    assert.match(lb1.reason ?? '', /master moves from lb1 to lb2/);
  });

  it('a vrid change replaces the instance: disruptive', () => {
    const c = find(
      nodePlan(planFor(clusterOf({ instances: [www({ vrid: 101 })] })), 'lb2'),
      'instance www-http',
    );
    assert.equal(c.op, '~');
    assert.deepEqual(c.fields, [{ field: 'vrid', from: '100', to: '101' }]);
    assert.equal(c.disruptive, true);
    assert.match(c.reason ?? '', /replaced/);
  });

  it('an advert interval change is a re-election and prints as written', () => {
    const c = find(
      nodePlan(planFor(clusterOf({ instances: [www({ advertInterval: '250ms' })] })), 'lb1'),
      'instance www-http',
    );
    assert.deepEqual(c.fields, [{ field: 'advertInterval', from: '1s', to: '250ms' }]);
    assert.equal(c.disruptive, true);
    assert.match(c.reason ?? '', /re-election/);
  });

  it('preempt delay, notify and garp changes are hitless', () => {
    const plan = planFor(
      clusterOf({
        instances: [
          www({ preemptDelay: '30s', notify: { master: '/etc/keepgit/up.sh' }, garp: { masterRepeat: 3 } }),
        ],
      }),
    );
    const c = find(nodePlan(plan, 'lb1'), 'instance www-http');
    assert.equal(c.disruptive, false);
    assert.deepEqual(
      c.fields?.map((f) => [f.field, f.from, f.to]),
      [
        ['preemptDelay', '0s', '30s'],
        ['garp.masterRepeat', '5', '3'],
        ['garp.lowerPrioRepeat', '5', '3'],
        ['notify.master', null, '/etc/keepgit/up.sh'],
      ],
    );
  });

  it('a priority change that moves the master is disruptive on both ends', () => {
    const plan = planFor(clusterOf({ instances: [www({ priority: { lb1: 110, lb2: 120 } })] }));
    const lb2 = find(nodePlan(plan, 'lb2'), 'instance www-http');
    assert.deepEqual(lb2.fields, [{ field: 'priority', from: '100', to: '120' }]);
    assert.equal(lb2.disruptive, true);
    assert.equal(lb2.reason, 'master moves from lb1 to lb2');
    // lb1's own settings did not change, but its peer's did: it loses mastership.
    const lb1 = find(nodePlan(plan, 'lb1'), 'instance www-http');
    assert.deepEqual(lb1.fields, [{ field: 'peer lb2', from: 'priority 100', to: 'priority 120' }]);
    assert.equal(lb1.disruptive, true);
  });

  it('a priority change that keeps the master is hitless', () => {
    const plan = planFor(clusterOf({ instances: [www({ priority: { lb1: 110, lb2: 105 } })] }));
    const lb2 = find(nodePlan(plan, 'lb2'), 'instance www-http');
    assert.equal(lb2.disruptive, false);
    assert.match(lb2.reason ?? '', /lb1 stays master/);
  });

  it('with preempt false a higher priority does not take over', () => {
    const plan = planFor(clusterOf({ instances: [www({ priority: { lb1: 110, lb2: 120 } })] }), [
      node('lb1'),
      node('lb2', { instances: { 'www-http': { preempt: false } } }),
    ]);
    const lb2 = find(nodePlan(plan, 'lb2'), 'instance www-http');
    assert.deepEqual(
      lb2.fields?.map((f) => f.field),
      ['priority', 'preempt'],
    );
    assert.equal(lb2.disruptive, false);
    assert.equal(lb2.reason, 'lb2 has the highest priority (120) but does not preempt: lb1 stays master');
  });

  it('election model: possible masters and where mastership goes', () => {
    const a = { node: 'lb1', priority: 110, preempt: true };
    const b = { node: 'lb2', priority: 100, preempt: true };
    assert.deepEqual(possibleMasters([a, b]), ['lb1']);
    assert.deepEqual(possibleMasters([a, { ...b, priority: 110 }]), ['lb1', 'lb2']);
    assert.deepEqual(
      possibleMasters([
        { ...a, preempt: false },
        { ...b, preempt: false },
      ]),
      ['lb1', 'lb2'],
    );
    assert.deepEqual(nextMasters('lb1', [a, { ...b, priority: 120 }]), ['lb2']);
    assert.deepEqual(nextMasters('lb1', [a, { ...b, priority: 120, preempt: false }]), ['lb1']);
    assert.deepEqual(
      nextMasters('lb1', [
        { ...a, priority: 90 },
        { ...b, priority: 255, preempt: false },
      ]),
      ['lb2'],
    );
    assert.deepEqual(nextMasters('lb1', [b]), ['lb2']);
  });

  it('a VIP added is hitless, a VIP removed is disruptive', () => {
    const added = planFor(clusterOf({ instances: [www({ vips: ['203.0.113.10/32', '203.0.113.12'] })] }));
    const plus = find(nodePlan(added, 'lb1'), 'vip 203.0.113.12/32 on www-http');
    assert.equal(plus.op, '+');
    assert.equal(plus.disruptive, false);
    assert.match(plus.reason ?? '', /GARP/);
    // The VIP list is not repeated as an instance field change.
    assert.equal(nodePlan(added, 'lb1').changes.length, 1);

    const removed = planFor(clusterOf({ instances: [www({ vips: ['203.0.113.12/32'] })] }));
    const minus = find(nodePlan(removed, 'lb2'), 'vip 203.0.113.10/32 on www-http');
    assert.equal(minus.op, '-');
    assert.equal(minus.disruptive, true);
  });

  it('sync groups and the scripts a node uses are diffed', () => {
    const before = repositoryOf(
      clusterOf({
        scripts: [{ name: 'chk_haproxy', script: '/usr/bin/pgrep haproxy', interval: '2s' }],
        instances: [www({ track: { scripts: ['chk_haproxy'] } })],
      }),
      nodes,
    );
    const after = clusterOf({
      scripts: [
        { name: 'chk_haproxy', script: '/usr/bin/pgrep haproxy', interval: '1s' },
        { name: 'unused', script: '/bin/true' },
      ],
      instances: [www({ track: { scripts: ['chk_haproxy'] } })],
      syncGroups: [{ name: 'www', instances: ['www-http'] }],
    });
    const lb1 = nodePlan(planFor(after, nodes, before), 'lb1');
    const script = find(lb1, 'script chk_haproxy');
    assert.deepEqual(script.fields, [{ field: 'interval', from: '2s', to: '1s' }]);
    assert.equal(script.disruptive, false);
    assert.equal(find(lb1, 'sync group www').op, '+');
    assert.ok(
      !lb1.changes.some((c) => c.target === 'script unused'),
      'a script no instance tracks is not planned',
    );
  });
});

describe('plan: load balancing', () => {
  it('virtual server added and removed', () => {
    const added = nodePlan(
      planFor(clusterOf({ virtualServers: [web(), web({ name: 'www-443', port: 443 })] })),
      'lb1',
    );
    const vs = find(added, 'virtual server www-443');
    assert.equal(vs.op, '+');
    assert.equal(vs.disruptive, false);
    assert.ok(vs.fields?.some((f) => f.field === 'port' && f.to === '443'));
    assert.equal(find(added, 'real server 198.51.100.11:80 in www-443').op, '+');

    const removed = find(
      nodePlan(planFor(clusterOf({ virtualServers: [] })), 'lb1'),
      'virtual server www-80',
    );
    assert.equal(removed.op, '-');
    assert.equal(removed.disruptive, true);
  });

  it('a scheduler change re-balances: disruptive; a sorry server is hitless', () => {
    const c = find(
      nodePlan(planFor(clusterOf({ virtualServers: [web({ scheduler: 'sh' })] })), 'lb1'),
      'virtual server www-80',
    );
    assert.deepEqual(c.fields, [{ field: 'scheduler', from: 'wrr', to: 'sh' }]);
    assert.equal(c.disruptive, true);
    const sorry = find(
      nodePlan(
        planFor(clusterOf({ virtualServers: [web({ sorryServer: { address: '198.51.100.99' } })] })),
        'lb1',
      ),
      'virtual server www-80',
    );
    assert.equal(sorry.disruptive, false);
  });

  it('persistence prints as written', () => {
    const c = find(
      nodePlan(planFor(clusterOf({ virtualServers: [web({ persistence: '3h' })] })), 'lb1'),
      'virtual server www-80',
    );
    assert.deepEqual(c.fields, [{ field: 'persistence', from: null, to: '3h' }]);
  });

  it('real servers: added hitless, removed disruptive, re-weighted hitless', () => {
    const rs = web().realServers ?? [];
    const plan = planFor(
      clusterOf({
        virtualServers: [
          web({
            realServers: [
              { ...rs[0], address: '198.51.100.11', weight: 5 },
              { address: '198.51.100.13', port: 80 },
            ],
          }),
        ],
      }),
    );
    const lb1 = nodePlan(plan, 'lb1');
    const reweighted = find(lb1, 'real server 198.51.100.11:80 in www-80');
    assert.deepEqual(reweighted.fields, [{ field: 'weight', from: '2', to: '5' }]);
    assert.equal(reweighted.disruptive, false);
    assert.equal(find(lb1, 'real server 198.51.100.13:80 in www-80').disruptive, false);
    const gone = find(lb1, 'real server 198.51.100.12:80 in www-80');
    assert.equal(gone.op, '-');
    assert.equal(gone.disruptive, false, 'drained for the default 10 s first');
    assert.match(gone.reason ?? '', /^drained: no new connections, open ones kept for 10 s/);
  });

  it('a real server removed with drainTime 0s is disruptive', () => {
    const rs = web().realServers ?? [];
    const plan = planFor(
      clusterOf({ virtualServers: [web({ drainTime: '0s', realServers: rs.slice(0, 1) })] }),
    );
    const gone = find(nodePlan(plan, 'lb1'), 'real server 198.51.100.12:80 in www-80');
    assert.equal(gone.disruptive, true);
    assert.match(gone.reason ?? '', /at once \(drainTime 0s\)/);
  });

  it('a check change is hitless and shows the field', () => {
    const rs = web().realServers ?? [];
    const plan = planFor(
      clusterOf({
        virtualServers: [
          web({
            realServers: [
              {
                address: '198.51.100.11',
                port: 80,
                weight: 2,
                checks: [{ type: 'tcp', connectTimeout: '1s' }],
              },
              rs[1] ?? { address: '198.51.100.12' },
            ],
          }),
        ],
      }),
    );
    const c = find(nodePlan(plan, 'lb1'), 'check 1 (tcp) of 198.51.100.11:80 in www-80');
    assert.deepEqual(c.fields, [{ field: 'connectTimeout', from: '3s', to: '1s' }]);
    assert.equal(c.disruptive, false);
  });
});

describe('plan: nodes', () => {
  it('a node added gets everything as additions; its peers see the new peer', () => {
    const plan = planFor(clusterOf({ instances: [www({ priority: { lb1: 110, lb2: 100, lb3: 90 } })] }), [
      ...nodes,
      node('lb3'),
    ]);
    const lb3 = nodePlan(plan, 'lb3');
    assert.equal(lb3.status, 'added');
    assert.deepEqual(
      lb3.changes.map((c) => `${c.op} ${c.target}`),
      [
        '+ node lb3',
        '+ instance www-http',
        '+ virtual server www-80',
        '+ real server 198.51.100.11:80 in www-80',
        '+ real server 198.51.100.12:80 in www-80',
      ],
    );
    const lb1 = find(nodePlan(plan, 'lb1'), 'instance www-http');
    assert.deepEqual(lb1.fields, [{ field: 'peer lb3', from: null, to: 'priority 90' }]);
    assert.equal(lb1.disruptive, false);
  });

  it('a node added with the highest priority takes over: its peers say so', () => {
    const plan = planFor(clusterOf({ instances: [www({ priority: { lb1: 110, lb2: 100, lb3: 200 } })] }), [
      ...nodes,
      node('lb3'),
    ]);
    const lb1 = find(nodePlan(plan, 'lb1'), 'instance www-http');
    assert.equal(lb1.disruptive, true);
    assert.equal(lb1.reason, 'master moves from lb1 to lb3');
    const lb2 = find(nodePlan(plan, 'lb2'), 'instance www-http');
    assert.equal(lb2.disruptive, false);
    assert.match(lb2.reason ?? '', /this node stays backup/);
  });

  it('a node removed: its instance removals are listed and lb1 loses its peer', () => {
    const plan = planFor(clusterOf({ instances: [www({ priority: { lb1: 110 } })] }), [node('lb1')]);
    const lb2 = nodePlan(plan, 'lb2');
    assert.equal(lb2.status, 'removed');
    assert.equal(lb2.changes[0]?.target, 'node lb2');
    assert.equal(find(lb2, 'instance www-http').op, '-');
    assert.equal(find(nodePlan(plan, 'lb1'), 'instance www-http').fields?.[0]?.field, 'peer lb2');
  });

  it('from nothing (first commit): every node is added', () => {
    const plan = planRepositories(undefined, base);
    assert.deepEqual(
      plan.nodes.map((n) => n.status),
      ['added', 'added'],
    );
  });

  it('onlyNode limits the plan; diffNodeViews on identical views is unchanged', () => {
    const plan = planRepositories(base, base, 'lb2');
    assert.deepEqual(
      plan.nodes.map((n) => n.node),
      ['lb2'],
    );
    const v = nodeView(base.cluster.doc, nodes, 'lb1');
    assert.deepEqual(diffNodeViews(v, v), { node: 'lb1', status: 'unchanged', changes: [] });
  });

  it('a dataplane change on a node is disruptive', () => {
    const c = find(
      nodePlan(planFor(clusterOf(), [node('lb1', { dataplane: 'nftables' }), node('lb2')]), 'lb1'),
      'node lb1',
    );
    assert.deepEqual(c.fields, [{ field: 'dataplane', from: 'auto', to: 'nftables' }]);
    assert.equal(c.disruptive, true);
  });
});

describe('plan: rendering', () => {
  const plan = planFor(
    clusterOf({
      instances: [www({ priority: { lb1: 110, lb2: 120 }, vips: ['203.0.113.10/32', '203.0.113.11/32'] })],
      virtualServers: [web({ scheduler: 'sh' })],
    }),
  );

  it('renders a diff-like text with fields, marks and summaries', () => {
    const text = renderPlan(plan, { from: 'main (abc1234)', to: 'HEAD (def5678)' });
    const lines = text.split('\n');
    assert.equal(lines[0], 'plan main (abc1234) → HEAD (def5678)');
    assert.ok(lines.includes('node lb2 (changed): 3 changes, 2 disruptive'), text);
    assert.ok(
      text.includes(
        '~ instance www-http\n    priority: 100 → 120\n  ! disruptive: master moves from lb1 to lb2',
      ),
      text,
    );
    assert.ok(lines.includes('+ vip 203.0.113.11/32 on www-http'), text);
    assert.ok(lines.includes('  hitless: added on the master, GARP sent'), text);
    assert.ok(lines.includes('~ virtual server www-80'), text);
    assert.ok(lines.includes('    scheduler: wrr → sh'), text);
    assert.equal(lines.at(-1), '2 nodes, 6 changes, 4 disruptive');
  });

  it('renders Markdown with diff blocks', () => {
    const md = renderPlanMarkdown(plan);
    assert.ok(md.startsWith('### keepgit plan: 2 nodes, 6 changes, 4 disruptive'), md);
    assert.ok(md.includes('#### node lb1 (changed)'), md);
    assert.ok(md.includes('```diff\n~ instance www-http'), md);
    assert.ok(md.includes('> [!WARNING]'), md);
  });

  it('lists unchanged nodes on one line', () => {
    const text = renderPlan(planFor(clusterOf(), [node('lb1', { routerId: 'LVS_1' }), node('lb2')]));
    assert.ok(text.includes('~ node lb1\n    routerId: lb1 → LVS_1\n  hitless:'), text);
    assert.ok(text.includes('unchanged: lb2'), text);
  });

  it('JSON is the Plan with a stable key order', () => {
    const json = renderPlanJson(plan);
    const parsed = JSON.parse(json) as Plan;
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(plan)));
    assert.deepEqual(Object.keys(parsed), ['nodes']);
    assert.deepEqual(Object.keys(parsed.nodes[0] ?? {}), ['node', 'status', 'changes']);
    const c = parsed.nodes[0]?.changes[0];
    assert.deepEqual(Object.keys(c ?? {}), ['op', 'kind', 'target', 'fields', 'disruptive', 'reason']);
    assert.deepEqual(Object.keys(c?.fields?.[0] ?? {}), ['field', 'from', 'to']);
    assert.equal(renderPlanJson(plan), json, 'deterministic');
  });
});
