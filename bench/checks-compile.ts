import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// bench/checks.ts measures the checker as compiled JavaScript, as a built agent runs it:
// under tsx the loader (esbuild in-process, transforms on first import) would be counted in
// the RSS and in the first seconds of CPU. A fresh build of just the bench's entry points
// and what they import, into a directory of the bench's own, so neither a stale dist/ nor
// another engineer's half-done build is what gets measured. tsc emits even when some
// imported file has a type error (its JavaScript is still what runs); the note says so.

export interface Compiled {
  /** Directory holding bench/*.js and src/**\/*.js, with node_modules linked in. */
  dir: string;
  js: (tsPath: string) => string;
  note: string;
}

const ROOT = resolve(import.meta.dirname, '..');

function declarations(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

export function compile(entries: readonly string[], outDir: string): Compiled | { error: string } {
  mkdirSync(outDir, { recursive: true });
  const config = join(outDir, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: {
        rootDir: ROOT,
        outDir: join(outDir, 'out'),
        noEmitOnError: false,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      include: [],
      files: [...entries.map((e) => resolve(ROOT, e)), ...declarations(join(ROOT, 'src'))],
    }),
  );
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config],
    {
      encoding: 'utf8',
    },
  );
  const out = join(outDir, 'out');
  const emitted = entries.map((e) => join(out, e.replace(/\.ts$/, '.js')));
  if (r.error || emitted.some((f) => spawnSync('test', ['-f', f]).status !== 0))
    return { error: `tsc did not build ${entries.join(', ')}: ${r.error?.message ?? r.stdout}${r.stderr}` };
  // ESM resolution of packages walks up from the file: give the build the repository's.
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'));
  // And the native addons, found relative to the code (build/Release at the package root).
  symlinkSync(join(ROOT, 'build'), join(out, 'build'));
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l)).length;
  return {
    dir: out,
    js: (tsPath) => join(out, tsPath.replace(/\.ts$/, '.js')),
    note:
      r.status === 0
        ? 'compiled JavaScript (tsc, a fresh build of the bench entry points)'
        : `compiled JavaScript (tsc reported ${errors} type error(s) in files being edited; emitted anyway)`,
  };
}
