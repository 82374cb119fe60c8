import {
  GENL_HDRLEN,
  NLA_F_NESTED,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLM_F,
  NLMSG,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR,
} from './ip-vs-constants.ts';

// Netlink framing, pure: struct nlmsghdr, struct genlmsghdr and netlink attributes (NLA)
// with their 4-byte alignment and nesting. Netlink integers are in the host's byte order;
// the few network-order fields (ports, IPv4 netmasks) have their own helpers.

/** Netlink integers are host order; keepgit's hosts are little-endian, but say it once. */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A reply the codec cannot read: the kernel (or a fake) sent something malformed. */
export class MalformedNetlink extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedNetlink';
  }
}

export function align4(n: number): number {
  return (n + 3) & ~3;
}

// ---- encoding -------------------------------------------------------------------------

function attr(type: number, value: Uint8Array): Uint8Array {
  const len = NLA_HDRLEN + value.length;
  const out = new Uint8Array(align4(len));
  const v = new DataView(out.buffer);
  v.setUint16(0, len, HOST_LE);
  v.setUint16(2, type, HOST_LE);
  out.set(value, NLA_HDRLEN);
  return out;
}

function ints(bytes: number, write: (v: DataView) => void): Uint8Array {
  const out = new Uint8Array(bytes);
  write(new DataView(out.buffer));
  return out;
}

export const nla = {
  u8: (type: number, n: number) => attr(type, Uint8Array.of(n & 0xff)),
  u16: (type: number, n: number) =>
    attr(
      type,
      ints(2, (v) => v.setUint16(0, n, HOST_LE)),
    ),
  u32: (type: number, n: number) =>
    attr(
      type,
      ints(4, (v) => v.setUint32(0, n >>> 0, HOST_LE)),
    ),
  be16: (type: number, n: number) =>
    attr(
      type,
      ints(2, (v) => v.setUint16(0, n, false)),
    ),
  be32: (type: number, n: number) =>
    attr(
      type,
      ints(4, (v) => v.setUint32(0, n >>> 0, false)),
    ),
  bytes: (type: number, value: Uint8Array) => attr(type, value),
  /** NLA_NUL_STRING: the text and a terminating NUL. */
  string: (type: number, text: string) => {
    const t = new TextEncoder().encode(text);
    const value = new Uint8Array(t.length + 1);
    value.set(t);
    return attr(type, value);
  },
  /** A nested attribute, marked NLA_F_NESTED as current kernels expect of senders. */
  nested: (type: number, children: readonly Uint8Array[]) => attr(type | NLA_F_NESTED, concat(children)),
};

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface NlHeader {
  type: number;
  flags: number;
  seq: number;
  /** The sender's port; 0 lets the kernel fill in the socket's. */
  pid?: number;
}

export function genlHeader(cmd: number, version: number): Uint8Array {
  return Uint8Array.of(cmd, version, 0, 0);
}

/** One whole netlink message: nlmsghdr, then the payload, padded to 4 bytes. */
export function nlmsg(header: NlHeader, payload: readonly Uint8Array[]): Uint8Array {
  const body = concat(payload);
  const len = NLMSG_HDRLEN + body.length;
  const out = new Uint8Array(align4(len));
  const v = new DataView(out.buffer);
  v.setUint32(0, len, HOST_LE);
  v.setUint16(4, header.type, HOST_LE);
  v.setUint16(6, header.flags, HOST_LE);
  v.setUint32(8, header.seq >>> 0, HOST_LE);
  v.setUint32(12, (header.pid ?? 0) >>> 0, HOST_LE);
  out.set(body, NLMSG_HDRLEN);
  return out;
}

/** A generic netlink request: nlmsghdr, genlmsghdr, attributes. */
export function genlRequest(
  family: number,
  cmd: number,
  version: number,
  flags: number,
  seq: number,
  attrs: readonly Uint8Array[],
): Uint8Array {
  return nlmsg({ type: family, flags, seq }, [genlHeader(cmd, version), ...attrs]);
}

