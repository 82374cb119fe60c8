import { addressBytes } from '../../vrrp/advert.ts';
import { isUnicastMac, macBytes } from './mac.ts';

// The unsolicited Neighbour Advertisement keepalived sends for an IPv6 VIP on becoming
// master (RFC 4861 section 7.2.6; test/fixtures/vectors/na-takeover-ipv6.pcap): ICMPv6
// type 136 with the Override flag, so neighbours replace the cached link-layer address
// instead of only marking it stale, and Solicited clear (it answers no solicitation; a
// multicast NA with S set is dropped by receivers). It must carry the Target Link-Layer
// Address option: without it there is nothing to learn.
//
// naPacket is the ICMPv6 message alone, checksum 0, as a raw ICMPv6 socket would take it
// (the kernel adds header and checksum there). But the NA's source must be the VIP, and
// on a raw socket Linux ignored a sticky IPV6_PKTINFO source in the lab (the NA left
// from the link-local address), while raw-socket offers neither bind(2) nor sendmsg(2)
// control messages. So naFrame builds the whole Ethernet + IPv6 + ICMPv6 frame for the
// AF_PACKET socket, as keepalived itself does (its vrrp_ndisc.c): byte for byte the same,
// flow label 0 and hop limit 255 included.

export const NA_PACKET_LENGTH = 32;
export const ICMPV6_NEIGHBOUR_ADVERTISEMENT = 136;
export const ALL_NODES = 'ff02::1';
const FLAG_ROUTER = 0x80000000;
const FLAG_OVERRIDE = 0x20000000;
const OPTION_TARGET_LL_ADDRESS = 2;

export interface NaOptions {
  /**
   * The Router flag. keepalived sets it when the interface forwards IPv6
   * (net.ipv6.conf.IF.forwarding=1): a neighbour that sees a router's NA without it stops
   * using the sender as a default router (RFC 4861 section 7.2.5).
   */
  router?: boolean;
}

/** The ICMPv6 NA for `vip` at `mac`, checksum 0. Throws a RangeError on input that is not an address. */
export function naPacket(vip: string, mac: string, options: NaOptions = {}): Buffer {
  const target = addressBytes(vip, 6);
  if (!target) throw new RangeError(`NA for ${JSON.stringify(vip)}: not an IPv6 address`);
  const hw = macBytes(mac);
  if (!hw || !isUnicastMac(hw)) throw new RangeError(`NA from ${JSON.stringify(mac)}: not a unicast MAC`);
  const p = Buffer.alloc(NA_PACKET_LENGTH);
  p[0] = ICMPV6_NEIGHBOUR_ADVERTISEMENT;
  p[1] = 0; // code
  // bytes 2-3: checksum, filled by the kernel
  p.writeUInt32BE((FLAG_OVERRIDE | (options.router ? FLAG_ROUTER : 0)) >>> 0, 4);
  target.copy(p, 8);
  p[24] = OPTION_TARGET_LL_ADDRESS;
  p[25] = 1; // option length in units of 8 bytes
  hw.copy(p, 26);
  return p;
}

/**
 * The ICMPv6 checksum of `message` (its checksum field taken as 0) between `src` and `dst`,
 * over the RFC 8200 section 8.1 pseudo-header: what the kernel writes at bytes 2-3.
 */
export function icmpv6Checksum(src: string, dst: string, message: Buffer): number {
  const s = addressBytes(src, 6);
  const d = addressBytes(dst, 6);
  if (!s || !d) throw new RangeError(`ICMPv6 checksum between ${src} and ${dst}: not IPv6 addresses`);
  const pseudo = Buffer.alloc(40);
  s.copy(pseudo, 0);
  d.copy(pseudo, 16);
  pseudo.writeUInt32BE(message.length, 32);
  pseudo[39] = 58; // next header: ICMPv6
  const body = Buffer.from(message);
  if (body.length >= 4) body.writeUInt16BE(0, 2);
  let sum = 0;
  const add = (b: Buffer) => {
    for (let i = 0; i < b.length; i += 2) sum += ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  };
  add(pseudo);
  add(body);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export const NA_FRAME_LENGTH = 14 + 40 + NA_PACKET_LENGTH;
const ETHERTYPE_IPV6 = 0x86dd;
/** 33:33 + the low 32 bits of ff02::1 (RFC 2464 section 7). */
const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0, 0, 0, 1]);

/** The whole Ethernet frame of an unsolicited NA from `vip` at `mac` to ff02::1. */
export function naFrame(vip: string, mac: string, options: NaOptions = {}): Buffer {
  const na = naPacket(vip, mac, options);
  na.writeUInt16BE(icmpv6Checksum(vip, ALL_NODES, na), 2);
  const f = Buffer.alloc(NA_FRAME_LENGTH);
  ALL_NODES_MAC.copy(f, 0);
  na.copy(f, 6, 26, 32); // our MAC, from the target link-layer option
  f.writeUInt16BE(ETHERTYPE_IPV6, 12);
  f.writeUInt32BE(0x60000000, 14); // version 6, traffic class 0, flow label 0
  f.writeUInt16BE(NA_PACKET_LENGTH, 18);
  f[20] = 58; // next header: ICMPv6
  f[21] = 255; // hop limit: receivers drop an NA with any other (RFC 4861 section 7.1.2)
  na.copy(f, 22, 8, 24); // source: the VIP, which is also the target
  (addressBytes(ALL_NODES, 6) as Buffer).copy(f, 38);
  na.copy(f, 54);
  return f;
}
