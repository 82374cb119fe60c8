import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, runAsync } from '../../src/lab/run.ts';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import { labUnavailable, RUN_PREFIX } from '../lab/netns.ts';

// keepgit and Debian's keepalived (2.2.x) on one segment, as the two nodes of one VRRP
// instance: `keepgit agent` in lb1, keepalived in lb2, both ways round (keepgit 110 /
// keepalived 100 and the reverse), for VRRPv2 with auth PASS (1 s adverts), VRRPv3 IPv4
// and VRRPv3 IPv6 (100 ms adverts). Each scenario checks the election (the VIP on the
// higher-priority node only), a graceful failover (SIGTERM of the master: the other takes
// over and keeps the VIP), preemption (the higher-priority side restarts and takes the VIP
// back), and that keepalived logged no complaint about a packet of ours (PACKET_COMPLAINTS).
// One lab for all six scenarios, run one after the other; root only; everything is torn
// down in `after`, and every process is ended by its PID.

const why = labUnavailable(['keepalived']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const ROOT = resolve(import.meta.dirname, '../..');
const KG = 'lb1'; // keepgit agent
const KA = 'lb2'; // keepalived
const PASS_ENV = 'KEEPGIT_INTEROP_VRRP_PASS';
const PASSWORD = 'kg-pw07'; // v2 PASS carries at most 8 bytes

/**
 * keepalived 2.2.7's messages about a received VRRP packet it rejects or finds at odds with
 * its own configuration (vrrp.c: vrrp_check_packet, vrrp_in_chk and friends). Any of them
 * in its log during a scenario fails it. The generic /invalid|mismatch|bogus/ catches a
 * message this list would miss.
 */
const PACKET_COMPLAINTS: readonly RegExp[] = [
  /vrrp packet too (short|long)/i, // (%s) vrrp packet too %s, length %zu and expect %zu
  /VRRP packet (with AH )?too short/i, // IPv4/IPv6 VRRP packet too short - %zu bytes
  /invalid TTL\/HL/i, // (%s) invalid TTL/HL. Received %d and expect %d
  /TTL\/HL \d+ not in range/i, // (%s) TTL/HL %d not in range %d - %d
  /wrong version/i, // (%s) wrong version. Received %d and expect %d
  /received a \d+ auth, expecting/i, // (%s) received a %d auth, expecting %d!
  /invalid passwd/i, // (%s) received an invalid passwd!
  /AH header/i, // (%s) Received AH header but auth type not AH / No AH header but ...
  /advertisement interval mismatch/i, // (%s) advertisement interval mismatch mine=%u sec rcv'd=%d sec
  /advertisement interval updated from/i, // v3: (%s) advertisement interval updated from %ums to %ums by master
  /Invalid packet type/i, // (%s) Invalid packet type. %d and expect %d
  /unexpected ip number count/i, // (%s) received an unexpected ip number count %u, expected %u!
  /ip_tot_len mismatch/i, // (%s) ip_tot_len mismatch against received length
  /Expected \w+icast packet but received/i, // (%s) Expected %sicast packet but received %sicast packet
  /expected \d+ VIPs but received/i, // (%s) expected %u VIPs but received %u
  /not present in MASTER advert/i, // (%s) ip address associated with VRID %d not present in MASTER advert: %s
  /Invalid VRRPv[23] checksum/i, // (%s) Invalid VRRPv2 checksum / Invalid VRRPv3 checksum
  /Unknown VRID/i, // Unknown VRID(%d) received on interface(%s)
  /equal priority advert received from remote host with our IP/i,
  /invalid|mismatch|bogus/i,
];

interface Case {
  name: string;
  version: 2 | 3;
  vip: string;
  prefix: number;
  /** keepgit's advertInterval and keepalived's advert_int. */
  interval: { keepgit: string; keepalived: string; ms: number };
}

const CASES: readonly Case[] = [
  {
    name: 'VRRPv2 IPv4, auth PASS',
    version: 2,
    vip: '192.0.2.100',
    prefix: 24,
    interval: { keepgit: '1s', keepalived: '1', ms: 1000 },
  },
  {
    name: 'VRRPv3 IPv4',
    version: 3,
    vip: '192.0.2.101',
    prefix: 24,
    interval: { keepgit: '100ms', keepalived: '0.1', ms: 100 },
  },
  {
    name: 'VRRPv3 IPv6',
    version: 3,
    vip: '2001:db8::101',
    prefix: 64,
    interval: { keepgit: '100ms', keepalived: '0.1', ms: 100 },
  },
];

const clusterYaml = (c: Case, vrid: number, kgPrio: number, kaPrio: number) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: interop }
instances:
  - name: vi
    vrid: ${vrid}
    interface: eth0
    version: ${c.version}
    advertInterval: ${c.interval.keepgit}
    preempt: true
    priority: { ${KG}: ${kgPrio}, ${KA}: ${kaPrio} }
    vips: [${c.vip}/${c.prefix}]
