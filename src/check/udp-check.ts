import type { Check } from '../model/cluster-schema.ts';
import type { ProbeFn } from './check-types.ts';
import { keepalivedFiller } from './keepalived-filler.ts';
import { exchangeUdp } from './udp-exchange.ts';

// UDP_CHECK, with keepalived's check_udp.c semantics:
// - one datagram is sent: the payload, or keepalived's 32 filler bytes when there is none;
// - without requireReply, an ICMP unreachable is down, and a reply or silence until the
//   timeout is up (UDP services often do not answer junk);
// - with requireReply: true, only a reply is up (silence is down);
// - with requireReply: "hex pattern", the reply must also match the pattern. As in
//   keepalived, `x` is a wildcard nibble, spaces are ignored, only the bytes the reply and
//   the pattern both have are compared (a shorter reply that agrees as far as it goes
//   matches), and a reply longer than 255 bytes (keepalived's default max_reply_length)
//   does not match.

export type UdpSpec = Partial<Pick<Extract<Check, { type: 'udp' }>, 'payload' | 'requireReply'>>;

/** What keepalived sends when no payload is set: its filler over 32 bytes. */
export const UDP_DEFAULT_PAYLOAD = keepalivedFiller(32);
/** keepalived's default max_reply_length, which applies whenever a pattern is given. */
export const UDP_MAX_REPLY_LENGTH = 255;

export interface ReplyPattern {
  data: Buffer;
  /** Per byte, the bits that are wildcards (0xf0, 0x0f or 0xff); 0 where every bit counts. */
  mask: Buffer;
}

/**
 * A reply pattern as keepalived reads it: hex digits two to a byte (a lone digit before a
 * space or the end is one byte), spaces and tabs between bytes ignored, x or X a wildcard
 * nibble. Undefined for text that is not such a pattern, or is empty.
 */
export function parseReplyPattern(text: string): ReplyPattern | undefined {
  const data: number[] = [];
  const mask: number[] = [];
  const nibble = (c: string | undefined): { v: number; wild: boolean } | undefined => {
    if (c === undefined) return undefined;
    if (c === 'x' || c === 'X') return { v: 0, wild: true };
    return /^[0-9a-fA-F]$/.test(c) ? { v: Number.parseInt(c, 16), wild: false } : undefined;
  };
  let i = 0;
  for (;;) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= text.length) break;
    const hi = nibble(text[i++]);
    if (!hi) return undefined;
    let v = hi.v;
    let m = hi.wild ? 0x0f : 0;
    if (i < text.length && text[i] !== ' ' && text[i] !== '\t') {
      const lo = nibble(text[i++]);
      if (!lo) return undefined;
      v = (v << 4) | lo.v;
      m = (m << 4) | (lo.wild ? 0x0f : 0);
    }
    data.push(v);
    mask.push(m);
  }
  if (data.length === 0) return undefined;
  return { data: Buffer.from(data), mask: Buffer.from(mask) };
}

/** Whether a reply matches, keepalived's way (see the top of this file). */
export function replyMatches(reply: Uint8Array, pattern: ReplyPattern): boolean {
  if (reply.length > UDP_MAX_REPLY_LENGTH) return false;
  const n = Math.min(reply.length, pattern.data.length);
  for (let i = 0; i < n; i++) {
    const care = ~(pattern.mask[i] ?? 0) & 0xff;
    if ((((reply[i] ?? 0) ^ (pattern.data[i] ?? 0)) & care) !== 0) return false;
  }
  return true;
}

/** The payload to send: the hex bytes given, keepalived's filler when none; undefined if not hex. */
export function payloadBytes(hex: string | undefined): Buffer | undefined {
  if (hex === undefined || hex === '') return UDP_DEFAULT_PAYLOAD;
  return /^([0-9a-f]{2})+$/i.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

const preview = (b: Buffer): string =>
  b.length <= 16 ? b.toString('hex') : `${b.subarray(0, 16).toString('hex')}… (${b.length} bytes)`;

export const probeUdp: ProbeFn<UdpSpec> = (spec, target, ctx) => {
  const payload = payloadBytes(spec.payload);
  if (!payload)
    return Promise.resolve({ ok: false, latencyMs: 0, reason: 'payload: expected hex bytes, e.g. "0a0b0c"' });
  const require = spec.requireReply;
  const wanted =
    typeof require === 'string' && require.trim() !== '' ? parseReplyPattern(require) : undefined;
  if (typeof require === 'string' && require.trim() !== '' && !wanted)
    return Promise.resolve({
      ok: false,
      latencyMs: 0,
      reason: `requireReply: ${JSON.stringify(require)} is not a hex pattern (hex digits, x for any nibble)`,
    });
  const replyRequired = require === true || typeof require === 'string';
  return exchangeUdp(payload, target, ctx, {
    onReply: (reply) => {
      if (wanted && !replyMatches(reply, wanted))
        return { ok: false, reason: `reply ${preview(reply)} does not match requireReply ${require}` };
      return { ok: true, detail: `reply of ${reply.length} bytes` };
    },
    onSilence: (ms) =>
      replyRequired
        ? { ok: false, reason: `timeout after ${ms} ms, no reply (requireReply is set)` }
        : { ok: true, detail: `no reply within ${ms} ms and no ICMP error (no reply required)` },
  });
};
