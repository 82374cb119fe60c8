import { watch as fsWatch } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Timers } from '../vrrp/instance-timers.ts';
import { parseTrackFileValue, type TrackReport } from './effective-priority.ts';

// A vrrp_track_file: the integer in a file, read whenever the file changes. keepalived watches
// the directory with inotify (so a file replaced by rename or deleted is seen); we do the same
// with fs.watch on the directory, plus a slow poll because fs.watch can miss events on some
// file systems (NFS, overlay) and a missed change would leave the priority wrong indefinitely.

export interface FileTrackerIo {
  /** The file's text, or undefined when it does not exist or cannot be read. */
  read(path: string): Promise<string | undefined>;
  write(path: string, text: string): Promise<void>;
  /** Calls `onChange` when something in `path`'s directory may have changed it. */
  watch(path: string, onChange: () => void): { close(): void };
}

export const systemFileIo: FileTrackerIo = {
  read: (path) => readFile(path, 'utf8').catch(() => undefined),
  write: (path, text) => writeFile(path, text),
  watch(path, onChange) {
    const name = basename(path);
    try {
      const w = fsWatch(dirname(path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) onChange();
      });
      w.on('error', () => {
        // The directory went away; the poll keeps reading (the file reads as 0 meanwhile).
      });
      return w;
    } catch {
      return { close() {} };
    }
  },
};

export interface FileTrackerOptions {
  name: string;
  file: string;
  weight?: number;
  /** keepalived's init_file: write `value` (default 0) if the file is missing, or always with overwrite. */
  initFile?: boolean | { value?: number; overwrite?: boolean };
  io?: FileTrackerIo;
  timers: Timers;
  /** Safety-net poll; 0 turns it off. */
  pollMs?: number;
  onChange: (report: TrackReport) => void;
  log?: (entry: { event: 'invalid'; file: string; reason: string }) => void;
}

const DEFAULT_POLL_MS = 5000;
const DEFAULT_WEIGHT = 1;

export class FileTracker {
  private last: number | undefined;
  private watcher: { close(): void } | undefined;
  private timer: ReturnType<Timers['set']> | undefined;
  private reading: Promise<void> = Promise.resolve();
  private readAgain = false;
  private stopped = true;
  private readonly io: FileTrackerIo;

  constructor(private readonly o: FileTrackerOptions) {
    this.io = o.io ?? systemFileIo;
  }

  get value(): number | undefined {
    return this.last;
  }

  /** Initialises the file if asked, reads it once and reports, then watches. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const init = this.o.initFile;
    if (init) {
      const value = typeof init === 'object' ? (init.value ?? 0) : 0;
      const overwrite = typeof init === 'object' && Boolean(init.overwrite);
      if (overwrite || (await this.io.read(this.o.file)) === undefined)
        await this.io.write(this.o.file, `${value}\n`);
    }
    this.watcher = this.io.watch(this.o.file, () => this.changed());
    await this.readNow();
    this.schedulePoll();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) this.o.timers.clear(this.timer);
    this.timer = undefined;
  }

  /** Resolves when the reads triggered so far are done: for tests. */
  settled(): Promise<void> {
    return this.reading;
  }

  private schedulePoll(): void {
    const every = this.o.pollMs ?? DEFAULT_POLL_MS;
    if (this.stopped || every <= 0) return;
    this.timer = this.o.timers.set(() => {
      this.changed();
      this.schedulePoll();
    }, every);
  }

  /** Reads are serialised and coalesced: a burst of events costs at most one more read. */
  private changed(): void {
    if (this.stopped) return;
    if (this.readAgain) return;
    this.readAgain = true;
    this.reading = this.reading.then(() => {
      this.readAgain = false;
      return this.readNow();
    });
  }

  private async readNow(): Promise<void> {
    const text = await this.io.read(this.o.file);
    if (this.stopped) return;
    const parsed = parseTrackFileValue(text);
    let value: number;
    if ('invalid' in parsed) {
      // keepalived logs and keeps the previous value, which before the first good read is 0.
      this.o.log?.({ event: 'invalid', file: this.o.file, reason: parsed.invalid });
      if (this.last !== undefined) return;
      value = 0;
    } else value = parsed.value;
    if (value === this.last) return;
    this.last = value;
    this.o.onChange({ kind: 'file', name: this.o.name, value, weight: this.o.weight ?? DEFAULT_WEIGHT });
  }
}
