#!/usr/bin/env node
// The CLI ships as TypeScript and runs through tsx's loader, so a clone works after
// `npm ci` with no build step and `npm install -g .` installs the same files.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
