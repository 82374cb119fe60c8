import { readFileSync } from 'node:fs';
import { endianness, networkInterfaces } from 'node:os';
import raw from 'raw-socket';
import { canonicalIp } from '../../model/ip.ts';
import { addressBytes, VRRP_GROUP_V4, VRRP_GROUP_V6, VRRP_PROTOCOL } from '../../vrrp/advert.ts';
import { buildFrame, identificationCounter } from './frame.ts';
import { acceptIpv4, acceptIpv6 } from './receive.ts';
import {
  type AdvertListener,
  checkFamily,
  destinations,
  newCounters,
  type OpenTransport,
  snapshot,
  type Transport,
  TransportOpenError,
  type TransportOptions,
} from './transport.ts';

export * from './transport.ts';

// The real VRRP transport: one raw IP socket for protocol 112, bound to the interface.
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

// Linux socket option numbers raw-socket does not export (from <linux/in.h>, <linux/in6.h>).
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
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

export const openVrrpTransport: OpenTransport = async (options) => {
  const ifindex = interfaceIndex(options.ifname);
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
  return new RawTransport(socket, options, localIpv6Addresses(options));
};

class RawTransport implements Transport {
  readonly options: Readonly<TransportOptions>;
  private readonly stats = newCounters();
  private readonly listeners = new Set<AdvertListener>();
  private readonly nextId = identificationCounter();
  private readonly closed: Promise<void>;
  private closing = false;

  constructor(
    private readonly socket: raw.Socket,
    options: TransportOptions,
    private readonly localAddresses: readonly string[],
  ) {
    this.options = { ...options, unicastPeers: [...(options.unicastPeers ?? [])] };
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('message', (buffer, address) => this.receive(buffer, address));
    // raw-socket closes the socket after emitting an error; count it so a dead socket shows.
    socket.on('error', () => {
      this.stats.receiveErrors++;
    });
  }

  async send(advert: Parameters<Transport['send']>[0]): Promise<void> {
    checkFamily(this.options, advert);
    const group = this.options.family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6;
    const sends = destinations(this.options, group).map((dst) => {
      const frame = buildFrame(advert, this.options, dst, this.nextId());
      return new Promise<void>((resolve, reject) => {
        this.socket.send(frame, 0, frame.length, dst, (error) => {
          if (error) {
            this.stats.sendErrors++;
            reject(new Error(`VRRP send to ${dst} on ${this.options.ifname}: ${error.message}`));
          } else {
            this.stats.sent++;
            resolve();
          }
        });
      });
    });
    await Promise.all(sends);
  }

  onAdvert(listener: AdvertListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  counters() {
    return snapshot(this.stats);
  }

  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.listeners.clear();
      this.socket.close();
    }
    await this.closed;
  }

  private receive(buffer: Buffer, address: string): void {
    const got =
      this.options.family === 4
        ? acceptIpv4(buffer, this.options, this.stats)
        : acceptIpv6(buffer, address, this.options, this.stats, this.localAddresses);
    if (!got) return;
    for (const l of this.listeners) l(got);
  }
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
function interfaceIndex(ifname: string): number {
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
