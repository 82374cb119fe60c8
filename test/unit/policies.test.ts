import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinRules } from '../../policies/index.ts';
import { displayPath } from '../../src/config/display-path.ts';
import { parseYamlDocument } from '../../src/config/yaml-document.ts';
import {
  type ClusterDoc,
  clusterDoc,
  type NodeDoc,
  nodeDoc,
  type PolicyDoc,
  type PolicyRule,
  policyDoc,
} from '../../src/model/cluster-schema.ts';
import type { Diagnostic } from '../../src/model/diagnostic.ts';
import { type Located, type PathSeg, type Repository, repositoryOf } from '../../src/model/repository.ts';
import type { Rule } from '../../src/policy/rule.ts';
import { POLICY_CONFIG, runPolicies } from '../../src/policy/run-policies.ts';

// Each built-in rule alone against a small two-node fleet that passes everything, then
// with one change that breaks exactly that rule.

const baseCluster = (): ClusterDoc => ({
  apiVersion: 'keepgit/v1',
  kind: 'Cluster',
  metadata: { name: 'www-ha' },
  defaults: { vrrp: { version: 3, advertInterval: '1s' } },
  instances: [
    {
      name: 'www-http',
      vrid: 100,
      interface: 'eth0',
      priority: { lb1: 110, lb2: 100 },
      vips: ['203.0.113.10/32'],
    },
    // Same VRID, other family: a different virtual MAC, so no clash.
    {
      name: 'www-v6',
      vrid: 100,
      interface: 'eth0',
      priority: { lb1: 100, lb2: 110 },
      vips: ['2001:db8::10/128'],
    },
  ],
  virtualServers: [
    {
      name: 'www-80',
      address: '203.0.113.10',
      port: 80,
      realServers: [
        { address: '198.51.100.11', checks: [{ type: 'tcp', connectTimeout: '3s', delayLoop: '10s' }] },
        { address: '198.51.100.12', port: 80 },
      ],
    },
  ],
});

const node = (name: string, address: string): NodeDoc => ({
  apiVersion: 'keepgit/v1',
  kind: 'Node',
  metadata: { name },
  interfaces: { eth0: { addresses: [`${address}/24`], unicastSource: address } },
});

const baseNodes = (): NodeDoc[] => [node('lb1', '192.0.2.11'), node('lb2', '192.0.2.12')];

const policy = (p: Omit<PolicyDoc, 'apiVersion' | 'kind' | 'metadata'>, name = 'site'): PolicyDoc => ({
  apiVersion: 'keepgit/v1',
  kind: 'Policy',
  metadata: { name },
  ...p,
});

const byId = (id: string): Rule => {
  const r = builtinRules.find((x) => x.id === id);
  assert.ok(r, `built-in rule ${id}`);
  return r;
};

type Mutate = (c: ClusterDoc, nodes: NodeDoc[]) => void;

function repo(mutate: Mutate = () => {}, policies: PolicyDoc[] = []): Repository {
  const c = baseCluster();
  const n = baseNodes();
  mutate(c, n);
  return repositoryOf(c, n, policies);
}

const inst = (c: ClusterDoc, i = 0) => {
  const x = c.instances?.[i];
  assert.ok(x);
  return x;
};
const vs0 = (c: ClusterDoc) => {
  const x = c.virtualServers?.[0];
  assert.ok(x);
  return x;
};

function docOf(r: Repository, file: string): unknown {
  const all: Located<unknown>[] = [r.cluster, ...r.nodes, ...r.policies];
  const f = all.find((x) => x.file === file);
  assert.ok(f, `no document ${file}`);
  return f.doc;
}

interface Want {
  rule: string;
  severity: 'error' | 'warn';
  file?: string;
  path: PathSeg[];
  line?: number;
  message?: RegExp;
}

function expectOnly(r: Repository, ds: Diagnostic[], want: Want): Diagnostic {
  assert.equal(ds.length, 1, `expected one diagnostic, got:\n${ds.map((d) => JSON.stringify(d)).join('\n')}`);
  const d = ds[0] as Diagnostic;
  const file = want.file ?? 'keepgit.yaml';
  assert.equal(d.rule, want.rule);
  assert.equal(d.severity, want.severity);
  assert.equal(d.file, file);
  assert.equal(d.path, displayPath(docOf(r, file), want.path));
  if (want.line !== undefined) assert.equal(d.line, want.line);
  if (want.message) assert.match(d.message, want.message);
  return d;
}

const only = (id: string, r: Repository): Diagnostic[] => runPolicies(r, [byId(id)]);

describe('the base fleet', () => {
  it('passes every built-in rule', () => {
    assert.deepEqual(runPolicies(repo()), []);
  });
  it('has rule ids that are unique and at least the promised ones', () => {
    const ids = builtinRules.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of [
      'vrid-unique',
      'vip-not-node-address',
      'priority-distinct',
      'priority-255-owner',
      'no-plaintext-secret',
      'v2-whole-second-interval',
      'check-timeout-within-interval',
      'real-server-unique',
      'vs-address-covered',
      'auth-pass-v2-only',
      'preempt-delay-needs-preempt',
    ]) {
      assert.ok(ids.includes(id), id);
    }
  });
});

