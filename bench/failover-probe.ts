// bench/failover-probe.ts — the client side of bench/failover.ts: ICMP echo to the VIP
// every 5 ms from a lab host (`ping -D -n -i 0.005 -W 0.1`, run as root inside the host's
// namespace), every reply's receive time kept, and the outage read off as the longest gap
// between two consecutive replies. iputils ping keeps sending while replies are missing
// (at most 10 ms apart then), so the gap's resolution is about 10 ms.
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../src/lab/topology.ts';

export interface Gap {
  /** Longest time between two consecutive replies, in ms. */
  ms: number;
  /** Receive time (epoch ms) of the reply before the gap and of the one after it. */
  from: number;
  to: number;
}

export interface Probe {
  /** Receive times (epoch ms, ping's own clock: gettimeofday, as Date.now()) of every reply. */
  readonly replies: readonly number[];
  /** The newest reply's receive time, or undefined before the first. */
  last(): number | undefined;
  /** SIGINT by PID, then wait for ping to exit and read its last lines. */
  stop(): Promise<void>;
}

const REPLY = /^\[(\d+\.\d+)\] \d+ bytes from /;

export function startProbe(lab: Lab, host: string, target: string): Probe {
  const child: ChildProcess = lab.spawn(host, 'ping', ['-D', '-n', '-i', '0.005', '-W', '0.1', target], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const replies: number[] = [];
  let buffer = '';
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const line of parts) {
      const m = REPLY.exec(line);
      if (m?.[1]) replies.push(Math.round(Number(m[1]) * 1000));
    }
  });
  child.stderr?.resume();
  return {
    replies,
    last: () => replies[replies.length - 1],
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGINT');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
        }
      }
      await exited;
    },
  };
}

/** The longest gap between consecutive replies received at or after `since` (epoch ms), counting the last reply before it. */
export function longestGap(replies: readonly number[], since: number): Gap | undefined {
  let start = replies.findIndex((t) => t >= since);
  if (start === -1) return undefined;
  if (start > 0) start -= 1;
  let best: Gap | undefined;
  for (let i = start + 1; i < replies.length; i++) {
    const a = replies[i - 1] as number;
    const b = replies[i] as number;
    if (best === undefined || b - a > best.ms) best = { ms: b - a, from: a, to: b };
  }
  return best;
}
