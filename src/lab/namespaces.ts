import { setTimeout as sleep } from 'node:timers/promises';
import { must, run } from './run.ts';

// Named network namespaces (ip netns): listing, the processes inside one, and removal.
// Callers pass only names they created themselves; nothing here looks beyond them.

export function listNamespaces(): string[] {
  const r = run('ip', ['netns', 'list']);
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export function namespaceExists(ns: string): boolean {
  return listNamespaces().includes(ns);
}

export function addNamespace(ns: string): void {
  must('ip', ['netns', 'add', ns]);
}

/** PIDs of the processes whose network namespace is `ns` (not this process). */
export function pidsIn(ns: string): number[] {
  const r = run('ip', ['netns', 'pids', ns]);
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 1 && p !== process.pid);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends the processes left inside `namespaces` (which otherwise keep running in a namespace
 * that has lost its name) and deletes the namespaces. SIGTERM first, then SIGKILL for what is
 * still there after `graceMs`. Returns how many processes were signalled.
 */
export async function removeNamespaces(namespaces: readonly string[], graceMs = 500): Promise<number> {
  const present = new Set(listNamespaces());
  const mine = namespaces.filter((ns) => present.has(ns));
  const first = mine.flatMap(pidsIn);
  for (const p of first) signal(p, 'SIGTERM');
  if (first.length > 0) {
    const until = Date.now() + graceMs;
    while (Date.now() < until && mine.some((ns) => pidsIn(ns).length > 0)) await sleep(20);
    for (const p of mine.flatMap(pidsIn)) signal(p, 'SIGKILL');
  }
  for (const ns of mine) run('ip', ['netns', 'del', ns]);
  return first.length;
}

/** The same without waiting (an exit hook cannot wait): SIGKILL, then delete. */
export function removeNamespacesSync(namespaces: readonly string[]): void {
  const present = new Set(listNamespaces());
  for (const ns of namespaces) {
    if (!present.has(ns)) continue;
    for (const p of pidsIn(ns)) signal(p, 'SIGKILL');
    run('ip', ['netns', 'del', ns]);
  }
}
