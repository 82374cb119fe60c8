import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { errorText, type WriteResult, writeFileAtomic } from './atomic-write.ts';

// The agent's memory across restarts, `state.json` in the state directory: which revision
// runs (applied), the last one that applied whole (lastGood: where a Git source starts
// after a restart) and the last refusals with their reasons. It is a cache, not the truth:
// a lost or corrupt file costs a fresh start from the source's head, never a crash, so a
// file that cannot be read is moved aside for a person to look at and the agent carries on.

export interface RevisionRecord {
  revision: string;
  /** ISO 8601. */
  at: string;
}

export interface RefusedRecord extends RevisionRecord {
  reason: string;
}

export interface AgentState {
  applied: RevisionRecord | null;
  lastGood: RevisionRecord | null;
  /** Newest first, at most REFUSED_KEPT. */
  refused: RefusedRecord[];
}

export interface StateStore {
  /** What the store holds now (the file as read at open, and every record since). */
  read(): AgentState;
  /**
   * The revision runs now. `good: false` (a revision that applied but did not verify) leaves
   * lastGood where it was; by default an applied revision is the last good one too.
   */
  recordApplied(revision: string, opts?: { good?: boolean }): Promise<WriteResult>;
  recordRefused(revision: string, reason: string): Promise<WriteResult>;
  /** What went wrong reading the file at open (moved aside, unreadable): for the log. */
  readonly warnings: readonly string[];
}

export const STATE_FILE = 'state.json';
export const REFUSED_KEPT = 20;

const empty = (): AgentState => ({ applied: null, lastGood: null, refused: [] });

/** Opens (and creates when missing) the state directory `dir`; never throws. */
export async function openStateStore(dir: string, opts: { now?: () => number } = {}): Promise<StateStore> {
  const now = opts.now ?? Date.now;
  const file = join(dir, STATE_FILE);
  const warnings: string[] = [];
  let state = empty();

  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      warnings.push(`cannot read ${file}: ${errorText(e)}; starting without a recorded revision`);
  }
  if (text !== undefined) {
    const parsed = parseState(text);
    if (parsed !== undefined) state = parsed;
    else {
      const aside = `${file}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
      const moved = await rename(file, aside).then(
        () => true,
        () => false,
      );
      warnings.push(
        moved
          ? `${file} is not a keepgit state file: moved to ${aside}; starting without a recorded revision`
          : `${file} is not a keepgit state file and could not be moved aside; starting without a recorded revision (it is replaced at the next record)`,
      );
    }
  }

  // Records are written one after the other, each with the whole state at that moment.
  let writing: Promise<unknown> = Promise.resolve();
  const save = (): Promise<WriteResult> => {
    const text = `${JSON.stringify(state, null, 2)}\n`;
    const done = writing.then(async (): Promise<WriteResult> => {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
      } catch (e) {
        return { ok: false, message: `cannot create the state directory ${dir}: ${errorText(e)}` };
      }
      return writeFileAtomic(file, text);
    });
    writing = done;
    return done;
  };
  const stamp = (revision: string): RevisionRecord => ({ revision, at: new Date(now()).toISOString() });

  return {
    warnings,
    read: () => structuredClone(state),
    recordApplied: (revision, o = {}) => {
      const rec = stamp(revision);
      state = { ...state, applied: rec, ...(o.good === false ? {} : { lastGood: rec }) };
      return save();
    },
    recordRefused: (revision, reason) => {
      state = {
        ...state,
        refused: [{ ...stamp(revision), reason }, ...state.refused].slice(0, REFUSED_KEPT),
      };
      return save();
    },
  };
}

/** The state in `text`, or undefined when it is not one. */
export function parseState(text: string): AgentState | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const o = data as Record<string, unknown>;
  const applied = o.applied ?? null;
  const lastGood = o.lastGood ?? null;
  const refused = o.refused ?? [];
  if (!(applied === null || isRecord(applied))) return undefined;
  if (!(lastGood === null || isRecord(lastGood))) return undefined;
  if (!Array.isArray(refused) || !refused.every(isRefused)) return undefined;
  return {
    applied: applied === null ? null : { revision: applied.revision, at: applied.at },
    lastGood: lastGood === null ? null : { revision: lastGood.revision, at: lastGood.at },
    refused: refused
      .slice(0, REFUSED_KEPT)
      .map((r) => ({ revision: r.revision, reason: r.reason, at: r.at })),
  };
}

function isRecord(x: unknown): x is RevisionRecord {
  const r = x as Partial<RevisionRecord> | null;
  return typeof r === 'object' && r !== null && typeof r.revision === 'string' && typeof r.at === 'string';
}

function isRefused(x: unknown): x is RefusedRecord {
  return isRecord(x) && typeof (x as Partial<RefusedRecord>).reason === 'string';
}
