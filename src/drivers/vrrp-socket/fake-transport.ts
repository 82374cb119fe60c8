import { canonicalIp } from '../../model/ip.ts';
import { type Family, VRRP_GROUP_V4, VRRP_GROUP_V6 } from '../../vrrp/advert.ts';
import { decodeAdvert } from '../../vrrp/decode-advert.ts';
import { buildFrame, identificationCounter } from './frame.ts';
import { acceptIpv4, acceptIpv6 } from './receive.ts';
import {
  type AdvertListener,
  checkFamily,
  destinations,
  newCounters,
  snapshot,
  type Transport,
  type TransportOptions,
} from './transport.ts';

export * from './transport.ts';

// An in-memory link for tests of the layers above the transport. Transports opened on
// one FakeSegment hear each other as raw sockets on one Ethernet segment would: every
// send is encoded to the same bytes the real driver writes and goes through the same
// receive checks (receive.ts), so drops and counters match the real one.
//
// What the kernel does for the real socket, the segment does here: multicast reaches
// the transports that joined the group (those without unicast peers), never the sender
// (IP_MULTICAST_LOOP is off); unicast reaches the transports whose source address is
// the destination; IPv4 and IPv6 never meet; an IPv6 frame with a bad
// checksum is dropped unseen, as IPV6_CHECKSUM has the kernel do. Delivery is on a later microtask, so a
// sender never re-enters its own caller. Interface names are not compared: a segment is
// one link.

interface Member {
  options: TransportOptions;
  deliver(bytes: Buffer, source: string): void;
}

export class FakeSegment {
  private readonly members = new Set<Member>();
  /** Every frame put on the segment, for tests that look at bytes. */
  readonly frames: { family: Family; source: string; destination: string; bytes: Buffer }[] = [];

  open = async (options: TransportOptions): Promise<Transport> => {
    const t = new FakeTransport(this, options);
    return t;
  };

  /** @internal */
  join(member: Member): void {
    this.members.add(member);
  }

  /** @internal */
  leave(member: Member): void {
    this.members.delete(member);
  }

  /**
   * Puts a frame on the segment as if some host sent it: IPv4 with its header (so a test
   * can craft a TTL), IPv6 as the VRRP message alone (what an IPv6 raw socket reads).
   */
  inject(family: Family, source: string, destination: string, bytes: Buffer, from?: Member): void {
    this.frames.push({ family, source, destination, bytes });
    const dst = canonicalIp(destination);
    const group = family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6;
    // IPV6_CHECKSUM: the kernel drops a bad IPv6 checksum before the socket sees it.
    if (family === 6) {
      const r = decodeAdvert(bytes, { family, src: canonicalIp(source), dst });
      if (!r.ok && r.reason.kind === 'bad-checksum') return;
    }
    for (const m of this.members) {
      if (m === from || m.options.family !== family) continue;
      const joined = (m.options.unicastPeers ?? []).length === 0;
      const addressed = dst === group ? joined : canonicalIp(m.options.sourceAddress) === dst;
      if (addressed) queueMicrotask(() => m.deliver(Buffer.from(bytes), source));
    }
  }
}

class FakeTransport implements Transport, Member {
  readonly options: Readonly<TransportOptions>;
  private readonly stats = newCounters();
  private readonly listeners = new Set<AdvertListener>();
  private readonly nextId = identificationCounter();
  private open = true;

  constructor(
    private readonly segment: FakeSegment,
    options: TransportOptions,
  ) {
    this.options = { ...options, unicastPeers: [...(options.unicastPeers ?? [])] };
    segment.join(this);
  }

  async send(advert: Parameters<Transport['send']>[0]): Promise<void> {
    checkFamily(this.options, advert);
    if (!this.open) {
      this.stats.sendErrors++;
      throw new Error(`VRRP send on ${this.options.ifname}: transport closed`);
    }
    const group = this.options.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6;
    for (const dst of destinations(this.options, group)) {
      const frame = buildFrame(advert, this.options, dst, this.nextId());
      this.segment.inject(this.options.family, this.options.sourceAddress, dst, frame, this);
      this.stats.sent++;
    }
  }

  onAdvert(listener: AdvertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  counters() {
    return snapshot(this.stats);
  }

  async close(): Promise<void> {
    this.open = false;
    this.listeners.clear();
    this.segment.leave(this);
  }

  deliver(bytes: Buffer, source: string): void {
    if (!this.open) return;
    const got =
      this.options.family === 4
        ? acceptIpv4(bytes, this.options, this.stats)
        : acceptIpv6(bytes, source, this.options, this.stats, [canonicalIp(this.options.sourceAddress)]);
    if (!got) return;
    for (const l of this.listeners) l(got);
  }
}