describe('vrid-unique', () => {
  const third = (c: ClusterDoc, extra: object = {}) =>
    c.instances?.push({
      name: 'www-https',
      vrid: 100,
      interface: 'eth0',
      priority: { lb1: 110, lb2: 100 },
      vips: ['203.0.113.11/32'],
      ...extra,
    });
  it('fails for a repeated VRID on one interface and family', () => {
    const r = repo((c) => third(c));
    expectOnly(r, only('vrid-unique', r), {
      rule: 'vrid-unique',
      severity: 'error',
      path: ['instances', 2, 'vrid'],
      message: /VRID 100 is also used by instance www-http on eth0 \(IPv4\) on lb1, lb2/,
    });
  });
  it('passes on another interface', () => {
    assert.deepEqual(
      only(
        'vrid-unique',
        repo((c) => third(c, { interface: 'eth1' })),
      ),
      [],
    );
  });
  it('passes for unicast instances whose peers do not overlap', () => {
    const r = repo((c, n) => {
      n.push(node('lb3', '192.0.2.13'));
      inst(c).unicast = {};
      inst(c).nodes = ['lb1', 'lb2'];
      third(c, { unicast: {}, priority: { lb1: 110, lb3: 100 } });
    });
    assert.deepEqual(only('vrid-unique', r), []);
  });
  it('fails for unicast instances that share a peer', () => {
    const r = repo((c) => {
      inst(c).unicast = {};
      third(c, { unicast: {} });
    });
    assert.equal(only('vrid-unique', r).length, 1);
  });
});

describe('vip-not-node-address', () => {
  it("fails for a VIP that is a node's address", () => {
    const r = repo((c) => {
      inst(c).vips = ['192.0.2.12/32'];
    });
    expectOnly(r, only('vip-not-node-address', r), {
      rule: 'vip-not-node-address',
      severity: 'error',
      path: ['instances', 0, 'vips', 0],
      message: /192\.0\.2\.12 is already an address of lb2 \(interfaces\.eth0\.addresses\)/,
    });
  });
  it('fails for a VIP that is a unicast source only', () => {
    const r = repo((c, n) => {
      const eth0 = n[0]?.interfaces?.eth0;
      assert.ok(eth0);
      eth0.unicastSource = '192.0.2.111';
      inst(c, 1).vips = ['192.0.2.111'];
      inst(c, 1).vrid = 101;
    });
    const ds = only('vip-not-node-address', r);
    assert.equal(ds.length, 1);
    assert.match(ds[0]?.message ?? '', /lb1 \(interfaces\.eth0\.unicastSource\)/);
  });
  it('passes for the address owner at priority 255, which priority-255-owner also accepts', () => {
    const r = repo((c) => {
      inst(c).vips = ['192.0.2.12/32'];
      inst(c).priority = { lb1: 110, lb2: 255 };
    });
    assert.deepEqual(runPolicies(r, [byId('vip-not-node-address'), byId('priority-255-owner')]), []);
  });
});

describe('priority-distinct', () => {
  it('fails when one priority is given to all nodes', () => {
    const r = repo((c) => {
      inst(c).priority = 100;
    });
    expectOnly(r, only('priority-distinct', r), {
      rule: 'priority-distinct',
      severity: 'error',
      path: ['instances', 0, 'priority'],
      message: /lb1, lb2 share priority 100 in instance www-http/,
    });
  });
  it('fails through a node override, pointing at the node file', () => {
    const r = repo((_c, n) => {
      (n[1] as NodeDoc).instances = { 'www-http': { priority: 110 } };
    });
    expectOnly(r, only('priority-distinct', r), {
      rule: 'priority-distinct',
      severity: 'error',
      file: 'nodes/lb2.yaml',
      path: ['instances', 'www-http', 'priority'],
    });
  });
  it('passes with one node', () => {
    const r = repo((c) => {
      inst(c).priority = 100;
      inst(c).nodes = ['lb1'];
      inst(c, 1).priority = 100;
      inst(c, 1).nodes = ['lb2'];
    });
    assert.deepEqual(only('priority-distinct', r), []);
  });
});

describe('priority-255-owner', () => {
  it('fails for 255 on a node that does not own the VIPs', () => {
    const r = repo((c) => {
      inst(c).priority = { lb1: 255, lb2: 100 };
    });
    expectOnly(r, only('priority-255-owner', r), {
      rule: 'priority-255-owner',
      severity: 'error',
      path: ['instances', 0, 'priority', 'lb1'],
      message: /lb1 does not have 203\.0\.113\.10 .*use 254 at most/,
    });
  });
  it('passes when the node has every VIP as its own address', () => {
    const r = repo((c, n) => {
      inst(c).priority = { lb1: 255, lb2: 100 };
      n[0]?.interfaces?.eth0?.addresses?.push('203.0.113.10/24');
    });
    assert.deepEqual(only('priority-255-owner', r), []);
  });
});

describe('no-plaintext-secret', () => {
  it('fails for a password in Git without echoing it', () => {
    const r = repo((c) => {
      inst(c).version = 2;
      inst(c).auth = { type: 'PASS', password: 'hunter22' };
    });
    const d = expectOnly(r, only('no-plaintext-secret', r), {
      rule: 'no-plaintext-secret',
      severity: 'error',
      path: ['instances', 0, 'auth', 'password'],
      message: /secretRef/,
    });
    assert.doesNotMatch(JSON.stringify(d), /hunter22/);
  });
  it('passes with a secretRef', () => {
    const r = repo((c) => {
      inst(c).version = 2;
      inst(c).auth = { type: 'PASS', secretRef: { env: 'VRRP_PASS' } };
    });
    assert.deepEqual(only('no-plaintext-secret', r), []);
  });
});

