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
