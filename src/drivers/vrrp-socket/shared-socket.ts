import { readFileSync } from 'node:fs';
import { endianness, networkInterfaces } from 'node:os';
import raw from 'raw-socket';
import { canonicalIp } from '../../model/ip.ts';
import { addressBytes, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_PROTOCOL } from '../../vrrp/advert.ts';
import { acceptIpv4, acceptIpv6 } from './receive.ts';
import { RepeatCache } from './repeat-cache.ts';
import { newCounters, type ReceivedAdvert, TransportOpenError, type TransportOptions } from './transport.ts';

// One raw IP socket for protocol 112, shared by every VRRP transport with the same
// interface, family, source address and mode (multicast or unicast), as keepalived
// shares one socket per interface among its instances.
//
// Why shared: a raw socket receives every VRRP packet on its interface, whatever the
// VRID. With a socket per instance, each advert of a peer running 200 instances was read,
// decoded and dropped 200 times (a backup spent 60 % of a core at 200 × 1 s); shared, it
// is read and decoded once and handed to the transport of its VRID.
//
// IPv4 packets carry an IP header we write ourselves (IP_HDRINCL), as keepalived does:
// TOS 0xc0, TTL 255, no DF, and the per-instance Identification counter. Letting the
// kernel write it (IP_TTL 255) would also be RFC-correct, but byte-identical frames make
// a capture of a mixed keepgit/keepalived segment comparable field by field, and let us
// pin the source address, which raw-socket gives no bind(2) for.
//
// IPv6 cannot be built that way (no IPV6_HDRINCL on Linux): the kernel writes the
// header with the hop limits set to 255, computes and verifies the checksum
// (IPV6_CHECKSUM), and takes the source from a sticky IPV6_PKTINFO. What raw-socket
// cannot do is receive through recvmsg(2): the hop limit of a received IPv6 packet is
// not visible, so it is not checked here and every such delivery is counted in
// `hopLimitUnchecked` (the agent is to install an nftables hop-limit guard).
//
// Sends and receives go straight to raw-socket's addon (`socket.wrap`), bypassing the
// package's JS queue: that queue asks libuv for writability before every send and stops
// asking after it, four epoll_ctl(2) calls and two loop turns per advert, for a sendto(2)
// that on a raw socket practically never blocks. Only when it does (EAGAIN) does a send
// go through the queue. The package's receive handler is replaced too, because on any
// recvfrom(2) error it closes the socket: an instance would go deaf and mute for good.

// Linux socket option numbers raw-socket does not export (from <linux/in.h>, <linux/in6.h>).
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_BINDTODEVICE = 25;
const SO_RCVBUFFORCE = 33;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const IP_MULTICAST_IF = 32;
const IP_MULTICAST_TTL = 33;
const IP_MULTICAST_LOOP = 34;
const IP_ADD_MEMBERSHIP = 35;
const IPPROTO_IPV6 = 41;
const IPV6_CHECKSUM = 7;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_MULTICAST_LOOP = 19;
const IPV6_ADD_MEMBERSHIP = 20;
const IPV6_PKTINFO = 50;
/** Where the checksum sits in the VRRP header, for IPV6_CHECKSUM. */
const VRRP_CHECKSUM_OFFSET = 6;
/** The largest advert: v3 over IPv6 with 255 addresses is 4088 bytes, plus room for an IPv4 header. */
const RECEIVE_BUFFER = 8192;
/**
 * The kernel's receive queue: a peer's instances tend to send in one burst (their timers
 * started together), and 200 adverts overflow the default of ~200 kB of raw-socket
 * buffer accounting. Best effort: without CAP_NET_ADMIN the default stays.
 */
const KERNEL_RECEIVE_BUFFER = 1 << 20;

/** A transport attached to a shared socket: told of the adverts for its VRID (or all). */
export interface SocketMember {
  readonly vrid: number | undefined;
  deliver(received: ReceivedAdvert): void;
}

/** What makes two transports share a socket. */
export function socketKey(options: TransportOptions, ifindex: number): string {
  const mode = (options.unicastPeers ?? []).length === 0 ? 'multicast' : 'unicast';
  return `${options.family} ${options.ifname} ${ifindex} ${canonicalIp(options.sourceAddress)} ${mode}`;
}

export class SharedVrrpSocket {
  /** Everything read on the socket, counted before the VRID filter (which is per member). */
  readonly counters = newCounters();
  readonly closed: Promise<void>;
  private readonly byVrid = new Map<number, Set<SocketMember>>();
  private readonly anyVrid = new Set<SocketMember>();
  private readonly buffer = Buffer.alloc(RECEIVE_BUFFER);
  private readonly repeats: RepeatCache;
  private readonly onRead = (buffer: Buffer, bytes: number, source: string): void =>
    this.receive(buffer.subarray(0, bytes), source);
  private members = 0;
  private open = true;

