import { parseArgs } from 'node:util';
import { listNamespaces, removeNamespaces } from '../lab/namespaces.ts';
import { isRoot, missingTool } from '../lab/run.ts';
import { labState, listStates, readState, removeState, statePath, writeState } from '../lab/state.ts';
import { createLab, hostPlan, type LabHost } from '../lab/topology.ts';
import type { CliIo, Command } from './io.ts';

// keepgit lab up|down|status: the test lab (a switch namespace with a bridge, one namespace
// per host, documentation addresses only, nothing in the root namespace) for people to try
// keepgit in. `up` records what it made in a state file; `down` deletes exactly the
// namespaces listed there and nothing else. Exit 0 done, 1 failed, 2 usage or not root.

const USAGE = [
  'usage: keepgit lab up [--hosts lb1,lb2,client] [--prefix NAME]',
  '       keepgit lab down [--prefix NAME]',
  '       keepgit lab status [--prefix NAME]',
].join('\n');

export const DEFAULT_PREFIX = 'kglab';
export const DEFAULT_HOSTS = ['lb1', 'lb2', 'client'];

interface Options {
  prefix: string;
  hosts: string[];
}

function hostLines(hosts: readonly Pick<LabHost, 'name' | 'ns' | 'mac' | 'ipv4' | 'ipv6'>[], io: CliIo) {
  const w = Math.max(6, ...hosts.map((h) => h.name.length));
  const wn = Math.max(...hosts.map((h) => h.ns.length));
  for (const h of hosts)
    io.out(
      `  ${h.name.padEnd(w)}  ${h.ns.padEnd(wn)}  eth0 ${h.mac}  ${`${h.ipv4}/24`.padEnd(16)}  ${h.ipv6}/64`,
    );
}

async function up(o: Options, io: CliIo): Promise<number> {
  const file = statePath(o.prefix);
  if (readState(o.prefix) !== undefined) {
    io.err(`keepgit lab: lab "${o.prefix}" is already up (${file}); keepgit lab down --prefix ${o.prefix}`);
    return 1;
  }
  let lab: ReturnType<typeof createLab>;
  try {
    lab = createLab({ prefix: o.prefix, hosts: o.hosts });
  } catch (e) {
    io.err(`keepgit lab up: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  try {
    writeState(labState(lab));
  } catch (e) {
    await lab.destroy();
    io.err(`keepgit lab up: cannot record the lab in ${file}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  lab.detach();
  const sw = lab.nsName('switch');
  io.out(`lab "${o.prefix}" is up: segment 192.0.2.0/24 and 2001:db8::/64 on bridge br0 in ${sw}`);
  io.out('');
  hostLines(lab.hosts, io);
  io.out('');
  io.out(`Enter a host:   ip netns exec ${lab.hosts[0]?.ns} bash`);
  io.out(`Tear it down:   keepgit lab down --prefix ${o.prefix}`);
  io.out(`State file:     ${file}`);
  return 0;
}

async function down(o: Options, io: CliIo): Promise<number> {
  const state = readState(o.prefix);
  if (state === undefined) {
    io.err(`keepgit lab down: no lab "${o.prefix}" (no ${statePath(o.prefix)}); nothing deleted`);
    return 1;
  }
  const present = new Set(listNamespaces());
  const gone = state.namespaces.filter((ns) => !present.has(ns));
  const stopped = await removeNamespaces(state.namespaces);
  const left = new Set(listNamespaces());
  const failed = state.namespaces.filter((ns) => left.has(ns));
  if (failed.length > 0) {
    io.err(`keepgit lab down: could not delete ${failed.join(', ')}; state kept in ${statePath(o.prefix)}`);
    return 1;
  }
  removeState(o.prefix);
  const deleted = state.namespaces.length - gone.length;
  io.out(
    `lab "${o.prefix}" is down: ${deleted} namespace${deleted === 1 ? '' : 's'} deleted` +
      (stopped > 0 ? `, ${stopped} process${stopped === 1 ? '' : 'es'} inside stopped` : '') +
      (gone.length > 0 ? ` (already gone: ${gone.join(', ')})` : ''),
  );
  return 0;
}

function status(prefix: string | undefined, io: CliIo): number {
  const prefixes = prefix === undefined ? listStates() : [prefix];
  const present = new Set(listNamespaces());
  let shown = 0;
  for (const p of prefixes) {
    let state: ReturnType<typeof readState>;
    try {
      state = readState(p);
    } catch (e) {
      io.err(`keepgit lab status: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (state === undefined) continue;
    const missing = state.namespaces.filter((ns) => !present.has(ns));
    if (shown++ > 0) io.out('');
    io.out(
      `lab "${p}" up since ${state.createdAt}: switch ${state.switch}` +
        (missing.length > 0 ? `; MISSING ${missing.join(', ')}` : ''),
    );
    hostLines(state.hosts, io);
  }
  if (shown === 0) io.out(prefix === undefined ? 'no lab is up' : `no lab "${prefix}"`);
  return 0;
}

export const labCommand: Command = async (args, io) => {
  let values: { hosts?: string; prefix?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        hosts: { type: 'string' },
        prefix: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    io.err(`keepgit lab: ${e instanceof Error ? e.message : String(e)}`);
    io.err(USAGE);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [action, extra] = positionals;
  if (
    (action !== 'up' && action !== 'down' && action !== 'status') ||
    extra !== undefined ||
    (values.hosts !== undefined && action !== 'up')
  ) {
    io.err(USAGE);
    return 2;
  }
  if (!isRoot()) {
    io.err(`keepgit lab: needs root (it creates network namespaces); try: sudo keepgit lab ${action}`);
    return 2;
  }
  const tool = missingTool(['ip', ...(action === 'up' ? ['sh'] : [])]);
  if (tool !== undefined) {
    io.err(`keepgit lab: needs ${tool} (${tool === 'ip' ? 'apt-get install iproute2' : tool})`);
    return 2;
  }
  const prefix = values.prefix ?? DEFAULT_PREFIX;
  const hosts = values.hosts === undefined ? DEFAULT_HOSTS : values.hosts.split(',').map((h) => h.trim());
  try {
    hostPlan(prefix, hosts);
  } catch (e) {
    io.err(`keepgit lab: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  try {
    if (action === 'up') return await up({ prefix, hosts }, io);
    if (action === 'down') return await down({ prefix, hosts }, io);
    return status(values.prefix, io);
  } catch (e) {
    io.err(`keepgit lab ${action}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
};
