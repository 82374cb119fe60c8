import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type AnnounceError, addonNotBuilt } from './announce-errors.ts';

// Loading the ARP addon (native/garp.c), which npm builds into build/Release at the
// package root on `npm install` (binding.gyp at the root). A missing or broken build is
// an error value with the fix, not an exception: an agent on a node without a compiler
// still runs VRRP, it only cannot send gratuitous ARP.

/** The addon's functions; every one throws an Error whose `code` is an errno name. */
export interface ArpAddon {
  /** An AF_PACKET socket bound to the interface; returns the descriptor. */
  open(ifindex: number): number;
  /** Sends a whole Ethernet frame; returns the bytes sent. */
  send(fd: number, frame: Buffer): number;
  close(fd: number): void;
}

export type AddonLoad = { ok: true; addon: ArpAddon } | { ok: false; error: AnnounceError };

export const ADDON_PATH = fileURLToPath(new URL('../../../build/Release/keepgit_arp.node', import.meta.url));

let loaded: AddonLoad | undefined;

/** The addon at `path` (default: the package's build), loaded once per path and process. */
export function loadArpAddon(path: string = ADDON_PATH): AddonLoad {
  if (path === ADDON_PATH && loaded) return loaded;
  const result = tryLoad(path);
  if (path === ADDON_PATH) loaded = result;
  return result;
}

function tryLoad(path: string): AddonLoad {
  if (!existsSync(path)) return { ok: false, error: addonNotBuilt(path, 'no such file') };
  try {
    const m: unknown = createRequire(import.meta.url)(path);
    if (isAddon(m)) return { ok: true, addon: m };
    return { ok: false, error: addonNotBuilt(path, 'it does not export open, send and close') };
  } catch (e) {
    // A build for another Node ABI or architecture: rebuilding is the fix as well.
    return { ok: false, error: addonNotBuilt(path, (e as Error).message.split('\n')[0] ?? 'load failed') };
  }
}

function isAddon(m: unknown): m is ArpAddon {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return typeof r.open === 'function' && typeof r.send === 'function' && typeof r.close === 'function';
}
