import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeHeader,
  decodeMessage,
  encodeName,
  encodeQuery,
  rcodeName,
  readName,
  typeName,
} from '../../src/check/dns-message.ts';

// The DNS codec of DNS_CHECK. The replies below were captured from dnsmasq 2.90 (the lab
// peer of test/lab/check-dns.test.ts) answering the query encoded in the first test.

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** www.example.test A, id 0x1234: header, QNAME, QTYPE, QCLASS. */
const QUERY_A = hex(`
  1234 0100 0001 0000 0000 0000
  03 777777 07 6578616d706c65 04 74657374 00
  0001 0001`);

/** dnsmasq's answer: QR RD RA, one A record named by a pointer to the question (c00c). */
const REPLY_A = hex(`
  1234 8180 0001 0001 0000 0000
  03 777777 07 6578616d706c65 04 74657374 00 0001 0001
  c00c 0001 0001 00000258 0004 c0000250`);

/** An authoritative SOA answer for example.test (dnsmasq --auth-zone), uncompressed. */
const REPLY_SOA = hex(`
  1234 8580 0001 0001 0000 0000
  07 6578616d706c65 04 74657374 00 0006 0001
  07 6578616d706c65 04 74657374 00 0006 0001 00000258 0041
  02 6e73 07 6578616d706c65 04 74657374 00
  0a 686f73746d6173746572 02 6e73 07 6578616d706c65 04 74657374 00
  6b027e1b 000004b0 000000b4 00127500 00000258`);

/** NXDOMAIN for gone.example.test. */
const REPLY_NXDOMAIN = hex(`
  1234 8183 0001 0000 0000 0000
  04 676f6e65 07 6578616d706c65 04 74657374 00 0001 0001`);

