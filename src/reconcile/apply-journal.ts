import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorText, syncDir, type WriteResult, writeFileAtomic } from './atomic-write.ts';

// The apply journal: written before an apply changes anything, removed when it finished or
// was rolled back. Its presence at start means the previous agent died in the middle of an
// apply (kill -9, OOM, power): the addresses it names may have been added by that apply and
// nobody would ever remove them, because the revision that added them may not be the one
// the agent starts with. Instances start in Backup, so none of them may be held at start:
// the agent removes every one present, then deletes the journal.

/** An address an apply may add or remove, on its interface. */
export interface JournalAddress {
  /** "a/p" as in the repository (canonical). */
  address: string;
  dev: string;
}

export interface JournalEntry {
  node: string;
  /** The revision being applied. */
  revision: string;
  /** The revision running when the apply began. */
  running: string;
  /** ISO 8601. */
  at: string;
  addresses: JournalAddress[];
}

export type JournalRead = { ok: true; entry: JournalEntry | undefined } | { ok: false; message: string };

export interface ApplyJournal {
  /** The journal left by an apply that did not finish; undefined when there is none. */
  read(): Promise<JournalRead>;
  /** Replaces the journal atomically and durably: when this resolves ok, a crash leaves it. */
  write(entry: JournalEntry): Promise<WriteResult>;
  /** Deletes the journal (none is fine). */
  clear(): Promise<WriteResult>;
}

export const JOURNAL_FILE = 'apply-journal.json';

export interface FileJournalOptions {
  /**
   * TEST ONLY (KEEPGIT_TEST_HOLD_JOURNAL_MS): wait this long before deleting the journal at
   * the end of an apply, so that a lab test can kill -9 the agent after the apply changed the
   * node and before it forgot what it changed. Never set in production.
   */
  holdBeforeClearMs?: number;
  now?: () => number;
}

/** The journal as `apply-journal.json` in the state directory `dir` (created when missing). */
export function fileApplyJournal(dir: string, opts: FileJournalOptions = {}): ApplyJournal {
  const file = join(dir, JOURNAL_FILE);
  const now = opts.now ?? Date.now;
  return {
    async read() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, entry: undefined };
        return { ok: false, message: `cannot read ${file}: ${errorText(e)}` };
      }
      const entry = parseJournal(text);
      if (entry !== undefined) return { ok: true, entry };
      // Writes are atomic, so this is someone else's file or a disk fault: keep it for a person.
      const aside = `${file}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
      const moved = await rename(file, aside).then(
        () => true,
        () => false,
      );
      return {
        ok: false,
        message: `${file} is not a keepgit apply journal${moved ? `: moved to ${aside}` : ''}; addresses a killed apply left behind are not cleaned up (check the VIPs with ip addr)`,
      };
    },
    async write(entry) {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
      } catch (e) {
        return { ok: false, message: `cannot create the state directory ${dir}: ${errorText(e)}` };
      }
      return writeFileAtomic(file, `${JSON.stringify(entry, null, 2)}\n`);
    },
    async clear() {
      if (opts.holdBeforeClearMs !== undefined && opts.holdBeforeClearMs > 0)
        await sleep(opts.holdBeforeClearMs);
      try {
        await rm(file, { force: true });
        await syncDir(dir);
        return { ok: true };
      } catch (e) {
        return { ok: false, message: `cannot delete ${file}: ${errorText(e)}` };
      }
    },
  };
}

/** The entry in `text`, or undefined when it is not a journal. */
export function parseJournal(text: string): JournalEntry | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = data as Partial<Record<keyof JournalEntry, unknown>> | null;
  if (typeof o !== 'object' || o === null) return undefined;
  if (typeof o.node !== 'string' || typeof o.revision !== 'string' || typeof o.running !== 'string')
    return undefined;
  if (typeof o.at !== 'string' || !Array.isArray(o.addresses)) return undefined;
  const addresses: JournalAddress[] = [];
  for (const a of o.addresses as unknown[]) {
    const x = a as Partial<JournalAddress> | null;
    if (typeof x !== 'object' || x === null || typeof x.address !== 'string' || typeof x.dev !== 'string')
      return undefined;
    addresses.push({ address: x.address, dev: x.dev });
  }
  return { node: o.node, revision: o.revision, running: o.running, at: o.at, addresses };
}
