import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type DataplaneContent,
  DataplaneError,
  type Service,
} from '../../src/drivers/dataplane/dataplane.ts';
import { FakeIpvsKernel, type FakeIpvsKernelOptions } from '../../src/drivers/ipvs/fake-ipvs-kernel.ts';
import { AF_INET, IP_VS_CONN_F, IPPROTO } from '../../src/drivers/ipvs/ip-vs-constants.ts';
import { createIpvsDataplane, type IpvsDataplaneOptions } from '../../src/drivers/ipvs/ipvs-dataplane.ts';
import { NO_IPVS_MESSAGE } from '../../src/drivers/ipvs/ipvs-errors.ts';
import { fileOwnership, memoryOwnership } from '../../src/drivers/ipvs/ipvs-ownership.ts';

// The IPVS dataplane against a fake kernel that reads the real request bytes and answers
// as ip_vs_ctl.c does (acks, errnos, dumps). The kernel here has no IPVS, so this is where
// apply's message sequence, its rollback when message k is refused, and ownership are
// shown; the byte layouts themselves are in ipvs-codec.test.ts.

const E = constants.errno;

const www: Service = {
  key: 'www-80',
  family: 4,
  protocol: 'TCP',
  address: '203.0.113.10',
  port: 80,
  scheduler: 'wrr',
  destinations: [
    { address: '198.51.100.11', port: 80, weight: 2, forwarding: 'nat' },
    { address: '198.51.100.12', port: 80, weight: 1, forwarding: 'nat' },
  ],
};

const dns: Service = {
  key: 'dns-53',
  family: 6,
  protocol: 'UDP',
  address: '2001:db8::53',
  port: 53,
  scheduler: 'sh',
  schedulerFlags: ['sh-port'],
  persistence: { timeoutMs: 60_000, granularity: '64' },
  destinations: [{ address: '2001:db8::1:53', port: 53, weight: 1, forwarding: 'dr' }],
};

const marked: Service = {
  key: 'fwm-7',
  family: 4,
  protocol: 'TCP',
  fwmark: 7,
  port: 0,
  scheduler: 'lc',
  destinations: [{ address: '198.51.100.31', port: 0, weight: 1, forwarding: 'tun' }],
};

function setup(kernel: FakeIpvsKernelOptions = {}, options: IpvsDataplaneOptions = {}) {
  const k = new FakeIpvsKernel(kernel);
  const d = createIpvsDataplane({ openSocket: () => k, ...options });
  return { k, d, mutations: () => k.log.filter((l) => !/^(GETFAMILY|GET_)/.test(l)) };
}

/** The kernel's table in a fixed order (IPVS lists services and real servers in hash order). */
const tableOf = (k: FakeIpvsKernel) =>
  k
    .table()
    .map((e) => ({ ...e, dests: [...e.dests].sort((a, b) => a.addr.localeCompare(b.addr)) }))
    .sort((a, b) => JSON.stringify(a.service).localeCompare(JSON.stringify(b.service)));

const sorted = (c: DataplaneContent) => [...c.services].sort((a, b) => a.key.localeCompare(b.key));

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<DataplaneError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DataplaneError, `expected a DataplaneError, got ${String(e)}`);
    assert.equal(e.kind, 'ipvs');
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail('expected a rejection');
}

const kernels: FakeIpvsKernel[] = [];
after(() => {
  // The dataplane owns only its own services: not one test ever asked for a flush.
  for (const k of kernels) assert.ok(!k.log.some((l) => l.startsWith('FLUSH')));
});
function tracked(s: ReturnType<typeof setup>) {
  kernels.push(s.k);
  return s;
}

