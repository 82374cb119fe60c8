import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from '../../src/drivers/dataplane/dataplane.ts';
import { IPVS_SCHEDULERS } from '../../src/drivers/dataplane/ipvs-capabilities.ts';
import {
  AF_INET,
  AF_INET6,
  IP_VS_CONN_F,
  IP_VS_SVC_F,
  IPPROTO,
} from '../../src/drivers/ipvs/ip-vs-constants.ts';
import { fromIpvs, toIpvs } from '../../src/drivers/ipvs/ipvs-service-map.ts';

// keepalived's vocabulary (the dataplane's Service) to IPVS records and back: every
// lb_algo and lb_kind, persistence, scheduler flags, fwmark; and the refusals, each naming
// the field and the alternative.

const base: Service = {
  key: 'www-80',
  family: 4,
  protocol: 'TCP',
  address: '203.0.113.10',
  port: 80,
  scheduler: 'wrr',
  destinations: [
    { address: '198.51.100.11', port: 80, weight: 2, forwarding: 'nat' },
    { address: '198.51.100.12', port: 8080, weight: 1, forwarding: 'nat' },
  ],
};

function ok(s: Service) {
  const m = toIpvs(s);
  assert.ok(m.ok, m.ok ? '' : m.errors.join('; '));
  return m.entry;
}

function errors(s: Service): string[] {
  const m = toIpvs(s);
  assert.ok(!m.ok, 'expected a refusal');
  return m.errors;
}

describe('ipvs service map: to IPVS', () => {
  it('an IPv4 TCP service with NAT real servers', () => {
    const e = ok(base);
    assert.deepEqual(e.service, {
      af: AF_INET,
      fwmark: 0,
      protocol: IPPROTO.TCP,
      addr: '203.0.113.10',
      port: 80,
      scheduler: 'wrr',
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
    });
    assert.deepEqual(
      e.dests.map((d) => [d.af, d.addr, d.port, d.fwdMethod, d.weight]),
      [
        [AF_INET, '198.51.100.11', 80, IP_VS_CONN_F.MASQ, 2],
        [AF_INET, '198.51.100.12', 8080, IP_VS_CONN_F.MASQ, 1],
      ],
    );
  });

  it('every IPVS scheduler (lb_algo) passes through by name', () => {
    assert.deepEqual(
      [...IPVS_SCHEDULERS],
      ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'],
    );
    for (const scheduler of IPVS_SCHEDULERS)
      assert.equal(ok({ ...base, scheduler }).service.scheduler, scheduler);
  });

  it('random is refused: IPVS has no such scheduler; nftables has', () => {
    const [e] = errors({ ...base, scheduler: 'random' });
    assert.match(
      e ?? '',
      /^scheduler random: IPVS has no random scheduler.*use rr or wrr.*dataplane: nftables/,
    );
  });

  it('an unknown scheduler lists the ones IPVS has', () => {
    assert.match(errors({ ...base, scheduler: 'maglev' })[0] ?? '', /scheduler maglev.*rr, wrr, lc, wlc/);
  });

  it('lb_kind NAT, DR and TUN become the forwarding methods', () => {
    const e = ok({
      ...base,
      destinations: [
        { address: '198.51.100.11', port: 80, weight: 1, forwarding: 'nat' },
        { address: '198.51.100.12', port: 80, weight: 1, forwarding: 'dr' },
        { address: '198.51.100.13', port: 80, weight: 1, forwarding: 'tun' },
      ],
    });
    assert.deepEqual(
      e.dests.map((d) => d.fwdMethod),
      [IP_VS_CONN_F.MASQ, IP_VS_CONN_F.DROUTE, IP_VS_CONN_F.TUNNEL],
    );
  });

  it('persistence sets IP_VS_SVC_F_PERSISTENT, the timeout in seconds and the netmask', () => {
    const e = ok({ ...base, persistence: { timeoutMs: 10_800_000, granularity: '255.255.255.0' } });
    assert.equal(e.service.flags, IP_VS_SVC_F.PERSISTENT);
    assert.equal(e.service.timeout, 10_800);
    assert.equal(e.service.netmask, 0xffffff00);
    assert.equal(
      ok({ ...base, persistence: { timeoutMs: 300_000, granularity: '/16' } }).service.netmask,
      0xffff0000,
    );
    assert.equal(ok({ ...base, persistence: { timeoutMs: 1500 } }).service.timeout, 2);
  });

  it('a bad persistence granularity or timeout is refused', () => {
    assert.match(
      errors({ ...base, persistence: { timeoutMs: 60_000, granularity: '255.0.255.0' } })[0] ?? '',
      /granularity "255.0.255.0".*IPv4 netmask/,
    );
    assert.match(errors({ ...base, persistence: { timeoutMs: 0 } })[0] ?? '', /at least one second/);
  });

  it('IPv6: canonical address, prefix-length granularity, default /128', () => {
    const v6: Service = {
      ...base,
      family: 6,
      address: '2001:DB8:0:0::10',
      protocol: 'UDP',
      destinations: [{ address: '2001:db8::0:11', port: 80, weight: 1, forwarding: 'dr' }],
    };
    const e = ok(v6);
    assert.equal(e.service.af, AF_INET6);
    assert.equal(e.service.addr, '2001:db8::10');
    assert.equal(e.service.netmask, 128);
    assert.equal(e.dests[0]?.addr, '2001:db8::11');
    assert.equal(ok({ ...v6, persistence: { timeoutMs: 60_000, granularity: '/64' } }).service.netmask, 64);
    assert.match(
      errors({ ...v6, persistence: { timeoutMs: 60_000, granularity: '255.255.255.0' } })[0] ?? '',
      /IPv6 service give a prefix length/,
    );
  });

  it('scheduler flags: sh-fallback / sh-port, mh-fallback / mh-port, ops', () => {
    assert.equal(
      ok({ ...base, scheduler: 'sh', schedulerFlags: ['sh-fallback', 'sh-port'] }).service.flags,
      IP_VS_SVC_F.SCHED1 | IP_VS_SVC_F.SCHED2,
    );
    assert.equal(
      ok({ ...base, scheduler: 'mh', schedulerFlags: ['mh-port'] }).service.flags,
      IP_VS_SVC_F.SCHED2,
    );
    assert.equal(
      ok({ ...base, protocol: 'UDP', schedulerFlags: ['ops'] }).service.flags,
      IP_VS_SVC_F.ONEPACKET,
    );
    assert.equal(ok({ ...base, schedulerFlags: ['hashed'] }).service.flags, 0);
  });

  it('a scheduler flag for another scheduler, or one IPVS lacks, is refused', () => {
    assert.match(
      errors({ ...base, scheduler: 'wrr', schedulerFlags: ['sh-port'] })[0] ?? '',
      /sh-port applies to scheduler sh only/,
    );
    assert.match(
      errors({ ...base, schedulerFlags: ['ovf-fallback'] })[0] ?? '',
      /ovf-fallback: IPVS has no such flag/,
    );
  });

  it('fwmark services: the mark names the service, no address or port', () => {
    const { address: _a, ...rest } = base;
    const e = ok({ ...rest, fwmark: 7, port: 0 });
    assert.deepEqual([e.service.fwmark, e.service.addr, e.service.port, e.service.protocol], [7, '', 0, 0]);
  });

  it('sourceNat is an nftables feature', () => {
    assert.match(errors({ ...base, sourceNat: 'masquerade' })[0] ?? '', /^sourceNat: .*dataplane: nftables/);
  });

  it('a real server of the other family needs tun', () => {
    const mixed = (forwarding: 'nat' | 'tun'): Service => ({
      ...base,
      destinations: [{ address: '2001:db8::11', port: 80, weight: 1, forwarding }],
    });
    assert.match(
      errors(mixed('nat'))[0] ?? '',
      /IPv6 real server behind an IPv4 service needs forwarding tun/,
    );
    assert.equal(ok(mixed('tun')).dests[0]?.af, AF_INET6);
  });

  it('several problems are all reported at once', () => {
    const e = errors({
      ...base,
      scheduler: 'random',
      sourceNat: 'masquerade',
      destinations: [
        { address: '198.51.100.11', port: 80, weight: -1, forwarding: 'nat' },
        { address: '198.51.100.11', port: 80, weight: 1, forwarding: 'nat' },
      ],
    });
    assert.equal(e.length, 4);
    assert.ok(e.some((x) => /listed twice/.test(x)));
    assert.ok(e.some((x) => /weight -1 out of range/.test(x)));
  });

  it('an address of the wrong family is refused', () => {
    assert.match(errors({ ...base, family: 6 })[0] ?? '', /address 203.0.113.10: not an IPv6 address/);
  });
});

