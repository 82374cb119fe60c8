import { endianness, networkInterfaces } from 'node:os';
import raw from 'raw-socket';
import { errnoOf } from '../drivers/arp/errno.ts';
import { canonicalIp } from '../model/ip.ts';
import { addressBytes } from '../vrrp/advert.ts';
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_TIME_EXCEEDED,
  ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY,
  ICMPV6_TIME_EXCEEDED,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  ipv4Header,
  ipv6Packet,
} from './icmp-packet.ts';

// A raw ICMP (or ICMPv6) socket for PING_CHECK, behind a small interface so the pinger's
// matching of replies can be tested with a fake. keepalived uses unprivileged ping sockets
// (SOCK_DGRAM, IPPROTO_ICMP) where the kernel owns the identifier; Node cannot open those,
// so this is a raw socket and needs CAP_NET_RAW.
//
// raw-socket has no bind(2), so bindto is done by writing the IP header ourselves with
// that source (IP_HDRINCL; IPV6_HDRINCL, Linux 4.5+), and then the ICMPv6 checksum is
// ours too. A sticky IPV6_PKTINFO looked like the lighter way for IPv6, but the lab showed
// raw sockets ignore its source (the request left from the kernel's choice). A source that
// is not an address of this node is refused here, as bind(2) would refuse it.

export interface IcmpSocketOptions {
  family: 4 | 6;
  bindAddress?: string;
  bindInterface?: string;
}

export interface IcmpSocketEvents {
  /** A packet as the socket gives it (IPv4: with its IP header) and its sender. */
  message: (packet: Buffer, source: string) => void;
  /** The socket failed and is closed. */
  error: (error: Error) => void;
}

export interface IcmpSocket {
  /** Sends an ICMP message (without IP header) to `destination`. Rejects with a short reason. */
  send(message: Buffer, destination: string): Promise<void>;
  close(): void;
}

export type OpenIcmpSocket = (
  options: IcmpSocketOptions,
  events: IcmpSocketEvents,
) => { socket: IcmpSocket } | { error: string };

export const NEEDS_CAP_NET_RAW = 'PING_CHECK needs CAP_NET_RAW (run the agent as root or grant it)';

// Linux socket options raw-socket does not export (<linux/in.h>, <linux/icmp.h>, <linux/icmpv6.h>).
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const IPPROTO_IPV6 = 41;
const IPV6_HDRINCL = 36;
const ICMPV6_FILTER = 1;
/** Echo replies and errors quoting a request are small; room for a full-size one anyway. */
const RECEIVE_BUFFER = 2048;

/** The ICMP types a pinger reads; the kernel drops the rest before they reach us. */
const WANTED_V4 = [ICMP_ECHO_REPLY, ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED];
const WANTED_V6 = [ICMPV6_ECHO_REPLY, ICMPV6_DEST_UNREACH, ICMPV6_TIME_EXCEEDED];

export const openRawIcmpSocket: OpenIcmpSocket = (options, events) => {
  const { family, bindAddress, bindInterface } = options;
  if (bindAddress !== undefined) {
    const problem = localAddressProblem(bindAddress, family);
    if (problem) return { error: problem };
  }
  let socket: raw.Socket;
  try {
    socket = raw.createSocket({
      addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6,
      protocol: family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6,
      bufferSize: RECEIVE_BUFFER,
    });
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'EPERM' || errno === 'EACCES') return { error: NEEDS_CAP_NET_RAW };
    return { error: `cannot open a raw ICMP${family === 6 ? 'v6' : ''} socket: ${(e as Error).message}` };
  }
  const set = (level: number, option: number, value: number | Buffer): void => {
    if (typeof value === 'number') socket.setOption(level, option, value);
    else socket.setOption(level, option, value, value.length);
  };
  try {
    if (family === 4) set(SOL_RAW, ICMP_FILTER, blockAllBut(WANTED_V4, 1));
    else set(IPPROTO_ICMPV6, ICMPV6_FILTER, blockAllBut(WANTED_V6, 8));
  } catch {
    // Only an optimisation: without the filter the pinger reads and ignores more packets.
  }
  try {
    if (bindInterface !== undefined)
      set(SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(`${bindInterface}\0`, 'latin1'));
  } catch (e) {
    socket.close();
    const errno = errnoOf(e);
    return {
      error:
        errno === 'ENODEV'
          ? `bindIf ${bindInterface}: no such interface on this node`
          : `bindIf ${bindInterface}: ${(e as Error).message}`,
    };
  }
  let frame: ((dst: string, message: Buffer) => Buffer | undefined) | undefined;
  try {
    if (bindAddress !== undefined && family === 4) {
      set(IPPROTO_IP, IP_HDRINCL, 1);
      frame = (dst, message) => {
        const h = ipv4Header(bindAddress, dst, message.length);
        return h && Buffer.concat([h, message]);
      };
    } else if (bindAddress !== undefined) {
      set(IPPROTO_IPV6, IPV6_HDRINCL, 1);
      frame = (dst, message) => ipv6Packet(bindAddress, dst, message);
    }
  } catch (e) {
    socket.close();
    return { error: `bindTo ${bindAddress}: ${(e as Error).message}` };
  }

  socket.on('message', (packet, source) => events.message(packet, source));
  socket.on('error', (e) => events.error(e));
  return {
    socket: {
      send: (message, destination) =>
        new Promise<void>((resolve, reject) => {
          const packet = frame ? frame(destination, message) : message;
          if (!packet) return reject(new Error(`${destination} is not an IPv${family} address`));
          socket.send(packet, 0, packet.length, destination, (error) => (error ? reject(error) : resolve()));
        }),
      close: () => {
        socket.close();
      },
    },
  };
};

/**
 * The kernel's filter bitmap: a set bit blocks that type (ICMP_FILTER is one 32-bit word for
 * types 0-31, ICMPV6_FILTER eight words for 0-255), in the host's byte order.
 */
export function blockAllBut(types: readonly number[], words: number): Buffer {
  const w = new Array<number>(words).fill(0xffffffff);
  for (const t of types) {
    const i = t >> 5;
    if (i < words) w[i] = ((w[i] ?? 0) & ~(1 << (t & 31))) >>> 0;
  }
  const b = Buffer.alloc(words * 4);
  const le = endianness() === 'LE';
  w.forEach((v, i) => {
    if (le) b.writeUInt32LE(v, i * 4);
    else b.writeUInt32BE(v, i * 4);
  });
  return b;
}

/** Why `address` cannot be a source on this node, or undefined when it can. */
function localAddressProblem(address: string, family: 4 | 6): string | undefined {
  if (!addressBytes(address, family))
    return `bindTo ${address} is not an IPv${family} address, as the target is`;
  const want = canonicalIp(address);
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? [])
      if (canonicalIp(a.address.split('%')[0] ?? a.address) === want) return undefined;
  return `bindTo ${address}: not an address of this node`;
}
