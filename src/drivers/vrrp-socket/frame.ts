import type { AdvertFields } from '../../vrrp/advert.ts';
import { encodeAdvert, encodeIpv4Header } from '../../vrrp/encode-advert.ts';
import type { TransportOptions } from './transport.ts';

// What one send puts into the socket for one destination. IPv4: the whole packet, IP
// header included, written by us as keepalived writes it (IP_HDRINCL) so a capture of
// keepgit and one of keepalived differ only where the configuration differs. IPv6: the
// VRRP message alone; the kernel writes the header and, with IPV6_CHECKSUM, rewrites
// the checksum over the source it actually used.

export function buildFrame(
  advert: AdvertFields,
  options: TransportOptions,
  dst: string,
  identification: number,
): Buffer {
  const ip = { src: options.sourceAddress, dst };
  const message = encodeAdvert(advert, ip);
  if (options.family === 6) return message;
  const header = encodeIpv4Header({ ...ip, identification, payloadLength: message.length });
  return Buffer.concat([header, message]);
}

/**
 * Rewrites the Identification of an IPv4 frame from buildFrame, and its header checksum:
 * the only bytes that change from one advert of an instance to the next while its
 * priority stays, so a frame is encoded once per priority and stamped per send.
 */
export function stampIdentification(frame: Buffer, identification: number): void {
  frame[4] = identification >> 8;
  frame[5] = identification & 0xff;
  // RFC 1071 over the 20-byte header, the checksum field (bytes 10-11) left out.
  let sum = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) sum += ((frame[i] as number) << 8) | (frame[i + 1] as number);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const checksum = ~sum & 0xffff;
  frame[10] = checksum >> 8;
  frame[11] = checksum & 0xff;
}

/**
 * keepalived's per-instance IP Identification: a 16-bit counter incremented before each
 * packet, so the first is 1, and wrapping to 0 like the uint16_t it is.
 */
export function identificationCounter(): () => number {
  let id = 0;
  return () => {
    id = (id + 1) & 0xffff;
    return id;
  };
}
