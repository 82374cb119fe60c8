import type { Family } from '../../vrrp/advert.ts';
import type { ReceivedAdvert } from './transport.ts';

// A peer repeats the same advert every interval until something changes; over IPv4 only
// its Identification and so its header checksum differ from one to the next. Decoding
// each copy again (checksums, address texts, a dozen objects) was most of what a backup
// spent per advert, so the last accepted packet of each VRID is kept with its decoded
// form, and a packet equal to it in every byte that the checks and the decoder read is
// handed over as that same decoded advert. Anything else goes through the full checks.
//
// "Every byte": for IPv4 all but the Identification (4-5) and the header checksum
// (10-11), whose validity is still checked here; for IPv6 (the VRRP message alone) every
// byte, and the source, which the checksum covers.

interface Entry {
  bytes: Buffer;
  source: string;
  received: ReceivedAdvert;
}

export class RepeatCache {
  private readonly last = new Map<number, Entry>();

  constructor(private readonly family: Family) {}

  /** The decoded advert when `bytes` (from `source`) repeats the last one accepted for its VRID. */
  repeated(bytes: Uint8Array, source: string): ReceivedAdvert | undefined {
    const vrid = this.vridOf(bytes);
    if (vrid === undefined) return undefined;
    const e = this.last.get(vrid);
    if (e === undefined || e.bytes.length !== bytes.length) return undefined;
    if (this.family === 6) {
      if (e.source !== source) return undefined;
      for (let i = 0; i < bytes.length; i++) if (bytes[i] !== e.bytes[i]) return undefined;
      return e.received;
    }
    for (let i = 0; i < bytes.length; i++)
      if (bytes[i] !== e.bytes[i] && i !== 4 && i !== 5 && i !== 10 && i !== 11) return undefined;
    return headerChecksumValid(bytes) ? e.received : undefined;
  }

  /** Remembers an accepted packet; `bytes` is copied (the socket reuses its buffer). */
  accepted(bytes: Uint8Array, source: string, received: ReceivedAdvert): void {
    const vrid = this.vridOf(bytes);
    if (vrid !== undefined) this.last.set(vrid, { bytes: Buffer.from(bytes), source, received });
  }

  private vridOf(bytes: Uint8Array): number | undefined {
    const at = this.family === 4 ? ((bytes[0] ?? 0) & 0x0f) * 4 + 1 : 1;
    return bytes[at];
  }
}

/** RFC 1071: the one's-complement sum of a valid header, checksum included, is 0xffff. */
function headerChecksumValid(bytes: Uint8Array): boolean {
  const length = ((bytes[0] ?? 0) & 0x0f) * 4;
  if (length < 20 || length > bytes.length) return false;
  let sum = 0;
  for (let i = 0; i < length; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}
