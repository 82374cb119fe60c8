import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { globSegmentMatcher } from '../../src/config/import-glob.ts';
import { type ImportResult, importKeepalived } from '../../src/config/import-keepalived.ts';
import type { KaStatement } from '../../src/config/keepalived-ast.ts';
import { parseKeepalivedConf } from '../../src/config/keepalived-parse.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { renderRepository } from '../../src/config/render-repository.ts';
import type { Check, Instance, VirtualServer } from '../../src/model/cluster-schema.ts';
import { formatDiagnostic } from '../../src/model/diagnostic.ts';

const FIXTURES = 'test/fixtures/keepalived';

function parse(text: string, file: string) {
  const r = parseKeepalivedConf(text, file);
  if (!r.ok) throw new Error(`${r.error.pos.file}:${r.error.pos.line}: ${r.error.message}`);
  return r;
}

/** Imports node=text pairs; `files` maps the node to a file name for positions. */
function importTexts(nodes: Record<string, string>): ImportResult {
  return importKeepalived(
    Object.entries(nodes).map(([node, text]) => {
      const file = `${node}.conf`;
      const r = parse(text, file);
      return { node, file, statements: r.statements, notices: r.notices };
    }),
  );
}

function importFixtures(nodes: Record<string, string>): { result: ImportResult; files: Map<string, string> } {
  const entries = Object.entries(nodes).map(([node, name]) => {
    const file = join(FIXTURES, name);
    const r = parse(readFileSync(file, 'utf8'), file);
    return { node, file, statements: r.statements, notices: r.notices };
  });
  const result = importKeepalived(entries);
  const files = renderRepository(
    result,
    entries.map((e) => e.file),
  );
  return { result, files };
}

function assertLoads(files: Map<string, string>): void {
  const { diagnostics } = loadRepository(files);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(errors.map(formatDiagnostic), [], [...files.values()].join('\n---\n'));
}

const instance = (r: ImportResult, name: string): Instance => {
  const i = r.cluster.instances?.find((x) => x.name === name);
  assert.ok(i, `instance ${name}: ${JSON.stringify(r.cluster.instances)}`);
  return i;
};

const reported = (r: ImportResult, keyword: string) => r.unsupported.filter((u) => u.keyword === keyword);

const PAIRS: Record<string, Record<string, string>> = {
  basic: { lb1: 'basic-master.conf', lb2: 'basic-backup.conf' },
  'pair-eth1': { lb1: 'pair-eth1-master.conf', lb2: 'pair-eth1-backup.conf' },
  rtr: { rtr_0: 'rtr-master.conf', rtr_1: 'rtr-backup.conf' },
  'lvs-nat-sh': { lb1: 'lvs-nat-sh-master.conf', lb2: 'lvs-nat-sh-backup.conf' },
  tracking: { lb1: 'tracking-master.conf' },
  upstream: { lb1: 'upstream-sample.conf' },
};

