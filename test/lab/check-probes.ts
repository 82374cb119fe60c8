import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CheckOutcome, CheckTarget } from '../../src/check/check-types.ts';
import type { DnsSpec } from '../../src/check/dns-check.ts';
import type { HttpSpec } from '../../src/check/http-check.ts';
import type { PingSpec } from '../../src/check/ping-check.ts';
import type { SmtpSpec } from '../../src/check/smtp-check.ts';
import type { TcpSpec } from '../../src/check/tcp-check.ts';
import type { UdpSpec } from '../../src/check/udp-check.ts';

// Runs probes in a lab namespace by way of check-probe-runner.ts and returns their
// outcomes, for the lab tests of every checker that speaks to a peer over the network.

export type ProbeJob = { target: CheckTarget; timeoutMs: number; abortAfterMs?: number } & (
  | { kind: 'dns'; spec: DnsSpec }
  | { kind: 'udp'; spec: UdpSpec }
  | { kind: 'ping'; spec: PingSpec }
  | { kind: 'tcp'; spec: TcpSpec }
  | { kind: 'http' | 'https'; spec: HttpSpec }
  | { kind: 'smtp'; spec: SmtpSpec }
);

export interface ProbeRun {
  outcomes: CheckOutcome[];
  /** Exit code; null when it had to be killed. */
  code: number | null;
  stderr: string;
}

const repo = fileURLToPath(new URL('../..', import.meta.url));
const runner = fileURLToPath(new URL('./check-probe-runner.ts', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;

/**
 * Runs `jobs` at once inside namespace `ns`; `asUser` drops to that uid and gid with no
 * capabilities (setpriv), to see what a probe does without CAP_NET_RAW.
 */
export function runProbes(ns: string, jobs: ProbeJob[], asUser?: number): Promise<ProbeRun> {
  const node = [process.execPath, '--import', 'tsx', runner, JSON.stringify(jobs)];
  const drop =
    asUser === undefined
      ? []
      : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', '--inh-caps=-all', '--'];
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...drop, ...node], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${RUN_TIMEOUT_MS} ms: the runner did not end by itself)`;
      if (child.pid !== undefined) child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ outcomes: line ? (JSON.parse(line.slice(7)) as CheckOutcome[]) : [], code, stderr });
    });
  });
}