describe('v2-whole-second-interval', () => {
  const interval = (version: 2 | 3, advertInterval: string) =>
    repo((c) => {
      inst(c).version = version;
      inst(c).advertInterval = advertInterval;
    });
  it('fails for a fractional VRRPv2 interval', () => {
    const r = interval(2, '1500ms');
    expectOnly(r, only('v2-whole-second-interval', r), {
      rule: 'v2-whole-second-interval',
      severity: 'error',
      path: ['instances', 0, 'advertInterval'],
      message: /VRRPv2 advertises whole seconds, so 1\.5s would be rounded/,
    });
  });
  it('fails for VRRPv2 beyond 255s and VRRPv3 off the 10ms grid or beyond 40.95s', () => {
    assert.equal(only('v2-whole-second-interval', interval(2, '256s')).length, 1);
    assert.equal(only('v2-whole-second-interval', interval(3, '15ms')).length, 1);
    assert.equal(only('v2-whole-second-interval', interval(3, '41s')).length, 1);
  });
  it('passes for whole seconds on v2 and centiseconds on v3', () => {
    assert.deepEqual(only('v2-whole-second-interval', interval(2, '3s')), []);
    assert.deepEqual(only('v2-whole-second-interval', interval(3, '40950ms')), []);
    assert.deepEqual(only('v2-whole-second-interval', interval(3, '20ms')), []);
  });
  it('points at the defaults when the interval comes from there, naming the instance', () => {
    const r = repo((c) => {
      c.defaults = { vrrp: { version: 2, advertInterval: '500ms' } };
      c.instances?.splice(1, 1);
    });
    expectOnly(r, only('v2-whole-second-interval', r), {
      rule: 'v2-whole-second-interval',
      severity: 'error',
      path: ['defaults', 'vrrp', 'advertInterval'],
      message: /\(instance www-http\)$/,
    });
  });
});

describe('check-timeout-within-interval', () => {
  it('fails when connectTimeout is longer than delayLoop', () => {
    const r = repo((c) => {
      const check = vs0(c).realServers?.[0]?.checks?.[0];
      assert.ok(check);
      check.connectTimeout = '11s';
    });
    expectOnly(r, only('check-timeout-within-interval', r), {
      rule: 'check-timeout-within-interval',
      severity: 'error',
      path: ['virtualServers', 0, 'realServers', 0, 'checks', 0],
      message: /connectTimeout 11s is longer than delayLoop 10s/,
    });
  });
  it('uses inherited values: defaults.check.delayLoop 2s against the default 5s timeout', () => {
    const r = repo((c) => {
      c.defaults = { ...c.defaults, check: { delayLoop: '2s' } };
      vs0(c).realServers = [{ address: '198.51.100.11', checks: [{ type: 'tcp' }] }];
    });
    assert.match(
      only('check-timeout-within-interval', r)[0]?.message ?? '',
      /connectTimeout 5s .* delayLoop 2s/,
    );
  });
  it('uses the misc timeout for misc checks', () => {
    const r = repo((c) => {
      vs0(c).realServers = [
        {
          address: '198.51.100.11',
          checks: [{ type: 'misc', script: '/bin/true', timeout: '30s', delayLoop: '10s' }],
        },
      ];
    });
    assert.match(only('check-timeout-within-interval', r)[0]?.message ?? '', /^timeout 30s/);
  });
  it('ignores connectTimeout on misc checks without a timeout (delayLoop bounds them) and on file checks', () => {
    const r = repo((c) => {
      c.trackFiles = [{ name: 'w', file: '/run/w' }];
      vs0(c).realServers = [
        {
          address: '198.51.100.11',
          checks: [
            { type: 'misc', script: '/bin/true', delayLoop: '1s' },
            { type: 'file', file: 'w', delayLoop: '1s' },
          ],
        },
      ];
    });
    assert.deepEqual(only('check-timeout-within-interval', r), []);
  });
  it("passes when connectTimeout equals delayLoop, as in keepalived's sample", () => {
    const r = repo((c) => {
      const check = vs0(c).realServers?.[0]?.checks?.[0];
      assert.ok(check);
      check.connectTimeout = '10s';
    });
    assert.deepEqual(only('check-timeout-within-interval', r), []);
  });
  it('passes for the base fleet', () => {
    assert.deepEqual(only('check-timeout-within-interval', repo()), []);
  });
});

describe('real-server-unique', () => {
  it('fails for the same address and (defaulted) port twice', () => {
    const r = repo((c) => {
      vs0(c).realServers?.push({ address: '198.51.100.11', port: 80 });
    });
    expectOnly(r, only('real-server-unique', r), {
      rule: 'real-server-unique',
      severity: 'error',
      path: ['virtualServers', 0, 'realServers', 2],
      message: /198\.51\.100\.11:80 is already listed .*entry 1/,
    });
  });
  it('passes for the same address on another port', () => {
    const r = repo((c) => {
      vs0(c).realServers?.push({ address: '198.51.100.11', port: 8080 });
    });
    assert.deepEqual(only('real-server-unique', r), []);
  });
});

describe('vs-address-covered', () => {
  it('warns when no instance on a running node carries the address', () => {
    const r = repo((c) => {
      vs0(c).address = '203.0.113.99';
    });
    expectOnly(r, only('vs-address-covered', r), {
      rule: 'vs-address-covered',
      severity: 'warn',
      path: ['virtualServers', 0, 'address'],
      message: /203\.0\.113\.99 is not a VIP of any instance on lb1, lb2/,
    });
  });
  it('names only the nodes that lack it', () => {
    const r = repo((c) => {
      inst(c).nodes = ['lb1'];
      inst(c).priority = 100;
    });
    assert.match(only('vs-address-covered', r)[0]?.message ?? '', /on lb2:/);
  });
  it('accepts an address the node has of its own', () => {
    const r = repo((c) => {
      vs0(c).address = '192.0.2.11';
      vs0(c).nodes = ['lb1'];
    });
    assert.deepEqual(only('vs-address-covered', r), []);
  });
  it('checks the addresses of a virtual server group', () => {
    const r = repo((c) => {
      c.virtualServerGroups = [
        { name: 'web', members: [{ address: '203.0.113.10' }, { address: '203.0.113.98', port: 80 }] },
      ];
      vs0(c).address = undefined;
      vs0(c).group = 'web';
    });
    expectOnly(r, only('vs-address-covered', r), {
      rule: 'vs-address-covered',
      severity: 'warn',
      path: ['virtualServerGroups', 0, 'members', 1, 'address'],
      message: /group member address 203\.0\.113\.98/,
    });
  });
  it('passes when the service runs only where the VIP is', () => {
    const r = repo((c) => {
      inst(c).nodes = ['lb1'];
      inst(c).priority = 100;
      vs0(c).nodes = ['lb1'];
    });
    assert.deepEqual(only('vs-address-covered', r), []);
  });
});