describe('ipvs service map: back from IPVS', () => {
  it('round trip of a persistent sh service with flags and mixed forwarding', () => {
    const s: Service = {
      ...base,
      scheduler: 'sh',
      schedulerFlags: ['sh-fallback', 'sh-port'],
      persistence: { timeoutMs: 300_000, granularity: '255.255.255.0' },
      destinations: [
        { address: '198.51.100.11', port: 80, weight: 3, forwarding: 'dr' },
        { address: '198.51.100.12', port: 80, weight: 0, forwarding: 'tun' },
      ],
    };
    assert.deepEqual(fromIpvs(ok(s), s.key), s);
  });

  it('round trip of an IPv6 fwmark service, protocol from what keepgit remembers', () => {
    const { address: _a, ...rest } = base;
    const s: Service = {
      ...rest,
      family: 6,
      protocol: 'UDP',
      fwmark: 42,
      port: 0,
      scheduler: 'mh',
      schedulerFlags: ['mh-fallback'],
      persistence: { timeoutMs: 60_000, granularity: '64' },
      destinations: [{ address: '2001:db8::11', port: 0, weight: 1, forwarding: 'dr' }],
    };
    assert.deepEqual(fromIpvs(ok(s), s.key, 'UDP'), s);
  });

  it('flags of other schedulers read back as flag-1 / flag-2 / flag-3', () => {
    const e = ok({ ...base, schedulerFlags: ['flag-1', 'flag-3'] });
    assert.deepEqual(fromIpvs(e, 'k').schedulerFlags, ['flag-1', 'flag-3']);
  });
});
