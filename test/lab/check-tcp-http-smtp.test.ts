import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { CheckFact } from '../../src/check/check-scheduler.ts';
import type { CheckOutcome, CheckTarget } from '../../src/check/check-types.ts';
import type { HttpUrlSpec } from '../../src/check/http-check.ts';
import { createLab, type Lab } from '../../src/lab/topology.ts';
import { writeSelfSigned } from '../unit/check-peers.ts';
import { type ProbeJob, runProbes } from './check-probes.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// TCP_CHECK, HTTP_GET, SSL_GET and SMTP_CHECK against real servers in the lab: the peers of
// check-tcp-peer.ts (HTTP on 80, HTTPS on 443 with a self-signed certificate made now with
// openssl, SMTP on 25, an SMTP server refusing service on 2525, nothing on 81) run in a
// backend namespace (192.0.2.12, 2001:db8::12); the probes run in an lb namespace
// (192.0.2.11) across the lab's bridge. The expected digest is computed without our code:
// md5sum over the page's bytes, and keepalived's own genhash against the live page. Then the
// scheduler runs the way the agent runs it, in the lb namespace, over a repository's view: a
// real server of each kind goes DOWN when the backend process is stopped (by its PID) and
// UP again when it is restarted. MISC_CHECK and FILE_CHECK are local by nature and have
// their tests on this host (test/unit/check-misc.test.ts, check-file.test.ts). Root only;
// everything is torn down in `finally`.

const why = labUnavailable(['openssl', 'genhash', 'md5sum']);
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;
const repo = fileURLToPath(new URL('../..', import.meta.url));
const peerScript = fileURLToPath(new URL('./check-tcp-peer.ts', import.meta.url));
const schedulerScript = fileURLToPath(new URL('./check-scheduler-runner.ts', import.meta.url));

const BACKEND4 = '192.0.2.12';
const BACKEND6 = '2001:db8::12';
const VHOST = 'www.example.test';
const FIXED_BODY = 'keepgit lab page: digest me\n';
const WRONG_DIGEST = '0123456789abcdef0123456789abcdef';

const at = (port: number, family: 4 | 6 = 4): CheckTarget => ({
  address: family === 4 ? BACKEND4 : BACKEND6,
  port,
  family,
});
const show = (o: unknown) => JSON.stringify(o);
const failure = (o: CheckOutcome | undefined): string =>
  o && !o.ok ? o.reason : `not a failure: ${show(o)}`;

