import type { ArpAddon } from './addon.ts';
import { type AnnounceError, socketError } from './announce-errors.ts';
import { errnoOf } from './errno.ts';

// One AF_PACKET socket per interface, opened on first use and kept: opening one costs
// ~17 ms against ~20 µs for a send (PLATFORM.md), and a takeover is a hot path. A socket
// is bound to an interface index, so a link re-created under the same name (new index)
// gets a new socket.

export class PacketSockets {
  private readonly open = new Map<string, { ifindex: number; fd: number }>();

  constructor(private readonly addon: ArpAddon) {}

  /** Sends one whole Ethernet frame on the interface; an error value on failure. */
  send(ifname: string, ifindex: number, frame: Buffer): AnnounceError | undefined {
    const socket = this.socket(ifname, ifindex);
    if ('code' in socket) return socket;
    try {
      this.addon.send(socket.fd, frame);
      return undefined;
    } catch (e) {
      const errno = errnoOf(e);
      // The link went away under the socket: the next announcement opens a fresh one.
      if (errno === 'ENODEV' || errno === 'ENXIO') this.drop(ifname);
      return socketError('AF_PACKET', ifname, errno, (e as Error).message);
    }
  }

  close(): void {
    for (const ifname of [...this.open.keys()]) this.drop(ifname);
  }

  private socket(ifname: string, ifindex: number): { fd: number } | AnnounceError {
    const known = this.open.get(ifname);
    if (known && known.ifindex === ifindex) return known;
    if (known) this.drop(ifname);
    try {
      const fd = this.addon.open(ifindex);
      this.open.set(ifname, { ifindex, fd });
      return { fd };
    } catch (e) {
      return socketError('AF_PACKET', ifname, errnoOf(e), (e as Error).message);
    }
  }

  private drop(ifname: string): void {
    const known = this.open.get(ifname);
    if (!known) return;
    this.open.delete(ifname);
    try {
      this.addon.close(known.fd);
    } catch {
      // Nothing to do about a descriptor the kernel would not close; it is forgotten.
    }
  }
}
