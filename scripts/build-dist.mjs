#!/usr/bin/env node
// Compiles src/ and policies/ to JavaScript in dist/ (tsconfig.build.json), for
// bin/keepgit.js to run instead of the TypeScript (see bin/source-stamp.js for when it
// does). dist/ mirrors the package root, so the two files the code reads relative to its
// own location are linked in: dist/package.json (the version) and dist/build (the ARP
// addon npm builds at the root).
//
//   node scripts/build-dist.mjs             `npm run build`: fails when the compile fails
//   node scripts/build-dist.mjs --optional  `prepare` (npm install / npm ci): a clone
//        without TypeScript (npm ci --omit=dev) or with a type error still installs, and the
//        CLI runs from source through tsx; under CI=true a failed build fails the install.
//
// The stamp is the hash of the sources taken before compiling: a file edited during the
// compile leaves dist/ stale (run from source), never fresh with old code. On a failed
// compile no stamp is written (noEmitOnError leaves nothing to run anyway).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP_FILE, sourceHash } from '../bin/source-stamp.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const optional = process.argv.includes('--optional');
const dist = join(root, 'dist');

function give(up) {
  console.error(`keepgit: dist/ not built (${up}); the CLI runs the TypeScript through tsx instead.`);
  process.exit(optional && process.env.CI !== 'true' ? 0 : 1);
}

let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  give('TypeScript is not installed: a production install (--omit=dev) has no compiler');
}
const stamp = sourceHash(root);
rmSync(dist, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) {
  rmSync(dist, { recursive: true, force: true });
  give(r.error ? r.error.message : `tsc exited ${r.status ?? r.signal}`);
}
mkdirSync(dist, { recursive: true });
symlinkSync('../package.json', join(dist, 'package.json'));
symlinkSync('../build', join(dist, 'build'));
if (!existsSync(join(dist, 'src', 'cli', 'main.js'))) give('tsc wrote no dist/src/cli/main.js');
writeFileSync(join(root, STAMP_FILE), `${stamp}\n`);
console.log(`keepgit: built dist/ (${stamp.split(' ').pop()?.slice(0, 12)})`);
