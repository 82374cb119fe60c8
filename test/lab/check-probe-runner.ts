import type { CheckOutcome, CheckTarget } from '../../src/check/check-types.ts';
import { probeDns } from '../../src/check/dns-check.ts';
import { probeHttp, probeHttps } from '../../src/check/http-check.ts';
import { probePing } from '../../src/check/ping-check.ts';
import { probeSmtp } from '../../src/check/smtp-check.ts';
import { probeTcp } from '../../src/check/tcp-check.ts';
import { probeUdp } from '../../src/check/udp-check.ts';
import type { ProbeJob } from './check-probes.ts';

// Runs probes inside a network namespace for the check-*.test.ts lab tests
// (`ip netns exec NS node --import tsx check-probe-runner.ts JOBS-JSON`): a socket lives
// in the namespace of the process that opens it. All probes of a job run at once, so the
// shared ICMP socket sees concurrent pings. Prints one line, `RESULT [outcome, ...]`, and
// does not call process.exit: the parent checks that the process ends by itself, which
// shows that no probe leaves a socket or timer behind (the ping socket closes when idle).

async function run(job: ProbeJob): Promise<CheckOutcome> {
  const target: CheckTarget = job.target;
  const ac = new AbortController();
  if (job.abortAfterMs !== undefined) setTimeout(() => ac.abort(), job.abortAfterMs);
  const ctx = { timeoutMs: job.timeoutMs, signal: ac.signal, now: () => performance.now() };
  switch (job.kind) {
    case 'dns':
      return probeDns(job.spec, target, ctx);
    case 'udp':
      return probeUdp(job.spec, target, ctx);
    case 'ping':
      return probePing(job.spec, target, ctx);
    case 'tcp':
      return probeTcp(job.spec, target, ctx);
    case 'http':
      return probeHttp(job.spec, target, ctx);
    case 'https':
      return probeHttps(job.spec, target, ctx);
    case 'smtp':
      return probeSmtp(job.spec, target, ctx);
  }
}

const jobs = JSON.parse(process.argv[2] ?? '[]') as ProbeJob[];
const outcomes = await Promise.all(jobs.map(run));
process.stdout.write(`RESULT ${JSON.stringify(outcomes)}\n`);