describe('auth-pass-v2-only', () => {
  it('fails for auth on a VRRPv3 instance', () => {
    const r = repo((c) => {
      inst(c).auth = { type: 'PASS', secretRef: { env: 'VRRP_PASS' } };
    });
    expectOnly(r, only('auth-pass-v2-only', r), {
      rule: 'auth-pass-v2-only',
      severity: 'error',
      path: ['instances', 0, 'auth'],
      message: /RFC 5798/,
    });
  });
  it('passes on VRRPv2', () => {
    const r = repo((c) => {
      inst(c).version = 2;
      inst(c).auth = { type: 'PASS', secretRef: { env: 'VRRP_PASS' } };
    });
    assert.deepEqual(only('auth-pass-v2-only', r), []);
  });
});

describe('preempt-delay-needs-preempt', () => {
  it('warns for preemptDelay without preempt', () => {
    const r = repo((c) => {
      inst(c).preempt = false;
      inst(c).preemptDelay = '30s';
    });
    expectOnly(r, only('preempt-delay-needs-preempt', r), {
      rule: 'preempt-delay-needs-preempt',
      severity: 'warn',
      path: ['instances', 0, 'preemptDelay'],
      message: /no effect on lb1, lb2/,
    });
  });
  it('names a node whose override turns preempt off', () => {
    const r = repo((c, n) => {
      inst(c).preemptDelay = '30s';
      (n[1] as NodeDoc).instances = { 'www-http': { preempt: false } };
    });
    assert.match(only('preempt-delay-needs-preempt', r)[0]?.message ?? '', /no effect on lb2,/);
  });
  it('passes with preempt', () => {
    const r = repo((c) => {
      inst(c).preemptDelay = '30s';
    });
    assert.deepEqual(only('preempt-delay-needs-preempt', r), []);
  });
});

describe('nopreempt-initial-backup', () => {
  it('warns for preempt: false on a node that starts as MASTER', () => {
    const r = repo((c) => {
      inst(c).preempt = false;
      inst(c).state = { lb1: 'MASTER', lb2: 'BACKUP' };
    });
    expectOnly(r, only('nopreempt-initial-backup', r), {
      rule: 'nopreempt-initial-backup',
      severity: 'warn',
      path: ['instances', 0, 'state', 'lb1'],
      message: /^lb1 starts as MASTER.*use state BACKUP$/,
    });
  });
  it('passes when every node starts as BACKUP', () => {
    const r = repo((c) => {
      inst(c).preempt = false;
      inst(c).state = 'BACKUP';
    });
    assert.deepEqual(only('nopreempt-initial-backup', r), []);
  });
});

describe('sync-group-track-weight', () => {
  const grouped = (ref: string | { name: string; weight?: number }) =>
    repo((c) => {
      c.scripts = [{ name: 'chk', script: '/usr/local/bin/chk', weight: 10 }];
      c.syncGroups = [{ name: 'www', instances: ['www-http', 'www-v6'] }];
      inst(c).track = { scripts: [ref] };
    });
  it('warns for a weighted tracker (weight from the script) in a sync group member', () => {
    const r = grouped('chk');
    expectOnly(r, only('sync-group-track-weight', r), {
      rule: 'sync-group-track-weight',
      severity: 'warn',
      path: ['instances', 0, 'track', 'scripts', 0],
      message: /www-http is in sync group www, .*script chk \(weight 10\)/,
    });
  });
  it('passes with weight 0 on the reference', () => {
    assert.deepEqual(only('sync-group-track-weight', grouped({ name: 'chk', weight: 0 })), []);
  });
});

describe('strict-mode-conflicts', () => {
  it('warns for each setting strict mode drops', () => {
    const r = repo((c) => {
      c.defaults = { ...c.defaults, vrrp: { ...c.defaults?.vrrp, version: 2, strict: true } };
      const i = inst(c);
      i.auth = { type: 'PASS', secretRef: { env: 'VRRP_PASS' } };
      i.unicast = {};
      i.preemptDelay = '10s';
      i.state = 'MASTER';
      c.instances?.splice(1, 1);
    });
    const found = only('strict-mode-conflicts', r);
    assert.deepEqual([...new Set(found.map((d) => d.path?.split('.').pop()))].sort(), [
      'auth',
      'preemptDelay',
      'state',
      'unicast',
    ]);
    assert.ok(found.every((d) => d.severity === 'warn'));
    assert.match(found.find((d) => d.path?.endsWith('state'))?.message ?? '', /only with priority 255/);
  });
  it('passes when strict is off', () => {
    const r = repo((c) => {
      inst(c).auth = { type: 'PASS', secretRef: { env: 'VRRP_PASS' } };
    });
    assert.deepEqual(only('strict-mode-conflicts', r), []);
  });
});

