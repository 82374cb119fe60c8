#!/usr/bin/env node
// Builds the native addons (binding.gyp at the package root -> build/Release/keepgit_arp.node
// for gratuitous ARP, keepgit_tcp_probe.node for the health checks' connections)
// as npm's install step. Two things the bare `node-gyp rebuild` npm would run gets wrong
// here: it downloads Node's headers unless told where they are (offline machines have
// them beside the node binary: <prefix>/include/node), and a failed build fails the
// whole `npm ci`, although keepgit runs without them (no gratuitous ARP; slower checks). So: point node-gyp at the
// local headers when they exist, and on failure warn and carry on, except under CI,
// where a missing addon must stop the run before the tests do.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const prefix = dirname(dirname(process.execPath));
const args = ['rebuild'];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h')))
  args.push(`--nodedir=${prefix}`);

// npm names its bundled node-gyp in the environment of lifecycle scripts.
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio: 'inherit' })
  : spawnSync('node-gyp', args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  const why = r.error ? r.error.message : `node-gyp exited ${r.status ?? r.signal}`;
  console.error(
    `keepgit: the native addons were not built (${why}). Until they are, gratuitous ARP is ` +
      "unavailable and health checks use Node's sockets (about twice the CPU): install g++, make " +
      'and python3, then run npm install (or npm rebuild keepgit).',
  );
  process.exit(process.env.CI === 'true' ? 1 : 0);
}
