import type { ApplyJournal, JournalEntry } from './apply-journal.ts';
import type { WriteResult } from './atomic-write.ts';

// The apply journal in memory, for the agent's unit tests: it survives an agent the test
// abandons (a kill -9) as the file would, and can be told to refuse a write.

export interface MemoryApplyJournal extends ApplyJournal {
  /** Every entry written, in order (cleared or not). */
  readonly written: readonly JournalEntry[];
  /** The next write fails with this message. */
  failNextWrite(message: string): void;
}

export function memoryApplyJournal(initial?: JournalEntry): MemoryApplyJournal {
  let current = initial === undefined ? undefined : structuredClone(initial);
  const written: JournalEntry[] = [];
  let failure: string | undefined;
  return {
    written,
    failNextWrite: (message) => {
      failure = message;
    },
    read: async () => ({ ok: true, entry: current === undefined ? undefined : structuredClone(current) }),
    write: async (entry): Promise<WriteResult> => {
      if (failure !== undefined) {
        const message = failure;
        failure = undefined;
        return { ok: false, message };
      }
      current = structuredClone(entry);
      written.push(structuredClone(entry));
      return { ok: true };
    },
    clear: async () => {
      current = undefined;
      return { ok: true };
    },
  };
}
