// The few DNS messages (RFC 1035 section 4) DNS_CHECK needs: one query out, one reply
// in. Pure: bytes in, values out. A reply comes from the network, so decoding reports
// what it could not read instead of throwing, whatever the bytes.

/** The query types DNS_CHECK accepts, keepalived's list (RFC 1035, 3596, 4034). */
export const DNS_TYPES = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  RRSIG: 46,
  DNSKEY: 48,
} as const;
export type DnsTypeName = keyof typeof DNS_TYPES;

const CLASS_IN = 1;
const HEADER_LENGTH = 12;
const FLAG_QR = 0x8000;
const FLAG_RD = 0x0100;
const MAX_LABEL = 63;
/** RFC 1035 2.3.4: a name is at most 255 octets on the wire, length bytes included. */
const MAX_NAME = 255;

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

/** "NXDOMAIN" for 3; the number itself for codes without a common name. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? String(rcode);
}

export function typeName(type: number): string {
  for (const [name, code] of Object.entries(DNS_TYPES)) if (code === type) return name;
  return `TYPE${type}`;
}

export interface DnsQuery {
  id: number;
  /** Dotted, as written in a check: "www.example.test", "example.test." or "." (the root). */
  name: string;
  type: DnsTypeName;
  /** keepalived sets RD, so a recursive resolver answers for names it is not authoritative for. */
  recursionDesired?: boolean;
}

export type Encoded = { ok: true; bytes: Buffer } | { ok: false; error: string };

/**
 * The wire form of a single-question query of class IN. An empty name or "." asks about
 * the root, as keepalived's default (an empty name) does; one trailing dot is allowed.
 */
export function encodeQuery(q: DnsQuery): Encoded {
  const type = DNS_TYPES[q.type];
  if (type === undefined) return { ok: false, error: `unknown query type ${JSON.stringify(q.type)}` };
  if (!Number.isInteger(q.id) || q.id < 0 || q.id > 0xffff)
    return { ok: false, error: `query id ${q.id} is not a 16-bit number` };
  const name = encodeName(q.name);
  if (!name.ok) return name;
  const out = Buffer.alloc(HEADER_LENGTH + name.bytes.length + 4);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(q.recursionDesired === false ? 0 : FLAG_RD, 2);
  out.writeUInt16BE(1, 4); // QDCOUNT; AN, NS and AR stay 0
  name.bytes.copy(out, HEADER_LENGTH);
  out.writeUInt16BE(type, HEADER_LENGTH + name.bytes.length);
  out.writeUInt16BE(CLASS_IN, HEADER_LENGTH + name.bytes.length + 2);
  return { ok: true, bytes: out };
}

/** A dotted name as length-prefixed labels ending in the root's zero byte. */
export function encodeName(dotted: string): Encoded {
  const text = dotted === '.' ? '' : dotted.endsWith('.') ? dotted.slice(0, -1) : dotted;
  const labels = text === '' ? [] : text.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    if (bytes.length === 0) return { ok: false, error: `name ${JSON.stringify(dotted)} has an empty label` };
    if (bytes.length > MAX_LABEL)
      return {
        ok: false,
        error: `name ${JSON.stringify(dotted)}: label "${label}" is ${bytes.length} bytes, at most ${MAX_LABEL}`,
      };
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const bytes = Buffer.concat(parts);
  if (bytes.length > MAX_NAME)
    return {
      ok: false,
      error: `name ${JSON.stringify(dotted)} is ${bytes.length} bytes on the wire, at most ${MAX_NAME}`,
    };
  return { ok: true, bytes };
}

export interface DnsHeader {
  id: number;
  /** QR: set in a response. */
  response: boolean;
  opcode: number;
  authoritative: boolean;
  truncated: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** The RDATA as received (names inside it may be compressed against the message). */
  data: Buffer;
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  /** Set when a section could not be read to its end: the sections hold what came before. */
  error?: string;
}

/** The 12-byte header, or undefined when the message is shorter than that. */
export function decodeHeader(b: Uint8Array): DnsHeader | undefined {
  if (b.length < HEADER_LENGTH) return undefined;
  const u16 = (at: number) => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
  const flags = u16(2);
  return {
    id: u16(0),
    response: (flags & FLAG_QR) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & FLAG_RD) !== 0,
    recursionAvailable: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    qdcount: u16(4),
    ancount: u16(6),
    nscount: u16(8),
    arcount: u16(10),
  };
}