describe('DNS query encoding', () => {
  it('encodes www.example.test A byte for byte, with RD set as keepalived does', () => {
    const q = encodeQuery({ id: 0x1234, name: 'www.example.test', type: 'A' });
    assert.ok(q.ok);
    assert.equal(q.bytes.toString('hex'), QUERY_A.toString('hex'));
  });

  it('takes a trailing dot as the same name', () => {
    const a = encodeQuery({ id: 7, name: 'www.example.test.', type: 'AAAA' });
    const b = encodeQuery({ id: 7, name: 'www.example.test', type: 'AAAA' });
    assert.ok(a.ok && b.ok);
    assert.deepEqual(a.bytes, b.bytes);
    assert.equal(a.bytes.readUInt16BE(a.bytes.length - 4), 28);
  });

  it('encodes the root ("." or empty, keepalived\'s default name) as one zero byte', () => {
    for (const name of ['.', '']) {
      const q = encodeQuery({ id: 0xbeef, name, type: 'SOA' });
      assert.ok(q.ok);
      assert.equal(q.bytes.toString('hex'), 'beef01000001000000000000' + '00' + '0006' + '0001');
    }
  });

  it('clears RD on request and writes every type keepalived knows', () => {
    const q = encodeQuery({ id: 1, name: 'a', type: 'MX', recursionDesired: false });
    assert.ok(q.ok);
    assert.equal(q.bytes.readUInt16BE(2), 0);
    const codes = {
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
    for (const [t, code] of Object.entries(codes)) {
      const e = encodeQuery({ id: 1, name: 'a', type: t as keyof typeof codes });
      assert.ok(e.ok);
      assert.equal(e.bytes.readUInt16BE(e.bytes.length - 4), code, t);
      assert.equal(typeName(code), t);
    }
    assert.equal(typeName(99), 'TYPE99');
  });

  it('refuses names keepalived refuses, and ones that cannot be encoded, with a message', () => {
    const cases: [string, RegExp][] = [
      ['www..example.test', /empty label/],
      ['.example.test', /empty label/],
      ['example.test..', /empty label/],
      [`${'a'.repeat(64)}.test`, /label "a+" is 64 bytes, at most 63/],
      [Array.from({ length: 60 }, () => 'abcd').join('.'), /is 301 bytes on the wire, at most 255/],
    ];
    for (const [name, message] of cases) {
      const r = encodeName(name);
      assert.equal(r.ok, false, name);
      if (!r.ok) assert.match(r.error, message);
    }
    assert.ok(encodeName(`${'a'.repeat(63)}.test`).ok);
    const badType = encodeQuery({ id: 1, name: 'a', type: 'PTR' as 'A' });
    assert.ok(!badType.ok && /unknown query type "PTR"/.test(badType.error));
    const badId = encodeQuery({ id: 70000, name: 'a', type: 'A' });
    assert.ok(!badId.ok && /not a 16-bit number/.test(badId.error));
  });
});

describe('DNS reply decoding', () => {
  it('decodes a dnsmasq A answer, following the compression pointer', () => {
    const m = decodeMessage(REPLY_A);
    assert.ok(m);
    assert.equal(m.error, undefined);
    assert.deepEqual(m.header, {
      id: 0x1234,
      response: true,
      opcode: 0,
      authoritative: false,
      truncated: false,
      recursionDesired: true,
      recursionAvailable: true,
      rcode: 0,
      qdcount: 1,
      ancount: 1,
      nscount: 0,
      arcount: 0,
    });
    assert.deepEqual(m.questions, [{ name: 'www.example.test', type: 1, class: 1 }]);
    assert.equal(m.answers.length, 1);
    const [a] = m.answers;
    assert.equal(a?.name, 'www.example.test');
    assert.equal(a?.type, 1);
    assert.equal(a?.ttl, 600);
    assert.equal([...(a?.data ?? [])].join('.'), '192.0.2.80');
  });

  it('decodes an authoritative SOA answer and reads the names inside its RDATA', () => {
    const m = decodeMessage(REPLY_SOA);
    assert.ok(m && m.error === undefined);
    assert.equal(m.header.authoritative, true);
    assert.equal(m.answers[0]?.type, 6);
    const rdata = m.answers[0]?.data ?? Buffer.alloc(0);
    const mname = readName(rdata, 0);
    assert.ok(mname.ok);
    assert.equal(mname.name, 'ns.example.test');
    const rname = readName(rdata, mname.next);
    assert.ok(rname.ok);
    assert.equal(rname.name, 'hostmaster.ns.example.test');
    assert.equal(rdata.length - rname.next, 20); // serial, refresh, retry, expire, minimum
  });

  it('reads the RCODE of a refusal', () => {
    const h = decodeHeader(REPLY_NXDOMAIN);
    assert.equal(h?.rcode, 3);
    assert.equal(rcodeName(3), 'NXDOMAIN');
    assert.equal(rcodeName(5), 'REFUSED');
    assert.equal(rcodeName(11), '11');
    assert.deepEqual(decodeMessage(REPLY_NXDOMAIN)?.answers, []);
  });

  it('reports, never throws, on every truncation of a real reply', () => {
    for (const full of [REPLY_A, REPLY_SOA]) {
      for (let n = 0; n < full.length; n++) {
        const m = decodeMessage(full.subarray(0, n));
        if (n < 12) assert.equal(m, undefined);
        else assert.ok(m?.error, `a reply cut at ${n} bytes decoded without complaint`);
      }
    }
  });

  it('stops at compression pointers that loop, point forwards or point outside', () => {
    const header = '1234 8180 0001 0000 0000 0000';
    const selfLoop = decodeMessage(hex(`${header} c00c 0001 0001`));
    assert.match(selfLoop?.error ?? '', /does not point backwards/);
    const forward = decodeMessage(hex(`${header} c00e 00 0001 0001`));
    assert.match(forward?.error ?? '', /does not point backwards/);
    // two pointers that send each other back and forth
    const pingPong = readName(hex(`${header} c00e c00c`), 14);
    assert.ok(!pingPong.ok);
    const outside = decodeMessage(hex(`${header} c0ff 0001 0001`));
    assert.match(outside?.error ?? '', /does not point backwards/);
    const labelType = decodeMessage(hex(`${header} 41 0001 0001`));
    assert.match(labelType?.error ?? '', /label type 0x40/);
  });

  it('never throws on arbitrary bytes, nor on a valid header followed by noise', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const m = decodeMessage(bytes);
        if (m) assert.ok(m.questions.length <= m.header.qdcount);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(0xffff), (noise, counts) => {
        const b = Buffer.concat([hex('1234 8180'), Buffer.alloc(8, counts & 0xff), noise]);
        decodeMessage(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { minLength: 0, maxLength: 8 }),
        fc.constantFrom('A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA' as const),
        fc.nat(0xffff),
        (labels, type, id) => {
          const name = labels.join('.');
          const q = encodeQuery({ id, name, type });
          assert.ok(q.ok);
          const m = decodeMessage(q.bytes);
          assert.ok(m && m.error === undefined);
          assert.equal(m.header.id, id);
          assert.equal(m.header.response, false);
          assert.deepEqual(m.questions, [
            { name: name === '' ? '.' : name, type: encodeType(type), class: 1 },
          ]);
        },
      ),
    );
  });
});

function encodeType(t: string): number {
  const q = encodeQuery({ id: 0, name: '.', type: t as 'A' });
  assert.ok(q.ok);
  return q.bytes.readUInt16BE(q.bytes.length - 4);
}