describe('importKeepalived: fixtures', () => {
  for (const [label, nodes] of Object.entries(PAIRS)) {
    it(`${label} imports into a repository that loads`, () => {
      const { files } = importFixtures(nodes);
      assertLoads(files);
    });
  }

  it('covers every fixture file', () => {
    const used = new Set(Object.values(PAIRS).flatMap((p) => Object.values(p)));
    const all = readdirSync(FIXTURES).filter((f) => f.endsWith('.conf'));
    assert.ok(all.length >= 10);
    for (const f of all) assert.ok(used.has(f), `${f} is not imported by any test`);
  });

  it('merges the basic pair into one instance with per-node priority and state', () => {
    const { result } = importFixtures(PAIRS.basic as Record<string, string>);
    assert.equal(result.cluster.instances?.length, 1);
    const i = instance(result, 'VI_1');
    assert.equal(i.vrid, 51);
    assert.deepEqual(i.priority, { lb1: 210, lb2: 200 });
    assert.deepEqual(i.state, { lb1: 'MASTER', lb2: 'BACKUP' });
    assert.equal(i.interface, 'eth0');
    assert.deepEqual(i.vips, ['192.168.137.200']);
    assert.equal(i.advertInterval, '1s');
    assert.deepEqual(i.auth, { type: 'PASS', secretRef: { env: 'KEEPGIT_VRRP_PASS_VI_1' } });
    assert.equal(i.nodes, undefined);
    assert.deepEqual(result.unsupported, []);
    assert.deepEqual(
      result.secrets.map((s) => [s.env, s.instance, s.pos.line]),
      [['KEEPGIT_VRRP_PASS_VI_1', 'VI_1', 9]],
    );
  });

  it('merges the rtr pair although the instances are named VI_0 and VI_1', () => {
    const { result } = importFixtures(PAIRS.rtr as Record<string, string>);
    assert.equal(result.cluster.instances?.length, 1);
    const i = instance(result, 'VI_0');
    assert.deepEqual(i.priority, { rtr_0: 200, rtr_1: 100 });
    assert.ok(
      result.notes.some(
        (n) => /VI_1 is merged into VI_0/.test(n.message) && n.pos.file.endsWith('rtr-backup.conf'),
      ),
    );
    assert.deepEqual(
      result.nodes.map((n) => n.routerId),
      ['rtr_0', 'rtr_1'],
    );
    assert.deepEqual(result.unsupported, []);
  });

  it('keeps the lvs pair: sync group, sh, NAT, persistence 3h, nb_get_retry as retry', () => {
    const { result } = importFixtures(PAIRS['lvs-nat-sh'] as Record<string, string>);
    const c = result.cluster;
    assert.deepEqual(c.syncGroups, [{ name: 'www-ha', instances: ['www-http01_vrrp', 'www-https01_vrrp'] }]);
    assert.equal(c.instances?.length, 2);
    assert.equal(c.virtualServers?.length, 2);
    const vs = c.virtualServers?.[0] as VirtualServer;
    assert.equal(vs.address, '166.166.166.166');
    assert.equal(vs.port, 80);
    assert.equal(vs.scheduler, 'sh');
    assert.equal(vs.forwarding, 'nat');
    assert.equal(vs.persistence, '3h');
    assert.equal(vs.protocol, 'TCP');
    assert.equal(vs.delayLoop, '5s');
    assert.equal(vs.nodes, undefined, 'identical on both nodes: written once for all');
    const check = vs.realServers?.[0]?.checks?.[0] as Check & { retry?: number };
    assert.deepEqual(check, {
      type: 'tcp',
      connectPort: 80,
      connectTimeout: '3s',
      retry: 3,
      delayBeforeRetry: '3s',
    });
    for (const n of result.nodes) {
      assert.equal(n.routerId, 'LVS_MAIN');
      assert.equal(n.enableScriptSecurity, true);
    }
    const mail = reported(result, 'notification_email');
    assert.equal(mail.length, 2);
    assert.match(mail[0]?.reason ?? '', /e-mail/);
    assert.deepEqual(
      result.unsupported.map((u) => u.keyword).sort(),
      [...Array(2)]
        .flatMap(() => [
          'notification_email',
          'notification_email_from',
          'smtp_connect_timeout',
          'smtp_server',
        ])
        .sort(),
    );
  });

  it('keeps the tracking fixture: processes, files, interfaces with weights, nopreempt', () => {
    const { result } = importFixtures(PAIRS.tracking as Record<string, string>);
    const c = result.cluster;
    assert.deepEqual(c.trackProcesses, [{ name: 'track_apache', process: 'httpd', weight: 10 }]);
    assert.deepEqual(c.trackFiles, [{ name: 'track_app_file', file: '/var/run/my_app/vrrp_track_file' }]);
    assert.deepEqual(c.scripts, [
      {
        name: 'keepalived_check',
        script: '/etc/keepalived/check.sh',
        interval: '5s',
        timeout: '5s',
        fall: 3,
      },
    ]);
    const i = instance(result, 'VI_1');
    assert.equal(i.preempt, false);
    assert.equal(i.priority, 210, 'one node: a plain value');
    assert.deepEqual(i.track, {
      processes: ['track_apache'],
      files: [{ name: 'track_app_file', weight: 1 }],
      interfaces: [{ name: 'ens9', weight: 5 }],
      scripts: ['keepalived_check'],
    });
    assert.deepEqual(result.unsupported, []);
  });

  it("keeps keepalived's sample: strict, SSL_GET/HTTP_GET urls with digests, sorry_server", () => {
    const { result } = importFixtures(PAIRS.upstream as Record<string, string>);
    const c = result.cluster;
    assert.deepEqual(c.defaults?.vrrp, {
      skipCheckAdvAddr: true,
      strict: true,
      garp: { interval: '0s', naInterval: '0s' },
    });
    assert.equal(result.nodes[0]?.routerId, 'LVS_DEVEL');
    assert.equal(c.virtualServers?.length, 3);
    const ssl = c.virtualServers?.[0]?.realServers?.[0]?.checks?.[0];
    assert.deepEqual(ssl, {
      type: 'https',
      urls: [
        { path: '/', digest: 'ff20ad2481f97b1754ef3e12ecd3a9cc' },
        { path: '/mrtg/', digest: '9b3a0c85a887a256d6939da88aabd8cd' },
      ],
      connectTimeout: '3s',
      retry: 3,
      delayBeforeRetry: '3s',
    });
    const second = c.virtualServers?.[1] as VirtualServer;
    assert.deepEqual(second.sorryServer, { address: '192.168.200.200', port: 1358 });
    assert.equal(second.persistence, '50s');
    const http = second.realServers?.[1]?.checks?.[0];
    assert.equal(http?.type, 'http');
    assert.equal(http?.type === 'http' ? http.urls.length : 0, 2);
    assert.ok(reported(result, 'notification_email').length === 1);
  });

  it('never writes a password into any file', () => {
    for (const nodes of Object.values(PAIRS)) {
      const { result, files } = importFixtures(nodes);
      const passwords = Object.values(nodes).flatMap((f) =>
        [...readFileSync(join(FIXTURES, f), 'utf8').matchAll(/auth_pass\s+(\S+)/g)].map(
          (m) => m[1] as string,
        ),
      );
      assert.ok(passwords.length > 0);
      const text = [...files.values()].join('\n') + JSON.stringify(result);
      for (const p of [...passwords, '1111', 'P@ssW0rd']) assert.ok(!text.includes(p), `${p} leaked`);
    }
  });

  it('renders readable YAML: header, key order, .env.example naming each secret', () => {
    const { files } = importFixtures(PAIRS.basic as Record<string, string>);
    const yaml = files.get('keepgit.yaml') ?? '';
    assert.match(yaml, /^# imported by keepgit import from test\/fixtures\/keepalived\/basic-master\.conf, /);
    assert.match(yaml, /apiVersion: keepgit\/v1\nkind: Cluster\nmetadata:/);
    assert.match(yaml, /- name: VI_1\n {4}vrid: 51\n/);
    assert.match(yaml, /priority: \{ lb1: 210, lb2: 200 \}/);
    assert.deepEqual([...files.keys()].sort(), [
      '.env.example',
      'keepgit.yaml',
      'nodes/lb1.yaml',
      'nodes/lb2.yaml',
    ]);
    const env = files.get('.env.example') ?? '';
    assert.match(env, /basic-master\.conf:9\)\nKEEPGIT_VRRP_PASS_VI_1=\n/);
  });
});