  constructor(
    private readonly socket: raw.Socket,
    /** The options of the first transport, minus what is per member (VRID). */
    private readonly options: TransportOptions,
    private readonly localAddresses: readonly string[],
    onClosed: () => void,
  ) {
    this.repeats = new RepeatCache(options.family);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.open = false;
        onClosed();
        resolve();
      }),
    );
    const wrap = socket.wrap;
    if (wrap && typeof wrap.recv === 'function') {
      wrap.removeAllListeners('recvReady');
      wrap.on('recvReady', () => this.read(wrap));
    } else {
      socket.on('message', (buffer, source) => this.receive(buffer, source));
    }
    // raw-socket closes the socket after emitting an error (a poll failure); count it so a
    // dead socket shows, and let the next open make a new one (onClosed).
    socket.on('error', () => {
      this.counters.receiveErrors++;
    });
  }

  get isOpen(): boolean {
    return this.open;
  }

  attach(member: SocketMember): void {
    this.members++;
    if (member.vrid === undefined) this.anyVrid.add(member);
    else {
      const set = this.byVrid.get(member.vrid);
      if (set) set.add(member);
      else this.byVrid.set(member.vrid, new Set([member]));
    }
  }

  /** Detaches the member; the last one out closes the socket. Resolves when it is closed (or still in use). */
  async detach(member: SocketMember): Promise<void> {
    const removed =
      member.vrid === undefined
        ? this.anyVrid.delete(member)
        : !!this.byVrid.get(member.vrid)?.delete(member);
    if (!removed) return;
    if (member.vrid !== undefined && this.byVrid.get(member.vrid)?.size === 0)
      this.byVrid.delete(member.vrid);
    this.members--;
    if (this.members > 0) return;
    if (this.open) this.socket.close();
    await this.closed;
  }

  /**
   * Puts one frame on the wire. Returns undefined when the kernel has taken it (the common
   * case: the caller may rewrite `frame` at once), a promise when a full send buffer
   * queued a copy behind raw-socket's writability wait; throws when the send failed.
   */
  send(frame: Buffer, dst: string): Promise<void> | undefined {
    if (!this.open) throw new Error('socket closed');
    const wrap = this.socket.wrap;
    if (wrap && typeof wrap.send === 'function') {
      try {
        wrap.send(frame, 0, frame.length, dst, ignore);
        return undefined;
      } catch (e) {
        if (!isWouldBlock(e)) throw e;
      }
    }
    const copy = Buffer.from(frame);
    return new Promise((resolve, reject) => {
      this.socket.send(copy, 0, copy.length, dst, (error) => (error ? reject(error) : resolve()));
    });
  }

  private read(wrap: raw.SocketWrap): void {
    try {
      wrap.recv(this.buffer, this.onRead);
    } catch (e) {
      // Level-triggered: a packet still queued wakes us again. EAGAIN is a spurious wake.
      if (!isWouldBlock(e)) this.counters.receiveErrors++;
    }
  }

  private receive(buffer: Buffer, source: string): void {
    let got = this.repeats.repeated(buffer, source);
    if (got !== undefined) {
      // Counted as the checks below count an accepted packet.
      this.counters.received++;
      if (this.options.family === 6) this.counters.hopLimitUnchecked++;
    } else {
      got =
        this.options.family === 4
          ? acceptIpv4(buffer, this.options, this.counters)
          : acceptIpv6(buffer, source, this.options, this.counters, this.localAddresses);
      if (!got) return;
      this.repeats.accepted(buffer, source, got);
    }
    const members = this.byVrid.get(got.advert.vrid);
    if (members) for (const m of members) m.deliver(got);
    for (const m of this.anyVrid) m.deliver(got);
  }
}

const ignore = (): void => {};

/** raw-socket throws strerror(3) text, not a code. */
function isWouldBlock(e: unknown): boolean {
  const m = e instanceof Error ? e.message : '';
  return m === 'Resource temporarily unavailable' || m === 'Operation would block';
}