// ---- decoding -------------------------------------------------------------------------

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the 16-byte header, up to nlmsg_len (not the padding). */
  payload: Uint8Array;
  /** The whole message, header included. */
  raw: Uint8Array;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The messages in one datagram (or one message's bytes). */
export function splitMessages(buf: Uint8Array): NlMessage[] {
  const out: NlMessage[] = [];
  let at = 0;
  while (at + NLMSG_HDRLEN <= buf.length) {
    const v = view(buf.subarray(at));
    const len = v.getUint32(0, HOST_LE);
    if (len < NLMSG_HDRLEN || at + len > buf.length)
      throw new MalformedNetlink(
        `netlink message at byte ${at} claims ${len} bytes, ${buf.length - at} left`,
      );
    out.push({
      type: v.getUint16(4, HOST_LE),
      flags: v.getUint16(6, HOST_LE),
      seq: v.getUint32(8, HOST_LE),
      pid: v.getUint32(12, HOST_LE),
      payload: buf.subarray(at + NLMSG_HDRLEN, at + len),
      raw: buf.subarray(at, at + len),
    });
    at += align4(len);
  }
  if (at < buf.length)
    throw new MalformedNetlink(`${buf.length - at} stray bytes after the last netlink message`);
  return out;
}

export interface GenlMessage {
  cmd: number;
  version: number;
  attrs: Uint8Array;
}

export function splitGenl(m: NlMessage): GenlMessage {
  if (m.payload.length < GENL_HDRLEN)
    throw new MalformedNetlink(`generic netlink message of ${m.payload.length} bytes has no genlmsghdr`);
  return { cmd: m.payload[0] ?? 0, version: m.payload[1] ?? 0, attrs: m.payload.subarray(GENL_HDRLEN) };
}

export interface NlAttr {
  /** The type without NLA_F_NESTED / NLA_F_NET_BYTEORDER: the kernel's own replies leave them off. */
  type: number;
  nested: boolean;
  data: Uint8Array;
}

export function parseAttrs(buf: Uint8Array): NlAttr[] {
  const out: NlAttr[] = [];
  let at = 0;
  while (at + NLA_HDRLEN <= buf.length) {
    const v = view(buf.subarray(at));
    const len = v.getUint16(0, HOST_LE);
    const raw = v.getUint16(2, HOST_LE);
    if (len < NLA_HDRLEN || at + len > buf.length)
      throw new MalformedNetlink(`attribute ${raw & NLA_TYPE_MASK} at byte ${at} claims ${len} bytes`);
    out.push({
      type: raw & NLA_TYPE_MASK,
      nested: (raw & NLA_F_NESTED) !== 0,
      data: buf.subarray(at + NLA_HDRLEN, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** Attributes by type; a later duplicate wins, as in the kernel's nla_parse. */
export function attrMap(buf: Uint8Array): Map<number, Uint8Array> {
  return new Map(parseAttrs(buf).map((a) => [a.type, a.data]));
}

function need(data: Uint8Array | undefined, bytes: number, what: string): DataView {
  if (data === undefined || data.length < bytes)
    throw new MalformedNetlink(`${what}: expected ${bytes} bytes, got ${data?.length ?? 'none'}`);
  return view(data);
}

export const read = {
  u8: (d: Uint8Array | undefined, what: string) => need(d, 1, what).getUint8(0),
  u16: (d: Uint8Array | undefined, what: string) => need(d, 2, what).getUint16(0, HOST_LE),
  u32: (d: Uint8Array | undefined, what: string) => need(d, 4, what).getUint32(0, HOST_LE),
  be16: (d: Uint8Array | undefined, what: string) => need(d, 2, what).getUint16(0, false),
  be32: (d: Uint8Array | undefined, what: string) => need(d, 4, what).getUint32(0, false),
  /** NLA_STRING / NLA_NUL_STRING: up to the first NUL. */
  string: (d: Uint8Array | undefined, what: string) => {
    if (d === undefined) throw new MalformedNetlink(`${what}: missing`);
    const nul = d.indexOf(0);
    return new TextDecoder().decode(nul < 0 ? d : d.subarray(0, nul));
  },
};

export interface NlError {
  /** 0 for an acknowledgement, else a positive errno. */
  errno: number;
  /** The kernel's extended-ack text, when it sent one. */
  text?: string;
}

/** The payload of NLMSG_ERROR: a negative errno, the request's header (and body unless capped), TLVs. */
export function decodeError(m: NlMessage): NlError {
  const v = need(m.payload, 4 + NLMSG_HDRLEN, 'NLMSG_ERROR');
  const errno = -v.getInt32(0, HOST_LE);
  const out: NlError = { errno };
  if ((m.flags & NLM_F.ACK_TLVS) !== 0) {
    const origLen = v.getUint32(4, HOST_LE);
    const skip = 4 + ((m.flags & NLM_F.CAPPED) !== 0 ? NLMSG_HDRLEN : align4(origLen));
    for (const a of parseAttrs(m.payload.subarray(skip)))
      if (a.type === NLMSGERR_ATTR.MSG) out.text = read.string(a.data, 'extended ack message');
  }
  return out;
}

/** NLMSG_DONE carries an int: 0, or a negative errno when a dump failed part-way. */
export function decodeDone(m: NlMessage): NlError {
  if (m.payload.length < 4) return { errno: 0 };
  return { errno: -view(m.payload).getInt32(0, HOST_LE) };
}

/** Whether `m` ends the exchange its sequence number belongs to. */
export function endsExchange(m: NlMessage): boolean {
  return m.type === NLMSG.ERROR || m.type === NLMSG.DONE;
}
