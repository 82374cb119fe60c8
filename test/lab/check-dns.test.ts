import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CheckOutcome, CheckTarget } from '../../src/check/check-types.ts';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import { type ProbeJob, runProbes } from './check-probes.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// DNS_CHECK against a real DNS server: dnsmasq in a lab namespace of its own (dns,
// 192.0.2.12 and 2001:db8::12), probed from another (prober, 192.0.2.11) across the lab's
// bridge. dnsmasq serves www.example.test (A and AAAA), is authoritative for example.test
// (so an SOA query has an answer), answers NXDOMAIN for gone.example.test and, having no
// upstream, REFUSED for anything else. Root only; everything is torn down in `finally`.

const why = labUnavailable(['dnsmasq', 'nft', 'ss']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;
const DNSMASQ = '/usr/sbin/dnsmasq';

const v4 = (extra: Partial<CheckTarget> = {}): CheckTarget => ({
  address: '192.0.2.12',
  port: 53,
  family: 4,
  ...extra,
});
const v6: CheckTarget = { address: '2001:db8::12', port: 53, family: 6 };

function startDnsmasq(lab: Lab, dir: string): ChildProcess {
  return lab.spawn(
    'dns',
    DNSMASQ,
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--port=53',
      '--listen-address=192.0.2.12',
      '--listen-address=2001:db8::12',
      '--bind-interfaces',
      '--host-record=www.example.test,192.0.2.80,2001:db8::80',
      '--address=/gone.example.test/',
      '--auth-server=ns.example.test',
      '--auth-zone=example.test',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      `--log-facility=${join(dir, 'dnsmasq.log')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

async function listening(lab: Lab): Promise<boolean> {
  const r = await lab.exec('dns', 'ss', ['-Hlun']);
  return r.stdout.includes('192.0.2.12:53') && r.stdout.includes('[2001:db8::12]:53');
}

const show = (o: CheckOutcome | undefined) => JSON.stringify(o);

describe('DNS_CHECK against dnsmasq in the lab', { skip }, () => {
  it('is up for names the server answers, down on NXDOMAIN/REFUSED, port unreachable and silence', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-dns-'));
    const lab = createLab({ prefix: `${RUN_PREFIX}-dns`, hosts: ['prober', 'dns'] });
    const prober = lab.nsName('prober');
    try {
      const dnsmasq = startDnsmasq(lab, dir);
      let stderr = '';
      dnsmasq.stderr?.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const until = Date.now() + 15_000;
      while (!(await listening(lab))) {
        if (dnsmasq.exitCode !== null || Date.now() > until)
          assert.fail(`dnsmasq did not start (exit ${dnsmasq.exitCode}): ${stderr}`);
        await sleep(50);
      }
      // The process spawned is dnsmasq itself (ip netns exec execs it): its PID is the one to end.
      assert.equal(Number(readFileSync(join(dir, 'dnsmasq.pid'), 'utf8').trim()), dnsmasq.pid);

      const jobs: ProbeJob[] = [
        {
          kind: 'dns',
          spec: { queryType: 'A', queryName: 'www.example.test' },
          target: v4(),
          timeoutMs: 3000,
        },
        {
          kind: 'dns',
          spec: { queryType: 'AAAA', queryName: 'www.example.test.' },
          target: v6,
          timeoutMs: 3000,
        },
        { kind: 'dns', spec: { queryType: 'SOA', queryName: 'example.test' }, target: v4(), timeoutMs: 3000 },
        {
          kind: 'dns',
          spec: { queryType: 'MX', queryName: 'www.example.test' },
          target: v4(),
          timeoutMs: 3000,
        },
        {
          kind: 'dns',
          spec: { queryType: 'A', queryName: 'gone.example.test' },
          target: v4(),
          timeoutMs: 3000,
        },
        { kind: 'dns', spec: {}, target: v4(), timeoutMs: 3000 },
        {
          kind: 'dns',
          spec: { queryType: 'A', queryName: 'www.example.test' },
          target: v4({ bindAddress: '192.0.2.11', bindPort: 5300 }),
          timeoutMs: 3000,
        },
        {
          kind: 'dns',
          spec: { queryType: 'A', queryName: 'www.example.test' },
          target: v4({ port: 5353 }),
          timeoutMs: 3000,
        },
      ];
      const up = await runProbes(prober, jobs);
      assert.equal(up.code, 0, up.stderr);
      const [a, aaaa, soa, nodata, nx, rootSoa, bound, closed] = up.outcomes;
      assert.ok(a?.ok && a.detail === 'A www.example.test: NOERROR, 1 answer', show(a));
      assert.ok(aaaa?.ok && aaaa.detail === 'AAAA www.example.test.: NOERROR, 1 answer', show(aaaa));
      assert.ok(soa?.ok && soa.detail === 'SOA example.test: NOERROR, 1 answer', show(soa));
      // keepalived does not look at the answers: NOERROR without any is up
      assert.ok(nodata?.ok && nodata.detail === 'MX www.example.test: NOERROR, 0 answers', show(nodata));
      assert.ok(nx && !nx.ok && nx.reason === 'A gone.example.test: rcode 3 (NXDOMAIN)', show(nx));
      // keepalived's default query (SOA for the root) is refused by a server with no upstream
      assert.ok(rootSoa && !rootSoa.ok && rootSoa.reason === 'SOA .: rcode 5 (REFUSED)', show(rootSoa));
      assert.ok(bound?.ok, show(bound));
      assert.ok(closed && !closed.ok && /^receive: ECONNREFUSED/.test(closed.reason), show(closed));

      // The server stops (ended by the PID this test started): port unreachable, at once.
      dnsmasq.kill('SIGTERM');
      while (dnsmasq.exitCode === null && dnsmasq.signalCode === null) await sleep(20);
      const stopped = await runProbes(prober, [
        {
          kind: 'dns',
          spec: { queryType: 'A', queryName: 'www.example.test' },
          target: v4(),
          timeoutMs: 5000,
        },
      ]);
      const [refused] = stopped.outcomes;
      assert.ok(refused && !refused.ok && /^receive: ECONNREFUSED/.test(refused.reason), show(refused));
      assert.ok((refused?.latencyMs ?? 5000) < 5000, 'ended by the ICMP error, not by the timeout');

      // The server's host is gone from the segment: nothing answers at all, the probe times out.
      lab.isolate('dns');
      const gone = await runProbes(prober, [
        {
          kind: 'dns',
          spec: { queryType: 'A', queryName: 'www.example.test' },
          target: v4(),
          timeoutMs: 1500,
        },
        { kind: 'dns', spec: { queryType: 'A', queryName: 'www.example.test' }, target: v6, timeoutMs: 1500 },
      ]);
      for (const o of gone.outcomes)
        assert.ok(!o.ok && o.reason === 'A www.example.test: timeout after 1500 ms, no response', show(o));
      assert.equal(gone.outcomes.length, 2, gone.stderr);
    } finally {
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
