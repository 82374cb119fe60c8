import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadRepository } from '../../src/config/load-repository.ts';
import { type Diagnostic, formatDiagnostic } from '../../src/model/diagnostic.ts';
import { readRepositoryDir } from '../../src/source/read-repository-dir.ts';

// Repositories are built in memory from YAML text; positions are asserted against the text
// itself (pos()) so that a test says where a person would look.

const HEADER = 'apiVersion: keepgit/v1\nkind: Cluster\nmetadata: { name: www-ha }\n';

const PARTS = {
  defaults: 'defaults:\n  vrrp: { version: 3, advertInterval: 1s, preempt: true }\n',
  scripts: 'scripts:\n  - { name: chk_haproxy, script: /usr/bin/pgrep haproxy, interval: 2s, weight: -20 }\n',
  trackProcesses: 'trackProcesses:\n  - { name: haproxy, process: haproxy, quorum: 1 }\n',
  trackFiles: 'trackFiles:\n  - { name: maint, file: /etc/keepgit/maint, weight: -50 }\n',
  instances: [
    'instances:',
    '  - name: www-http',
    '    vrid: 100',
    '    interface: eth0',
    '    priority: { lb1: 110, lb2: 100 }',
    '    vips: [203.0.113.10/32]',
    '    auth: { type: PASS, secretRef: { env: VRRP_PASS } }',
    '    track:',
    '      interfaces: [eth1]',
    '      scripts: [chk_haproxy]',
    '      processes: [haproxy]',
    '      files: [{ name: maint, weight: -10 }]',
    '    notify: { master: /etc/keepgit/to-master.sh }',
    '  - name: www-https',
    '    vrid: 101',
    '    interface: eth0',
    '    priority: { lb1: 100, lb2: 110 }',
    '    vips: [203.0.113.11/32]',
    '  - name: www-v6',
    '    vrid: 102',
    '    interface: eth0',
    '    nodes: [lb1, lb2]',
    '    priority: 100',
    '    vips: [2001:db8::10/64]',
    '',
  ].join('\n'),
  syncGroups: 'syncGroups: [{ name: www, instances: [www-http, www-https] }]\n',
  virtualServerGroups:
    'virtualServerGroups:\n  - { name: web, members: [{ address: 203.0.113.12, port: 80 }, { fwmark: 7 }] }\n',
  virtualServers: [
    'virtualServers:',
    '  - name: www-80',
    '    address: 203.0.113.10',
    '    port: 80',
    '    protocol: TCP',
    '    scheduler: wrr',
    '    forwarding: nat',
    '    persistence: 3h',
    '    realServers:',
    '      - address: 198.51.100.11',
    '        port: 80',
    '        weight: 2',
    '        checks:',
    '          - { type: http, urls: [{ path: /health, statusCode: 200 }] }',
    '          - { type: file, file: maint }',
    '      - { address: 198.51.100.12, port: 80 }',
    '  - { name: mark-7, fwmark: 7, realServers: [{ address: 198.51.100.11 }] }',
    '  - { name: web-group, group: web, port: 80 }',
    '',
  ].join('\n'),
};

type Parts = { [K in keyof typeof PARTS]?: string };

const cluster = (parts: Parts = {}): string =>
  HEADER + (Object.keys(PARTS) as (keyof typeof PARTS)[]).map((k) => parts[k] ?? PARTS[k]).join('');

const node = (name: string, body = ''): string =>
  `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${name} }\n${body}`;

const LB1 = node('lb1', 'routerId: LVS_MAIN\ninterfaces: { eth0: { unicastSource: 192.0.2.11 } }\n');
const LB2 = node(
  'lb2',
  'interfaces: { eth0: { unicastSource: 192.0.2.12 } }\ninstances: { www-v6: { priority: 90 } }\n',
);
const POLICY = [
  'apiVersion: keepgit/v1',
  'kind: Policy',
  'metadata: { name: house }',
  'builtin: { vrid-unique: { severity: warn } }',
  'rules:',
  '  - id: vip-in-range',
  '    severity: error',
  '    message: VIPs come from 203.0.113.0/24',
  '    for: vips',
  '    require: { field: address, within: 203.0.113.0/24 }',
  '',
].join('\n');

