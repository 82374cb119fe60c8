import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckOutcome, CheckTarget } from '../../src/check/check-types.ts';
import { NEEDS_CAP_NET_RAW } from '../../src/check/icmp-socket.ts';
import { createLab } from '../../src/lab/topology.ts';
import { type ProbeJob, runProbes } from './check-probes.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// PING_CHECK over real raw sockets: the prober namespace (192.0.2.11 and 198.51.100.21,
// 2001:db8::11 and 2001:db8:1::21) pings the peer (192.0.2.12, 2001:db8::12), whose kernel answers,
// and addresses nobody has. The IPv6 requests leave with checksum 0: that the peer
// answers shows the kernel filled it in. An nftables table in the peer's namespace counts
// the echo requests from the second addresses, to see bindTo pin the source. Root only;
// everything is torn down in `finally`.

const why = labUnavailable(['nft', 'ping', 'setpriv']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;
const NOBODY = 65534;
const COUNTERS = 'keepgit_check_ping';

const target = (address: string, extra: Partial<CheckTarget> = {}): CheckTarget => ({
  address,
  port: 0,
  family: address.includes(':') ? 6 : 4,
  ...extra,
});
const ping = (t: CheckTarget, timeoutMs = 3000): ProbeJob => ({
  kind: 'ping',
  spec: {},
  target: t,
  timeoutMs,
});
const show = (o: CheckOutcome | undefined) => JSON.stringify(o);

describe('PING_CHECK in the lab', { skip }, () => {
  it('gets echo replies from a live host (IPv4 and IPv6), times out or hears unreachable for a missing one', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const lab = createLab({ prefix: `${RUN_PREFIX}-png`, hosts: ['prober', 'peer'] });
    try {
      // Second addresses off the segment's prefixes, so the kernel never picks them as a
      // source by itself; the peer reaches them on the link.
      for (const [host, args] of [
        ['prober', ['addr', 'add', '198.51.100.21/32', 'dev', 'eth0']],
        ['prober', ['addr', 'add', '2001:db8:1::21/128', 'dev', 'eth0', 'nodad']],
        ['peer', ['route', 'add', '198.51.100.21/32', 'dev', 'eth0']],
        ['peer', ['-6', 'route', 'add', '2001:db8:1::21/128', 'dev', 'eth0']],
      ] as const) {
        const r = lab.execSync(host, 'ip', [...args]);
        assert.equal(r.status, 0, r.stderr);
      }
      const nft = await lab.exec('peer', 'nft', ['-f', '-'], {
        input: [
          `table inet ${COUNTERS} {`,
          '  counter from21v4 {}',
          '  counter from21v6 {}',
          '  chain input {',
          '    type filter hook input priority 0; policy accept;',
          '    ip saddr 198.51.100.21 icmp type echo-request counter name "from21v4"',
          '    ip6 saddr 2001:db8:1::21 icmpv6 type echo-request counter name "from21v6"',
          '  }',
          '}',
          '',
        ].join('\n'),
      });
      assert.equal(nft.status, 0, nft.stderr);

      const jobs: ProbeJob[] = [
        ping(target('192.0.2.12')),
        ping(target('2001:db8::12')),
        ping(target('192.0.2.99'), 1000),
        ping(target('2001:db8::99'), 1000),
        // long enough for neighbour discovery to give up (3 tries, 1 s apart)
        ping(target('192.0.2.98'), 10_000),
        ping(target('2001:db8::98'), 10_000),
        ping(target('192.0.2.12', { bindAddress: '198.51.100.21' })),
        ping(target('2001:db8::12', { bindAddress: '2001:db8:1::21', bindInterface: 'eth0' })),
        ping(target('192.0.2.12', { bindInterface: 'eth0' })),
        ping(target('192.0.2.12', { bindInterface: 'nope0' })),
        ping(target('192.0.2.12', { bindAddress: '192.0.2.77' })),
      ];
      const many = 40;
      for (let i = 0; i < many; i++) jobs.push(ping(target(i % 2 ? '2001:db8::12' : '192.0.2.12')));
      // another pinger in the same namespace at the same time: its replies are not ours
      const [run, iputils] = await Promise.all([
        runProbes(lab.nsName('prober'), jobs),
        lab.exec('prober', 'ping', ['-n', '-q', '-c', '5', '-i', '0.2', '192.0.2.12'], { timeoutMs: 10_000 }),
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(iputils.status, 0, iputils.stderr);
      const o = run.outcomes;
      assert.equal(o.length, jobs.length, run.stderr);
      assert.ok(o[0]?.ok && o[0].detail === 'echo reply from 192.0.2.12', show(o[0]));
      assert.ok(o[1]?.ok && o[1].detail === 'echo reply from 2001:db8::12', show(o[1]));
      assert.ok(o[2] && !o[2].ok && o[2].reason === 'timeout after 1000 ms, no echo reply', show(o[2]));
      assert.ok(o[3] && !o[3].ok && o[3].reason === 'timeout after 1000 ms, no echo reply', show(o[3]));
      assert.ok(
        o[4] && !o[4].ok && /^host unreachable \(reported by 192\.0\.2\.11\)$/.test(o[4].reason),
        show(o[4]),
      );
      assert.ok(
        o[5] && !o[5].ok && /^address unreachable \(reported by 2001:db8::11\)$/.test(o[5].reason),
        show(o[5]),
      );
      assert.ok(
        (o[4]?.latencyMs ?? 10_000) < 10_000 && (o[5]?.latencyMs ?? 10_000) < 10_000,
        'ended by the ICMP error',
      );
      assert.ok(o[6]?.ok, show(o[6]));
      assert.ok(o[7]?.ok, show(o[7]));
      assert.ok(o[8]?.ok, show(o[8]));
      assert.ok(
        o[9] && !o[9].ok && o[9].reason === 'bindIf nope0: no such interface on this node',
        show(o[9]),
      );
      assert.ok(
        o[10] && !o[10].ok && o[10].reason === 'bindTo 192.0.2.77: not an address of this node',
        show(o[10]),
      );
      const concurrent = o.slice(11);
      assert.equal(concurrent.filter((x) => x.ok).length, many, show(concurrent.find((x) => !x.ok)));

      // bindTo pinned the source: exactly the one request of each family came from the second address
      for (const name of ['from21v4', 'from21v6']) {
        const c = await lab.exec('peer', 'nft', ['list', 'counter', 'inet', COUNTERS, name]);
        assert.match(c.stdout, /packets 1 bytes/, `${name}: ${c.stdout}${c.stderr}`);
      }

      // Without CAP_NET_RAW the raw socket cannot be opened: the outcome says what to do.
      const unprivileged = await runProbes(
        lab.nsName('prober'),
        [ping(target('192.0.2.12')), ping(target('2001:db8::12'))],
        NOBODY,
      );
      assert.equal(unprivileged.outcomes.length, 2, unprivileged.stderr);
      for (const x of unprivileged.outcomes) assert.ok(!x.ok && x.reason === NEEDS_CAP_NET_RAW, show(x));
    } finally {
      await lab.destroy();
    }
  });
});
