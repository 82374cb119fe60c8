import { canonicalIp, type Family, ipFamily } from '../model/ip.ts';

// The VRRP advertisement as data, and the mapping of its text fields to wire bytes that
// both the encoder and the decoder need.
//
// The advertisement interval is kept as the raw wire field, in the unit the version puts
// on the wire: whole seconds (8 bits) for v2, centiseconds (12 bits) for v3. A decoded
// advert then re-encodes to the same bytes, and no rounding can make an encoder disagree
// with what a peer sent; `advertIntervalMs` gives the one unit the timers use.

export type { Family };

/** VRRPv2 authentication types (RFC 2338): 0 none, 1 simple text password, 2 IP AH. */
export type AuthType = 0 | 1 | 2;

/** The 8 bytes that follow a v2 advert's addresses, as sent. */
export interface V2Auth {
  type: AuthType;
  /** Always 8 bytes; zeros with type 0; the password zero-padded with type 1. */
  data: Buffer;
}

interface AdvertBase {
  type: 1;
  /** 1..255. */
  vrid: number;
  /** 0..255; 0 = the master is leaving, 255 = the address owner. */
  priority: number;
  /** Canonical text (canonicalIp), in the sender's order; all of `family`. */
  addresses: string[];
}

/** RFC 3768. IPv4 only: keepalived 2.x refuses VRRPv2 with IPv6. */
export interface AdvertV2Fields extends AdvertBase {
  version: 2;
  family: 4;
  /** Adver Int, whole seconds, 1..255. */
  advertIntervalS: number;
  auth: V2Auth;
}

/** RFC 5798. */
export interface AdvertV3Fields extends AdvertBase {
  version: 3;
  family: Family;
  /** Max Adver Int, centiseconds, 1..4095. */
  advertIntervalCs: number;
}

/** What an encoder needs: the checksum is always computed, never taken from here. */
export type AdvertFields = AdvertV2Fields | AdvertV3Fields;

/** A decoded advert: the fields plus the checksum it carried (already verified). */
export type Advert = AdvertFields & { checksum: number };

export const VRRP_PROTOCOL = 112;
export const VRRP_HEADER_LENGTH = 8;
export const V2_AUTH_LENGTH = 8;
export const VRRP_GROUP_V4 = '224.0.0.18';
export const VRRP_GROUP_V6 = 'ff02::12';

export function advertIntervalMs(advert: AdvertFields): number {
  return advert.version === 2 ? advert.advertIntervalS * 1000 : advert.advertIntervalCs * 10;
}

export function addressLength(family: Family): 4 | 16 {
  return family === 4 ? 4 : 16;
}

/** Auth type 0: keepalived sends the 8 bytes as zeros. */
export function noAuth(): V2Auth {
  return { type: 0, data: Buffer.alloc(V2_AUTH_LENGTH) };
}

/**
 * auth_type PASS. keepalived copies at most 8 bytes of auth_pass and drops the rest, so
 * a longer password must be cut the same way or the two would never agree.
 */
export function passwordAuth(password: string): V2Auth {
  const data = Buffer.alloc(V2_AUTH_LENGTH);
  Buffer.from(password, 'utf8').copy(data, 0, 0, V2_AUTH_LENGTH);
  return { type: 1, data };
}

/** The password text of a PASS auth field (up to the first zero byte), for logs. */
export function authPassword(auth: V2Auth): string {
  const end = auth.data.indexOf(0);
  return auth.data.subarray(0, end < 0 ? auth.data.length : end).toString('utf8');
}

/** Network-order bytes of an address of `family`, or undefined when it is not one. */
export function addressBytes(text: string, family: Family): Buffer | undefined {
  const zone = text.indexOf('%');
  const address = zone < 0 ? text : text.slice(0, zone);
  if (ipFamily(address) !== family) return undefined;
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  const out = Buffer.alloc(16);
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const h = v6Words(head);
  const t = tail === undefined ? [] : v6Words(tail);
  const words = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  words.forEach((w, i) => {
    out.writeUInt16BE(w, i * 2);
  });
  return out;
}

function v6Words(part: string): number[] {
  if (part === '') return [];
  const out: number[] = [];
  for (const piece of part.split(':')) {
    if (piece.includes('.')) {
      const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
      out.push((a << 8) | b, (c << 8) | d);
    } else out.push(Number.parseInt(piece, 16));
  }
  return out;
}

/** Canonical text of the address at `bytes[offset..]`; the caller checks the length. */
export function addressText(bytes: Uint8Array, offset: number, family: Family): string {
  if (family === 4) {
    return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  }
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    words.push((((bytes[offset + i] ?? 0) << 8) | (bytes[offset + i + 1] ?? 0)).toString(16));
  }
  return canonicalIp(words.join(':'));
}
