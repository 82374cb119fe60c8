import { addressBytes } from '../../vrrp/advert.ts';
import { isUnicastMac, macBytes } from './mac.ts';

// The gratuitous ARP keepalived sends for an IPv4 VIP on becoming master, byte for byte
// (test/fixtures/vectors/garp-takeover.pcap): an ARP *request*, not a reply, because every
// host on the segment processes a broadcast request while some ignore unsolicited replies;
// sender IP = target IP = the VIP so that no host answers it; target MAC all ones as
// keepalived writes it (RFC 5227 suggests zeros; either updates Linux and common routers,
// and matching keepalived keeps captures of a mixed segment comparable).
//
// Pure: bytes in, bytes out. The frame is complete down to the Ethernet header because it
// goes out on an AF_PACKET socket, which adds nothing. No padding to 60 bytes: the NIC
// (or veth) pads on the wire, and keepalived's own 42-byte frames show the same.

export const GARP_FRAME_LENGTH = 42;
const ETHERTYPE_ARP = 0x0806;
const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;
const ARPOP_REQUEST = 1;
const BROADCAST = Buffer.alloc(6, 0xff);

/**
 * The Ethernet + ARP frame announcing that `vip` is now at `mac`. Throws a RangeError for
 * an address or MAC that is not one: callers validate user input first and turn it into
 * an error value (see announcer.ts); reaching here with garbage is a programming error.
 */
export function garpFrame(vip: string, mac: string): Buffer {
  const ip = addressBytes(vip, 4);
  if (!ip) throw new RangeError(`GARP for ${JSON.stringify(vip)}: not an IPv4 address`);
  const hw = macBytes(mac);
  if (!hw || !isUnicastMac(hw)) throw new RangeError(`GARP from ${JSON.stringify(mac)}: not a unicast MAC`);
  const f = Buffer.alloc(GARP_FRAME_LENGTH);
  BROADCAST.copy(f, 0);
  hw.copy(f, 6);
  f.writeUInt16BE(ETHERTYPE_ARP, 12);
  f.writeUInt16BE(HTYPE_ETHERNET, 14);
  f.writeUInt16BE(PTYPE_IPV4, 16);
  f[18] = 6; // hardware address length
  f[19] = 4; // protocol address length
  f.writeUInt16BE(ARPOP_REQUEST, 20);
  hw.copy(f, 22); // sender hardware address
  ip.copy(f, 28); // sender protocol address
  BROADCAST.copy(f, 32); // target hardware address, as keepalived writes it
  ip.copy(f, 38); // target protocol address
  return f;
}
