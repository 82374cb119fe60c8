#!/usr/bin/env node
// The CLI runs the JavaScript compiled into dist/ when it was built from the sources as
// they are now (bin/source-stamp.js), and the TypeScript itself through tsx's loader
// otherwise. Compiled, `keepgit agent` holds ~40 MB less: tsx runs esbuild beside the
// process and keeps its loader in memory. Through tsx, a clone works with no build step
// and an edited source is never shadowed by an older build. `npm ci` / `npm install`
// build dist/ (the `prepare` script); `npm run build` does it by hand.
//
// KEEPGIT_RUNTIME=source always runs the TypeScript; KEEPGIT_RUNTIME=dist runs dist/
// even if the sources changed since it was built (a benchmark that built it at its
// start, while others edit the tree), and fails when there is no dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { distIsFresh } from './source-stamp.js';

// V8 doubles the young generation whenever enough objects survive a scavenge (module
// loading does that), up to 2 × 16 MB, and gives it back only at a full collection, which
// an idle agent seldom needs. An agent runs for weeks allocating a little per advert and
// keeping almost nothing, so it keeps the initial 2 MB: about 30 MB less resident, for
// scavenges of well under a millisecond. Set before anything is loaded; the flag is read
// each time the space would grow (on a V8 without it this does nothing). Other commands
// are short-lived and build large structures: they keep V8's default.
if (process.argv[2] === 'agent') setFlagsFromString('--semi-space-growth-factor=1');

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const wanted = process.env.KEEPGIT_RUNTIME;
if (wanted === 'dist' && !existsSync(compiled)) {
  process.stderr.write('keepgit: KEEPGIT_RUNTIME=dist but there is no dist/: run npm run build\n');
  process.exit(2);
}
let entry = compiled.href;
if (wanted !== 'dist' && (wanted === 'source' || !distIsFresh(root))) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../src/cli/main.ts', import.meta.url).href;
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