/** The valid two-node repository, with some files replaced (undefined removes one). */
function repo(files: Record<string, string | undefined> = {}): Map<string, string> {
  const all: Record<string, string | undefined> = {
    'keepgit.yaml': cluster(),
    'nodes/lb1.yaml': LB1,
    'nodes/lb2.yaml': LB2,
    'policies/house.yaml': POLICY,
    ...files,
  };
  return new Map(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

const errorsOf = (files: Map<string, string>): Diagnostic[] =>
  loadRepository(files).diagnostics.filter((d) => d.severity === 'error');

const show = (ds: readonly Diagnostic[]) => ds.map(formatDiagnostic).join('\n');

/** Line and column (1-based) where the n-th occurrence of `needle` starts in `text`. */
function pos(text: string, needle: string, nth = 1): { line: number; col: number } {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(needle, at + 1);
    assert.ok(at >= 0, `"${needle}" (#${nth}) not in the text`);
  }
  const before = text.slice(0, at).split('\n');
  return { line: before.length, col: (before[before.length - 1] as string).length + 1 };
}

interface Expect {
  file?: string;
  path?: string;
  message: RegExp;
  at?: { line: number; col: number };
}

/** Exactly one error, and it is this one. */
function expectOne(files: Map<string, string>, e: Expect): Diagnostic {
  const errors = errorsOf(files);
  assert.equal(errors.length, 1, `expected one error, got:\n${show(errors)}`);
  const d = errors[0] as Diagnostic;
  assert.match(d.message, e.message, show(errors));
  assert.equal(d.file, e.file ?? 'keepgit.yaml');
  if (e.path !== undefined) assert.equal(d.path, e.path, show(errors));
  if (e.at) assert.deepEqual({ line: d.line, col: d.col }, e.at, show(errors));
  return d;
}

describe('loadRepository: a valid repository', () => {
  it('loads the two-node repository without a finding', () => {
    const r = loadRepository(repo());
    assert.deepEqual(r.diagnostics, [], show(r.diagnostics));
    assert.ok(r.repository);
    assert.equal(r.repository.cluster.file, 'keepgit.yaml');
    assert.deepEqual(
      r.repository.nodes.map((n) => [n.file, n.doc.metadata.name]),
      [
        ['nodes/lb1.yaml', 'lb1'],
        ['nodes/lb2.yaml', 'lb2'],
      ],
    );
    assert.equal(r.repository.policies.length, 1);
    assert.equal(r.repository.cluster.doc.instances?.[1]?.name, 'www-https');
    assert.deepEqual(r.repository.cluster.locate(['instances', 1, 'vrid']), pos(cluster(), '101'));
  });

  it('sorts nodes by name whatever the file order', () => {
    const files = new Map([
      ['nodes/lb2.yaml', LB2],
      ['keepgit.yaml', cluster()],
      ['nodes/lb1.yml', LB1],
    ]);
    const r = loadRepository(files);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(
      r.repository?.nodes.map((n) => n.file),
      ['nodes/lb1.yml', 'nodes/lb2.yaml'],
    );
  });

  it('ignores files it does not read', () => {
    const files = repo({
      'README.md': '# not yaml: {',
      'nodes/notes.txt': 'x: [',
      'nodes/old/lb9.yaml': 'x: [',
      'other/x.yaml': 'x: [',
      '.github/workflows/ci.yaml': 'x: [',
    });
    assert.deepEqual(loadRepository(files).diagnostics, []);
  });

  it('accepts keepgit.yml', () => {
    const files = repo({ 'keepgit.yaml': undefined, 'keepgit.yml': cluster() });
    assert.deepEqual(loadRepository(files).diagnostics, []);
  });
});

describe('loadRepository: the files', () => {
  it('reports a missing keepgit.yaml once', () => {
    const ds = loadRepository(repo({ 'keepgit.yaml': undefined })).diagnostics;
    assert.equal(ds.length, 1, show(ds));
    assert.match(formatDiagnostic(ds[0] as Diagnostic), /^keepgit\.yaml: missing keepgit\.yaml/);
  });

  it('refuses keepgit.yaml and keepgit.yml together', () => {
    expectOne(repo({ 'keepgit.yml': cluster() }), {
      file: 'keepgit.yml',
      message: /both keepgit\.yaml and keepgit\.yml/,
    });
  });

  it('reports a repository with no nodes', () => {
    const r = loadRepository(repo({ 'nodes/lb1.yaml': undefined, 'nodes/lb2.yaml': undefined }));
    assert.equal(r.repository, undefined);
    assert.ok(
      r.diagnostics.some((d) => /no nodes: add nodes\/NAME\.yaml/.test(d.message)),
      show(r.diagnostics),
    );
  });

  it('refuses a node whose name differs from its file', () => {
    const text = node('lb9');
    expectOne(repo({ 'nodes/lb2.yaml': text }), {
      file: 'nodes/lb2.yaml',
      path: 'metadata.name',
      message: /"lb9" differs from the file name nodes\/lb2\.yaml/,
      at: pos(text, 'lb9'),
    });
  });

  it('refuses the same node in a .yaml and a .yml file', () => {
    expectOne(repo({ 'nodes/lb1.yml': LB1 }), {
      file: 'nodes/lb1.yml',
      message: /node "lb1" is already defined by nodes\/lb1\.yaml/,
    });
  });

  it('refuses an empty file', () => {
    expectOne(repo({ 'nodes/lb2.yaml': '' }), {
      file: 'nodes/lb2.yaml',
      message: /empty file: expected a Node document/,
    });
  });

  it('reports a document of the wrong kind once', () => {
    expectOne(repo({ 'keepgit.yaml': node('x') }), {
      path: 'kind',
      message: /expected kind: Cluster in keepgit\.yaml, got "Node"/,
      at: { line: 2, col: 7 },
    });
    expectOne(repo({ 'nodes/lb2.yaml': POLICY.replace('house', 'lb2') }), {
      file: 'nodes/lb2.yaml',
      message: /expected kind: Node/,
    });
    expectOne(repo({ 'policies/house.yaml': LB1 }), {
      file: 'policies/house.yaml',
      message: /expected kind: Policy/,
    });
  });

  it('refuses a document that is not a map', () => {
    expectOne(repo({ 'keepgit.yaml': '- a\n- b\n' }), {
      message: /^expected a map, got a list$/,
      at: { line: 1, col: 1 },
    });
  });

  it('reports YAML errors with their position', () => {
    const text = `${cluster()}instances: []\n`;
    expectOne(repo({ 'keepgit.yaml': text }), {
      message: /duplicate key "instances"/,
      at: pos(text, 'instances: []'),
    });
    expectOne(repo({ 'nodes/lb1.yaml': `${LB1}---\n${LB1}` }), {
      file: 'nodes/lb1.yaml',
      message: /second YAML document/,
      at: { line: 6, col: 1 },
    });
    expectOne(repo({ 'policies/house.yaml': 'a: [1\n' }), {
      file: 'policies/house.yaml',
      message: /flow sequence/,
    });
  });

  it('collects every error of every file, sorted', () => {
    const ds = errorsOf(
      repo({
        'keepgit.yaml': cluster()
          .replace('vrid: 101', 'vrid: 0')
          .replace('scheduler: wrr', 'scheduler: fast'),
        'nodes/lb1.yaml': `${LB1}dataplane: xdp\n`,
        'nodes/lb2.yaml': 'a: [\n',
        'policies/house.yaml': POLICY.replace('for: vips', 'for: vipz'),
      }),
    );
    assert.deepEqual(
      ds.map((d) => `${d.file}:${d.path ?? ''}`),
      [
        'keepgit.yaml:instances.www-https.vrid',
        'keepgit.yaml:virtualServers.www-80.scheduler',
        'nodes/lb1.yaml:dataplane',
        'nodes/lb2.yaml:',
        'policies/house.yaml:rules.vip-in-range.for',
      ],
      show(ds),
    );
  });
});

// One case per schema rule: the YAML, the display path and the message expected.
type Case = [label: string, text: string, path: string, message: RegExp];

const inst = (fields: Record<string, string | undefined>): string => {
  const all: Record<string, string | undefined> = {
    name: 'i1',
    vrid: '1',
    interface: 'eth0',
    vips: '[192.0.2.1]',
    ...fields,
  };
  const lines = Object.entries(all).flatMap(([k, v], i) =>
    v === undefined ? [] : [`${i === 0 ? '  - ' : '    '}${k}: ${v}`],
  );
  return `${HEADER}instances:\n${lines.join('\n')}\n`;
};
const top = (body: string): string => `${HEADER}${body}\n`;
const vs = (extra: string): string =>
  top(`virtualServers:\n  - name: v\n    address: 203.0.113.10\n    port: 80\n    ${extra}`);
const rs = (extra: string): string => vs(`realServers: [{ address: 198.51.100.11, port: 80, ${extra} }]`);
const RS = 'virtualServers.v.realServers[198.51.100.11:80]';

const CLUSTER_CASES: Case[] = [
  ['vrid out of range', inst({ vrid: '256' }), 'instances.i1.vrid', /^expected 1\.\.255, got 256$/],
  [
    'vrid as text',
    inst({ vrid: "'7'" }),
    'instances.i1.vrid',
    /^expected a whole number 1\.\.255, got string "7"$/,
  ],
  ['vrid fractional', inst({ vrid: '1.5' }), 'instances.i1.vrid', /^expected 1\.\.255, got 1\.5$/],
  [
    'vrid missing',
    inst({ vrid: undefined }),
    'instances.i1',
    /^missing field "vrid" \(expected a whole number 1\.\.255\)$/,
  ],
  ['vrid null', inst({ vrid: '' }), 'instances.i1.vrid', /^expected a whole number 1\.\.255, got null$/],
  [
    'name pattern',
    inst({ name: '"bad name!"' }),
    'instances.bad name!.name',
    /^expected a name of letters, digits/,
  ],
  [
    'name missing',
    inst({ name: undefined, vrid: '1' }).replace('    vrid', '  - vrid'),
    'instances[0]',
    /^missing field "name" \(expected a name\)$/,
  ],
  ['priority range', inst({ priority: '0' }), 'instances.i1.priority', /^expected 1\.\.255, got 0$/],
  [
    'priority map range',
    inst({ priority: '{ lb1: 256 }' }),
    'instances.i1.priority.lb1',
    /^expected 1\.\.255, got 256$/,
  ],
  [
    'priority text',
    inst({ priority: 'high' }),
    'instances.i1.priority',
    /^expected a whole number 1\.\.255, got string "high"$/,
  ],
  [
    'state enum',
    inst({ state: 'MAYBE' }),
    'instances.i1.state',
    /^expected one of MASTER, BACKUP, got string "MAYBE"$/,
  ],
  [
    'state map enum',
    inst({ state: '{ lb1: LEADER }' }),
    'instances.i1.state.lb1',
    /^expected one of MASTER, BACKUP/,
  ],
  ['interface empty', inst({ interface: '""' }), 'instances.i1.interface', /^expected at least 1 character/],
  [
    'interface list',
    inst({ interface: '[eth0]' }),
    'instances.i1.interface',
    /^expected text or a map, got a list$/,
  ],
  ['nodes not a list', inst({ nodes: 'lb1' }), 'instances.i1.nodes', /^expected a list, got string "lb1"$/],
  ['version', inst({ version: '4' }), 'instances.i1.version', /^expected 2 or 3$/],
  [
    'duration',
    inst({ advertInterval: '1x' }),
    'instances.i1.advertInterval',
    /^expected a duration such as "1s", "250ms" or "3h", got "1x"$/,
  ],
  [
    'duration as number',
    inst({ advertInterval: '5' }),
    'instances.i1.advertInterval',
    /^expected a duration .*, got number 5$/,
  ],
  ['duration negative', inst({ preemptDelay: '-1s' }), 'instances.i1.preemptDelay', /^expected a duration/],
  [
    'boolean yes',
    inst({ preempt: 'yes' }),
    'instances.i1.preempt',
    /^expected true or false, got string "yes"$/,
  ],
  ['boolean number', inst({ strict: '1' }), 'instances.i1.strict', /^expected true or false, got number 1$/],
  [
    'boolean no',
    inst({ dontTrackPrimary: 'no' }),
    'instances.i1.dontTrackPrimary',
    /^expected true or false, got string "no"$/,
  ],
  ['vips empty', inst({ vips: '[]' }), 'instances.i1.vips', /^expected at least one VIP$/],
  ['vips missing', inst({ vips: undefined }), 'instances.i1', /^missing field "vips" \(expected a list\)$/],
  [
    'vip address',
    inst({ vips: '[300.1.1.1]' }),
    'instances.i1.vips[0]',
    /^expected an IP address with an optional \/prefix, got "300\.1\.1\.1"$/,
  ],
  [
    'vip prefix',
    inst({ vips: '[192.0.2.1/33]' }),
    'instances.i1.vips[0]',
    /^expected an IP address with an optional \/prefix/,
  ],
  [
    'vip wrong type',
    inst({ vips: '[true]' }),
    'instances.i1.vips[0]',
    /^expected an address such as 192\.0\.2\.10\/24, got boolean true$/,
  ],
  [
    'vip label length',
    inst({ vips: '[{ address: 192.0.2.1, label: abcdefghijklmnop }]' }),
    'instances.i1.vips[192.0.2.1].label',
    /^expected at most 15 characters/,
  ],
  [
    'label on an IPv6 vip',
    inst({ vips: '[{ address: 2001:db8::1/64, label: eth0:v6 }]' }),
    'instances.i1.vips[2001:db8::1/64].label',
    /^the kernel keeps labels for IPv4 addresses only: drop the label from this IPv6 VIP$/,
  ],
  [
    'broadcast on an IPv6 vip',
    inst({ vips: '[{ address: 2001:db8::1/64, brd: 2001:db8::ff }]' }),
    'instances.i1.vips[2001:db8::1/64].brd',
    /^IPv6 has no broadcast/,
  ],
  [
    'vip scope',
    inst({ vips: '[{ address: 192.0.2.1, scope: galaxy }]' }),
    'instances.i1.vips[192.0.2.1].scope',
    /^expected one of global, site, link, host, nowhere, got string "galaxy"$/,
  ],
  [
    'vip brd',
    inst({ vips: '[{ address: 192.0.2.1, brd: nope }]' }),
    'instances.i1.vips[192.0.2.1].brd',
    /^expected an IP address, got "nope"$/,
  ],
  [
    'vip address missing',
    inst({ vips: '[{ dev: eth0 }]' }),
    'instances.i1.vips[0]',
    /^missing field "address"/,
  ],
  [
    'excluded vip',
    inst({ excludedVips: '[nope]' }),
    'instances.i1.excludedVips[0]',
    /^expected an IP address with an optional/,
  ],
  [
    'auth type',
    inst({ auth: '{ type: AH }' }),
    'instances.i1.auth.type',
    /^expected one of PASS, got string "AH"$/,
  ],
  [
    'auth type missing',
    inst({ auth: '{ secretRef: { env: X } }' }),
    'instances.i1.auth',
    /^missing field "type" \(expected one of PASS\)$/,
  ],
  [
    'secretRef empty',
    inst({ auth: '{ type: PASS, secretRef: {} }' }),
    'instances.i1.auth.secretRef',
    /^expected \{ env: NAME \} or \{ file: \/path\/on\/node \}/,
  ],
  [
    'secretRef both',
    inst({ auth: '{ type: PASS, secretRef: { env: A, file: /x } }' }),
    'instances.i1.auth.secretRef',
    /^expected \{ env: NAME \} or/,
  ],
  [
    'unicast peer',
    inst({ unicast: '{ peers: [nope] }' }),
    'instances.i1.unicast.peers[0]',
    /^expected an IP address, got "nope"$/,
  ],
  [
    'track weight',
    inst({ track: '{ scripts: [{ name: chk, weight: 300 }] }' }),
    'instances.i1.track.scripts.chk.weight',
    /^expected -254\.\.254, got 300$/,
  ],
  [
    'track reverse',
    inst({ track: '{ interfaces: [{ name: eth1, reverse: 1 }] }' }),
    'instances.i1.track.interfaces.eth1.reverse',
    /^expected true or false/,
  ],
  [
    'track not a list',
    inst({ track: '{ scripts: chk }' }),
    'instances.i1.track.scripts',
    /^expected a list, got string "chk"$/,
  ],
  [
    'notify empty',
    inst({ notify: '{ master: "" }' }),
    'instances.i1.notify.master',
    /^expected a command line, got an empty string$/,
  ],
  [
    'garp repeat',
    inst({ garp: '{ masterRepeat: 0 }' }),
    'instances.i1.garp.masterRepeat',
    /^expected 1\.\.100, got 0$/,
  ],
  [
    'garp duration',
    inst({ garp: '{ masterDelay: soon }' }),
    'instances.i1.garp.masterDelay',
    /^expected a duration/,
  ],
  [
    'unknown field',
    inst({ prioirty: '1' }),
    'instances.i1',
    /^unknown field "prioirty" \(did you mean "priority"\?\)$/,
  ],
  [
    'unknown notify field',
    inst({ notify: '{ onMaster: /x }' }),
    'instances.i1.notify',
    /^unknown field "onMaster" \(did you mean "master"\?\)$/,
  ],
  ['unknown, far from any', inst({ zzzz: '1' }), 'instances.i1', /^unknown field "zzzz"$/],
  ['merge key', inst({ '<<': '{ a: 1 }' }), 'instances.i1', /^YAML merge keys \(<<\) are not supported/],
  [
    'sync group empty',
    top('syncGroups: [{ name: g, instances: [] }]'),
    'syncGroups.g.instances',
    /^expected at least one instance$/,
  ],
  [
    'script empty',
    top('scripts: [{ name: s, script: "" }]'),
    'scripts.s.script',
    /^expected a command line, got an empty string$/,
  ],
  [
    'script missing',
    top('scripts: [{ name: s }]'),
    'scripts.s',
    /^missing field "script" \(expected a command line/,
  ],
  [
    'script rise',
    top('scripts: [{ name: s, script: /x, rise: 0 }]'),
    'scripts.s.rise',
    /^expected 1\.\.1000, got 0$/,
  ],
  [
    'script interval',
    top('scripts: [{ name: s, script: /x, interval: often }]'),
    'scripts.s.interval',
    /^expected a duration/,
  ],
  [
    'process match',
    top('trackProcesses: [{ name: p, process: x, paramMatch: full }]'),
    'trackProcesses.p.paramMatch',
    /^expected one of initial, partial, got string "full"$/,
  ],
  [
    'process empty',
    top('trackProcesses: [{ name: p, process: "" }]'),
    'trackProcesses.p.process',
    /^expected at least 1 character, got string ""$/,
  ],
  [
    'process quorum',
    top('trackProcesses: [{ name: p, process: x, quorum: 0 }]'),
    'trackProcesses.p.quorum',
    /^expected 1\.\.65535, got 0$/,
  ],
  [
    'file initFile',
    top('trackFiles: [{ name: f, file: /x, initFile: 5 }]'),
    'trackFiles.f.initFile',
    /^expected true or false, got number 5$/,
  ],
  [
    'file initFile value',
    top('trackFiles: [{ name: f, file: /x, initFile: { value: 1.5 } }]'),
    'trackFiles.f.initFile.value',
    /^expected a whole number, got number 1\.5$/,
  ],
  [
    'vs port',
    vs('protocol: TCP').replace('port: 80', 'port: 70000'),
    'virtualServers.v.port',
    /^expected 0\.\.65535, got 70000$/,
  ],
  [
    'vs protocol',
    vs('protocol: ICMP'),
    'virtualServers.v.protocol',
    /^expected one of TCP, UDP, SCTP, got string "ICMP"$/,
  ],
  [
    'vs scheduler',
    vs('scheduler: fastest'),
    'virtualServers.v.scheduler',
    /^expected one of rr, wrr, lc, wlc/,
  ],
  [
    'vs forwarding',
    vs('forwarding: bridge'),
    'virtualServers.v.forwarding',
    /^expected one of nat, dr, tun, got string "bridge"$/,
  ],
  [
    'vs persistence',
    vs('persistence: 3x'),
    'virtualServers.v.persistence',
    /^expected a duration .*, got "3x"$/,
  ],
  [
    'vs persistence map',
    vs('persistence: { granularity: 255.255.255.0 }'),
    'virtualServers.v.persistence',
    /^missing field "timeout" \(expected a duration/,
  ],
  [
    'vs flags',
    vs('schedulerFlags: [turbo]'),
    'virtualServers.v.schedulerFlags[0]',
    /^expected one of hashed, sh-fallback/,
  ],
  ['vs family', vs('family: 5'), 'virtualServers.v.family', /^expected 4 or 6, got number 5$/],
  [
    'vs quorum',
    vs('quorum: { value: 0 }'),
    'virtualServers.v.quorum.value',
    /^expected 1\.\.1000000, got 0$/,
  ],
  [
    'vs fwmark',
    top('virtualServers: [{ name: v, fwmark: 0 }]'),
    'virtualServers.v.fwmark',
    /^expected 1\.\.4294967295, got 0$/,
  ],
  [
    'sorry server',
    vs('sorryServer: { address: nope }'),
    'virtualServers.v.sorryServer.address',
    /^expected an IP address, got "nope"$/,
  ],
  ['vs delayLoop', vs('delayLoop: 1 minute'), 'virtualServers.v.delayLoop', /^expected a duration/],
  ['rs weight', rs('weight: -1'), `${RS}.weight`, /^expected 0\.\.65535, got -1$/],
  [
    'rs address',
    vs('realServers: [{ address: nope, port: 80 }]'),
    'virtualServers.v.realServers[nope:80].address',
    /^expected an IP address, got "nope"$/,
  ],
  [
    'rs address missing',
    vs('realServers: [{ port: 80 }]'),
    'virtualServers.v.realServers[0]',
    /^missing field "address" \(expected an IP address\)$/,
  ],
  ['rs retry', rs('retry: -1'), `${RS}.retry`, /^expected 0\.\.1000, got -1$/],
  [
    'check type',
    rs('checks: [{ type: icmp }]'),
    `${RS}.checks[0].type`,
    /^expected a check type: tcp, http, https, misc, dns, udp, ping, smtp or file, got "icmp"$/,
  ],
  [
    'check type missing',
    rs('checks: [{ connectTimeout: 1s }]'),
    `${RS}.checks[0].type`,
    /^expected a check type: .*, got null$/,
  ],
  [
    'http urls missing',
    rs('checks: [{ type: http }]'),
    `${RS}.checks[0]`,
    /^missing field "urls" \(expected a list\)$/,
  ],
  [
    'http urls empty',
    rs('checks: [{ type: http, urls: [] }]'),
    `${RS}.checks[0].urls`,
    /^expected at least one url$/,
  ],
  [
    'url path',
    rs('checks: [{ type: http, urls: [{ path: health }] }]'),
    `${RS}.checks[0].urls[0].path`,
    /^expected a path starting with \/$/,
  ],
  [
    'url digest',
    rs('checks: [{ type: http, urls: [{ path: /h, digest: xyz }] }]'),
    `${RS}.checks[0].urls[0].digest`,
    /^expected an MD5 digest: 32 hex digits/,
  ],
  [
    'url status range',
    rs('checks: [{ type: https, urls: [{ path: /h, statusCode: 700 }] }]'),
    `${RS}.checks[0].urls[0].statusCode`,
    /^expected 100\.\.599, got 700$/,
  ],
  [
    'url status text',
    rs('checks: [{ type: http, urls: [{ path: /h, statusCode: 2xx }] }]'),
    `${RS}.checks[0].urls[0].statusCode`,
    /^expected text matching .*, got string "2xx"$/,
  ],
  [
    'http protocol',
    rs('checks: [{ type: http, urls: [{ path: /h }], httpProtocol: "2" }]'),
    `${RS}.checks[0].httpProtocol`,
    /^expected one of 1\.0, 1\.0C, 1\.1, 1\.0K/,
  ],
  [
    'dns query',
    rs('checks: [{ type: dns, queryType: ANY }]'),
    `${RS}.checks[0].queryType`,
    /^expected one of A, NS, CNAME, SOA, MX, TXT, AAAA/,
  ],
  [
    'udp payload',
    rs('checks: [{ type: udp, payload: zz }]'),
    `${RS}.checks[0].payload`,
    /^expected hex bytes$/,
  ],
  ['misc script', rs('checks: [{ type: misc }]'), `${RS}.checks[0]`, /^missing field "script"/],
  [
    'misc timeout',
    rs('checks: [{ type: misc, script: /x, timeout: long }]'),
    `${RS}.checks[0].timeout`,
    /^expected a duration/,
  ],
  [
    'tcp port',
    rs('checks: [{ type: tcp, connectPort: 70000 }]'),
    `${RS}.checks[0].connectPort`,
    /^expected 0\.\.65535, got 70000$/,
  ],
  [
    'tcp bind',
    rs('checks: [{ type: tcp, bindTo: nope }]'),
    `${RS}.checks[0].bindTo`,
    /^expected an IP address/,
  ],
  [
    'tcp unknown field',
    rs('checks: [{ type: tcp, conectTimeout: 1s }]'),
    `${RS}.checks[0]`,
    /^unknown field "conectTimeout" \(did you mean "connectTimeout"\?\)$/,
  ],
  [
    'https unknown field',
    rs('checks: [{ type: https, urls: [{ path: /h }], snii: true }]'),
    `${RS}.checks[0]`,
    /^unknown field "snii" \(did you mean "sni"\?\)$/,
  ],
  ['file check missing file', rs('checks: [{ type: file }]'), `${RS}.checks[0]`, /^missing field "file"/],
  [
    'vsg members empty',
    top('virtualServerGroups: [{ name: g, members: [] }]'),
    'virtualServerGroups.g.members',
    /^expected at least 1 item, got 0$/,
  ],
  [
    'vsg member address',
    top('virtualServerGroups: [{ name: g, members: [{ address: nope, port: 80 }] }]'),
    'virtualServerGroups.g.members[nope:80].address',
    /^expected an IP address/,
  ],
  [
    'vsg member fwmark',
    top('virtualServerGroups: [{ name: g, members: [{ fwmark: 0 }] }]'),
    'virtualServerGroups.g.members[0].fwmark',
    /^expected 1\.\.4294967295, got 0$/,
  ],
  [
    'apiVersion',
    top('').replace('keepgit/v1', 'keepgit/v2'),
    'apiVersion',
    /^expected "keepgit\/v1", got string "keepgit\/v2"$/,
  ],
  [
    'kind missing',
    top('').replace('kind: Cluster\n', ''),
    '',
    /^missing field "kind" \(expected kind: Cluster\)$/,
  ],
  [
    'metadata missing',
    top('').replace('metadata: { name: www-ha }\n', ''),
    '',
    /^missing field "metadata" \(expected a map\)$/,
  ],
  [
    'metadata name',
    top('').replace('name: www-ha', 'name: "www ha"'),
    'metadata.name',
    /^expected a name of letters/,
  ],
  [
    'metadata unknown',
    top('').replace('name: www-ha', 'name: x, owner: y'),
    'metadata',
    /^unknown field "owner" \(expected one of: name, labels, annotations\)$/,
  ],
  [
    'metadata label value',
    top('').replace('name: www-ha', 'name: x, labels: { tier: 1 }'),
    'metadata.labels.tier',
    /^expected text, got number 1$/,
  ],
  [
    'dataplane',
    top('dataplane: ebpf'),
    'dataplane',
    /^expected one of auto, ipvs, nftables, got string "ebpf"$/,
  ],
  [
    'defaults version',
    top('defaults: { vrrp: { version: 5 } }'),
    'defaults.vrrp.version',
    /^expected 2 or 3$/,
  ],
  [
    'defaults retry',
    top('defaults: { check: { retry: -1 } }'),
    'defaults.check.retry',
    /^expected 0\.\.1000, got -1$/,
  ],
  [
    'defaults unknown',
    top('defaults: { vrp: {} }'),
    'defaults',
    /^unknown field "vrp" \(did you mean "vrrp"\?\)$/,
  ],
  ['top-level typo', top('instance: []'), '', /^unknown field "instance" \(did you mean "instances"\?\)$/],
  ['instances not a list', top('instances: { www: {} }'), 'instances', /^expected a list, got a map$/],
];

describe('loadRepository: Cluster schema', () => {
  for (const [label, text, path, message] of CLUSTER_CASES) {
    it(label, () => {
      const d = expectOne(repo({ 'keepgit.yaml': text }), { message });
      assert.equal(d.path ?? '', path);
      assert.ok(d.line !== undefined && d.col !== undefined, 'has a position');
    });
  }

  it('positions a range error at the value', () => {
    const text = inst({ vrid: '256' });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'instances.i1.vrid',
      message: /expected 1\.\.255, got 256/,
      at: pos(text, '256'),
    });
  });

  it('positions an unknown field at its key', () => {
    const text = inst({ prioirty: '1' });
    const d = expectOne(repo({ 'keepgit.yaml': text }), { message: /prioirty/, at: pos(text, 'prioirty') });
    assert.equal(
      formatDiagnostic(d),
      `keepgit.yaml:9:5: instances.i1: unknown field "prioirty" (did you mean "priority"?)`,
    );
  });

  it('positions a missing field at the map that lacks it', () => {
    const text = inst({ vrid: undefined });
    expectOne(repo({ 'keepgit.yaml': text }), { message: /missing field "vrid"/, at: pos(text, 'name: i1') });
  });

  it('positions an error in a real server by its address', () => {
    const text = rs('weight: -1');
    const d = expectOne(repo({ 'keepgit.yaml': text }), { message: /got -1/, at: pos(text, '-1') });
    const at = pos(text, '-1');
    assert.equal(
      formatDiagnostic(d),
      `keepgit.yaml:${at.line}:${at.col}: ${RS}.weight: expected 0..65535, got -1`,
    );
  });

  it('positions a bad check type at the type', () => {
    const text = rs('checks: [{ type: icmp }]');
    expectOne(repo({ 'keepgit.yaml': text }), { message: /icmp/, at: pos(text, 'icmp') });
  });

  it('positions an error inside a map value under its key', () => {
    const text = inst({ priority: '{ lb1: 256 }' });
    expectOne(repo({ 'keepgit.yaml': text }), { message: /256/, at: pos(text, '256') });
  });

  it('reports several unknown fields of one map one by one', () => {
    const text = inst({ prioirty: '1', stat: 'MASTER' });
    const ds = errorsOf(repo({ 'keepgit.yaml': text }));
    assert.deepEqual(
      ds.map((d) => [d.line, d.message]),
      [
        [9, 'unknown field "prioirty" (did you mean "priority"?)'],
        [10, 'unknown field "stat" (did you mean "state"?)'],
      ],
    );
  });

  it('reports every schema error of a file at once', () => {
    const text = inst({ vrid: '0', preempt: 'maybe', prioirty: '1' });
    assert.equal(errorsOf(repo({ 'keepgit.yaml': text })).length, 3);
  });
});

const NODE_CASES: Case[] = [
  ['routerId type', node('lb1', 'routerId: 5\n'), 'routerId', /^expected text, got number 5$/],
  ['dataplane', node('lb1', 'dataplane: dpdk\n'), 'dataplane', /^expected one of auto, ipvs, nftables/],
  [
    'unicastSource',
    node('lb1', 'interfaces: { eth0: { unicastSource: nope } }\n'),
    'interfaces.eth0.unicastSource',
    /^expected an IP address, got "nope"$/,
  ],
  [
    'interface unknown field',
    node('lb1', 'interfaces: { eth0: { mtu: 1500 } }\n'),
    'interfaces.eth0',
    /^unknown field "mtu" \(expected one of: unicastSource, addresses\)$/,
  ],
  [
    'addresses type',
    node('lb1', 'interfaces: { eth0: { addresses: 192.0.2.11 } }\n'),
    'interfaces.eth0.addresses',
    /^expected a list/,
  ],
  [
    'override priority',
    node('lb1', 'instances: { www-http: { priority: 0 } }\n'),
    'instances.www-http.priority',
    /^expected 1\.\.255, got 0$/,
  ],
  [
    'override preempt',
    node('lb1', 'instances: { www-http: { preempt: "yes" } }\n'),
    'instances.www-http.preempt',
    /^expected true or false, got string "yes"$/,
  ],
  [
    'override state',
    node('lb1', 'instances: { www-http: { state: master } }\n'),
    'instances.www-http.state',
    /^expected one of MASTER, BACKUP, got string "master"$/,
  ],
  [
    'override unknown',
    node('lb1', 'instances: { www-http: { prio: 1 } }\n'),
    'instances.www-http',
    /^unknown field "prio"/,
  ],
  [
    'script security',
    node('lb1', 'enableScriptSecurity: 1\n'),
    'enableScriptSecurity',
    /^expected true or false, got number 1$/,
  ],
  ['spec wrapper', node('lb1', 'spec: { routerId: x }\n'), '', /^unknown field "spec"$/],
];

describe('loadRepository: Node schema', () => {
  for (const [label, text, path, message] of NODE_CASES) {
    it(label, () => {
      const d = expectOne(repo({ 'nodes/lb1.yaml': text }), { file: 'nodes/lb1.yaml', message });
      assert.equal(d.path ?? '', path);
    });
  }
});

const policy = (rule: string): string =>
  POLICY.replace('    require: { field: address, within: 203.0.113.0/24 }\n', rule);
const POLICY_CASES: Case[] = [
  [
    'builtin severity',
    POLICY.replace('severity: warn', 'severity: fatal'),
    'builtin.vrid-unique.severity',
    /^expected one of error, warn, got string "fatal"$/,
  ],
  [
    'builtin enabled',
    POLICY.replace('severity: warn', 'enabled: "no"'),
    'builtin.vrid-unique.enabled',
    /^expected true or false, got string "no"$/,
  ],
  [
    'rule for',
    POLICY.replace('for: vips', 'for: things'),
    'rules.vip-in-range.for',
    /^expected one of instances, vips, virtualServers/,
  ],
  [
    'rule severity',
    POLICY.replace('severity: error', 'severity: info'),
    'rules.vip-in-range.severity',
    /^expected one of error, warn/,
  ],
  ['rule require missing', policy(''), 'rules.vip-in-range', /^missing field "require" \(expected a map\)$/],
  [
    'rule require duration',
    policy('    require: { field: x, maxDuration: soon }\n'),
    'rules.vip-in-range.require.maxDuration',
    /^expected a duration/,
  ],
  [
    'rule require typo',
    policy('    require: { field: x, equal: 1 }\n'),
    'rules.vip-in-range.require',
    /^unknown field "equal" \(did you mean "equals"\?\)$/,
  ],
  [
    'rule id',
    POLICY.replace('id: vip-in-range', 'id: "vip in range"'),
    'rules.vip in range.id',
    /^expected a name of letters/,
  ],
];

describe('loadRepository: Policy schema', () => {
  for (const [label, text, path, message] of POLICY_CASES) {
    it(label, () => {
      const d = expectOne(repo({ 'policies/house.yaml': text }), { file: 'policies/house.yaml', message });
      assert.equal(d.path ?? '', path);
    });
  }
});

describe('loadRepository: every object is strict', () => {
  const B = 'bogus: 1';
  const cases: [string, string, string][] = [
    ['cluster', 'keepgit.yaml', top(B)],
    ['metadata', 'keepgit.yaml', top('').replace('name: www-ha', `name: x, ${B}`)],
    ['defaults', 'keepgit.yaml', top(`defaults: { ${B} }`)],
    ['defaults.vrrp', 'keepgit.yaml', top(`defaults: { vrrp: { ${B} } }`)],
    ['defaults.vrrp.garp', 'keepgit.yaml', top(`defaults: { vrrp: { garp: { ${B} } } }`)],
    ['defaults.check', 'keepgit.yaml', top(`defaults: { check: { ${B} } }`)],
    ['instance', 'keepgit.yaml', inst({ bogus: '1' })],
    ['vip', 'keepgit.yaml', inst({ vips: `[{ address: 192.0.2.1, ${B} }]` })],
    ['auth', 'keepgit.yaml', inst({ auth: `{ type: PASS, ${B} }` })],
    ['secretRef', 'keepgit.yaml', inst({ auth: `{ type: PASS, secretRef: { env: X, ${B} } }` })],
    ['unicast', 'keepgit.yaml', inst({ unicast: `{ ${B} }` })],
    ['track', 'keepgit.yaml', inst({ track: `{ ${B} }` })],
    ['track item', 'keepgit.yaml', inst({ track: `{ interfaces: [{ name: eth1, ${B} }] }` })],
    ['notify', 'keepgit.yaml', inst({ notify: `{ ${B} }` })],
    ['garp', 'keepgit.yaml', inst({ garp: `{ ${B} }` })],
    ['sync group', 'keepgit.yaml', top(`syncGroups: [{ name: g, instances: [a], ${B} }]`)],
    ['script', 'keepgit.yaml', top(`scripts: [{ name: s, script: /x, ${B} }]`)],
    ['track process', 'keepgit.yaml', top(`trackProcesses: [{ name: p, process: x, ${B} }]`)],
    ['track file', 'keepgit.yaml', top(`trackFiles: [{ name: f, file: /x, ${B} }]`)],
    ['track file initFile', 'keepgit.yaml', top(`trackFiles: [{ name: f, file: /x, initFile: { ${B} } }]`)],
    ['virtual server', 'keepgit.yaml', vs(B)],
    ['persistence', 'keepgit.yaml', vs(`persistence: { timeout: 1h, ${B} }`)],
    ['sorry server', 'keepgit.yaml', vs(`sorryServer: { address: 198.51.100.9, ${B} }`)],
    ['quorum', 'keepgit.yaml', vs(`quorum: { ${B} }`)],
    ['real server', 'keepgit.yaml', rs(B)],
    ['check', 'keepgit.yaml', rs(`checks: [{ type: ping, ${B} }]`)],
    ['url', 'keepgit.yaml', rs(`checks: [{ type: http, urls: [{ path: /h, ${B} }] }]`)],
    ['vs group', 'keepgit.yaml', top(`virtualServerGroups: [{ name: g, members: [{ fwmark: 1 }], ${B} }]`)],
    [
      'vs group member',
      'keepgit.yaml',
      top(`virtualServerGroups: [{ name: g, members: [{ fwmark: 1, ${B} }] }]`),
    ],
    ['node', 'nodes/lb1.yaml', node('lb1', `${B}\n`)],
    ['node interface', 'nodes/lb1.yaml', node('lb1', `interfaces: { eth0: { ${B} } }\n`)],
    ['node override', 'nodes/lb1.yaml', node('lb1', `instances: { www-http: { ${B} } }\n`)],
    ['policy', 'policies/house.yaml', `${POLICY}${B}\n`],
    ['policy builtin', 'policies/house.yaml', POLICY.replace('severity: warn', `severity: warn, ${B}`)],
    ['policy rule', 'policies/house.yaml', POLICY.replace('    for: vips', `    for: vips\n    ${B}`)],
    ['policy require', 'policies/house.yaml', policy(`    require: { field: x, ${B} }\n`)],
  ];
  for (const [label, file, text] of cases) {
    it(label, () => {
      const d = expectOne(repo({ [file]: text }), { file, message: /^unknown field "bogus"/ });
      assert.equal(d.line, pos(text, 'bogus').line);
      assert.equal(d.col, pos(text, 'bogus').col);
    });
  }
});

describe('loadRepository: secrets are never echoed', () => {
  const SECRET = 'hunter2';
  const cases: [string, Record<string, string>][] = [
    [
      'password of the wrong type',
      { 'keepgit.yaml': inst({ auth: `{ type: PASS, password: [${SECRET}] }` }) },
    ],
    ['password as a number', { 'keepgit.yaml': inst({ auth: '{ type: PASS, password: 8675309 }' }) }],
    [
      'secretRef env with a bad name',
      { 'keepgit.yaml': inst({ auth: `{ type: PASS, secretRef: { env: "${SECRET} x" } }` }) },
    ],
    ['secretRef as text', { 'keepgit.yaml': inst({ auth: `{ type: PASS, secretRef: ${SECRET} }` }) }],
    ['secretRef file empty', { 'keepgit.yaml': inst({ auth: '{ type: PASS, secretRef: { file: "" } }' }) }],
    ['mistyped password key', { 'keepgit.yaml': inst({ auth: `{ type: PASS, passwrod: ${SECRET} }` }) }],
    [
      'syntax error on a password line',
      { 'keepgit.yaml': `${inst({})}    auth: { type: PASS, password: "${SECRET}\n` },
    ],
    [
      'token in a label',
      { 'keepgit.yaml': top('').replace('name: www-ha', `name: x, labels: { token: [${SECRET}] }`) },
    ],
    [
      'policy params',
      {
        'policies/house.yaml': POLICY.replace(
          'severity: warn',
          `severity: warn, params: { secret: [${SECRET}] }, enabled: 3`,
        ),
      },
    ],
  ];
  for (const [label, files] of cases) {
    it(label, () => {
      const ds = errorsOf(repo(files));
      assert.ok(ds.length >= 1, 'the mistake is reported');
      const text = JSON.stringify(ds);
      assert.doesNotMatch(text, new RegExp(SECRET));
      assert.doesNotMatch(text, /8675309/);
    });
  }

  it('still says what was wrong', () => {
    const d = expectOne(repo({ 'keepgit.yaml': inst({ auth: '{ type: PASS, password: 8675309 }' }) }), {
      path: 'instances.i1.auth.password',
      message: /^expected text, got a number \(not shown: the field holds a secret\)$/,
    });
    assert.ok(d.line);
    expectOne(repo({ 'keepgit.yaml': inst({ auth: `{ type: PASS, passwrod: ${SECRET} }` }) }), {
      message: /^unknown field "passwrod" \(did you mean "password"\?\)$/,
    });
  });
});

// The references between documents, each broken once on the valid repository.
describe('loadRepository: cross-references', () => {
  const instances = PARTS.instances;
  const addInstance = (text: string) => instances + text;
  const I3 = [
    '  - name: www-extra',
    '    vrid: 103',
    '    interface: eth0',
    '    vips: [203.0.113.13/32]',
    '',
  ].join('\n');

  it('refuses a duplicate instance name', () => {
    const text = cluster({ instances: addInstance(I3.replace('www-extra', 'www-http')) });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'instances.www-http.name',
      message: new RegExp(
        `^duplicate instance name "www-http" \\(first on line ${pos(text, 'www-http').line}\\)$`,
      ),
      at: { line: pos(text, 'name: www-http\n', 2).line, col: 11 },
    });
  });

  // [what, parts, the text before the second name, which occurrence of it, message]
  const duplicates: [string, Parts, string, number, RegExp][] = [
    [
      'sync group',
      {
        syncGroups:
          'syncGroups: [{ name: www, instances: [www-http] }, { name: www, instances: [www-https] }]\n',
      },
      'name: www,',
      2,
      /duplicate sync group name "www"/,
    ],
    [
      'script',
      { scripts: 'scripts:\n  - { name: chk_haproxy, script: /x }\n  - { name: chk_haproxy, script: /y }\n' },
      'name: chk_haproxy,',
      2,
      /duplicate script name "chk_haproxy"/,
    ],
    [
      'track process',
      {
        trackProcesses:
          'trackProcesses:\n  - { name: haproxy, process: a }\n  - { name: haproxy, process: b }\n',
      },
      'name: haproxy,',
      2,
      /duplicate track process name "haproxy"/,
    ],
    [
      'track file',
      { trackFiles: 'trackFiles:\n  - { name: maint, file: /a }\n  - { name: maint, file: /b }\n' },
      'name: maint,',
      2,
      /duplicate track file name "maint"/,
    ],
    [
      'virtual server group',
      {
        virtualServerGroups:
          'virtualServerGroups:\n  - { name: web, members: [{ fwmark: 7 }] }\n  - { name: web, members: [{ fwmark: 8 }] }\n',
      },
      'name: web,',
      2,
      /duplicate virtual server group name "web"/,
    ],
    [
      'virtual server name',
      { virtualServers: `${PARTS.virtualServers}  - { name: www-80, address: 203.0.113.99, port: 80 }\n` },
      'name: www-80,',
      1,
      /duplicate virtual server name "www-80"/,
    ],
  ];
  for (const [what, parts, needle, nth, message] of duplicates) {
    it(`refuses a duplicate ${what} name`, () => {
      const text = cluster(parts);
      const at = pos(text, needle, nth);
      expectOne(repo({ 'keepgit.yaml': text }), {
        message,
        at: { line: at.line, col: at.col + 'name: '.length },
      });
    });
  }

  it('refuses the same virtual service twice, named or not', () => {
    const text = cluster({
      virtualServers: `${PARTS.virtualServers}  - { address: 203.0.113.10, port: 80, protocol: TCP }\n`,
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'virtualServers[203.0.113.10:80].address',
      message:
        /^virtual server 203\.0\.113\.10:80\/TCP is already defined \(first on line \d+\); merge the two/,
      at: pos(text, '203.0.113.10, port: 80, protocol'),
    });
  });

  it('allows the same address on another port, protocol, or disjoint nodes', () => {
    const extra = [
      '  - { address: 203.0.113.10, port: 443 }',
      '  - { address: 203.0.113.10, port: 80, protocol: UDP }',
      '  - { name: a, address: 203.0.113.20, port: 80, nodes: [lb1] }',
      '  - { name: b, address: 203.0.113.20, port: 80, nodes: [lb2] }',
      '',
    ].join('\n');
    assert.deepEqual(
      errorsOf(repo({ 'keepgit.yaml': cluster({ virtualServers: PARTS.virtualServers + extra }) })),
      [],
    );
  });

  it('refuses a sync group naming a missing instance', () => {
    const text = cluster({ syncGroups: 'syncGroups: [{ name: www, instances: [www-http, www-htps] }]\n' });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'syncGroups.www.instances[1]',
      message: /^no instance "www-htps" in instances \(did you mean "www-https"\?\)$/,
      at: pos(text, 'www-htps'),
    });
  });

  it('refuses an instance in two sync groups', () => {
    const text = cluster({
      syncGroups:
        'syncGroups:\n  - { name: a, instances: [www-http, www-https] }\n  - { name: b, instances: [www-v6, www-http] }\n',
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'syncGroups.b.instances[1]',
      message:
        /^instance "www-http" is already in sync group "a" \(line \d+\); an instance belongs to one sync group at most$/,
      at: pos(text, 'www-http]'),
    });
  });

  // [what, line replaced, its replacement, where the error points, path, message]
  const trackCases: [string, string, string, string, string, RegExp][] = [
    [
      'script',
      'scripts: [chk_haproxy]',
      'scripts: [chk_haproxyy]',
      'chk_haproxyy',
      'track.scripts[0]',
      /^no script "chk_haproxyy" in scripts \(did you mean "chk_haproxy"\?\)$/,
    ],
    [
      'process',
      'processes: [haproxy]',
      'processes: [{ name: nginx }]',
      '{ name: nginx }',
      'track.processes.nginx',
      /^no track process "nginx" in trackProcesses$/,
    ],
    [
      'file',
      'files: [{ name: maint, weight: -10 }]',
      'files: [maintenance]',
      'maintenance',
      'track.files[0]',
      /^no track file "maintenance" in trackFiles$/,
    ],
  ];
  for (const [what, from, to, needle, path, message] of trackCases) {
    it(`refuses a track reference to a missing ${what}`, () => {
      const text = cluster({ instances: instances.replace(from, to) });
      expectOne(repo({ 'keepgit.yaml': text }), {
        path: `instances.www-http.${path}`,
        message,
        at: pos(text, needle),
      });
    });
  }

  it('refuses a sync group track reference to a missing script', () => {
    const text = cluster({
      syncGroups: 'syncGroups: [{ name: www, instances: [www-http], track: { scripts: [nope] } }]\n',
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'syncGroups.www.track.scripts[0]',
      message: /^no script "nope"/,
      at: pos(text, 'nope'),
    });
  });

  it('refuses a FILE check naming a missing track file', () => {
    const text = cluster({
      virtualServers: PARTS.virtualServers.replace(
        '{ type: file, file: maint }',
        '{ type: file, file: maitn }',
      ),
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'virtualServers.www-80.realServers[198.51.100.11:80].checks[1].file',
      message: /^no track file "maitn" in trackFiles \(did you mean "maint"\?\)$/,
      at: pos(text, 'maitn'),
    });
  });

  it('refuses an instance nodes list naming a node without a file', () => {
    const text = cluster({ instances: instances.replace('nodes: [lb1, lb2]', 'nodes: [lb1, lb3]') });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'instances.www-v6.nodes[1]',
      message: /^no node "lb3": there is no nodes\/lb3\.yaml$/,
      at: pos(text, 'lb3'),
    });
  });

  it('refuses a priority map key naming a node without a file, at the key', () => {
    const text = cluster({
      instances: instances.replace(
        'priority: { lb1: 110, lb2: 100 }',
        'priority: { lb1: 110, lb2: 100, edge: 90 }',
      ),
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'instances.www-http.priority.edge',
      message: /^no node "edge": there is no nodes\/edge\.yaml$/,
      at: pos(text, 'edge'),
    });
  });

  it('refuses interface and state map keys naming a node without a file', () => {
    const iface = cluster({
      instances: instances.replace(
        '    interface: eth0\n    priority: { lb1: 100',
        '    interface: { lb1: eth0, lb2: eth0, lb9: eth0 }\n    priority: { lb1: 100',
      ),
    });
    expectOne(repo({ 'keepgit.yaml': iface }), {
      path: 'instances.www-https.interface.lb9',
      message: /^no node "lb9"/,
      at: pos(iface, 'lb9'),
    });
    const state = cluster({
      instances: instances.replace(
        '    priority: 100\n',
        '    priority: 100\n    state: { lb1: MASTER, lb7: BACKUP }\n',
      ),
    });
    expectOne(repo({ 'keepgit.yaml': state }), {
      path: 'instances.www-v6.state.lb7',
      message: /^no node "lb7"/,
      at: pos(state, 'lb7'),
    });
  });

  it('refuses a virtual server nodes list naming a node without a file', () => {
    const text = cluster({
      virtualServers: PARTS.virtualServers.replace(
        '    protocol: TCP',
        '    nodes: [lb1, lb5]\n    protocol: TCP',
      ),
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'virtualServers.www-80.nodes[1]',
      message: /^no node "lb5"/,
      at: pos(text, 'lb5'),
    });
  });

  it('refuses a participating node missing from the priority map', () => {
    const text = cluster({
      instances: instances.replace('    priority: 100\n', '    priority: { lb1: 100 }\n'),
    });
    const lb2 = node('lb2', 'interfaces: { eth0: { unicastSource: 192.0.2.12 } }\n');
    const d = expectOne(repo({ 'keepgit.yaml': text, 'nodes/lb2.yaml': lb2 }), {
      path: 'instances.www-v6.priority',
      message: /^node "lb2" takes part but has no priority; add lb2: <1\.\.254>$/,
      at: pos(text, '{ lb1: 100 }'),
    });
    assert.equal(
      formatDiagnostic(d),
      `keepgit.yaml:${pos(text, '{ lb1: 100 }').line}:15: instances.www-v6.priority: node "lb2" takes part but has no priority; add lb2: <1..254>`,
    );
  });

  it('accepts a priority given by the node file instead of the map', () => {
    const text = cluster({
      instances: instances.replace('    priority: 100\n', '    priority: { lb1: 100 }\n'),
    });
    assert.deepEqual(errorsOf(repo({ 'keepgit.yaml': text })), []);
  });

  it('refuses a node override naming a missing instance, at the key', () => {
    const text = node('lb2', 'instances: { www-v7: { priority: 90 } }\n');
    expectOne(repo({ 'nodes/lb2.yaml': text }), {
      file: 'nodes/lb2.yaml',
      path: 'instances.www-v7',
      message: /^no instance "www-v7" in keepgit\.yaml$/,
      at: pos(text, 'www-v7'),
    });
  });

  it('warns about an override of an instance the node does not take part in', () => {
    const text = cluster({ instances: instances.replace('nodes: [lb1, lb2]', 'nodes: [lb1]') });
    const r = loadRepository(repo({ 'keepgit.yaml': text }));
    assert.ok(r.repository, 'a warning does not stop the load');
    assert.deepEqual(
      r.diagnostics.map((d) => [d.severity, d.file, d.path]),
      [['warn', 'nodes/lb2.yaml', 'instances.www-v6']],
    );
  });

  it('refuses a virtual server naming a missing group', () => {
    const text = cluster({ virtualServers: PARTS.virtualServers.replace('group: web,', 'group: wbe,') });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'virtualServers.web-group.group',
      message: /^no virtual server group "wbe" in virtualServerGroups \(did you mean "web"\?\)$/,
      at: pos(text, 'wbe'),
    });
  });

  it('needs exactly one of address, fwmark and group', () => {
    const none = cluster({ virtualServers: `${PARTS.virtualServers}  - { name: nothing, port: 80 }\n` });
    expectOne(repo({ 'keepgit.yaml': none }), {
      path: 'virtualServers.nothing',
      message: /^a virtual server needs one of address, fwmark or group$/,
      at: pos(none, '{ name: nothing'),
    });
    const two = cluster({
      virtualServers: `${PARTS.virtualServers}  - { name: two, address: 203.0.113.50, port: 80, fwmark: 9 }\n`,
    });
    expectOne(repo({ 'keepgit.yaml': two }), {
      path: 'virtualServers.two.fwmark',
      message: /^address and fwmark are both set; give exactly one of address, fwmark or group$/,
      at: pos(two, '9 }'),
    });
  });

  it('needs a port with an address, not with a fwmark or a group', () => {
    const text = cluster({
      virtualServers: PARTS.virtualServers.replace('    port: 80\n    protocol', '    protocol'),
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'virtualServers.www-80',
      message: /^missing field "port"/,
      at: pos(text, 'name: www-80'),
    });
    // The valid repository has a fwmark service without a port and a group service.
    assert.deepEqual(errorsOf(repo()), []);
  });

  it('refuses an instance that mixes IPv4 and IPv6 VIPs', () => {
    const text = cluster({
      instances: instances.replace('vips: [203.0.113.11/32]', 'vips: [203.0.113.11/32, 2001:db8::11]'),
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'instances.www-https.vips',
      message:
        /^mixes IPv4 and IPv6 addresses; .*excludedVips \(virtual_ipaddress_excluded\) or to a second instance$/,
      at: pos(text, '[203.0.113.11/32, 2001'),
    });
  });

  it('allows the other family in excludedVips', () => {
    const text = cluster({
      instances: instances.replace(
        'vips: [203.0.113.11/32]',
        'vips: [203.0.113.11/32]\n    excludedVips: [2001:db8::11]',
      ),
    });
    assert.deepEqual(errorsOf(repo({ 'keepgit.yaml': text })), []);
  });

  it('refuses VRRP version 2 with IPv6 VIPs', () => {
    const text = cluster({
      instances: instances.replace('    priority: 100\n', '    priority: 100\n    version: 2\n'),
    });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'instances.www-v6.version',
      message: /^VRRP version 2 carries IPv4 only, and this instance has IPv6 VIPs; use version: 3$/,
      at: { line: pos(text, 'version: 2').line, col: pos(text, 'version: 2').col + 'version: '.length },
    });
    const viaDefaults = cluster({ defaults: 'defaults:\n  vrrp: { version: 2 }\n' });
    expectOne(repo({ 'keepgit.yaml': viaDefaults }), {
      path: 'instances.www-v6.vips',
      message: /^VRRP version 2 \(from defaults\.vrrp\.version\) carries IPv4 only/,
    });
  });

  it('refuses a participating node with no interface', () => {
    const text = cluster({ instances: instances.replace('    interface: eth0\n    nodes', '    nodes') });
    expectOne(repo({ 'keepgit.yaml': text }), {
      path: 'instances.www-v6',
      message: /^no interface for nodes lb1, lb2: set interface/,
      at: pos(text, 'name: www-v6', 1),
    });
    const map = cluster({
      instances: instances.replace(
        '    interface: eth0\n    nodes',
        '    interface: { lb1: eth0 }\n    nodes',
      ),
    });
    expectOne(repo({ 'keepgit.yaml': map }), {
      path: 'instances.www-v6.interface',
      message: /^node "lb2" takes part but has no interface; add lb2: <interface>$/,
    });
  });

  it('accepts an interface given only by the node files', () => {
    const text = cluster({ instances: instances.replace('    interface: eth0\n    nodes', '    nodes') });
    const lb1 = `${LB1}instances: { www-v6: { interface: eth1 } }\n`;
    const lb2 = LB2.replace('{ www-v6: { priority: 90 } }', '{ www-v6: { priority: 90, interface: eth2 } }');
    assert.deepEqual(
      errorsOf(repo({ 'keepgit.yaml': text, 'nodes/lb1.yaml': lb1, 'nodes/lb2.yaml': lb2 })),
      [],
    );
  });

  it('skips references to a node whose file is broken, reporting only the file', () => {
    const ds = errorsOf(repo({ 'nodes/lb2.yaml': `${LB2}dataplane: nope\n` }));
    assert.deepEqual(
      ds.map((d) => d.file),
      ['nodes/lb2.yaml'],
      show(ds),
    );
  });
});