const PAIR_A = `
vrrp_instance web {
  state MASTER
  interface eth0
  virtual_router_id 60
  priority 150
  advert_int 1
  unicast_src_ip 192.0.2.1
  unicast_peer {
    192.0.2.2
    192.0.2.9
  }
  authentication {
    auth_type PASS
    auth_pass aaaa1111
  }
  virtual_ipaddress {
    203.0.113.10/24 dev eth1 label eth1:vip
  }
}
`;

const PAIR_B = `
vrrp_instance web_b {
  state BACKUP
  interface ens3
  virtual_router_id 60
  priority 100
  advert_int 2
  unicast_src_ip 192.0.2.2
  unicast_peer {
    192.0.2.1
    192.0.2.9
  }
  authentication {
    auth_type PASS
    auth_pass bbbb2222
  }
  virtual_ipaddress {
    203.0.113.10/24 dev eth1 label eth1:vip
  }
}
vrrp_instance only_b {
  interface ens3
  virtual_router_id 61
  virtual_ipaddress {
    203.0.113.11
  }
}
`;

describe('importKeepalived: merging nodes', () => {
  const r = importTexts({ lb1: PAIR_A, lb2: PAIR_B });
  const files = renderRepository(r, ['lb1.conf', 'lb2.conf']);

  it('writes a repository that loads', () => assertLoads(files));

  it('holds per-node interfaces as a map and unicast sources on the nodes', () => {
    const i = instance(r, 'web');
    assert.deepEqual(i.interface, { lb1: 'eth0', lb2: 'ens3' });
    assert.deepEqual(
      i.unicast,
      { peers: ['192.0.2.9'] },
      'the imported nodes are derived, the third peer stays',
    );
    assert.deepEqual(r.nodes[0]?.interfaces, { eth0: { unicastSource: '192.0.2.1' } });
    assert.deepEqual(r.nodes[1]?.interfaces, { ens3: { unicastSource: '192.0.2.2' } });
  });

  it('reports a setting the model holds once on the second file’s line', () => {
    const adv = reported(r, 'advert_int');
    assert.equal(adv.length, 1);
    assert.deepEqual(adv[0]?.pos, { file: 'lb2.conf', line: 7 });
    assert.equal(adv[0]?.reason, 'differs from lb1.conf:7; the model holds one value per instance');
    assert.equal(instance(r, 'web').advertInterval, '1s', 'the first file wins');
  });

  it('reports differing passwords without showing them', () => {
    const pass = reported(r, 'auth_pass');
    assert.equal(pass.length, 1);
    assert.equal(pass[0]?.pos.file, 'lb2.conf');
    assert.ok(!JSON.stringify(r).includes('aaaa1111') && !JSON.stringify(r).includes('bbbb2222'));
    assert.deepEqual(
      r.secrets.map((s) => s.env),
      ['KEEPGIT_VRRP_PASS_WEB'],
    );
  });

  it('gives an instance of some files only its nodes', () => {
    const i = instance(r, 'only_b');
    assert.deepEqual(i.nodes, ['lb2']);
    assert.deepEqual(i.priority, { lb2: 100 });
  });

  it('infers a unicast source from the peers when unicast_src_ip is missing', () => {
    const a = PAIR_A.replace(/ {2}unicast_src_ip .*\n/, '');
    const b = PAIR_B.replace(/ {2}unicast_src_ip .*\n/, '').replace('advert_int 2', 'advert_int 1');
    const m = importTexts({ lb1: a, lb2: b });
    assert.deepEqual(m.nodes[0]?.interfaces, { eth0: { unicastSource: '192.0.2.1' } });
    assert.deepEqual(m.nodes[1]?.interfaces, { ens3: { unicastSource: '192.0.2.2' } });
    assert.deepEqual(instance(m, 'web').unicast, { peers: ['192.0.2.9'] });
    assert.equal(m.notes.filter((n) => /has no unicast_src_ip/.test(n.message)).length, 2);
    assertLoads(renderRepository(m, []));
  });

  it('puts a differing preempt into a node override', () => {
    const m = importTexts({
      lb1: PAIR_A.replace('advert_int 1', 'nopreempt'),
      lb2: PAIR_B.replace('advert_int 2', ''),
    });
    assert.equal(instance(m, 'web').preempt, false);
    assert.deepEqual(m.nodes[1]?.instances, { web: { preempt: true } });
    assertLoads(renderRepository(m, []));
  });

  it('writes identical definitions once and reports different ones', () => {
    const def = (interval: number) => `
vrrp_script chk { script "/bin/true" interval ${interval} }
virtual_server 192.0.2.50 80 { lb_algo rr
  real_server 198.51.100.1 80 { weight ${interval} }
}
`;
    const same = importTexts({ a: def(2), b: def(2) });
    assert.equal(same.cluster.scripts?.length, 1);
    assert.equal(same.cluster.virtualServers?.length, 1);
    assert.deepEqual(
      same.unsupported.filter((u) => u.keyword !== ''),
      [],
    );
    const differ = importTexts({ a: def(2), b: def(3) });
    const why = differ.unsupported.filter((u) => u.pos.file === 'b.conf' && u.keyword !== '');
    assert.deepEqual(
      why.map((u) => u.keyword),
      ['vrrp_script', 'virtual_server'],
    );
    assert.match(why[1]?.reason ?? '', /differs from a\.conf:3 \(at realServers\.0\.weight\)/);
    assertLoads(renderRepository(differ, []));
  });

  it('renames sync group members after their merged instance', () => {
    const conf = (name: string, prio: number) => `
vrrp_sync_group G { group { ${name} } notify_master /bin/m.sh }
vrrp_instance ${name} { interface eth0
  virtual_router_id 9
  priority ${prio}
  virtual_ipaddress { 192.0.2.99 }
}`;
    const m = importTexts({ a: conf('X', 200), b: conf('Y', 100) });
    assert.deepEqual(m.cluster.syncGroups, [
      { name: 'G', instances: ['X'], notify: { master: '/bin/m.sh' } },
    ]);
    assertLoads(renderRepository(m, []));
  });
});

