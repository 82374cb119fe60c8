import { addonPath, loadAddon } from '../../util/load-addon.ts';
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

export const ADDON_PATH = addonPath('keepgit_arp');

let loaded: AddonLoad | undefined;

/** The addon at `path` (default: the package's build), loaded once per path and process. */
export function loadArpAddon(path: string = ADDON_PATH): AddonLoad {
  if (path === ADDON_PATH && loaded) return loaded;
  const r = loadAddon<ArpAddon>(path, ['open', 'send', 'close']);
  const result: AddonLoad = r.ok ? r : { ok: false, error: addonNotBuilt(path, r.detail) };
  if (path === ADDON_PATH) loaded = result;
  return result;
}
