import type { Vip } from '../drivers/addresses/address-driver.ts';

// After a new master has put its VIPs on the interface, the segment's switches and
// neighbours must learn where they now live: gratuitous ARP for IPv4, unsolicited
// neighbour adverts for IPv6. The instance only says when; the driver (drivers/arp/)
// decides how, with the configured repeats and delays.

/** keepalived's garp_master_repeat, garp_interval and gna_interval for one burst. */
export interface AnnounceBurst {
  repeat: number;
  garpIntervalMs: number;
  gnaIntervalMs: number;
}

export interface Announcer {
  /** Announces the VIPs on `ifname`. Failures are the caller's to log: the VIPs stay. */
  announce(vips: readonly Vip[], ifname: string, burst?: AnnounceBurst): Promise<void>;
}

/** Until the GARP / NA driver is plugged in: the kernel's own ARP replies are all peers get. */
export const noAnnouncer: Announcer = {
  announce: async () => {},
};