describe('overrides in policies/*.yaml', () => {
  const broken = (c: ClusterDoc) => {
    vs0(c).address = '203.0.113.99';
  };
  it('disables a rule', () => {
    const r = repo(broken, [policy({ builtin: { 'vs-address-covered': { enabled: false } } })]);
    assert.deepEqual(runPolicies(r), []);
  });
  it('changes a severity', () => {
    const r = repo(broken, [policy({ builtin: { 'vs-address-covered': { severity: 'error' } } })]);
    assert.deepEqual(
      runPolicies(r).map((d) => [d.rule, d.severity]),
      [['vs-address-covered', 'error']],
    );
  });
  it('lets a later policy file win', () => {
    const r = repo(broken, [
      policy({ builtin: { 'vs-address-covered': { severity: 'error' } } }, 'a'),
      policy({ builtin: { 'vs-address-covered': { severity: 'warn' } } }, 'b'),
    ]);
    assert.equal(runPolicies(r)[0]?.severity, 'warn');
  });
  it('reports an unknown rule id on the override itself', () => {
    const r = repo(undefined, [policy({ builtin: { 'vrid-uniq': { enabled: false } } })]);
    expectOnly(r, runPolicies(r), {
      rule: POLICY_CONFIG,
      severity: 'error',
      file: 'policies/site.yaml',
      path: ['builtin', 'vrid-uniq'],
      message: /no built-in rule is called "vrid-uniq": use one of .*vrid-unique/,
    });
  });
  it('sets params, and reports unknown or mistyped ones', () => {
    const v2 = (c: ClusterDoc) => {
      inst(c).version = 2;
      inst(c).advertInterval = '5s';
    };
    assert.deepEqual(runPolicies(repo(v2)), []);
    const tuned = repo(v2, [
      policy({ builtin: { 'v2-whole-second-interval': { params: { v2MaxMs: 3000 } } } }),
    ]);
    assert.match(runPolicies(tuned)[0]?.message ?? '', /VRRPv2 advertInterval must be 1s\.\.3s, got 5s/);
    const bad = repo(undefined, [
      policy({ builtin: { 'v2-whole-second-interval': { params: { v2MaxMS: 3000, v3StepMs: '10ms' } } } }),
    ]);
    const ds = runPolicies(bad);
    assert.deepEqual(
      ds.map((d) => [d.rule, d.severity, d.path]),
      [
        [
          POLICY_CONFIG,
          'error',
          displayPath(docOf(bad, 'policies/site.yaml'), [
            'builtin',
            'v2-whole-second-interval',
            'params',
            'v2MaxMS',
          ]),
        ],
        [
          POLICY_CONFIG,
          'error',
          displayPath(docOf(bad, 'policies/site.yaml'), [
            'builtin',
            'v2-whole-second-interval',
            'params',
            'v3StepMs',
          ]),
        ],
      ],
    );
    assert.match(ds[0]?.message ?? '', /has no param "v2MaxMS": use one of v2MinMs, v2MaxMs/);
    assert.match(ds[1]?.message ?? '', /expects a number, got string/);
    const none = repo(undefined, [policy({ builtin: { 'vrid-unique': { params: { x: 1 } } } })]);
    assert.match(runPolicies(none)[0]?.message ?? '', /takes no params/);
  });
  it('refuses a declarative rule that reuses a built-in id', () => {
    const r = repo(undefined, [
      policy({
        rules: [
          { id: 'vrid-unique', severity: 'warn', message: 'm', for: 'nodes', require: { field: 'routerId' } },
        ],
      }),
    ]);
    expectOnly(r, runPolicies(r), {
      rule: POLICY_CONFIG,
      severity: 'error',
      file: 'policies/site.yaml',
      path: ['rules', 0, 'id'],
    });
  });
});

describe('a rule that throws', () => {
  it('becomes an error diagnostic without a stack, and the other rules still run', () => {
    const boom: Rule = {
      id: 'boom',
      severity: 'warn',
      description: 'always fails',
      check() {
        throw new TypeError('cannot read x of undefined');
      },
    };
    const r = repo((c) => {
      inst(c).priority = 100;
    });
    const ds = runPolicies(r, [boom, byId('priority-distinct')]);
    assert.deepEqual(
      ds.map((d) => [d.rule, d.severity]),
      [
        ['boom', 'error'],
        ['priority-distinct', 'error'],
      ],
    );
    assert.equal(ds[0]?.message, 'policy boom failed: cannot read x of undefined');
    assert.equal(ds[0]?.file, 'keepgit.yaml');
  });
});