${c.version === 2 ? `    auth: { type: PASS, secretRef: { env: ${PASS_ENV} } }\n` : ''}`;

const nodeYaml = (name: string, n: number) => `apiVersion: keepgit/v1
kind: Node
metadata: { name: ${name} }
interfaces:
  eth0:
    addresses: [192.0.2.${10 + n}/24, 2001:db8::${10 + n}/64]
`;

const keepalivedConf = (c: Case, vrid: number, priority: number) => `global_defs {
    router_id ka-${KA}
}
vrrp_instance VI_INTEROP {
    version ${c.version}
    state BACKUP
    interface eth0
    virtual_router_id ${vrid}
    priority ${priority}
    advert_int ${c.interval.keepalived}
${c.version === 2 ? `    authentication {\n        auth_type PASS\n        auth_pass ${PASSWORD}\n    }\n` : ''}    virtual_ipaddress {
        ${c.vip}/${c.prefix} dev eth0
    }
}
`;

interface Proc {
  what: string;
  child: ChildProcess;
  out: string[];
  exited: Promise<void>;
}

function track(what: string, child: ChildProcess): Proc {
  const out: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => out.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => out.push(d));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  return { what, child, out, exited };
}

const running = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

/** Signals one process of ours by its PID; it may have exited in the meantime. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
const lines = (p: Proc) => p.out.join('').split('\n').filter(Boolean);

/** SIGTERM by PID; SIGKILL by PID if it has not exited in `ms`. True when it exited in time. */
async function stop(p: Proc, ms: number): Promise<boolean> {
  if (!running(p) || p.child.pid === undefined) return true;
  signal(p.child.pid, 'SIGTERM');
  const inTime = await Promise.race([p.exited.then(() => true), sleep(ms, false, { ref: false })]);
  if (!inTime && running(p) && p.child.pid !== undefined) {
    signal(p.child.pid, 'SIGKILL');
    await p.exited;
  }
  return inTime;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

describe('keepgit agent and keepalived 2.2 as the two nodes of a VRRP instance', { skip }, () => {
  let lab: Lab | undefined;
  let dir = '';
  const procs: Proc[] = [];

  before(() => {
    if (why) assert.fail(`interop test cannot run: ${why}`);
    dir = mkdtempSync(join(tmpdir(), 'keepgit-interop-agent-'));
    lab = createLab({ prefix: `${RUN_PREFIX}-ia`, hosts: [KG, KA] });
  });
  after(async () => {
    for (const p of procs) await stop(p, 3000);
    if (lab) {
      // Anything still inside our namespaces was started by this test (keepalived's VRRP child).
      for (const ns of lab.namespaces)
        for (const pid of run('ip', ['netns', 'pids', ns]).stdout.split('\n').filter(Boolean))
          signal(Number(pid), 'SIGKILL');
      await lab.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const addrs = async (host: string): Promise<string[]> => {
    const l = lab as Lab;
    const r = await runAsync('ip', ['-n', l.nsName(host), '-o', 'addr', 'show', 'dev', 'eth0'], {
      timeoutMs: 5000,
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').flatMap((line) => {
      const m = /\binet6? (\S+)/.exec(line);
      return m?.[1] ? [m[1]] : [];
    });
  };
  const hasVip = async (host: string, vip: string) =>
    (await addrs(host)).some((a) => a.startsWith(`${vip}/`));
  /** The hosts holding the VIP, in the lab's order. */
  const holders = async (vip: string) => {
    const out: string[] = [];
    for (const h of [KG, KA]) if (await hasVip(h, vip)) out.push(h);
    return out;
  };

  let scenario = 0;
  for (const c of CASES) {
    for (const kgHigh of [true, false]) {
      const title = `${c.name}: ${kgHigh ? 'keepgit master (110) / keepalived backup (100)' : 'keepalived master (110) / keepgit backup (100)'}`;
      const vrid = 60 + scenario++;
      it(title, async (t) => {
        const l = lab as Lab;
        const kgPrio = kgHigh ? 110 : 100;
        const kaPrio = kgHigh ? 100 : 110;
        const high = kgHigh ? KG : KA;
        const low = kgHigh ? KA : KG;
        const sub = mkdtempSync(join(dir, `s${vrid}-`));
        const repo = join(sub, 'repo');
        mkdirSync(join(repo, 'nodes'), { recursive: true });
        writeFileSync(join(repo, 'keepgit.yaml'), clusterYaml(c, vrid, kgPrio, kaPrio));
        writeFileSync(join(repo, 'nodes', `${KG}.yaml`), nodeYaml(KG, 1));
        writeFileSync(join(repo, 'nodes', `${KA}.yaml`), nodeYaml(KA, 2));
        const conf = join(sub, 'keepalived.conf');
        writeFileSync(conf, keepalivedConf(c, vrid, kaPrio));

        const mine: Proc[] = [];
        const startKeepgit = () => {
          const p = track(
            'keepgit',
            l.spawn(
              KG,
              process.execPath,
              ['bin/keepgit.js', 'agent', '--repo-dir', repo, '--node', KG, '--log', 'json'],
              { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [PASS_ENV]: PASSWORD } },
            ),
          );
          mine.push(p);
          procs.push(p);
          return p;
        };
        let kaRuns = 0;
        const startKeepalived = () => {
          const pid = join(sub, `ka${kaRuns++}`);
          const p = track(
            'keepalived',
            l.spawn(
              KA,
              'keepalived',
              ['-n', '-l', '-D', '-P', '-f', conf, '-p', `${pid}.pid`, '-r', `${pid}-vrrp.pid`],
              { stdio: ['ignore', 'pipe', 'pipe'] },
            ),
          );
          mine.push(p);
          procs.push(p);
          return p;
        };
        const start = (host: string) => (host === KG ? startKeepgit() : startKeepalived());
        const report = () =>
          mine.map((p) => `\n--- ${p.what} (pid ${p.child.pid}):\n${lines(p).join('\n')}`).join('') +
          `\n--- keepgit.yaml:\n${clusterYaml(c, vrid, kgPrio, kaPrio)}--- keepalived.conf:\n${keepalivedConf(c, vrid, kaPrio)}`;
        const expectOnly = async (host: string, what: string) => {
          assert.deepEqual(await holders(c.vip), [host], `${what}: the VIP on ${host} only${report()}`);
        };
        // Long enough for several adverts: a second VIP holder would show by then.
        const hold = () => sleep(c.version === 2 ? 1200 : 400);
        // A v2 backup waits 3 × 1 s + skew; keepgit's start (node + tsx) adds a second or two.
        const within = c.version === 2 ? 10_000 : 6000;

        try {
          assert.deepEqual(await holders(c.vip), [], 'no VIP before the scenario starts');
          const procsOf: Record<string, Proc> = { [KG]: startKeepgit(), [KA]: startKeepalived() };

          // Election: the higher priority holds the VIP, the other does not.
          const elected = await waitFor(`the VIP on ${high}`, () => hasVip(high, c.vip), within).catch(
            (e: Error) => assert.fail(e.message + report()),
          );
          await hold();
          await expectOnly(high, 'after the election');

          // Failover: SIGTERM to the master; the other takes over and keeps the VIP.
          const exitedInTime = stop(procsOf[high] as Proc, 5000);
          const failover = await waitFor(
            `the VIP on ${low} after SIGTERM to ${high}`,
            () => hasVip(low, c.vip),
            within,
          ).catch((e: Error) => assert.fail(e.message + report()));
          assert.ok(await exitedInTime, `${high} did not exit within 5 s of SIGTERM${report()}`);
          await hold();
          await expectOnly(low, 'after the failover');

          // Preemption: the higher priority comes back and takes the VIP over.
          procsOf[high] = start(high);
          const preempted = await waitFor(
            `${high} to take the VIP back`,
            async () => (await holders(c.vip)).join() === high,
            within,
          ).catch((e: Error) => assert.fail(e.message + report()));
          await hold();
          await expectOnly(high, 'after the restart');

          // Teardown: keepgit first (as master it hands over and releases on hearing the
          // successor), then keepalived (which removes its VIP at once).
          assert.ok(await stop(procsOf[KG] as Proc, 5000), `keepgit did not exit on SIGTERM${report()}`);
          assert.ok(await stop(procsOf[KA] as Proc, 5000), `keepalived did not exit on SIGTERM${report()}`);
          assert.deepEqual(await holders(c.vip), [], `no VIP left behind${report()}`);

          // keepalived found nothing wrong with our packets, nor we with its.
          const ka = mine.filter((p) => p.what === 'keepalived').flatMap(lines);
          const complaints = ka.filter((line) => PACKET_COMPLAINTS.some((re) => re.test(line)));
          assert.deepEqual(complaints, [], `keepalived complained about our adverts${report()}`);
          const kg = mine
            .filter((p) => p.what === 'keepgit')
            .flatMap(lines)
            .filter((line) => line.startsWith('{'))
            .map(
              (line) => JSON.parse(line) as { level?: string; event?: string; to?: string; reason?: string },
            );
          const bad = kg.filter(
            (e) => e.level === 'error' || e.event === 'advert-dropped' || e.event === 'address-mismatch',
          );
          assert.deepEqual(bad, [], `keepgit dropped or rejected keepalived's adverts${report()}`);
          const moves = kg.filter((e) => e.event === 'transition').map((e) => `${e.to} (${e.reason})`);
          t.diagnostic(`keepgit: ${moves.join(', ')}`);
          t.diagnostic(
            `VIP on ${high} after ${elected} ms; on ${low} ${failover} ms after SIGTERM; back on ${high} ${preempted} ms after the restart`,
          );
        } finally {
          for (const p of mine) await stop(p, 3000);
          // Never leave a VIP behind for the next scenario, whatever happened above.
          for (const h of [KG, KA])
            if (await hasVip(h, c.vip))
              run('ip', ['-n', l.nsName(h), 'addr', 'del', `${c.vip}/${c.prefix}`, 'dev', 'eth0']);
        }
      });
    }
  }
});