/**
 * A whole message. Undefined when even the header is missing; otherwise the message, with
 * `error` saying where reading stopped if the sections run past the end, a compression
 * pointer loops or points outside, or a name grows too long.
 */
export function decodeMessage(bytes: Uint8Array): DnsMessage | undefined {
  const header = decodeHeader(bytes);
  if (!header) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const msg: DnsMessage = { header, questions: [], answers: [], authority: [], additional: [] };
  let at = HEADER_LENGTH;
  for (let i = 0; i < header.qdcount; i++) {
    const name = readName(b, at);
    if (!name.ok) return { ...msg, error: `question ${i + 1}: ${name.error}` };
    if (name.next + 4 > b.length)
      return { ...msg, error: `question ${i + 1}: ends before its type and class` };
    msg.questions.push({
      name: name.name,
      type: b.readUInt16BE(name.next),
      class: b.readUInt16BE(name.next + 2),
    });
    at = name.next + 4;
  }
  const sections = [
    ['answer', header.ancount, msg.answers],
    ['authority', header.nscount, msg.authority],
    ['additional', header.arcount, msg.additional],
  ] as const;
  for (const [section, count, into] of sections) {
    for (let i = 0; i < count; i++) {
      const rr = readRecord(b, at);
      if (!rr.ok) return { ...msg, error: `${section} record ${i + 1}: ${rr.error}` };
      into.push(rr.record);
      at = rr.next;
    }
  }
  return msg;
}

type Read<T> = ({ ok: true; next: number } & T) | { ok: false; error: string };

function readRecord(b: Buffer, at: number): Read<{ record: DnsRecord }> {
  const name = readName(b, at);
  if (!name.ok) return name;
  const p = name.next;
  if (p + 10 > b.length) return { ok: false, error: 'ends inside its fixed fields' };
  const length = b.readUInt16BE(p + 8);
  if (p + 10 + length > b.length) return { ok: false, error: `RDATA of ${length} bytes runs past the end` };
  return {
    ok: true,
    next: p + 10 + length,
    record: {
      name: name.name,
      type: b.readUInt16BE(p),
      class: b.readUInt16BE(p + 2),
      ttl: b.readUInt32BE(p + 4),
      data: Buffer.from(b.subarray(p + 10, p + 10 + length)),
    },
  };
}

/**
 * A possibly compressed name (RFC 1035 4.1.4). `next` is where the bytes after the name
 * start in the original position, not after a pointer's target. A pointer may only point
 * backwards, so a malicious loop cannot make this spin.
 */
export function readName(b: Uint8Array, start: number): Read<{ name: string }> {
  const labels: string[] = [];
  let at = start;
  let next = -1;
  let wire = 1;
  let limit = start; // pointers must land strictly before the last place we jumped from
  for (;;) {
    const len = b[at];
    if (len === undefined) return { ok: false, error: 'name runs past the end of the message' };
    if ((len & 0xc0) === 0xc0) {
      const low = b[at + 1];
      if (low === undefined) return { ok: false, error: 'compression pointer cut short' };
      const target = ((len & 0x3f) << 8) | low;
      if (next < 0) next = at + 2;
      if (target >= limit)
        return { ok: false, error: `compression pointer to ${target} does not point backwards` };
      limit = target;
      at = target;
      continue;
    }
    if ((len & 0xc0) !== 0)
      return { ok: false, error: `label type 0x${(len & 0xc0).toString(16)} is not supported` };
    if (len === 0) break;
    if (at + 1 + len > b.length) return { ok: false, error: 'label runs past the end of the message' };
    wire += len + 1;
    if (wire > MAX_NAME) return { ok: false, error: `name longer than ${MAX_NAME} bytes` };
    labels.push(Buffer.from(b.buffer, b.byteOffset + at + 1, len).toString('latin1'));
    at += 1 + len;
  }
  return { ok: true, name: labels.length === 0 ? '.' : labels.join('.'), next: next < 0 ? at + 1 : next };
}