/** A new socket set up for `options` (without its VRID); throws TransportOpenError. */
export function openSharedSocket(
  options: TransportOptions,
  ifindex: number,
  onClosed: () => void,
): SharedVrrpSocket {
  const multicast = (options.unicastPeers ?? []).length === 0;
  const socket = createSocket(options.family);
  try {
    const set = (what: string, level: number, option: number, value: number | Buffer): void => {
      try {
        if (typeof value === 'number') socket.setOption(level, option, value);
        else socket.setOption(level, option, value, value.length);
      } catch (e) {
        throw new TransportOpenError(
          what,
          `cannot set ${what} on the VRRP socket for ${options.ifname}: ${(e as Error).message}`,
        );
      }
    };
    set('SO_BINDTODEVICE', SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${options.ifname}\0`));
    try {
      socket.setOption(SOL_SOCKET, SO_RCVBUFFORCE, KERNEL_RECEIVE_BUFFER);
    } catch {
      try {
        socket.setOption(SOL_SOCKET, SO_RCVBUF, KERNEL_RECEIVE_BUFFER);
      } catch {
        // The kernel's default stays: fine for a few instances.
      }
    }
    if (options.family === 4) {
      const local = ipv4(options.sourceAddress, 'sourceAddress');
      set('IP_HDRINCL', IPPROTO_IP, IP_HDRINCL, 1);
      // Only used if the kernel ever builds a header for us; ours says 255 already.
      set('IP_MULTICAST_TTL', IPPROTO_IP, IP_MULTICAST_TTL, 255);
      set('IP_MULTICAST_IF', IPPROTO_IP, IP_MULTICAST_IF, ipMreqn(Buffer.alloc(4), local, ifindex));
      set('IP_MULTICAST_LOOP', IPPROTO_IP, IP_MULTICAST_LOOP, 0);
      if (multicast) {
        const group = ipv4(VRRP_GROUP_V4, 'group');
        set('IP_ADD_MEMBERSHIP 224.0.0.18', IPPROTO_IP, IP_ADD_MEMBERSHIP, ipMreqn(group, local, ifindex));
      }
    } else {
      const local = ipv6(options.sourceAddress, 'sourceAddress');
      set('IPV6_CHECKSUM', IPPROTO_IPV6, IPV6_CHECKSUM, VRRP_CHECKSUM_OFFSET);
      set('IPV6_UNICAST_HOPS', IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
      set('IPV6_MULTICAST_HOPS', IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255);
      set('IPV6_MULTICAST_IF', IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex);
      set('IPV6_MULTICAST_LOOP', IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
      // Sticky in6_pktinfo: the source the pseudo-header and the peers will see.
      set('IPV6_PKTINFO', IPPROTO_IPV6, IPV6_PKTINFO, withIndex(local, ifindex));
      if (multicast) {
        const group = ipv6(VRRP_GROUP_V6, 'group');
        set('IPV6_ADD_MEMBERSHIP ff02::12', IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, withIndex(group, ifindex));
      }
    }
  } catch (e) {
    socket.close();
    throw e;
  }
  const shared: TransportOptions = {
    family: options.family,
    ifname: options.ifname,
    sourceAddress: options.sourceAddress,
  };
  return new SharedVrrpSocket(socket, shared, localIpv6Addresses(options), onClosed);
}

function createSocket(family: 4 | 6): raw.Socket {
  try {
    return raw.createSocket({
      addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6,
      protocol: VRRP_PROTOCOL,
      bufferSize: RECEIVE_BUFFER,
    });
  } catch (e) {
    throw new TransportOpenError(
      'raw sockets',
      `cannot open a raw IPv${family} socket for VRRP (protocol 112): ${(e as Error).message}; ` +
        'run the agent as root or grant it CAP_NET_RAW',
    );
  }
}

/** if_nametoindex(3) by way of sysfs; `ip netns exec` mounts the namespace's own. */
export function interfaceIndex(ifname: string): number {
  if (!/^[^/\s]{1,15}$/.test(ifname)) {
    throw new TransportOpenError('interface', `${JSON.stringify(ifname)} is not an interface name`);
  }
  try {
    const n = Number.parseInt(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'), 10);
    if (Number.isInteger(n) && n > 0) return n;
  } catch {
    // reported below
  }
  throw new TransportOpenError(
    'interface',
    `interface ${ifname} does not exist on this node (no /sys/class/net/${ifname}); check the instance's interface`,
  );
}

/** Our IPv6 addresses on the interface: the destinations a unicast advert to us can carry. */
function localIpv6Addresses(options: TransportOptions): string[] {
  if (options.family !== 6) return [];
  const found = (networkInterfaces()[options.ifname] ?? [])
    .filter((a) => a.family === 'IPv6')
    .map((a) => canonicalIp(a.address.split('%')[0] ?? a.address));
  return [...new Set([canonicalIp(options.sourceAddress), ...found])];
}

function ipv4(address: string, field: string): Buffer {
  const b = addressBytes(address, 4);
  if (!b)
    throw new TransportOpenError('address', `${field} ${JSON.stringify(address)} is not an IPv4 address`);
  return b;
}

function ipv6(address: string, field: string): Buffer {
  const b = addressBytes(address, 6);
  if (!b)
    throw new TransportOpenError('address', `${field} ${JSON.stringify(address)} is not an IPv6 address`);
  return b;
}

/** The kernel reads the ifindex of these structs as a plain int, in the host's byte order. */
function writeIndex(b: Buffer, ifindex: number, at: number): void {
  if (endianness() === 'LE') b.writeInt32LE(ifindex, at);
  else b.writeInt32BE(ifindex, at);
}

/** struct ip_mreqn: group, local address, ifindex. */
function ipMreqn(group: Buffer, local: Buffer, ifindex: number): Buffer {
  const b = Buffer.alloc(12);
  group.copy(b, 0);
  local.copy(b, 4);
  writeIndex(b, ifindex, 8);
  return b;
}

/** struct ipv6_mreq and struct in6_pktinfo share this layout: address, then ifindex. */
function withIndex(address: Buffer, ifindex: number): Buffer {
  const b = Buffer.alloc(20);
  address.copy(b, 0);
  writeIndex(b, ifindex, 16);
  return b;
}