describe('loadRepository: speed', () => {
  it('loads a 200-instance, 400-real-server repository', () => {
    const inst200 = Array.from(
      { length: 200 },
      (_, i) =>
        `  - { name: i${i}, vrid: ${(i % 255) + 1}, interface: eth${Math.floor(i / 255)}, priority: { lb1: 110, lb2: 100 }, vips: [203.0.113.${i % 250}/32] }`,
    ).join('\n');
    const vs200 = Array.from(
      { length: 200 },
      (_, i) =>
        `  - { name: v${i}, address: 198.51.100.${i % 250}, port: ${1000 + i}, realServers: [{ address: 192.0.2.1, port: 80 }, { address: 192.0.2.2, port: 80 }] }`,
    ).join('\n');
    const text = `${HEADER}instances:\n${inst200}\nvirtualServers:\n${vs200}\n`;
    const r = loadRepository(repo({ 'keepgit.yaml': text, 'nodes/lb2.yaml': node('lb2') }));
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'error'),
      [],
      show(r.diagnostics),
    );
  });
});

describe('readRepositoryDir', () => {
  it('reads the files the loader wants, and only those', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keepgit-read-'));
    try {
      await mkdir(join(dir, 'nodes'));
      await mkdir(join(dir, 'policies'));
      await mkdir(join(dir, 'nodes', 'old'));
      await writeFile(join(dir, 'keepgit.yaml'), cluster());
      await writeFile(join(dir, 'nodes', 'lb1.yaml'), LB1);
      await writeFile(join(dir, 'nodes', 'lb2.yml'), LB2);
      await writeFile(join(dir, 'nodes', 'notes.txt'), 'x');
      await writeFile(join(dir, 'nodes', 'old', 'lb9.yaml'), 'x');
      await writeFile(join(dir, 'policies', 'house.yaml'), POLICY);
      await writeFile(join(dir, 'README.md'), 'x');
      const read = await readRepositoryDir(dir);
      assert.deepEqual(read.diagnostics, []);
      assert.deepEqual(
        [...read.files.keys()],
        ['keepgit.yaml', 'nodes/lb1.yaml', 'nodes/lb2.yml', 'policies/house.yaml'],
      );
      assert.deepEqual(loadRepository(read.files).diagnostics, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing directory as a diagnostic', async () => {
    const dir = join(tmpdir(), 'keepgit-no-such-dir-0');
    const read = await readRepositoryDir(dir);
    assert.equal(read.files.size, 0);
    assert.deepEqual(
      read.diagnostics.map((d) => [d.file, d.message]),
      [[dir, 'cannot read the repository directory: no such file or directory']],
    );
  });
});
