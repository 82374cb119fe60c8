import type { ChildProcess } from 'node:child_process';

// Talking to bench/checks.ts's children line by line: wait for a line (READY), ask a
// question on stdin and wait for the answer's line (COUNT, REPORT), and end a child by its PID.

export interface Lines {
  /** The first line since the last call that starts with `prefix`, or an error after `ms`. */
  next(prefix: string, ms: number): Promise<string>;
  ask(question: string, prefix: string, ms: number): Promise<string>;
  stderr(): string;
}

export function lines(child: ChildProcess): Lines {
  const queue: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  let rest = '';
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-4000);
  });
  child.stdout?.on('data', (b: Buffer) => {
    rest += b.toString();
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      const w = waiters.findIndex((x) => line.startsWith(x.prefix));
      if (w >= 0) waiters.splice(w, 1)[0]?.resolve(line);
      else queue.push(line);
    }
  });
  const next = (prefix: string, ms: number) => {
    const i = queue.findIndex((l) => l.startsWith(prefix));
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as string);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no "${prefix}" line from PID ${child.pid} within ${ms} ms; stderr: ${err}`));
      }, ms);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`PID ${child.pid} ended (exit ${code}) before "${prefix}"; stderr: ${err}`));
      };
      child.once('exit', onExit);
      waiters.push({
        prefix,
        resolve: (l) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(l);
        },
      });
    });
  };
  return {
    next,
    ask: (question, prefix, ms) => {
      child.stdin?.write(`${question}\n`);
      return next(prefix, ms);
    },
    stderr: () => err,
  };
}

/** Ends a child by its PID (SIGTERM, then SIGKILL after `graceMs`) and waits until it is gone. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  await gone;
  clearTimeout(timer);
}
