import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// Loading one of keepgit's native addons, which npm builds into build/Release at the
// package root on `npm install` (binding.gyp at the root). A missing or broken build is a
// value saying why, never an exception: each caller decides what runs without it.

export type Loaded<T> = { ok: true; addon: T } | { ok: false; detail: string };

/** build/Release/NAME.node of this package. */
export function addonPath(name: string): string {
  return fileURLToPath(new URL(`../../build/Release/${name}.node`, import.meta.url));
}

/** The addon at `path` if it loads and exports every function in `functions`. */
export function loadAddon<T>(path: string, functions: readonly string[]): Loaded<T> {
  if (!existsSync(path)) return { ok: false, detail: 'no such file' };
  let m: unknown;
  try {
    m = createRequire(import.meta.url)(path);
  } catch (e) {
    // A build for another Node ABI or architecture: rebuilding is the fix as well.
    return { ok: false, detail: (e as Error).message.split('\n')[0] ?? 'load failed' };
  }
  const r = typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : {};
  const missing = functions.filter((f) => typeof r[f] !== 'function');
  if (missing.length > 0) return { ok: false, detail: `it does not export ${missing.join(', ')}` };
  return { ok: true, addon: m as T };
}
