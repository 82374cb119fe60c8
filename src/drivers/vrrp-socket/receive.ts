import { canonicalIp } from '../../model/ip.ts';
import { VRRP_GROUP_V6 } from '../../vrrp/advert.ts';
import { decodeAdvert, decodeIpv4Packet } from '../../vrrp/decode-advert.ts';
import {
  countDrop,
  type ReceivedAdvert,
  type TransportCounters,
  type TransportOptions,
} from './transport.ts';

// The receive-side checks, shared by the real socket and the fake segment so that both
// drop the same packets for the same counted reasons. Pure apart from the counters.
//
// Order: a packet that does not decode is counted by the decoder's reason; then our own
// packet (the expected noise of a looped-back send, not worth a TTL complaint); then the
// TTL (RFC 3768 7.1 / RFC 5798 7.1: a packet from off-link must never count); then the
// VRID filter.

/** RFC 3768 7.1 / RFC 5798 7.1: anything else may come from off the link. */
export const REQUIRED_TTL = 255;

/** A whole IPv4 packet, as an IPv4 raw socket delivers it (header included). */
export function acceptIpv4(
  bytes: Uint8Array,
  options: TransportOptions,
  counters: TransportCounters,
): ReceivedAdvert | undefined {
  const r = decodeIpv4Packet(bytes);
  if (!r.ok) return drop(counters, r.reason.kind);
  if (r.ip.src === canonicalIp(options.sourceAddress)) return drop(counters, 'own-packet');
  if (r.ip.ttl !== REQUIRED_TTL) return drop(counters, 'ttl');
  if (options.vrid !== undefined && r.advert.vrid !== options.vrid) return drop(counters, 'wrong-vrid');
  counters.received++;
  return { advert: r.advert, source: r.ip.src, destination: r.ip.dst, ttl: r.ip.ttl };
}

/**
 * The VRRP message of an IPv6 packet (an IPv6 raw socket strips the header) and the
 * source recvfrom(2) reported. The kernel has already verified the checksum
 * (IPV6_CHECKSUM), so a corrupted packet never gets here and is not counted by us.
 * decodeAdvert still needs the destination for the pseudo-header, and recvfrom does not
 * give it: it is the group or one of our unicast addresses, so each is tried in turn.
 */
export function acceptIpv6(
  bytes: Uint8Array,
  source: string,
  options: TransportOptions,
  counters: TransportCounters,
  localAddresses: readonly string[],
): ReceivedAdvert | undefined {
  const src = canonicalIp(stripZone(source));
  if (src === canonicalIp(options.sourceAddress)) return drop(counters, 'own-packet');
  let r = decodeAdvert(bytes, { family: 6, src, dst: VRRP_GROUP_V6 });
  for (const dst of localAddresses) {
    if (r.ok || r.reason.kind !== 'bad-checksum') break;
    r = decodeAdvert(bytes, { family: 6, src, dst });
  }
  if (!r.ok) return drop(counters, r.reason.kind);
  if (options.vrid !== undefined && r.advert.vrid !== options.vrid) return drop(counters, 'wrong-vrid');
  counters.received++;
  counters.hopLimitUnchecked++;
  return { advert: r.advert, source: src };
}

function stripZone(address: string): string {
  const zone = address.indexOf('%');
  return zone < 0 ? address : address.slice(0, zone);
}

function drop(counters: TransportCounters, reason: Parameters<typeof countDrop>[1]): undefined {
  countDrop(counters, reason);
  return undefined;
}
