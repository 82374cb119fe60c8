import {
  type AdvertFields,
  addressBytes,
  addressLength,
  type Family,
  V2_AUTH_LENGTH,
  VRRP_HEADER_LENGTH,
  VRRP_PROTOCOL,
} from './advert.ts';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader, vrrpChecksum } from './checksum.ts';

// Adverts are built by our own code from a validated model, so a field out of range here
// is a bug, not a user error: it throws a RangeError naming the field instead of putting
// a packet on the wire that keepalived would drop without telling anyone why.

/** The IP source and destination of the packet that will carry the advert. */
export interface AdvertAddresses {
  src: string;
  dst: string;
}

/**
 * The VRRP message (no IP header) with its checksum filled in. `ip` is what the packet
 * will carry: v3 sums it in the pseudo-header; v2 ignores it, taking it anyway so both
 * versions are sent through the same call.
 */
export function encodeAdvert(advert: AdvertFields, ip: AdvertAddresses): Buffer {
  const addresses = checkFields(advert);
  const size = addressLength(advert.family);
  const auth = advert.version === 2 ? V2_AUTH_LENGTH : 0;
  const out = Buffer.alloc(VRRP_HEADER_LENGTH + advert.addresses.length * size + auth);
  out[0] = (advert.version << 4) | advert.type;
  out[1] = advert.vrid;
  out[2] = advert.priority;
  out[3] = advert.addresses.length;
  if (advert.version === 2) {
    out[4] = advert.auth.type;
    out[5] = advert.advertIntervalS;
  } else {
    // The 4 reserved bits above the interval stay zero (RFC 5798 5.2.5).
    out.writeUInt16BE(advert.advertIntervalCs, 4);
  }
  addresses.forEach((a, i) => {
    out.set(a, VRRP_HEADER_LENGTH + i * size);
  });
  if (advert.version === 2) advert.auth.data.copy(out, out.length - V2_AUTH_LENGTH);
  const pseudo = advert.version === 3 ? pseudoHeader(advert.family, ip, out.length) : undefined;
  out.writeUInt16BE(vrrpChecksum(out, pseudo), 6);
  return out;
}

function pseudoHeader(family: Family, ip: AdvertAddresses, length: number): Buffer {
  const src = addressBytes(ip.src, family);
  const dst = addressBytes(ip.dst, family);
  if (!src) throw new RangeError(`VRRP source ${JSON.stringify(ip.src)} is not an IPv${family} address`);
  if (!dst) throw new RangeError(`VRRP destination ${JSON.stringify(ip.dst)} is not an IPv${family} address`);
  return family === 4 ? ipv4PseudoHeader(src, dst, length) : ipv6PseudoHeader(src, dst, length);
}

/** The address bytes, once every field is known to fit its wire field. */
function checkFields(advert: AdvertFields): Buffer[] {
  const range = (field: string, value: number, min: number, max: number): void => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`advert ${field} ${value} is outside ${min}..${max}`);
    }
  };
  range('vrid', advert.vrid, 1, 255);
  range('priority', advert.priority, 0, 255);
  range('address count', advert.addresses.length, 0, 255);
  const addresses = advert.addresses.map((a) => {
    const bytes = addressBytes(a, advert.family);
    if (!bytes)
      throw new RangeError(`advert address ${JSON.stringify(a)} is not an IPv${advert.family} address`);
    return bytes;
  });
  if (advert.version === 2) {
    if (advert.family !== 4) throw new RangeError('VRRPv2 adverts are IPv4 only');
    range('advertIntervalS', advert.advertIntervalS, 1, 255);
    range('auth type', advert.auth.type, 0, 2);
    range('auth data length', advert.auth.data.length, V2_AUTH_LENGTH, V2_AUTH_LENGTH);
  } else {
    range('advertIntervalCs', advert.advertIntervalCs, 1, 4095);
  }
  return addresses;
}

export interface Ipv4HeaderFields {
  src: string;
  dst: string;
  /** keepalived counts this per instance, from 1 at the first advert it sends. */
  identification: number;
  /** Length of the VRRP message that follows. */
  payloadLength: number;
}

/**
 * The 20-byte IPv4 header keepalived writes itself (IP_HDRINCL): TOS 0xc0 (CS6), no
 * flags (DF not set), TTL 255 as RFC 3768/5798 require receivers to check, protocol 112,
 * no options, header checksum filled in.
 */
export function encodeIpv4Header(fields: Ipv4HeaderFields): Buffer {
  const src = addressBytes(fields.src, 4);
  const dst = addressBytes(fields.dst, 4);
  if (!src) throw new RangeError(`IPv4 source ${JSON.stringify(fields.src)} is not an IPv4 address`);
  if (!dst) throw new RangeError(`IPv4 destination ${JSON.stringify(fields.dst)} is not an IPv4 address`);
  const total = 20 + fields.payloadLength;
  if (!Number.isInteger(fields.payloadLength) || fields.payloadLength < 0 || total > 0xffff) {
    throw new RangeError(`IPv4 payload length ${fields.payloadLength} does not fit a packet`);
  }
  if (
    !Number.isInteger(fields.identification) ||
    fields.identification < 0 ||
    fields.identification > 0xffff
  ) {
    throw new RangeError(`IPv4 identification ${fields.identification} is outside 0..65535`);
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = 0xc0;
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(fields.identification, 4);
  h[8] = 255;
  h[9] = VRRP_PROTOCOL;
  h.set(src, 12);
  h.set(dst, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}