describe('ipvs dataplane: probe', () => {
  it('a kernel without IPVS: ok false with the message, nothing thrown', async () => {
    const { d, k } = tracked(setup({ ipvs: false }));
    const p = await d.probe();
    assert.deepEqual(p, { ok: false, kind: 'ipvs', message: NO_IPVS_MESSAGE });
    assert.ok(
      NO_IPVS_MESSAGE.startsWith('kernel has no IPVS (family not registered); use dataplane: nftables'),
    );
    assert.match(NO_IPVS_MESSAGE, /modprobe ip_vs/);
    assert.deepEqual(k.log, ['GETFAMILY IPVS']);
  });

  it('a kernel without IPVS: read and apply reject with the same message, and send nothing else', async () => {
    const { d, k } = tracked(setup({ ipvs: false }));
    await rejects(d.read(), /^kernel has no IPVS \(family not registered\); use dataplane: nftables/);
    await rejects(d.apply({ services: [www] }), /^kernel has no IPVS/);
    assert.deepEqual(k.log, ['GETFAMILY IPVS', 'GETFAMILY IPVS']);
  });

  it('a kernel with IPVS: the capabilities (every lb_algo, NAT/DR/TUN, fwmark)', async () => {
    const { d } = tracked(setup());
    const p = await d.probe();
    assert.ok(p.ok);
    assert.equal(p.capabilities.kind, 'ipvs');
    assert.deepEqual(p.capabilities.forwarding, ['nat', 'dr', 'tun']);
    assert.ok(p.capabilities.schedulers.includes('lblcr') && !p.capabilities.schedulers.includes('random'));
    assert.equal(p.capabilities.fwmark, true);
  });

  it('IPVS present but not permitted: ok false naming CAP_NET_ADMIN', async () => {
    const { d } = tracked(setup({ permitted: false }));
    const p = await d.probe();
    assert.ok(!p.ok);
    assert.match(p.message, /has IPVS but refuses keepgit \(EPERM\).*CAP_NET_ADMIN/);
  });

  it('no netlink socket at all: ok false, not a throw', async () => {
    const d = createIpvsDataplane({
      openSocket: () => {
        throw new Error('EAFNOSUPPORT');
      },
    });
    const p = await d.probe();
    assert.ok(!p.ok);
    assert.match(p.message, /cannot open a generic netlink socket \(EAFNOSUPPORT\); use dataplane: nftables/);
  });
});

describe('ipvs dataplane: apply and read', () => {
  it('from empty: the exact messages, then read gives back the content', async () => {
    const { d, k } = tracked(setup());
    const stats = await d.apply({ services: [www, dns, marked] });
    assert.deepEqual({ ...stats, ms: 0 }, { added: 3, changed: 0, removed: 0, ms: 0 });
    assert.deepEqual(k.log, [
      'GETFAMILY IPVS',
      'GET_SERVICE',
      'NEW_SERVICE UDP [2001:db8::53]:53 sh persistent 60s flags 0x10',
      'NEW_DEST UDP [2001:db8::53]:53 [2001:db8::1:53]:53 dr w1',
      'NEW_SERVICE TCP 203.0.113.10:80 wrr',
      'NEW_DEST TCP 203.0.113.10:80 198.51.100.11:80 nat w2',
      'NEW_DEST TCP 203.0.113.10:80 198.51.100.12:80 nat w1',
      'NEW_SERVICE FWM 7 (IPv4) lc',
      'NEW_DEST FWM 7 (IPv4) 198.51.100.31:0 tun w1',
    ]);
    assert.deepEqual(sorted(await d.read()), sorted({ services: [www, dns, marked] }));
  });

  it('the same content again sends no change at all', async () => {
    const { d, mutations } = tracked(setup());
    await d.apply({ services: [www, dns] });
    const before = mutations().length;
    const stats = await d.apply({ services: [structuredClone(dns), structuredClone(www)] });
    assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 0, 0]);
    assert.equal(mutations().length, before);
  });

  it('a change: new real server first, edits in place, the old one last; other services untouched', async () => {
    const { d, k, mutations } = tracked(setup());
    await d.apply({ services: [www, dns] });
    const start = mutations().length;
    const next: Service = {
      ...www,
      scheduler: 'wlc',
      destinations: [
        { address: '198.51.100.11', port: 80, weight: 0, forwarding: 'nat' },
        { address: '198.51.100.13', port: 80, weight: 1, forwarding: 'nat' },
      ],
    };
    const stats = await d.apply({ services: [next, dns] });
    assert.deepEqual([stats.added, stats.changed, stats.removed], [0, 1, 0]);
    assert.deepEqual(mutations().slice(start), [
      'NEW_DEST TCP 203.0.113.10:80 198.51.100.13:80 nat w1',
      'SET_SERVICE TCP 203.0.113.10:80 wlc',
      'SET_DEST TCP 203.0.113.10:80 198.51.100.11:80 nat w0',
      'DEL_DEST TCP 203.0.113.10:80 198.51.100.12:80',
    ]);
    assert.ok(!k.log.some((l) => l.includes('2001:db8::53') && /^(SET|DEL)/.test(l)));
    assert.deepEqual(sorted(await d.read()), sorted({ services: [next, dns] }));
  });

  it('a service that leaves the content is deleted (with its real servers)', async () => {
    const { d, k, mutations } = tracked(setup());
    await d.apply({ services: [www, dns] });
    const start = mutations().length;
    assert.equal((await d.apply({ services: [dns] })).removed, 1);
    assert.deepEqual(mutations().slice(start), ['DEL_SERVICE TCP 203.0.113.10:80']);
    assert.equal(k.table().length, 1);
  });

  it('clear removes what keepgit owns and nothing else', async () => {
    const { d, k } = tracked(setup());
    k.addForeign({
      service: {
        af: AF_INET,
        fwmark: 0,
        protocol: IPPROTO.TCP,
        addr: '192.0.2.50',
        port: 443,
        scheduler: 'rr',
        flags: 0,
        timeout: 0,
        netmask: 0xffffffff,
      },
      dests: [],
    });
    await d.apply({ services: [www, marked] });
    await d.clear();
    assert.deepEqual(
      k.table().map((e) => e.service.addr),
      ['192.0.2.50'],
    );
    assert.deepEqual((await d.read()).services, []);
  });

  it('what IPVS cannot do is refused before any message: random, sourceNat, duplicates', async () => {
    const { d, k } = tracked(setup());
    const e = await rejects(
      d.apply({ services: [{ ...www, scheduler: 'random' }] }),
      /^virtual server www-80: scheduler random: IPVS has no random scheduler/,
    );
    assert.equal(e.service, 'www-80');
    await rejects(
      d.apply({ services: [www, { ...www, key: 'www-again' }] }),
      /virtual servers www-80 and www-again are the same IPVS service TCP 203.0.113.10:80/,
    );
    await rejects(
      d.apply({ services: [{ ...www, sourceNat: 'masquerade' }] }),
      /sourceNat: IPVS does not rewrite/,
    );
    assert.deepEqual(k.log, []);
  });

  it('a scheduler module the kernel lacks: ENOENT named with the module name', async () => {
    const { d, k } = tracked(setup({ schedulers: ['rr', 'wrr'] }));
    await rejects(
      d.apply({ services: [{ ...www, scheduler: 'mh' }] }),
      /cannot add IPVS service TCP 203.0.113.10:80: scheduler or persistence engine not found \(ENOENT\).*no module ip_vs_mh.*nothing had changed yet/,
    );
    assert.deepEqual(k.table(), []);
  });
});

