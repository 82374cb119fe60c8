import { readdir, readFile } from 'node:fs/promises';
import type { Timers } from '../vrrp/instance-timers.ts';
import { splitArgv } from './argv.ts';
import type { TrackReport } from './effective-priority.ts';

// A vrrp_track_process: how many running processes match, against a quorum. keepalived matches
// exactly (not a regex, unlike pgrep): the name against /proc/PID/comm, or with parameters or
// full_command the whole /proc/PID/cmdline; zombies do not count. keepalived learns of forks and
// exits from the kernel's process connector; we poll /proc, which costs a scan per interval but
// needs no extra privilege and sees the same processes.

export interface ProcEntry {
  pid: number;
  /** /proc/PID/comm without the newline (the kernel truncates it to 15 bytes). */
  comm: string;
  /** /proc/PID/cmdline split on NUL; empty for kernel threads and zombies. */
  cmdline: string[];
  zombie: boolean;
}

export type ProcReader = () => Promise<ProcEntry[]>;

/** Reads every /proc/[1-9]* entry; processes that exit during the scan are skipped. */
export const systemProcReader: ProcReader = async () => {
  const names = (await readdir('/proc')).filter((n) => /^[1-9][0-9]*$/.test(n));
  const out: ProcEntry[] = [];
  await Promise.all(
    names.map(async (n) => {
      try {
        const [comm, cmdline, stat] = await Promise.all([
          readFile(`/proc/${n}/comm`, 'utf8'),
          readFile(`/proc/${n}/cmdline`, 'utf8'),
          readFile(`/proc/${n}/stat`, 'utf8'),
        ]);
        // The state follows the last ')' : comm itself may contain ') '.
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        const argv = cmdline.split('\0');
        if (argv[argv.length - 1] === '') argv.pop();
        out.push({ pid: Number(n), comm: comm.replace(/\n$/, ''), cmdline: argv, zombie: state === 'Z' });
      } catch {
        // Gone between readdir and read.
      }
    }),
  );
  return out;
};

export interface ProcessMatch {
  process: string;
  /** Parameters as configured, one string split like a script line. */
  args?: string;
  paramMatch?: 'initial' | 'partial';
  fullCommand?: boolean;
}

const COMM_LEN = 15;

/** Builds a matcher once: the parameters are split at configuration time, not per process. */
export function processMatcher(m: ProcessMatch): (p: ProcEntry) => boolean {
  const split = m.args === undefined ? undefined : splitArgv(m.args);
  const params = split === undefined || 'error' in split ? [] : split.argv;
  const byCmdline = m.fullCommand || m.args !== undefined || m.paramMatch !== undefined;
  if (!byCmdline) {
    // comm holds at most 15 bytes: compare what the kernel can show.
    const name = m.process.slice(0, COMM_LEN);
    return (p) => !p.zombie && p.comm === name;
  }
  const checkParams = m.args !== undefined || m.paramMatch !== undefined;
  return (p) => {
    if (p.zombie || p.cmdline[0] !== m.process) return false;
    if (!checkParams) return true;
    const actual = p.cmdline.slice(1);
    if (m.paramMatch === 'partial')
      return actual.length >= params.length && params.every((x, i) => actual[i] === x);
    if (m.paramMatch === 'initial')
      // keepalived compares the NUL-joined parameters as bytes: the configured ones are a prefix,
      // so the last may be cut short and more parameters may follow.
      return actual.join('\0').startsWith(params.join('\0'));
    return actual.length === params.length && params.every((x, i) => actual[i] === x);
  };
}

export interface ProcessTrackerOptions extends ProcessMatch {
  name: string;
  weight?: number;
  quorum?: number;
  quorumMax?: number;
  /** Quorum gained: wait this long before reporting up (a fork/exec bounce). */
  forkDelayMs?: number;
  /** Quorum lost: wait this long before reporting down (a restart). */
  terminateDelayMs?: number;
  pollMs?: number;
  reader?: ProcReader;
  timers: Timers;
  onChange: (report: TrackReport) => void;
  log?: (entry: { event: 'scan-failed'; reason: string }) => void;
}

const DEFAULT_POLL_MS = 1000;

export class ProcessTracker {
  private readonly match: (p: ProcEntry) => boolean;
  private reported: boolean | undefined;
  private count: number | undefined;
  private pendingFlip: { to: boolean; handle: ReturnType<Timers['set']> } | undefined;
  private pollHandle: ReturnType<Timers['set']> | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private stopped = true;

  constructor(private readonly o: ProcessTrackerOptions) {
    this.match = processMatcher(o);
  }

  get ok(): boolean | undefined {
    return this.reported;
  }

  get processes(): number | undefined {
    return this.count;
  }

  /** First scan reports at once, without delay, as keepalived's start-up scan does. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.scan();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.pollHandle) this.o.timers.clear(this.pollHandle);
    if (this.pendingFlip) this.o.timers.clear(this.pendingFlip.handle);
    this.pollHandle = undefined;
    this.pendingFlip = undefined;
  }

  settled(): Promise<void> {
    return this.scanning;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.pollHandle = this.o.timers.set(() => {
      this.scanning = this.scan().then(() => this.schedule());
    }, this.o.pollMs ?? DEFAULT_POLL_MS);
  }

  private async scan(): Promise<void> {
    let entries: ProcEntry[];
    try {
      entries = await (this.o.reader ?? systemProcReader)();
    } catch (e) {
      // No /proc: keep the last state rather than invent one.
      this.o.log?.({ event: 'scan-failed', reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (this.stopped) return;
    this.count = entries.filter(this.match).length;
    const quorum = this.o.quorum ?? 1;
    const max = this.o.quorumMax ?? Number.POSITIVE_INFINITY;
    this.observe(this.count >= quorum && this.count <= max);
  }

  private observe(ok: boolean): void {
    if (this.reported === undefined) {
      this.report(ok);
      return;
    }
    if (ok === this.reported) {
      // Back where we were before the delay ran out: the bounce never happened.
      if (this.pendingFlip) this.o.timers.clear(this.pendingFlip.handle);
      this.pendingFlip = undefined;
      return;
    }
    if (this.pendingFlip?.to === ok) return;
    const delay = ok ? (this.o.forkDelayMs ?? 0) : (this.o.terminateDelayMs ?? 0);
    if (delay <= 0) {
      this.report(ok);
      return;
    }
    this.pendingFlip = {
      to: ok,
      handle: this.o.timers.set(() => {
        this.pendingFlip = undefined;
        if (!this.stopped) this.report(ok);
      }, delay),
    };
  }

  private report(ok: boolean): void {
    this.reported = ok;
    this.o.onChange({ kind: 'process', name: this.o.name, ok, weight: this.o.weight ?? 0 });
  }
}
