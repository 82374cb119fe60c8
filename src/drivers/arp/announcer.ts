import { setTimeout as delay } from 'node:timers/promises';
import { type AddonLoad, loadArpAddon } from './addon.ts';
import { type AnnounceError, noSuchInterface, socketError } from './announce-errors.ts';
import { type AnnouncedVip, type AnnounceTiming, effectiveTiming, planAnnouncement } from './announcement.ts';
import { errnoOf } from './errno.ts';
import { type LinkFacts, linkFacts } from './link-facts.ts';
import { PacketSockets } from './packet-sockets.ts';

export type { AnnounceError, AnnounceErrorCode } from './announce-errors.ts';
export type { AnnouncedVip, AnnounceTiming } from './announcement.ts';

// Telling the segment that VIPs moved here: gratuitous ARP for IPv4 and unsolicited
// neighbour adverts for IPv6, both as whole frames on AF_PACKET through the addon (see
// na-packet.ts for why not a raw ICMPv6 socket), in
// bursts of `repeat` as keepalived's garp_master_repeat, spaced by garp_interval /
// gna_interval. When to announce (on becoming master, garp_master_delay later, on
// garp_master_refresh, after a contested election) is the VRRP instance's business.
//
// Never throws and never rejects: what went wrong comes back as values, so the caller
// logs them and keeps the VIPs (an unannounced VIP still answers ARP; it is only learnt
// later). IPv4 and IPv6 bursts run side by side, so a slow gna_interval does not hold
// the GARPs back.

export type AnnounceResult =
  | { ok: true; sent: number }
  | { ok: false; sent: number; errors: AnnounceError[] };

export interface Announcer {
  /**
   * Announces `vips` on `ifname` as living at `mac` (default: the interface's own MAC,
   * which is what a master without use_vmac announces). IPv6 VIPs must already be on the
   * interface: the NA is sent from the VIP itself.
   */
  announce(
    vips: readonly AnnouncedVip[],
    ifname: string,
    mac?: string,
    timing?: AnnounceTiming,
  ): Promise<AnnounceResult>;
  /** Closes the sockets. Later announcements open them again. */
  close(): void;
}

/** The effects an announcer needs; the real ones below, fakes in unit tests. */
export interface AnnounceLinks {
  facts(ifname: string): LinkFacts | undefined;
  sendGarp(ifname: string, ifindex: number, frame: Buffer): AnnounceError | undefined;
  sendNa(
    ifname: string,
    ifindex: number,
    source: string,
    frame: Buffer,
  ): AnnounceError | undefined | Promise<AnnounceError | undefined>;
  close(): void;
}

export interface AnnouncerOptions extends AnnounceTiming {
  /** Injected for tests; default: real timers. */
  sleep?: (ms: number) => Promise<void>;
}

export function createAnnouncer(links: AnnounceLinks, options: AnnouncerOptions = {}): Announcer {
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  return {
    async announce(vips, ifname, mac, timing) {
      if (vips.length === 0) return { ok: true, sent: 0 };
      const facts = links.facts(ifname);
      if (!facts) return { ok: false, sent: 0, errors: [noSuchInterface(ifname)] };
      const t = effectiveTiming(options, timing);
      const plan = planAnnouncement(vips, ifname, mac ?? facts.mac, { ipv6Router: facts.ipv6Forwarding });
      const errors = [...plan.errors];
      const bursts = await Promise.all([
        burst(
          plan.garps.map((g) => ({
            address: g.address,
            send: () => links.sendGarp(ifname, facts.index, g.frame),
          })),
          t.repeat,
          t.garpIntervalMs,
          sleep,
        ),
        burst(
          plan.nas.map((n) => ({
            address: n.address,
            send: () => links.sendNa(ifname, facts.index, n.address, n.frame),
          })),
          t.repeat,
          t.gnaIntervalMs,
          sleep,
        ),
      ]);
      const sent = bursts.reduce((s, b) => s + b.sent, 0);
      errors.push(...bursts.flatMap((b) => b.errors));
      return errors.length === 0 ? { ok: true, sent } : { ok: false, sent, errors };
    },
    close: () => links.close(),
  };
}

interface Send {
  address: string;
  send: () => AnnounceError | undefined | Promise<AnnounceError | undefined>;
}

/**
 * `repeat` rounds over the VIPs, as keepalived's vrrp_send_link_update does. An error
 * about one VIP (its source refused) drops that VIP from later rounds; any other error
 * (no socket, link gone) ends the burst, since every further send would fail the same way.
 */
async function burst(
  sends: Send[],
  repeat: number,
  intervalMs: number,
  sleep: (ms: number) => Promise<void>,
): Promise<{ sent: number; errors: AnnounceError[] }> {
  const errors: AnnounceError[] = [];
  let live = sends;
  let sent = 0;
  let first = true;
  for (let round = 0; round < repeat && live.length > 0; round++) {
    for (const s of live) {
      if (!first && intervalMs > 0) await sleep(intervalMs);
      first = false;
      const error = await s.send();
      if (!error) {
        sent++;
        continue;
      }
      errors.push(error);
      if (error.address === undefined) return { sent, errors };
      live = live.filter((l) => l !== s);
    }
  }
  return { sent, errors };
}

export type OpenAnnouncer = { ok: true; announcer: Announcer } | { ok: false; error: AnnounceError };

/**
 * The real announcer. Fails, as a value, when the ARP addon is not built or this process
 * cannot open AF_PACKET sockets (checked once on the loopback link, so that a missing
 * capability shows at start-up rather than at the first takeover).
 */
export function openAnnouncer(options: AnnouncerOptions & { addonPath?: string } = {}): OpenAnnouncer {
  const load: AddonLoad = loadArpAddon(options.addonPath);
  if (!load.ok) return load;
  const { addon } = load;
  try {
    addon.close(addon.open(1)); // ifindex 1 is lo in every network namespace
  } catch (e) {
    return { ok: false, error: socketError('AF_PACKET', 'lo', errnoOf(e), (e as Error).message) };
  }
  const packets = new PacketSockets(addon);
  const links: AnnounceLinks = {
    facts: linkFacts,
    sendGarp: (ifname, ifindex, frame) => packets.send(ifname, ifindex, frame),
    sendNa: (ifname, ifindex, _source, frame) => packets.send(ifname, ifindex, frame),
    close: () => packets.close(),
  };
  return { ok: true, announcer: createAnnouncer(links, options) };
}
