import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CheckOutcome, CheckTarget } from '../../src/check/check-types.ts';
import { createLab } from '../../src/lab/topology.ts';
import { type ProbeJob, runProbes } from './check-probes.ts';
import { labUnavailable, RUN_PREFIX } from './netns.ts';

// UDP_CHECK against real UDP peers: check-udp-peer.ts (an echo server, a server that
// answers "PONG v1" to "ping", a silent one) in a lab namespace (peer, 192.0.2.12 and
// 2001:db8::12), probed from another (prober) across the lab's bridge; a port nobody
// listens on answers with ICMP port unreachable. Root only; torn down in `finally`.

const why = labUnavailable();
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;
const peerScript = fileURLToPath(new URL('./check-udp-peer.ts', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));

const at = (port: number, family: 4 | 6 = 4): CheckTarget => ({
  address: family === 4 ? '192.0.2.12' : '2001:db8::12',
  port,
  family,
});
const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');
const show = (o: CheckOutcome | undefined) => JSON.stringify(o);

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('READY\n')) resolve();
    });
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.on('exit', (code) => reject(new Error(`the UDP peer ended (exit ${code}): ${err}`)));
  });
}

describe('UDP_CHECK against UDP peers in the lab', { skip }, () => {
  it('follows keepalived: reply or silence is up, port unreachable is down; requireReply and patterns', async () => {
    if (why) assert.fail(`lab test cannot run: ${why}`);
    const lab = createLab({ prefix: `${RUN_PREFIX}-udp`, hosts: ['prober', 'peer'] });
    try {
      const peer = lab.spawn('peer', process.execPath, ['--import', 'tsx', peerScript], {
        cwd: repo,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      await ready(peer);
      const jobs: ProbeJob[] = [
        // 0-1: echo, with and without requireReply, both families
        { kind: 'udp', spec: { payload: hex('hello') }, target: at(7), timeoutMs: 3000 },
        {
          kind: 'udp',
          spec: { payload: hex('hello'), requireReply: true },
          target: at(7, 6),
          timeoutMs: 3000,
        },
        // 2-3: a pattern that matches (with a wildcard byte) and one that does not
        {
          kind: 'udp',
          spec: { payload: hex('ping'), requireReply: '504f4e47 20 xx31' },
          target: at(9000),
          timeoutMs: 3000,
        },
        {
          kind: 'udp',
          spec: { payload: hex('ping'), requireReply: hex('PONG v2') },
          target: at(9000, 6),
          timeoutMs: 3000,
        },
        // 4-5: a silent peer: up without requireReply, down with it
        { kind: 'udp', spec: {}, target: at(9001), timeoutMs: 800 },
        { kind: 'udp', spec: { requireReply: true }, target: at(9001, 6), timeoutMs: 800 },
        // 6-7: nobody listens: ICMP port unreachable
        { kind: 'udp', spec: {}, target: at(9002), timeoutMs: 5000 },
        { kind: 'udp', spec: { requireReply: true }, target: at(9002, 6), timeoutMs: 5000 },
        // 8: no payload: keepalived's filler goes out (the echo shows it)
        {
          kind: 'udp',
          spec: { requireReply: hex('keepalived check - keepalived ch') },
          target: at(7),
          timeoutMs: 3000,
        },
      ];
      const run = await runProbes(lab.nsName('prober'), jobs);
      assert.equal(run.code, 0, run.stderr);
      const o = run.outcomes;
      assert.equal(o.length, jobs.length, run.stderr);
      assert.ok(o[0]?.ok && o[0].detail === 'reply of 5 bytes', show(o[0]));
      assert.ok(o[1]?.ok, show(o[1]));
      assert.ok(o[2]?.ok && o[2].detail === 'reply of 7 bytes', show(o[2]));
      assert.ok(
        o[3] && !o[3].ok && o[3].reason.startsWith('reply 504f4e47207631 does not match'),
        show(o[3]),
      );
      assert.ok(o[4]?.ok && /no reply within 800 ms/.test(o[4].detail ?? ''), show(o[4]));
      assert.ok(o[5] && !o[5].ok && /^timeout after 800 ms, no reply/.test(o[5].reason), show(o[5]));
      for (const closed of [o[6], o[7]]) {
        assert.ok(closed && !closed.ok && /^receive: ECONNREFUSED/.test(closed.reason), show(closed));
        assert.ok(closed.latencyMs < 5000, 'ended by the ICMP error, not by the timeout');
      }
      assert.ok(o[8]?.ok && o[8].detail === 'reply of 32 bytes', show(o[8]));
    } finally {
      await lab.destroy();
    }
  });
});