describe('declarative rules', () => {
  type Spec = Omit<PolicyRule, 'id' | 'severity' | 'message'>;
  const declared = (spec: Spec, mutate?: Mutate): { r: Repository; ds: Diagnostic[] } => {
    const r = repo(mutate, [
      policy({ rules: [{ id: 'house', severity: 'warn', message: 'house rule', ...spec }] }),
    ]);
    return { r, ds: runPolicies(r, []) };
  };
  const passes = (spec: Spec, mutate?: Mutate) => assert.deepEqual(declared(spec, mutate).ds, []);
  const fails = (spec: Spec, path: PathSeg[], message: RegExp, mutate?: Mutate, file = 'keepgit.yaml') => {
    const { r, ds } = declared(spec, mutate);
    return expectOnly(r, ds, { rule: 'house', severity: 'warn', file, path, message });
  };

  it('present', () => {
    passes({ for: 'virtualServers', require: { field: 'name', present: true } });
    fails(
      { for: 'nodes', require: { field: 'routerId' } },
      ['routerId'],
      /house rule: routerId is not set/,
      (_c, n) => {
        (n[0] as NodeDoc).routerId = 'LVS_1';
      },
      'nodes/lb2.yaml',
    );
    fails(
      { for: 'instances', where: { name: 'www-http' }, require: { field: 'auth.password', present: false } },
      ['instances', 0, 'auth', 'password'],
      /auth\.password is set; remove it$/,
      (c) => {
        inst(c).auth = { type: 'PASS', password: 'hunter22' };
      },
    );
  });
  it('equals, with defaults filled in and durations compared by value', () => {
    passes({ for: 'instances', require: { field: 'version', equals: 3 } });
    passes({ for: 'instances', require: { field: 'advertInterval', equals: '1000ms' } });
    const d = fails(
      { for: 'instances', where: { name: 'www-v6' }, require: { field: 'version', equals: 2 } },
      ['defaults', 'vrrp', 'version'],
      /version is 3, expected 2 \(instance www-v6\)$/,
    );
    assert.equal(d.file, 'keepgit.yaml');
  });
  it('oneOf and notOneOf', () => {
    passes({ for: 'virtualServers', require: { field: 'port', oneOf: [80, 443] } });
    fails(
      { for: 'virtualServers', require: { field: 'port', oneOf: [443] } },
      ['virtualServers', 0, 'port'],
      /port is 80, expected one of 443/,
    );
    passes({ for: 'virtualServers', require: { field: 'scheduler', notOneOf: ['rr'] } });
    fails(
      { for: 'virtualServers', require: { field: 'scheduler', notOneOf: ['rr', 'sh'] } },
      ['virtualServers', 0, 'scheduler'],
      /scheduler is "rr", which is not allowed/,
      (c) => {
        vs0(c).scheduler = 'rr';
      },
    );
  });
  it('min and max, entry by entry for a per-node map', () => {
    passes({ for: 'instances', require: { field: 'priority', min: 50, max: 200 } });
    fails(
      { for: 'instances', where: { name: 'www-http' }, require: { field: 'priority', min: 105 } },
      ['instances', 0, 'priority', 'lb2'],
      /priority\.lb2 is 100, below the minimum 105/,
    );
    fails(
      { for: 'instances', where: { name: 'www-http' }, require: { field: 'priority', max: 105 } },
      ['instances', 0, 'priority', 'lb1'],
      /above the maximum 105/,
    );
  });
  it('matches, and an invalid pattern is an error on the rule', () => {
    passes({ for: 'instances', require: { field: 'name', matches: '^www-' } });
    fails(
      { for: 'instances', where: { name: 'www-v6' }, require: { field: 'name', matches: '^www-http' } },
      ['instances', 1, 'name'],
      /does not match \/\^www-http\//,
    );
    const { r, ds } = declared({ for: 'instances', require: { field: 'name', matches: '(' } });
    expectOnly(r, ds, {
      rule: POLICY_CONFIG,
      severity: 'error',
      file: 'policies/site.yaml',
      path: ['rules', 0, 'require', 'matches'],
      message: /not a valid regular expression/,
    });
  });
  it('minDuration and maxDuration, with timings inherited by checks', () => {
    passes({ for: 'checks', require: { field: 'delayLoop', minDuration: '5s', maxDuration: '1m' } });
    fails(
      { for: 'checks', where: { type: 'tcp' }, require: { field: 'delayLoop', maxDuration: '5s' } },
      ['virtualServers', 0, 'realServers', 0, 'checks', 0, 'delayLoop'],
      /delayLoop is "10s", longer than 5s/,
    );
    fails(
      { for: 'checks', require: { field: 'connectTimeout', minDuration: '5s' } },
      ['virtualServers', 0, 'connectTimeout'],
      /connectTimeout is "2s", shorter than 5s \(tcp check of real server 198\.51\.100\.11\)$/,
      (c) => {
        vs0(c).connectTimeout = '2s';
        vs0(c).realServers = [{ address: '198.51.100.11', checks: [{ type: 'tcp' }] }];
      },
    );
  });
  it('within, for string and object VIPs, and an invalid CIDR is an error on the rule', () => {
    passes({
      for: 'vips',
      where: { address: '203.0.113.10/32' },
      require: { field: 'address', within: '203.0.113.0/24' },
    });
    fails(
      { for: 'vips', require: { field: 'address', within: '203.0.113.0/24' } },
      ['instances', 1, 'vips', 0],
      /address is "2001:db8::10\/128", outside 203\.0\.113\.0\/24/,
    );
    fails(
      { for: 'vips', require: { field: 'address', within: '2001:db8::/32' } },
      ['instances', 0, 'vips', 0, 'address'],
      /outside 2001:db8::\/32/,
      (c) => {
        inst(c).vips = [{ address: '203.0.113.10/32', label: 'eth0:www' }];
      },
    );
    passes({ for: 'realServers', require: { field: 'address', within: '198.51.100.0/24' } });
    const { r, ds } = declared({ for: 'vips', require: { field: 'address', within: '203.0.113.0/33' } });
    expectOnly(r, ds, {
      rule: POLICY_CONFIG,
      severity: 'error',
      file: 'policies/site.yaml',
      path: ['rules', 0, 'require', 'within'],
    });
  });
  describe('settings a node document overrides', () => {
    const lb2 = (n: NodeDoc[], over: NonNullable<NodeDoc['instances']>[string]) => {
      (n[1] as NodeDoc).instances = { 'www-http': over };
    };
    it('catches a max bypassed through an override, at the override', () => {
      fails(
        { for: 'instances', require: { field: 'priority', max: 200 } },
        ['instances', 'www-http', 'priority'],
        /^house rule: priority is 250, above the maximum 200$/,
        (_c, n) => lb2(n, { priority: 250 }),
        'nodes/lb2.yaml',
      );
    });
    it('does not report the map entry an override replaces when the override passes', () => {
      passes({ for: 'instances', require: { field: 'priority', max: 200 } }, (c, n) => {
        inst(c).priority = { lb1: 110, lb2: 250 };
        lb2(n, { priority: 150 });
      });
      // lb1 keeps its entry, which still counts.
      fails(
        { for: 'instances', require: { field: 'priority', max: 105 } },
        ['instances', 0, 'priority', 'lb1'],
        /priority\.lb1 is 110, above the maximum 105$/,
        (c, n) => {
          inst(c).priority = { lb1: 110, lb2: 250 };
          lb2(n, { priority: 100 });
          inst(c, 1).priority = { lb1: 100, lb2: 105 };
        },
      );
    });
    it('reports a single value once, and not at all when every node overrides it', () => {
      const rule: Spec = {
        for: 'instances',
        where: { name: 'www-http' },
        require: { field: 'priority', max: 200 },
      };
      fails(rule, ['instances', 0, 'priority'], /priority is 250, above the maximum 200$/, (c, n) => {
        inst(c).priority = 250;
        lb2(n, { priority: 100 });
      });
      passes(rule, (c, n) => {
        inst(c).priority = 250;
        lb2(n, { priority: 100 });
        (n[0] as NodeDoc).instances = { 'www-http': { priority: 110 } };
      });
    });
    it('present and oneOf on interface', () => {
      fails(
        { for: 'instances', require: { field: 'interface', oneOf: ['eth0', 'eth1'] } },
        ['instances', 'www-http', 'interface'],
        /^house rule: interface is "bond0", expected one of "eth0", "eth1"$/,
        (_c, n) => lb2(n, { interface: 'bond0' }),
        'nodes/lb2.yaml',
      );
      passes({ for: 'instances', require: { field: 'interface', oneOf: ['eth0', 'eth1'] } }, (c, n) => {
        inst(c).interface = { lb1: 'eth0', lb2: 'bond0' };
        lb2(n, { interface: 'eth1' });
      });
      const present: Spec = {
        for: 'instances',
        where: { name: 'www-http' },
        require: { field: 'interface' },
      };
      passes(present, (c, n) => {
        inst(c).interface = undefined;
        lb2(n, { interface: 'eth1' });
        (n[0] as NodeDoc).instances = { 'www-http': { interface: 'eth0' } };
      });
      fails(present, ['instances', 0, 'interface'], /^house rule: interface is not set$/, (c, n) => {
        inst(c).interface = undefined;
        lb2(n, { interface: 'eth1' });
      });
    });
    it('preempt: an override wins over defaults.vrrp, which still applies elsewhere', () => {
      fails(
        { for: 'instances', require: { field: 'preempt', equals: true } },
        ['instances', 'www-http', 'preempt'],
        /^house rule: preempt is false, expected true$/,
        (c, n) => {
          c.defaults = { vrrp: { ...c.defaults?.vrrp, preempt: true } };
          lb2(n, { preempt: false });
        },
        'nodes/lb2.yaml',
      );
    });
    it('where selects the nodes whose value matches, and the rule looks at those only', () => {
      const masters: Spec = {
        for: 'instances',
        where: { state: 'MASTER' },
        require: { field: 'priority', min: 150 },
      };
      passes(masters, (c) => {
        inst(c).state = 'BACKUP';
      });
      fails(
        masters,
        ['instances', 0, 'priority', 'lb1'],
        /priority\.lb1 is 110, below the minimum 150$/,
        (c, n) => {
          inst(c).state = 'BACKUP';
          (n[0] as NodeDoc).instances = { 'www-http': { state: 'MASTER' } };
        },
      );
      // A per-node map matches on the node whose entry is 110; an override can take it away.
      fails(
        { for: 'instances', where: { priority: 110 }, require: { field: 'name', equals: 'www-v6' } },
        ['instances', 0, 'name'],
        /name is "www-http", expected "www-v6"$/,
      );
      passes(
        { for: 'instances', where: { priority: 110 }, require: { field: 'name', equals: 'www-v6' } },
        (_c, n) => {
          (n[0] as NodeDoc).instances = { 'www-http': { priority: 120 } };
        },
      );
    });
  });
  it('where with null selects items without the field; real servers inherit the port', () => {
    fails(
      { for: 'realServers', where: { weight: null }, require: { field: 'port', equals: 8080 } },
      ['virtualServers', 0, 'port'],
      /port is 80, expected 8080 \(real server 198\.51\.100\.11\)$/,
      (c) => {
        const second = vs0(c).realServers?.[1];
        assert.ok(second);
        second.weight = 3;
      },
    );
  });
});

