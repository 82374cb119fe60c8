import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReceivedAdvert } from '../../src/drivers/vrrp-socket/transport.ts';
import { authPassword } from '../../src/vrrp/advert.ts';
import { deleteNamespace, labUnavailable, sh } from './netns.ts';
import { A, B, counters, killAll, receiver, spawnIn, twoHosts } from './vrrp-transport-lab.ts';
import { receivedFromJson } from './vrrp-transport-wire.ts';

// Our receive path against the real thing: Debian's keepalived runs as MASTER of three
// instances (v2 with PASS, v3 IPv4, v3 IPv6) in namespace A, and the transport in
// namespace B must decode what it sends, with nothing dropped.

const why = labUnavailable(['keepalived']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const conf = (ifname: string) => `global_defs {
    router_id ka-lab
}
vrrp_instance VI_V2 {
    version 2
    state MASTER
    interface ${ifname}
    virtual_router_id 51
    priority 110
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.10/24 dev ${ifname}
    }
}
vrrp_instance VI_V3 {
    version 3
    state MASTER
    interface ${ifname}
    virtual_router_id 52
    priority 100
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.20/24 dev ${ifname}
    }
}
vrrp_instance VI_V6 {
    version 3
    state MASTER
    interface ${ifname}
    virtual_router_id 53
    priority 120
    advert_int 0.5
    virtual_ipaddress {
        2001:db8::10/64 dev ${ifname}
    }
}
`;

describe('the VRRP transport decodes keepalived adverts', { skip }, () => {
  let nsA = '';
  let nsB = '';
  let dir = '';
  let keepalived: ChildProcess | undefined;
  let log = '';
  before(() => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    ({ nsA, nsB } = twoHosts('vk'));
    dir = mkdtempSync(join(tmpdir(), 'keepgit-ka-'));
    writeFileSync(join(dir, 'keepalived.conf'), conf(A.ifname));
  });
  after(async () => {
    // SIGTERM, not SIGKILL: keepalived's parent then stops its VRRP child too.
    if (keepalived?.pid !== undefined && keepalived.exitCode === null) {
      const exited = new Promise((resolve) => keepalived?.once('exit', resolve));
      process.kill(keepalived.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
    }
    killAll();
    // Anything still inside our namespaces was started by this test (keepalived's child).
    for (const ns of [nsA, nsB]) {
      if (!ns) continue;
      for (const pid of sh('ip', ['netns', 'pids', ns]).stdout.split('\n').filter(Boolean)) {
        process.kill(Number(pid), 'SIGKILL');
      }
      deleteNamespace(ns);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('hears v2 PASS, v3 IPv4 and v3 IPv6 adverts with the configured fields', async () => {
    const v4 = receiver(nsB, {
      role: 'receive',
      options: { family: 4, ifname: B.ifname, sourceAddress: B.ipv4 },
      expect: 6,
      timeoutMs: 10_000,
    });
    const v6 = receiver(nsB, {
      role: 'receive',
      options: { family: 6, ifname: B.ifname, sourceAddress: B.linkLocal },
      expect: 2,
      timeoutMs: 10_000,
    });
    await Promise.all([v4.ready, v6.ready]);
    const p = join(dir, 'run');
    keepalived = spawnIn(nsA, 'keepalived', [
      '-n',
      '-l',
      '-D',
      '-P',
      '-f',
      join(dir, 'keepalived.conf'),
      '-p',
      `${p}.pid`,
      '-r',
      `${p}-vrrp.pid`,
    ]);
    keepalived.stdout?.setEncoding('utf8').on('data', (d: string) => {
      log += d;
    });
    keepalived.stderr?.setEncoding('utf8').on('data', (d: string) => {
      log += d;
    });
    const [l4, l6] = await Promise.all([v4.done, v6.done]);
    const heard4 = l4.filter((l) => l.event === 'advert').map(receivedFromJson);
    const heard6 = l6.filter((l) => l.event === 'advert').map(receivedFromJson);
    const byVrid = (list: ReceivedAdvert[], vrid: number) => list.filter((r) => r.advert.vrid === vrid);

    const v2 = byVrid(heard4, 51)[0];
    assert.ok(v2, `no VRRPv2 advert heard; keepalived said:\n${log}`);
    assert.equal(v2.advert.version, 2);
    assert.equal(v2.advert.priority, 110);
    assert.deepEqual(v2.advert.addresses, ['192.0.2.10']);
    assert.ok(v2.advert.version === 2 && v2.advert.advertIntervalS === 1);
    assert.ok(
      v2.advert.version === 2 && v2.advert.auth.type === 1 && authPassword(v2.advert.auth) === 'secret',
    );
    assert.equal(v2.source, A.ipv4);
    assert.equal(v2.ttl, 255);

    const v3 = byVrid(heard4, 52)[0];
    assert.ok(v3, `no VRRPv3 IPv4 advert heard; keepalived said:\n${log}`);
    assert.equal(v3.advert.version, 3);
    assert.equal(v3.advert.priority, 100);
    assert.deepEqual(v3.advert.addresses, ['192.0.2.20']);
    assert.ok(v3.advert.version === 3 && v3.advert.advertIntervalCs === 50);

    const six = byVrid(heard6, 53)[0];
    assert.ok(six, `no VRRPv3 IPv6 advert heard; keepalived said:\n${log}`);
    assert.equal(six.advert.priority, 120);
    assert.deepEqual(six.advert.addresses, ['2001:db8::10']);
    assert.equal(six.source, A.linkLocal);

    assert.deepEqual(counters(l4).dropped, {});
    assert.deepEqual(counters(l6).dropped, {});
  });
});
