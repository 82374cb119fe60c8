import type { IpvsCommand } from './encode-ipvs.ts';
import type { IpvsStep } from './plan-ipvs-apply.ts';

// Runs planned IPVS steps one after another and, when the kernel refuses one, takes back
// the steps already done, newest first, with their inverse commands. IPVS has no
// transactions: this journal is what makes an apply all or nothing (as long as nobody
// else changes the same services while it runs, and the kernel accepts the inverses).

export type ExecResult = { ok: true } | { ok: false; message: string };

/** Sends one command to the kernel; may also throw (a socket error, no answer). */
export type Exec = (c: IpvsCommand) => Promise<ExecResult>;

export type JournalOutcome =
  | { ok: true; done: number }
  | {
      ok: false;
      /** Index of the refused step in the plan, and why. */
      failedAt: number;
      step: IpvsStep;
      message: string;
      /** Inverse commands run, and the ones the kernel refused in turn. */
      undone: number;
      undoFailures: string[];
    };

async function attempt(exec: Exec, c: IpvsCommand): Promise<ExecResult> {
  try {
    return await exec(c);
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

export async function runIpvsJournal(steps: readonly IpvsStep[], exec: Exec): Promise<JournalOutcome> {
  for (const [i, step] of steps.entries()) {
    const r = await attempt(exec, step.do);
    if (r.ok) continue;
    let undone = 0;
    const undoFailures: string[] = [];
    for (let j = i - 1; j >= 0; j--) {
      for (const c of steps[j]?.undo ?? []) {
        const u = await attempt(exec, c);
        undone++;
        // Keep going: every inverse that lands brings the kernel closer to where it was.
        if (!u.ok) undoFailures.push(u.message);
      }
    }
    return { ok: false, failedAt: i, step, message: r.message, undone, undoFailures };
  }
  return { ok: true, done: steps.length };
}
