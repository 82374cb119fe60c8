import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from './topology.ts';

// What `keepgit lab up` made, kept so that `keepgit lab down` deletes exactly that and
// nothing else: /run/keepgit-lab/<prefix>.json (tmpfs, gone after a reboot, as the
// namespaces are), else $TMPDIR/keepgit-lab; KEEPGIT_LAB_STATE_DIR overrides both.

export interface LabState {
  prefix: string;
  createdAt: string;
  pid: number;
  switch: string;
  namespaces: string[];
  hosts: { name: string; ns: string; mac: string; ipv4: string; ipv6: string }[];
}

export function stateDir(): string {
  const forced = process.env.KEEPGIT_LAB_STATE_DIR;
  if (forced) return forced;
  for (const dir of ['/run/keepgit-lab', join(tmpdir(), 'keepgit-lab')]) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      return dir;
    } catch {
      // not writable here: try the next one
    }
  }
  return join(tmpdir(), 'keepgit-lab');
}

export const statePath = (prefix: string, dir = stateDir()): string => join(dir, `${prefix}.json`);

export function labState(lab: Lab): LabState {
  return {
    prefix: lab.prefix,
    createdAt: new Date().toISOString(),
    pid: process.pid,
    switch: lab.nsName('switch'),
    namespaces: [...lab.namespaces],
    hosts: lab.hosts.map(({ name, ns, mac, ipv4, ipv6 }) => ({ name, ns, mac, ipv4, ipv6 })),
  };
}

export function writeState(state: LabState, dir = stateDir()): string {
  mkdirSync(dir, { recursive: true });
  const file = statePath(state.prefix, dir);
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { flag: 'wx', mode: 0o644 });
  return file;
}

/** The state of lab `prefix`, undefined when there is none; throws on a damaged file. */
export function readState(prefix: string, dir = stateDir()): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(prefix, dir), 'utf8');
  } catch {
    return undefined;
  }
  const s = JSON.parse(text) as Partial<LabState>;
  if (
    s.prefix !== prefix ||
    !Array.isArray(s.namespaces) ||
    !s.namespaces.every((n) => typeof n === 'string' && n.startsWith(`${prefix}-`)) ||
    !Array.isArray(s.hosts)
  )
    throw new Error(`${statePath(prefix, dir)}: not a keepgit lab state file for "${prefix}"`);
  return s as LabState;
}

export function listStates(dir = stateDir()): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  } catch {
    return [];
  }
}

export function removeState(prefix: string, dir = stateDir()): void {
  rmSync(statePath(prefix, dir), { force: true });
}