describe('positions from YAML', () => {
  function located(files: Record<string, string>): Repository {
    const load = <T>(file: string, parse: (v: unknown) => T): Located<T> => {
      const text = files[file];
      assert.ok(text !== undefined);
      const { doc, diagnostics } = parseYamlDocument(text, file);
      assert.ok(doc, JSON.stringify(diagnostics));
      return { file, doc: parse(doc.value), locate: (p) => doc.locate(p) };
    };
    const names = Object.keys(files);
    return {
      cluster: load('keepgit.yaml', (v) => clusterDoc.parse(v)),
      nodes: names.filter((f) => f.startsWith('nodes/')).map((f) => load(f, (v) => nodeDoc.parse(v))),
      policies: names.filter((f) => f.startsWith('policies/')).map((f) => load(f, (v) => policyDoc.parse(v))),
    };
  }
  const nodeYaml = (name: string, address: string) =>
    `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${name} }\ninterfaces:\n  eth0:\n    addresses: [${address}/24]\n`;
  const r = located({
    'keepgit.yaml': [
      'apiVersion: keepgit/v1',
      'kind: Cluster',
      'metadata: { name: www-ha }',
      'instances:',
      '  - name: www-http',
      '    vrid: 100',
      '    interface: eth0',
      '    priority: { lb1: 110, lb2: 100 }',
      '    vips: [203.0.113.10/32]',
      '  - name: www-https',
      '    vrid: 100',
      '    interface: eth0',
      '    priority: { lb1: 110, lb2: 100 }',
      '    vips: [203.0.113.11/32]',
      '',
    ].join('\n'),
    'nodes/lb1.yaml': nodeYaml('lb1', '192.0.2.11'),
    'nodes/lb2.yaml': nodeYaml('lb2', '192.0.2.12'),
    'policies/site.yaml': [
      'apiVersion: keepgit/v1',
      'kind: Policy',
      'builtin:',
      '  vrid-unique: { severity: error }',
      '  no-such-rule: { enabled: false }',
      '',
    ].join('\n'),
  });
  it('puts every built-in rule on the line it is about', () => {
    const broken = located({
      'keepgit.yaml': [
        'apiVersion: keepgit/v1', // 1
        'kind: Cluster',
        'metadata: { name: broken }',
        'defaults:',
        '  vrrp: { version: 2, strict: true }', // 5
        'scripts:',
        '  - { name: chk, script: /usr/local/bin/chk, weight: 5 }',
        'instances:',
        '  - name: a',
        '    vrid: 1', // 10
        '    interface: eth0',
        '    priority: 100',
        '    advertInterval: 1500ms',
        '    vips: [192.0.2.12/32]',
        '    auth: { type: PASS, password: hunter22 }', // 15
        '    preempt: false',
        '    preemptDelay: 5s',
        '    state: MASTER',
        '    track: { scripts: [chk] }',
        '  - name: b', // 20
        '    vrid: 1',
        '    version: 3',
        '    interface: eth0',
        '    priority: { lb1: 255, lb2: 1 }',
        '    vips: [203.0.113.5]', // 25
        '    auth:',
        '      type: PASS',
        '      secretRef: { env: VRRP_PASS }',
        'syncGroups: [{ name: g, instances: [a, b] }]',
        'virtualServers:', // 30
        '  - address: 203.0.113.77',
        '    port: 443',
        '    realServers:',
        '      - address: 198.51.100.1',
        '        checks: [{ type: tcp, delayLoop: 2s }]', // 35
        '      - { address: 198.51.100.1, port: 443 }',
        '',
      ].join('\n'),
      'nodes/lb1.yaml': nodeYaml('lb1', '192.0.2.11'),
      'nodes/lb2.yaml': nodeYaml('lb2', '192.0.2.12'),
    });
    const lines = Object.fromEntries(runPolicies(broken).map((d) => [d.rule, d.line]));
    assert.deepEqual(lines, {
      'v2-whole-second-interval': 13,
      'vrid-unique': 21,
      'vip-not-node-address': 14,
      'priority-distinct': 12,
      'priority-255-owner': 24,
      'no-plaintext-secret': 15,
      'check-timeout-within-interval': 35,
      'real-server-unique': 36,
      'vs-address-covered': 31,
      'auth-pass-v2-only': 27,
      'preempt-delay-needs-preempt': 17,
      'nopreempt-initial-backup': 18,
      'sync-group-track-weight': 19,
      'strict-mode-conflicts': 27,
    });
    assert.deepEqual(Object.keys(lines).sort(), builtinRules.map((r) => r.id).sort());
    assert.doesNotMatch(JSON.stringify(runPolicies(broken)), /hunter22/);
  });
  it('puts a declarative finding on a node override on its line in the node file', () => {
    const bypass = located({
      'keepgit.yaml': [
        'apiVersion: keepgit/v1',
        'kind: Cluster',
        'metadata: { name: www-ha }',
        'instances:',
        '  - name: www',
        '    vrid: 100',
        '    interface: eth0',
        '    priority: { lb1: 110, lb2: 100 }',
        '    vips: [203.0.113.10/32]',
        '',
      ].join('\n'),
      'nodes/lb1.yaml': nodeYaml('lb1', '192.0.2.11'),
      'nodes/lb2.yaml': `${nodeYaml('lb2', '192.0.2.12')}instances:\n  www:\n    priority: 250\n`,
      'policies/site.yaml': [
        'apiVersion: keepgit/v1',
        'kind: Policy',
        'rules:',
        '  - id: priorities',
        '    severity: error',
        '    message: priorities stay within 1..200',
        '    for: instances',
        '    require: { field: priority, max: 200 }',
        '',
      ].join('\n'),
    });
    const ds = runPolicies(bypass, []);
    assert.deepEqual(
      ds.map((d) => [d.file, d.line, d.path, d.rule, d.message]),
      [
        [
          'nodes/lb2.yaml',
          9,
          'instances.www.priority',
          'priorities',
          'priorities stay within 1..200: priority is 250, above the maximum 200',
        ],
      ],
    );
  });
  it('puts a rule finding on the line of the offending field', () => {
    const ds = runPolicies(r);
    const vrid = ds.find((d) => d.rule === 'vrid-unique');
    assert.equal(vrid?.line, 11);
    assert.equal(vrid?.col, 11);
    assert.equal(vrid?.path, displayPath(r.cluster.doc, ['instances', 1, 'vrid']));
  });
  it('puts an unknown override on its own line', () => {
    const d = runPolicies(r).find((x) => x.rule === POLICY_CONFIG);
    assert.equal(d?.file, 'policies/site.yaml');
    assert.equal(d?.line, 5);
  });
  it('sorts by file, then position', () => {
    const ds = runPolicies(r);
    assert.deepEqual(
      ds.map((d) => `${d.file}:${d.line}`),
      ['keepgit.yaml:11', 'policies/site.yaml:5'],
    );
  });
});