describe('importKeepalived: what it cannot map', () => {
  it('leaves out a label on an IPv6 VIP, which the kernel would not keep', () => {
    const r = importTexts({
      n: `
vrrp_instance V6 {
  interface eth0
  virtual_router_id 20
  virtual_ipaddress { 2001:db8::10/64 dev eth0 label eth0:v6 }
}`,
    });
    assert.match(reported(r, '2001:db8::10/64')[0]?.reason ?? '', /label on an IPv6 VIP .*left out/);
    assert.deepEqual(instance(r, 'V6').vips, [{ address: '2001:db8::10/64', dev: 'eth0' }]);
    assertLoads(renderRepository(r, []));
  });

  it('reports bad values naming what was expected, and still writes a valid repository', () => {
    const r = importTexts({
      n: `
vrrp_instance A {
  interface eth0
  virtual_router_id 300
  virtual_ipaddress { 192.0.2.1 }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 20
  priority abc
  advert_int fast
  virtual_ipaddress {
    192.0.2.300
    192.0.2.2/24 scope galaxy
  }
}`,
    });
    const by = (k: string) => reported(r, k).map((u) => u.reason);
    assert.deepEqual(by('virtual_router_id'), ['expected a whole number 1..255, got "300"']);
    assert.deepEqual(by('priority'), ['expected a whole number 1..255, got "abc"']);
    assert.match(by('advert_int')[0] ?? '', /expected seconds/);
    assert.deepEqual(by('192.0.2.300'), [
      'expected an IP address with an optional /prefix, got "192.0.2.300"',
    ]);
    assert.match(by('192.0.2.2/24')[0] ?? '', /expected scope/);
    assert.match(by('vrrp_instance')[0] ?? '', /A not imported: it has no valid virtual_router_id/);
    assert.deepEqual(instance(r, 'B').vips, ['192.0.2.2/24']);
    assertLoads(renderRepository(r, []));
  });

  it('reports unknown keywords and blocks, and known but unsupported ones with a reason', () => {
    const r = importTexts({
      n: `
global_defs {
  notification_email { a@b }
  lvs_sync_daemon eth0 VI_1
  router_idd x
}
vrrp_instanc X { }
static_ipaddress { 192.0.2.5/24 dev eth0 }
bfd_instance b { }
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  use_vmac
  virtual_routes { 0.0.0.0/0 via 192.0.2.254 }
  virtual_ipaddress { 192.0.2.1 }
  smtp_alert
  unicast_peer { 192.0.2.3 min_ttl 1 }
}`,
    });
    const got = r.unsupported.map((u) => `${u.pos.line} ${u.keyword}: ${u.reason}`);
    const expect = [
      /^3 notification_email: e-mail alerts are not supported; use notify scripts$/,
      /^4 lvs_sync_daemon: .*sync daemon/,
      /^5 router_idd: unknown keyword$/,
      /^7 vrrp_instanc: unknown keyword$/,
      /^8 static_ipaddress: static addresses/,
      /^9 bfd_instance: BFD/,
      /^13 use_vmac: virtual MAC/,
      /^14 virtual_routes: routes/,
      /^16 smtp_alert: e-mail/,
      /^17 192\.0\.2\.3: peer options/,
    ];
    assert.equal(got.length, expect.length, got.join('\n'));
    for (const [i, re] of expect.entries()) assert.match(got[i] as string, re);
    assertLoads(renderRepository(r, []));
  });

  it('reports a file with nothing to import', () => {
    const r = importKeepalived([{ node: 'n', file: 'empty.conf', statements: [] }]);
    assert.deepEqual(r.unsupported, [
      {
        pos: { file: 'empty.conf', line: 1 },
        keyword: '',
        reason: 'no vrrp_instance or virtual_server found: nothing to import for this node',
      },
    ]);
    assertLoads(renderRepository(r, ['empty.conf']));
  });

  it("turns the parser's notices into notes and unsupported entries", () => {
    const r = importTexts({
      n: `$IF=eth0
vrrp_instance V {
  @lb1 priority 200
  interface $IF
  virtual_router_id 5
  virtual_ipaddress { 192.0.2.5 }
}`,
    });
    assert.ok(r.notes.some((n) => n.pos.line === 1 && /\$IF parameter definition/.test(n.message)));
    assert.deepEqual(
      r.unsupported.map((u) => [u.pos.line, u.keyword]),
      [[3, '@lb1']],
    );
    assert.equal(instance(r, 'V').interface, 'eth0');
  });

  it('maps keepalived aliases to the same field', () => {
    const r = importTexts({
      n: `
virtual_server 192.0.2.80 80 {
  lvs_sched wlc
  lvs_method DR
  real_server 198.51.100.1 80 {
    lvs_method TUN
    TCP_CHECK {
      nb_get_retry 4
    }
    HTTP_GET {
      url {
        path /h
        status_code 200-299 302
      }
      nb_get_retry 2
    }
    MISC_CHECK {
      misc_path "/bin/chk a"
      misc_timeout 3
      misc_dynamic
      user nobody
    }
    UDP_CHECK {
      payload Ab12f 3 456
      require_reply
    }
    DNS_CHECK {
      type AAAA
      name example.org
    }
    SMTP_CHECK {
      helo_name mx
    }
    PING_CHECK {
    }
  }
  sorry_server 198.51.100.9 80
  sorry_server_inhibit
  quorum 2
  hysteresis 1
  quorum_up /bin/up
  persistence_timeout 600
  persistence_granularity 255.255.255.0
  flag-2
  ops
}`,
    });
    const vs = r.cluster.virtualServers?.[0] as VirtualServer;
    assert.equal(vs.scheduler, 'wlc');
    assert.equal(vs.forwarding, 'dr');
    assert.deepEqual(vs.persistence, { timeout: '10m', granularity: '255.255.255.0' });
    assert.deepEqual(vs.sorryServer, { address: '198.51.100.9', port: 80, inhibit: true });
    assert.deepEqual(vs.quorum, { value: 2, hysteresis: 1, up: '/bin/up' });
    assert.equal(vs.opsScheduling, true);
    const rs = vs.realServers?.[0];
    assert.equal(rs?.forwarding, 'tun');
    const checks = rs?.checks ?? [];
    assert.deepEqual(
      checks.map((c) => c.type),
      ['tcp', 'http', 'misc', 'udp', 'dns', 'smtp', 'ping'],
    );
    assert.equal((checks[0] as { retry?: number }).retry, 4);
    assert.deepEqual(checks[2], {
      type: 'misc',
      script: '/bin/chk a',
      timeout: '3s',
      dynamic: true,
      user: 'nobody',
      retry: 0,
    });
    assert.deepEqual(checks[3], { type: 'udp', payload: 'ab120f034506', requireReply: true });
    assert.deepEqual(checks[4], { type: 'dns', queryType: 'AAAA', queryName: 'example.org', retry: 3 });
    // flag-2 means nothing to wlc: reported, not guessed.
    assert.deepEqual(reported(r, 'flag-2').length, 1);
  });
});

