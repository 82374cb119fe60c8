import type { Advert, AdvertFields, Family } from '../../vrrp/advert.ts';
import type { DecodeError, Ipv4DecodeError } from '../../vrrp/decode-advert.ts';

// The VRRP transport seen from the layers above: open on an interface, send adverts,
// hear adverts that passed the RFC's receive checks, read counters. The real driver
// (vrrp-transport.ts) and the in-memory fake (fake-transport.ts) both implement this,
// and test/unit/vrrp-transport-contract.ts holds them to the same behaviour.

export interface TransportOptions {
  family: Family;
  /** The interface the socket is bound to, and the group joined on. */
  ifname: string;
  /** When given, adverts for any other VRID are dropped and counted (`wrong-vrid`). */
  vrid?: number;
  /**
   * The IP source of every advert sent. IPv4: the interface's primary address, as
   * keepalived uses. IPv6: the interface's link-local address for multicast (RFC 5798
   * 5.1.2.1), or unicast_src_ip in unicast mode. Also how our own packets are recognised.
   */
  sourceAddress: string;
  /**
   * unicast_peer: when non-empty, adverts go to each peer instead of the group, and the
   * group is not joined (so multicast adverts are not heard, as with keepalived).
   */
  unicastPeers?: string[];
}

export interface ReceivedAdvert {
  advert: Advert;
  /** The IP source of the packet. */
  source: string;
  /** The IP destination (the group or our address); IPv4 only: an IPv6 raw socket cannot see it. */
  destination?: string;
  /** IPv4 TTL, always 255 here (others are dropped). Absent for IPv6: see `hopLimitUnchecked`. */
  ttl?: number;
}

/** Why a received packet was not delivered. Decoder reasons keep the decoder's `kind`. */
export type DropReason = 'ttl' | 'own-packet' | 'wrong-vrid' | DecodeError['kind'] | Ipv4DecodeError['kind'];

export interface TransportCounters {
  /** Packets handed to the kernel (one per destination: each unicast peer counts). */
  sent: number;
  sendErrors: number;
  /** Adverts that passed every check and were delivered to listeners. */
  received: number;
  receiveErrors: number;
  /**
   * IPv6 adverts delivered without a hop-limit check: the raw socket reads through
   * recvfrom(2), which gives no IPV6_HOPLIMIT ancillary data (that needs recvmsg). An
   * nftables guard (`ip6 hoplimit != 255 drop` for protocol 112) covers the gap.
   */
  hopLimitUnchecked: number;
  /** Only reasons that happened are present. */
  dropped: Partial<Record<DropReason, number>>;
}

export type AdvertListener = (received: ReceivedAdvert) => void;

export interface Transport {
  readonly options: Readonly<TransportOptions>;
  /**
   * Sends one advert to the group, or to each unicast peer. Resolves once the kernel has
   * taken every copy; rejects with the first error (still counted in `sendErrors`).
   * An advert of the other family is a programming error: RangeError.
   */
  send(advert: AdvertFields): Promise<void>;
  /** Returns a function that removes the listener. */
  onAdvert(listener: AdvertListener): () => void;
  counters(): TransportCounters;
  close(): Promise<void>;
}

export type OpenTransport = (options: TransportOptions) => Promise<Transport>;

/** Something the node lacks (interface, privilege, kernel feature), with what to do. */
export class TransportOpenError extends Error {
  constructor(
    readonly feature: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransportOpenError';
  }
}

export function newCounters(): TransportCounters {
  return { sent: 0, sendErrors: 0, received: 0, receiveErrors: 0, hopLimitUnchecked: 0, dropped: {} };
}

/** A copy, so a caller holding it does not see later counts change under it. */
export function snapshot(c: TransportCounters): TransportCounters {
  return { ...c, dropped: { ...c.dropped } };
}

export function countDrop(c: TransportCounters, reason: DropReason): void {
  c.dropped[reason] = (c.dropped[reason] ?? 0) + 1;
}

/** The destinations of one advert: the group, or each unicast peer. */
export function destinations(options: TransportOptions, group: string): string[] {
  const peers = options.unicastPeers ?? [];
  return peers.length > 0 ? peers : [group];
}

export function checkFamily(options: TransportOptions, advert: AdvertFields): void {
  if (advert.family !== options.family) {
    throw new RangeError(`IPv${advert.family} advert sent on an IPv${options.family} VRRP transport`);
  }
}
