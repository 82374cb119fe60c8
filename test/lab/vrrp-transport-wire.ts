import type { ReceivedAdvert, TransportOptions } from '../../src/drivers/vrrp-socket/transport.ts';
import type { Advert, AdvertFields } from '../../src/vrrp/advert.ts';
import { internetChecksum } from '../../src/vrrp/checksum.ts';
import { encodeAdvert, encodeIpv4Header } from '../../src/vrrp/encode-advert.ts';

// What the transport contract and the lab runner share: the JSON form of adverts (the
// v2 auth bytes travel as hex between processes) and the crafting of packets a correct
// transport never sends, such as a TTL below 255.

export type AdvertJson = Omit<AdvertFields, 'auth'> & { auth?: { type: number; hex: string } };

export type Step =
  | { kind: 'advert'; advert: AdvertFields }
  | { kind: 'crafted-ttl'; ttl: number; advert: AdvertFields };
export type StepJson =
  | { kind: 'advert'; advert: AdvertJson }
  | { kind: 'crafted-ttl'; ttl: number; advert: AdvertJson };

export interface ReceivedJson {
  advert: AdvertJson & { checksum: number };
  source: string;
  destination?: string;
  ttl?: number;
}

export type RunnerJob =
  | { role: 'receive'; options: TransportOptions; expect: number; timeoutMs: number }
  | { role: 'send'; options: TransportOptions; steps: StepJson[] };

export function advertToJson(a: AdvertFields): AdvertJson {
  if (a.version !== 2) return a;
  const { auth, ...rest } = a;
  return { ...rest, auth: { type: auth.type, hex: auth.data.toString('hex') } };
}

export function advertFromJson(j: AdvertJson & { checksum?: number }): Advert | AdvertFields {
  if (j.version === 2) {
    const auth = j.auth ?? { type: 0, hex: '0000000000000000' };
    return {
      ...j,
      auth: { type: auth.type as 0 | 1 | 2, data: Buffer.from(auth.hex, 'hex') },
    } as AdvertFields;
  }
  return j as AdvertFields;
}

export const stepToJson = (s: Step): StepJson => ({ ...s, advert: advertToJson(s.advert) });
export const stepFromJson = (s: StepJson): Step => ({
  ...s,
  advert: advertFromJson(s.advert) as AdvertFields,
});

export function receivedToJson(r: ReceivedAdvert): ReceivedJson {
  return { ...r, advert: { ...advertToJson(r.advert), checksum: r.advert.checksum } };
}

export function receivedFromJson(r: ReceivedJson): ReceivedAdvert {
  return { ...r, advert: advertFromJson(r.advert) as Advert };
}

/** A whole IPv4 VRRP packet with a TTL of `ttl`, header checksum corrected. */
export function craftIpv4(advert: AdvertFields, src: string, dst: string, ttl: number): Buffer {
  const message = encodeAdvert(advert, { src, dst });
  const header = encodeIpv4Header({ src, dst, identification: 0x4242, payloadLength: message.length });
  header[8] = ttl;
  header.writeUInt16BE(0, 10);
  header.writeUInt16BE(internetChecksum(header), 10);
  return Buffer.concat([header, message]);
}