/** Lines of a child's stdout, as they come; `wait` resolves on the first line a test accepts. */
function lines(
  child: ChildProcess,
  onLine: (line: string) => void = () => {},
): { all: string[]; wait: (ok: (l: string) => boolean, ms: number) => Promise<string> } {
  const all: string[] = [];
  const waiters: { ok: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let rest = '';
  child.stdout?.on('data', (b: Buffer) => {
    rest += b.toString();
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      all.push(line);
      onLine(line);
      for (const w of [...waiters])
        if (w.ok(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  return {
    all,
    wait: (ok, ms) => {
      const seen = all.find(ok);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching line within ${ms} ms; got ${show(all)}`)),
          ms,
        );
        waiters.push({
          ok,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

async function startPeer(lab: Lab, certDir: string): Promise<ChildProcess> {
  const peer = lab.spawn('backend', process.execPath, ['--import', 'tsx', peerScript, certDir, FIXED_BODY], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  peer.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const out = lines(peer);
  await Promise.race([
    out.wait((l) => l === 'READY', 30_000),
    new Promise((_, reject) =>
      peer.once('exit', (code) => reject(new Error(`the peer ended (exit ${code}): ${stderr}`))),
    ),
  ]);
  return peer;
}

/** Ends a process this test started, by its PID, and waits until it is gone. */
async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await gone;
}

const http = (urls: HttpUrlSpec[], extra: Record<string, unknown> = {}) => ({ urls, ...extra });

describe('TCP_CHECK, HTTP_GET, SSL_GET and SMTP_CHECK against real servers in the lab', { skip }, () => {
  it('probes: up against live servers, down on a closed port, a wrong digest, a bad status and a bad greeting', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-tcp-lab-'));
    const lab = createLab({ prefix: `${RUN_PREFIX}-tcp`, hosts: ['lb', 'backend'] });
    try {
      await writeSelfSigned(dir, VHOST);
      await startPeer(lab, dir);

      // The digest, twice without our code: md5sum over the bytes the page serves, and
      // keepalived's genhash against the live page from the lb namespace.
      const digest = execFileSync('md5sum', { input: FIXED_BODY, encoding: 'utf8' }).split(/\s/)[0] ?? '';
      assert.match(digest, /^[0-9a-f]{32}$/);
      const genhash = await lab.exec('lb', 'genhash', ['-s', BACKEND4, '-p', '80', '-u', '/fixed'], {
        timeoutMs: 20_000,
      });
      assert.equal(genhash.stdout.trim(), digest, `genhash: ${genhash.stdout}${genhash.stderr}`);

      const jobs: ProbeJob[] = [
        // 0-2: TCP over both families, and a closed port
        { kind: 'tcp', spec: {}, target: at(80), timeoutMs: 3000 },
        { kind: 'tcp', spec: {}, target: at(80, 6), timeoutMs: 3000 },
        { kind: 'tcp', spec: {}, target: at(81), timeoutMs: 3000 },
        // 3-5: HTTP status and digest; a wrong digest; a status the check does not accept
        {
          kind: 'http',
          spec: http([{ path: '/fixed', statusCode: 200, digest: digest.toUpperCase() }]),
          target: at(80),
          timeoutMs: 3000,
        },
        {
          kind: 'http',
          spec: http([{ path: '/fixed', digest: WRONG_DIGEST }]),
          target: at(80),
          timeoutMs: 3000,
        },
        { kind: 'http', spec: http([{ path: '/missing' }]), target: at(80), timeoutMs: 3000 },
        // 6-7: the Host header: the virtualhost (over IPv6), else ADDRESS:PORT as keepalived sends it
        {
          kind: 'http',
          spec: http([{ path: '/vhost', regex: `^host=${VHOST.replaceAll('.', '\\.')}$` }], {
            virtualhost: VHOST,
          }),
          target: at(80, 6),
          timeoutMs: 3000,
        },
        {
          kind: 'http',
          spec: http([{ path: '/vhost', regex: '^host=192\\.0\\.2\\.12:80$' }]),
          target: at(80),
          timeoutMs: 3000,
        },
        // 8-10: HTTPS: SNI sent when asked (and only then); the digest over TLS
        {
          kind: 'https',
          spec: http([{ path: '/sni', regex: `^sni=${VHOST.replaceAll('.', '\\.')}$` }], {
            virtualhost: VHOST,
            sni: true,
          }),
          target: at(443),
          timeoutMs: 3000,
        },
        {
          kind: 'https',
          spec: http([{ path: '/sni', regex: '^sni=none$' }], { virtualhost: VHOST }),
          target: at(443),
          timeoutMs: 3000,
        },
        {
          kind: 'https',
          spec: http([{ path: '/fixed', digest }], { httpProtocol: '1.1' }),
          target: at(443, 6),
          timeoutMs: 3000,
        },
        // 11: HTTPS to a server that does not speak TLS
        { kind: 'https', spec: http([{ path: '/fixed' }]), target: at(80), timeoutMs: 3000 },
        // 12-15: SMTP with a multi-line greeting (both families), a refusing server, a closed port
        { kind: 'smtp', spec: {}, target: at(25), timeoutMs: 3000 },
        { kind: 'smtp', spec: { heloName: 'lb.example.test' }, target: at(25, 6), timeoutMs: 3000 },
        { kind: 'smtp', spec: {}, target: at(2525), timeoutMs: 3000 },
        { kind: 'smtp', spec: {}, target: at(81), timeoutMs: 3000 },
      ];
      const run = await runProbes(lab.nsName('lb'), jobs);
      assert.equal(run.code, 0, run.stderr);
      const o = run.outcomes;
      assert.equal(o.length, jobs.length, run.stderr);
      assert.ok(o[0]?.ok, show(o[0]));
      assert.ok(o[1]?.ok, show(o[1]));
      assert.equal(failure(o[2]), 'connect ECONNREFUSED');
      assert.ok(o[3]?.ok && o[3].detail === 'status 200', show(o[3]));
      assert.equal(failure(o[4]), `digest ${digest}, expected ${WRONG_DIGEST}`);
      assert.equal(failure(o[5]), 'status 404, expected 200-299');
      assert.ok(o[6]?.ok, show(o[6]));
      assert.ok(o[7]?.ok, show(o[7]));
      assert.ok(o[8]?.ok, show(o[8]));
      assert.ok(o[9]?.ok, show(o[9]));
      assert.ok(o[10]?.ok, show(o[10]));
      assert.match(failure(o[11]), /^tls /);
      assert.ok(o[12]?.ok, show(o[12]));
      assert.ok(o[13]?.ok, show(o[13]));
      assert.equal(failure(o[14]), 'bad greeting: 554 no service');
      assert.equal(failure(o[15]), 'connect ECONNREFUSED');
    } finally {
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the scheduler, run as the agent runs it: real servers go DOWN when the backend stops and UP when it returns', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-tcp-lab-'));
    const lab = createLab({ prefix: `${RUN_PREFIX}-tcs`, hosts: ['lb', 'backend'] });
    try {
      await writeSelfSigned(dir, VHOST);
      const digest = execFileSync('md5sum', { input: FIXED_BODY, encoding: 'utf8' }).split(/\s/)[0] ?? '';
      // alpha: every real server starts DOWN, so the first successes are facts too.
      const timing =
        'alpha: true, connectTimeout: 1s, retry: 1, delayBeforeRetry: 200ms, delayLoop: 500ms, warmup: 200ms';
      const cluster = `apiVersion: keepgit/v1
kind: Cluster
metadata: { name: check-lab }
virtualServers:
  - name: web
    address: 203.0.113.10
    port: 80
    realServers:
      - address: ${BACKEND4}
        port: 80
        checks: [{ type: http, ${timing}, urls: [{ path: /fixed, digest: ${digest} }] }]
      - address: ${BACKEND4}
        port: 443
        checks: [{ type: https, ${timing}, sni: true, virtualhost: ${VHOST}, urls: [{ path: /sni, regex: "^sni=www" }] }]
      - address: ${BACKEND4}
        port: 25
        checks: [{ type: smtp, ${timing} }]
  - name: plain
    address: 203.0.113.11
    port: 80
    realServers:
      - address: ${BACKEND4}
        port: 80
        checks: [{ type: tcp, ${timing} }]
`;
      const files = {
        'keepgit.yaml': cluster,
        'nodes/lb.yaml': 'apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: lb }\n',
      };
      const servers = ['web 192.0.2.12:80', 'web 192.0.2.12:443', 'web 192.0.2.12:25', 'plain 192.0.2.12:80'];
      const facts: CheckFact[] = [];
      const runner = lab.spawn(
        'lb',
        process.execPath,
        ['--import', 'tsx', schedulerScript, JSON.stringify(files), 'lb'],
        { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      runner.stderr?.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const out = lines(runner, (l) => {
        if (l.startsWith('FACT ')) facts.push(JSON.parse(l.slice(5)) as CheckFact);
      });
      const ready = await out
        .wait((l) => l.startsWith('READY'), 30_000)
        .catch((e: Error) => {
          throw new Error(`${e.message}; stderr: ${stderr}`);
        });
      assert.equal(ready, `READY ${servers.length}`);

      // The latest fact of each real server once there are `n` facts in all.
      const settled = async (n: number, up: boolean) => {
        const until = Date.now() + 20_000;
        while (facts.length < n) {
          if (Date.now() > until) assert.fail(`expected ${n} facts, got ${show(facts)}; stderr: ${stderr}`);
          await sleep(50);
        }
        const mine = facts.slice(n - servers.length, n);
        assert.deepEqual(
          mine.map((f) => `${f.virtualServer} ${f.realServer}`).sort(),
          [...servers].sort(),
          show(facts),
        );
        for (const f of mine) assert.equal(f.up, up, show(f));
        return mine;
      };

      // No backend yet: every server stays DOWN (alpha), and nothing is reported.
      await sleep(1500);
      assert.deepEqual(facts, []);

      let peer = await startPeer(lab, dir);
      const up = await settled(4, true);
      for (const f of up) assert.ok(f.last?.ok, show(f));

      await stop(peer);
      const down = await settled(8, false);
      for (const f of down) assert.match(f.last && !f.last.ok ? f.last.reason : show(f), /ECONNREFUSED/);

      peer = await startPeer(lab, dir);
      await settled(12, true);
      await sleep(1500);
      assert.equal(facts.length, 12, `no flapping while the backend is steady: ${show(facts.slice(12))}`);

      // Stopping the scheduler leaves no timer or socket behind: the runner ends by itself.
      const exited = new Promise<number | null>((resolve) => runner.once('exit', (code) => resolve(code)));
      runner.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(15_000).then(() => 'still running')]);
      assert.equal(code, 0, `the runner did not end by itself after scheduler.stop(): ${stderr}`);
      await stop(peer);
    } finally {
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
