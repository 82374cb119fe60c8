import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import { describeRun, killAgents, type Running, startAgent, waitFor, writeRepo } from './agent-harness.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// Issue 4's acceptance with a real `keepgit agent` and the nftables dataplane: a client, the
// agent on lb1 (holding the VIP by VRRP), three backends with small HTTP servers, on the
// lab's segment (one-armed: the service masquerades, so replies come back through lb1).
// Stopping a backend takes it out (no request fails after that), its return brings it back;
// inhibit_on_failure keeps a down server at weight 0; a MISC_CHECK with misc_dynamic
// re-weights; an HTTP check with a wrong digest marks its server down; with every server
// down the sorry server answers. Scheduler spreads are in dataplane-nft-traffic.test.ts.

const why = labUnavailable(['nft']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

const VIP = '192.0.2.100';
// Hosts in createLab order: lb1 .11, client .12, be1 .13, be2 .14, be3 .15.
const BE = { be1: '192.0.2.13', be2: '192.0.2.14', be3: '192.0.2.15' } as const;

const cluster = (weightFile: string) => `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: lb-lab }
instances:
  - name: web
    vrid: 61
    version: 3
    interface: eth0
    advertInterval: 100ms
    priority: { lb1: 110 }
    vips: [${VIP}/24]
virtualServers:
  - name: www
    address: ${VIP}
    port: 80
    scheduler: rr
    sourceNat: masquerade
    drainTime: 0s
    delayLoop: 1s
    retry: 1
    delayBeforeRetry: 1s
    connectTimeout: 1s
    sorryServer: { address: ${BE.be3}, port: 8081 }
    realServers:
      - address: ${BE.be1}
        port: 8080
        checks: [{ type: http, urls: [{ path: /health }] }]
      - address: ${BE.be2}
        port: 8080
        checks:
          - { type: misc, script: "/bin/sh -c 'exit $(cat ${weightFile})'", dynamic: true, timeout: 1s }
      - address: ${BE.be3}
        port: 8080
        inhibitOnFailure: true
        checks: [{ type: tcp }]
  - name: digest
    address: ${VIP}
    port: 81
    scheduler: rr
    sourceNat: masquerade
    delayLoop: 1s
    connectTimeout: 1s
    realServers:
      - address: ${BE.be1}
        port: 8080
        checks: [{ type: http, urls: [{ path: /health, digest: ffffffffffffffffffffffffffffffff }] }]
`;

const node = `apiVersion: keepgit/v1
kind: Node
metadata: { name: lb1 }
scriptUser: nobody
enableScriptSecurity: false
`;

/** A backend: answers every path with its name (and /health with "ok"). */
const backendScript = (name: string, port: number) =>
  `require('http').createServer((q,s)=>{s.setHeader('connection','close');s.end(q.url==='/health'?'ok':${JSON.stringify(name)})}).listen(${port},'0.0.0.0',()=>console.log('up'))`;

/** N sequential requests from the client to VIP:port, each on a new connection: the names, or ERR. */
const requestsScript = (n: number, port: number) => `
const http=require('http');const out=[];
const one=()=>new Promise(r=>{const q=http.get({host:'${VIP}',port:${port},path:'/',agent:false,timeout:2000},s=>{let b='';s.on('data',d=>b+=d);s.on('end',()=>r(b))});q.on('timeout',()=>{q.destroy();r('ERR timeout')});q.on('error',e=>r('ERR '+e.code))});
(async()=>{for(let i=0;i<${n};i++)out.push(await one());console.log(JSON.stringify(out))})();`;

interface LbStatusBody {
  loadBalancer?: {
    dataplane: string;
    dataplaneReason: string;
    services: { key: string; destinations: { address: string; port: number; weight: number }[] }[];
    virtualServers: { key: string; up: boolean; sorryActive: boolean }[];
    realServers: {
      virtualServer: string;
      realServer: string;
      up: boolean;
      weight: number;
      checks: { last?: { ok: boolean; reason?: string; latencyMs: number } }[];
    }[];
  };
}

async function status(lab: Lab, r: Running): Promise<LbStatusBody> {
  const port = r.lines.find((l) => l.event === 'listening')?.port;
  if (port === undefined) throw new Error(`lb1 is not listening yet${describeRun(r)}`);
  const res = await lab.exec(
    'lb1',
    process.execPath,
    ['-e', `fetch('http://127.0.0.1:${port}/status').then(r=>r.text()).then(t=>process.stdout.write(t))`],
    { timeoutMs: 10000 },
  );
  return JSON.parse(res.stdout) as LbStatusBody;
}

describe('load balancing by the agent in the lab (nftables)', { skip }, () => {
  it('follows its checks: down, back, inhibit, misc_dynamic, wrong digest, sorry server', async (t) => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-lb-lab-'));
    chmodSync(dir, 0o777);
    const weightFile = join(dir, 'weight');
    writeFileSync(weightFile, '0\n'); // exit 0: up at the configured weight
    chmodSync(weightFile, 0o666);
    const repo = writeRepo(cluster(weightFile), { lb1: node });
    const lab = createLab({ prefix: `${RUN_PREFIX}-lb`, hosts: ['lb1', 'client', 'be1', 'be2', 'be3'] });
    const agents: Running[] = [];
    const backends = new Map<string, ChildProcess>();
    const startBackend = async (host: 'be1' | 'be2' | 'be3', port = 8080, name: string = host) => {
      const child = lab.spawn(host, process.execPath, ['-e', backendScript(name, port)]);
      backends.set(`${host}:${port}`, child);
      await new Promise<void>((resolve, reject) => {
        child.stdout?.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`backend ${host}:${port} exited (${code})`)));
      });
    };
    const stopBackend = async (host: string, port = 8080) => {
      const child = backends.get(`${host}:${port}`);
      assert.ok(child?.pid);
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await exited;
      backends.delete(`${host}:${port}`);
    };
    const requests = async (n: number, port = 80): Promise<string[]> => {
      const r = await lab.exec('client', process.execPath, ['-e', requestsScript(n, port)], {
        timeoutMs: 60_000,
      });
      try {
        return JSON.parse(r.stdout) as string[];
      } catch {
        return assert.fail(`the client's requests: ${JSON.stringify(r)}${describeRun(agents[0] as Running)}`);
      }
    };
    const count = (names: string[]) => {
      const c: Record<string, number> = {};
      for (const n of names) c[n] = (c[n] ?? 0) + 1;
      return c;
    };
    try {
      // keepalived leaves forwarding to the operator, and so does keepgit (it warns).
      const fwd = await lab.exec('lb1', 'sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
      assert.equal(fwd.status, 0, fwd.stderr);
      await Promise.all([
        startBackend('be1'),
        startBackend('be2'),
        startBackend('be3'),
        startBackend('be3', 8081, 'sorry'),
      ]);
      const lb1 = startAgent(lab, 'lb1', repo);
      agents.push(lb1);
      const rsUp = async (rs: string, up: boolean, vs = 'www') =>
        (await status(lab, lb1)).loadBalancer?.realServers.find(
          (s) => s.virtualServer === vs && s.realServer === rs,
        )?.up === up;
      const weightOf = async (rs: string) => {
        const [address, port] = rs.split(':');
        return (await status(lab, lb1)).loadBalancer?.services
          .find((s) => s.key === 'www')
          ?.destinations.find((d) => d.address === address && d.port === Number(port))?.weight;
      };
      const wait = (what: string, pred: () => Promise<boolean>, ms = 15_000) =>
        waitFor(what, pred, ms).catch((e: Error) => assert.fail(e.message + describeRun(lb1)));

      await wait('lb1 to listen', async () => lb1.lines.some((l) => l.event === 'listening'));
      await wait('the VIP on lb1 and every real server up', async () => {
        const s = (await status(lab, lb1)).loadBalancer;
        return s?.realServers.filter((r) => r.virtualServer === 'www').every((r) => r.up) === true;
      });
      const first = await status(lab, lb1);
      assert.equal(first.loadBalancer?.dataplane, 'nftables');
      assert.equal(first.loadBalancer?.dataplaneReason, 'auto: kernel has no IPVS, using nftables');

      // rr: every backend, evenly.
      const spread = count(await requests(30));
      assert.deepEqual(Object.keys(spread).sort(), ['be1', 'be2', 'be3'], JSON.stringify(spread));
      for (const n of Object.values(spread)) assert.ok(Math.abs(n - 10) <= 1, JSON.stringify(spread));

      // A wrong digest marks be1 down in the "digest" service, with the reason.
      await wait('be1 down in "digest"', () => rsUp(`${BE.be1}:8080`, false, 'digest'));
      const dg = (await status(lab, lb1)).loadBalancer?.realServers.find((s) => s.virtualServer === 'digest');
      assert.match(dg?.checks[0]?.last?.reason ?? '', /digest/i);

      // SIGHUP, as with keepalived: the directory is read again; a new virtual server is
      // applied in place (the others keep their checks), and so is a new VRRP priority.
      const extra = `  - name: extra
    address: ${VIP}
    port: 82
    scheduler: rr
    sourceNat: masquerade
    realServers:
      - { address: ${BE.be2}, port: 8080 }
`;
      writeFileSync(join(repo, 'keepgit.yaml'), cluster(weightFile) + extra);
      assert.ok(lb1.child.pid);
      process.kill(lb1.child.pid, 'SIGHUP');
      await wait('the revision applied', async () => lb1.lines.some((l) => l.event === 'revision-applied'));
      assert.deepEqual([...new Set(await requests(4, 82))], ['be2']);
      writeFileSync(
        join(repo, 'keepgit.yaml'),
        (cluster(weightFile) + extra).replace('priority: { lb1: 110 }', 'priority: { lb1: 120 }'),
      );
      process.kill(lb1.child.pid, 'SIGHUP');
      await wait(
        'the VRRP change applied',
        async () => lb1.lines.filter((l) => l.event === 'revision-applied').length === 2,
      );
      assert.deepEqual(lb1.lines.filter((l) => l.event === 'revision-applied')[1]?.changed, ['web']);
      assert.equal(lb1.lines.filter((l) => l.event === 'transition').length, 2, describeRun(lb1));

      // be1 stops: out within delay_loop + retry × delay_before_retry (+ slack), then no failures.
      const stoppedAt = Date.now();
      await stopBackend('be1');
      await wait('be1 down', () => rsUp(`${BE.be1}:8080`, false));
      t.diagnostic(
        `be1 out of the pool ${Date.now() - stoppedAt} ms after it stopped (bound 1 s + 1 × 1 s + 1 s)`,
      );
      await sleep(200); // the apply that follows the fact
      const after = await requests(20);
      assert.deepEqual(
        after.filter((x) => x.startsWith('ERR') || x === 'be1'),
        [],
        JSON.stringify(after),
      );
      // Back: be1 answers again.
      await startBackend('be1');
      await wait('be1 up again', () => rsUp(`${BE.be1}:8080`, true));
      await sleep(200);
      assert.ok((await requests(12)).includes('be1'));

      // misc_dynamic: exit 2 + 5 → weight 5.
      writeFileSync(weightFile, '7\n');
      await wait('be2 re-weighted to 5', async () => (await weightOf(`${BE.be2}:8080`)) === 5);

      // inhibit_on_failure: be3 down stays in the service at weight 0, and gets nothing.
      await stopBackend('be3');
      await wait('be3 at weight 0', async () => (await weightOf(`${BE.be3}:8080`)) === 0);
      await sleep(200);
      const inhibited = await requests(12);
      assert.ok(
        !inhibited.includes('be3') && !inhibited.some((x) => x.startsWith('ERR')),
        JSON.stringify(inhibited),
      );

      // Everything down: the sorry server answers.
      await stopBackend('be1');
      await stopBackend('be2');
      writeFileSync(weightFile, '1\n'); // the MISC check fails too
      await wait(
        'the sorry server active',
        async () =>
          (await status(lab, lb1)).loadBalancer?.virtualServers.find((v) => v.key === 'www')?.sorryActive ===
          true,
      );
      await sleep(200);
      assert.deepEqual([...new Set(await requests(5))], ['sorry']);
      assert.deepEqual(
        lb1.lines.filter((l) => l.level === 'error'),
        [],
        describeRun(lb1),
      );
    } finally {
      killAgents(agents);
      for (const c of backends.values()) if (c.pid) process.kill(c.pid, 'SIGKILL');
      await lab.destroy();
      rmSync(repo, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