describe('ipvs dataplane: rollback when the kernel refuses message k', () => {
  const from: DataplaneContent = { services: [www, dns] };
  const to: DataplaneContent = {
    services: [
      {
        ...www,
        scheduler: 'lc',
        destinations: [
          { address: '198.51.100.11', port: 80, weight: 5, forwarding: 'dr' },
          { address: '198.51.100.14', port: 80, weight: 1, forwarding: 'nat' },
        ],
      },
      marked,
    ],
  };
  // new-service fwm 7, new-dest, new-dest .14, set-service www, set-dest .11, del-dest .12, del-service dns
  const STEPS = 7;

  for (let k = 1; k <= STEPS; k++)
    it(`message ${k} of ${STEPS} refused: the table is as before, field for field`, async () => {
      const s = tracked(setup());
      await s.d.apply(from);
      const before = tableOf(s.k);
      const beforeRead = sorted(await s.d.read());
      const start = s.mutations().length;
      s.k.failNth(k, E.ENOMEM);
      const err = await rejects(s.d.apply(to), /out of memory \(ENOMEM\)/);
      assert.match(
        err.message,
        k === 1 ? /nothing had changed yet/ : new RegExp(`the ${k - 1} change\\(s\\) before it were undone`),
      );
      assert.deepEqual(tableOf(s.k), before);
      assert.deepEqual(sorted(await s.d.read()), beforeRead);
      const sent = s.mutations().slice(start);
      assert.equal(sent.length, k + (k - 1), sent.join('\n'));
      assert.match(sent[k - 1] ?? '', /!ENOMEM$/);
    });

  it('the rollback sequence for a refusal at message 5: inverses of 4..1, newest first', async () => {
    const s = tracked(setup());
    await s.d.apply(from);
    const start = s.mutations().length;
    s.k.failNth(5, E.EINVAL);
    const err = await rejects(
      s.d.apply(to),
      /cannot change real server 198.51.100.11:80 of IPVS service TCP 203.0.113.10:80: invalid operation \(EINVAL\)/,
    );
    assert.equal(err.service, 'www-80');
    assert.deepEqual(s.mutations().slice(start), [
      'NEW_SERVICE FWM 7 (IPv4) lc',
      'NEW_DEST FWM 7 (IPv4) 198.51.100.31:0 tun w1',
      'NEW_DEST TCP 203.0.113.10:80 198.51.100.14:80 nat w1',
      'SET_SERVICE TCP 203.0.113.10:80 lc',
      'SET_DEST TCP 203.0.113.10:80 198.51.100.11:80 dr w5 !EINVAL',
      'SET_SERVICE TCP 203.0.113.10:80 wrr',
      'DEL_DEST TCP 203.0.113.10:80 198.51.100.14:80',
      'DEL_DEST FWM 7 (IPv4) 198.51.100.31:0',
      'DEL_SERVICE FWM 7 (IPv4)',
    ]);
  });

  it('deleted services come back with their real servers when a later deletion fails', async () => {
    const s = tracked(setup());
    await s.d.apply({ services: [www, dns, marked] });
    const before = tableOf(s.k);
    const start = s.mutations().length;
    // Deletions run last, dns then www then the fwmark service; the third is refused.
    s.k.failWhen('DEL_SERVICE FWM 7', E.EBUSY);
    await rejects(
      s.d.apply({ services: [] }),
      /cannot delete IPVS service FWM 7 \(IPv4\): the kernel refused \(EBUSY\)/,
    );
    assert.deepEqual(s.mutations().slice(start), [
      'DEL_SERVICE UDP [2001:db8::53]:53',
      'DEL_SERVICE TCP 203.0.113.10:80',
      'DEL_SERVICE FWM 7 (IPv4) !EBUSY',
      'NEW_SERVICE TCP 203.0.113.10:80 wrr',
      'NEW_DEST TCP 203.0.113.10:80 198.51.100.11:80 nat w2',
      'NEW_DEST TCP 203.0.113.10:80 198.51.100.12:80 nat w1',
      'NEW_SERVICE UDP [2001:db8::53]:53 sh persistent 60s flags 0x10',
      'NEW_DEST UDP [2001:db8::53]:53 [2001:db8::1:53]:53 dr w1',
    ]);
    assert.deepEqual(tableOf(s.k), before);
  });

  it('an inverse the kernel refuses in turn is reported as an incomplete rollback', async () => {
    const s = tracked(setup());
    await s.d.apply(from);
    s.k.failNth(4, E.ENOMEM);
    s.k.failWhen('DEL_DEST TCP 203.0.113.10:80 198.51.100.14:80', E.EBUSY);
    await rejects(
      s.d.apply(to),
      /rollback incomplete \(cannot delete real server 198.51.100.14:80 .*EBUSY.*\); the next reconcile/,
    );
  });
});

