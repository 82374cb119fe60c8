import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { distIsFresh } from '../bin/source-stamp.js';
import { run } from '../src/lab/run.ts';
import type { Lab } from '../src/lab/topology.ts';

// What the lab benchmarks that run agents and keepalived share: which keepgit runs (compiled
// as installed, when it can be built), ending processes by PID, and leaving nothing behind on
// SIGINT/SIGTERM.

const ROOT = resolve(import.meta.dirname, '..');

/** dist/ when it is (or could now be) built from the sources as they are; else the TypeScript. */
export function keepgitRuntime(sourceCost: string): 'dist' | 'source' {
  if (distIsFresh(ROOT)) return 'dist';
  console.log('dist/ is missing or older than the sources: npm run build');
  const r = spawnSync(process.execPath, ['scripts/build-dist.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status === 0 && existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) return 'dist';
  console.log(`WARNING: dist/ could not be built: keepgit runs through tsx, ${sourceCost}`);
  return 'source';
}

/** A signal to a process of ours that may have ended already. */
export function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined || !(pid > 0)) return;
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Whatever is left inside our namespaces was started by this bench (keepalived's VRRP child, esbuild). */
export function killNamespacePids(namespaces: readonly string[]): void {
  for (const ns of namespaces)
    for (const pid of run('ip', ['netns', 'pids', ns]).stdout.split('\n').filter(Boolean))
      signal(Number(pid), 'SIGKILL');
}

/**
 * SIGINT/SIGTERM: end what runs in the lab's namespaces and remove `base`. Registered before
 * createLab's own hook, so it runs first: keepalived's VRRP child (not a child of ours) must
 * be ended while its namespace can still be listed.
 */
export function cleanUpOnSignal(base: string, lab: () => Lab | undefined): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    const l = lab();
    if (l) killNamespacePids(l.namespaces);
    rmSync(base, { recursive: true, force: true });
    setImmediate(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