describe('importKeepalived: robustness', () => {
  const KEYWORDS = [
    'global_defs',
    'vrrp_instance',
    'vrrp_sync_group',
    'vrrp_script',
    'vrrp_track_process',
    'track_file',
    'virtual_server',
    'virtual_server_group',
    'real_server',
    'state',
    'interface',
    'virtual_router_id',
    'priority',
    'advert_int',
    'virtual_ipaddress',
    'unicast_peer',
    'unicast_src_ip',
    'authentication',
    'auth_type',
    'auth_pass',
    'track_script',
    'track_interface',
    'group',
    'notify_master',
    'HTTP_GET',
    'url',
    'path',
    'digest',
    'TCP_CHECK',
    'FILE_CHECK',
    'weight',
    'lb_algo',
    'lb_kind',
    'nopreempt',
    'fwmark',
    'vrrp_version',
    'vrrp_strict',
    'router_id',
    'script',
    'process',
    'file',
    'sorry_server',
    'status_code',
    'garp_master_delay',
    'version',
    'persistence_timeout',
    'quorum',
    'VI_1',
    'chk',
    'eth0',
    '192.0.2.1',
    '2001:db8::1',
    'x',
  ];
  const ARGS = [
    'VI_1',
    'chk',
    'eth0',
    '1',
    '0',
    '255',
    '300',
    '-5',
    '0.5',
    'abc',
    '192.0.2.1',
    '192.0.2.1/24',
    '2001:db8::1',
    '80',
    'MASTER',
    'BACKUP',
    'PASS',
    'NAT',
    'sh',
    'weight',
    'reverse',
    'dev',
    'fwmark',
    'group',
    '/p',
    'ff20ad2481f97b1754ef3e12ecd3a9cc',
    '200-299',
    'TCP',
    'inet6',
  ];
  const stmt: fc.Memo<KaStatement> = fc.memo((depth) =>
    fc.record(
      {
        keyword: fc.constantFrom(...KEYWORDS),
        args: fc.array(fc.constantFrom(...ARGS), { maxLength: 3 }),
        pos: fc.record({ file: fc.constantFrom('a.conf', 'b.conf'), line: fc.nat(500) }),
        block: depth > 1 ? fc.array(stmt(depth - 1), { maxLength: 5 }) : fc.constant([]),
      },
      { requiredKeys: ['keyword', 'args', 'pos'] },
    ),
  );

  it('never throws and always writes a repository that loads', () => {
    fc.assert(
      fc.property(fc.array(fc.array(stmt(4), { maxLength: 6 }), { minLength: 1, maxLength: 3 }), (files) => {
        const r = importKeepalived(
          files.map((statements, i) => ({ node: `n${i}`, file: `f${i}.conf`, statements })),
        );
        const { diagnostics } = loadRepository(renderRepository(r, []));
        const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
        assert.deepEqual(errors, [], JSON.stringify(r.cluster));
      }),
      { numRuns: 300 },
    );
  });

  // Instances close to valid, so that the merge of several files is what gets exercised.
  const line = (keyword: string, args: string[], block?: KaStatement[]): KaStatement => ({
    keyword,
    args,
    pos: { file: 'x.conf', line: 1 },
    ...(block ? { block } : {}),
  });
  const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
  const instanceStmt = fc
    .record({
      name: pick('A', 'B', 'C'),
      vrid: pick('1', '2', '300'),
      iface: pick('eth0', 'eth1'),
      prio: fc.option(pick('100', '200', '255', 'x')),
      state: fc.option(pick('MASTER', 'BACKUP')),
      vips: pick(['192.0.2.1'], ['192.0.2.1', '192.0.2.2/24'], ['2001:db8::1'], ['bad', '192.0.2.1']),
      src: fc.option(pick('198.51.100.1', '198.51.100.2')),
      peers: fc.option(fc.subarray(['198.51.100.1', '198.51.100.2', '198.51.100.3'])),
      extra: fc.subarray([
        line('nopreempt', []),
        line('advert_int', ['2']),
        line('version', ['2']),
        line('garp_master_delay', ['1']),
        line('track_script', [], [line('chk', ['weight', '5'])]),
        line('track_interface', [], [line('eth9', [])]),
        line('authentication', [], [line('auth_type', ['PASS']), line('auth_pass', ['pw'])]),
        line('virtual_ipaddress_excluded', [], [line('2001:db8::5', [])]),
        line('notify_master', ['/bin/m']),
      ]),
    })
    .map((g) =>
      line(
        'vrrp_instance',
        [g.name],
        [
          line('interface', [g.iface]),
          line('virtual_router_id', [g.vrid]),
          ...(g.prio ? [line('priority', [g.prio])] : []),
          ...(g.state ? [line('state', [g.state])] : []),
          line(
            'virtual_ipaddress',
            [],
            g.vips.map((v) => line(v, [])),
          ),
          ...(g.src ? [line('unicast_src_ip', [g.src])] : []),
          ...(g.peers
            ? [
                line(
                  'unicast_peer',
                  [],
                  g.peers.map((p) => line(p, [])),
                ),
              ]
            : []),
          ...g.extra,
        ],
      ),
    );
  const fileStmts = fc
    .record({
      instances: fc.array(instanceStmt, { maxLength: 3 }),
      script: fc.option(pick('1', '2')),
      version: fc.option(pick('2', '3')),
      group: fc.boolean(),
    })
    .map((f) => [
      ...(f.version ? [line('global_defs', [], [line('vrrp_version', [f.version])])] : []),
      ...(f.script
        ? [line('vrrp_script', ['chk'], [line('script', ['/bin/true']), line('interval', [f.script])])]
        : []),
      ...(f.group ? [line('vrrp_sync_group', ['G'], [line('group', [], [line('A', ['B'])])])] : []),
      ...f.instances,
    ]);

  it('merges near-valid instances of several files into a repository that loads', () => {
    fc.assert(
      fc.property(fc.array(fileStmts, { minLength: 1, maxLength: 3 }), (files) => {
        const r = importKeepalived(
          files.map((statements, i) => ({ node: `n${i}`, file: `f${i}.conf`, statements })),
        );
        const { diagnostics } = loadRepository(renderRepository(r, []));
        const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
        assert.deepEqual(errors, [], JSON.stringify(r.cluster));
        assert.ok(!JSON.stringify(r).includes('"pw"'));
      }),
      { numRuns: 300 },
    );
  });

  it('matches include globs as glob(3) does', () => {
    const m = globSegmentMatcher('*.conf');
    assert.ok(m('a.conf') && !m('.hidden.conf') && !m('a.conf.bak'));
    const c = globSegmentMatcher('vs-[0-9]?.c[!x]nf');
    assert.ok(c('vs-1a.conf') && !c('vs-xa.conf') && !c('vs-1a.cxnf'));
    assert.ok(globSegmentMatcher('[z-a]')('q') === false);
  });
});