describe('ipvs dataplane: ownership', () => {
  const foreignWww = {
    service: {
      af: AF_INET as typeof AF_INET,
      fwmark: 0,
      protocol: IPPROTO.TCP,
      addr: '203.0.113.10',
      port: 80,
      scheduler: 'rr',
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
    },
    dests: [
      {
        af: AF_INET as typeof AF_INET,
        addr: '10.96.0.5',
        port: 8080,
        fwdMethod: IP_VS_CONN_F.MASQ,
        weight: 1,
        uThreshold: 0,
        lThreshold: 0,
      },
    ],
  };

  it('a desired service that someone else created is refused, not taken over, and left as it was', async () => {
    const { d, k, mutations } = tracked(setup());
    k.addForeign(foreignWww);
    const e = await rejects(
      d.apply({ services: [www, dns] }),
      /IPVS service TCP 203.0.113.10:80 \(virtual server www-80\) already exists and keepgit did not create it: another manager owns it \(kube-proxy, kube-vip, ipvsadm or keepalived\)/,
    );
    assert.equal(e.service, 'www-80');
    assert.deepEqual(mutations(), []);
    assert.deepEqual(k.table(), [foreignWww]);
    assert.deepEqual((await d.read()).services, []);
  });

  it('services of other managers are never read, changed or deleted', async () => {
    const { d, k } = tracked(setup());
    const other = structuredClone(foreignWww);
    other.service.addr = '192.0.2.80';
    k.addForeign(other);
    await d.apply({ services: [www] });
    await d.apply({ services: [{ ...www, scheduler: 'rr' }] });
    assert.deepEqual(
      (await d.read()).services.map((s) => s.key),
      ['www-80'],
    );
    await d.apply({ services: [] });
    assert.deepEqual(k.table(), [other]);
    assert.ok(!k.log.some((l) => l.includes('192.0.2.80') && !l.startsWith('GET_DEST')));
  });

  it('ownership survives a restart through the state file; without it, the services look foreign', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-ipvs-'));
    try {
      const file = join(dir, 'state', 'ipvs-owned.json');
      const k = new FakeIpvsKernel();
      kernels.push(k);
      await createIpvsDataplane({ openSocket: () => k, ownership: fileOwnership(file) }).apply({
        services: [www, marked],
      });
      assert.deepEqual(
        JSON.parse(readFileSync(file, 'utf8')).services.map((o: { key: string }) => o.key),
        ['www-80', 'fwm-7'],
      );
      const restarted = createIpvsDataplane({ openSocket: () => k, ownership: fileOwnership(file) });
      assert.deepEqual(sorted(await restarted.read()), sorted({ services: [www, marked] }));
      assert.equal((await restarted.apply({ services: [www, marked] })).changed, 0);

      const amnesiac = createIpvsDataplane({
        openSocket: () => k,
        ownership: fileOwnership(join(dir, 'lost.json')),
      });
      await rejects(amnesiac.apply({ services: [www] }), /keepgit did not create it/);
      const adopting = createIpvsDataplane({
        openSocket: () => k,
        ownership: fileOwnership(join(dir, 'lost.json')),
        adoptExisting: true,
      });
      assert.equal((await adopting.apply({ services: [www] })).changed, 0);
      assert.deepEqual(
        (await adopting.read()).services.map((s) => s.key),
        ['www-80'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a corrupt ownership file is a clear error naming the file, and nothing is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-ipvs-'));
    try {
      const file = join(dir, 'ipvs-owned.json');
      writeFileSync(file, '{"services": [{"key": 1}]}');
      const { d, mutations } = tracked(setup({}, { ownership: fileOwnership(file) }));
      await rejects(
        d.apply({ services: [www] }),
        new RegExp(`cannot tell which IPVS services are keepgit's: ${file}`),
      );
      assert.deepEqual(mutations(), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a remembered service someone deleted by hand is simply created again', async () => {
    const { d, k } = tracked(setup());
    await d.apply({ services: [www] });
    assert.ok(
      k.removeService({ af: AF_INET, fwmark: 0, protocol: IPPROTO.TCP, addr: '203.0.113.10', port: 80 }),
    );
    assert.deepEqual((await d.read()).services, []);
    assert.equal((await d.apply({ services: [www] })).added, 1);
    assert.deepEqual((await d.read()).services, [www]);
  });

  it('new services are remembered before the first message, so a crash cannot orphan them', async () => {
    const k = new FakeIpvsKernel();
    kernels.push(k);
    const inner = memoryOwnership();
    const saves: { keys: string[]; sentBefore: number }[] = [];
    const ownership = {
      load: inner.load,
      save: async (owned: Parameters<typeof inner.save>[0]) => {
        saves.push({
          keys: owned.map((o) => o.key),
          sentBefore: k.log.filter((l) => l.startsWith('NEW')).length,
        });
        await inner.save(owned);
      },
    };
    const d = createIpvsDataplane({ openSocket: () => k, ownership });
    await d.apply({ services: [www] });
    await d.apply({ services: [dns] });
    assert.deepEqual(saves, [
      { keys: ['www-80'], sentBefore: 0 },
      { keys: ['www-80'], sentBefore: 3 },
      { keys: ['www-80', 'dns-53'], sentBefore: 3 },
      { keys: ['dns-53'], sentBefore: 5 },
    ]);
  });

  it('a failed apply forgets the services it meant to create', async () => {
    const ownership = memoryOwnership();
    const { d, k } = tracked(setup({}, { ownership }));
    k.failWhen('NEW_DEST', E.ENOMEM);
    await rejects(d.apply({ services: [www] }), /ENOMEM/);
    assert.deepEqual(await ownership.load(), []);
    assert.deepEqual(k.table(), []);
  });
});
