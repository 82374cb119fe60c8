import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  describeIcmpError,
  echoRequest,
  icmpv6Checksum,
  internetChecksum,
  ipv4Header,
  ipv6Packet,
  parseIcmp,
} from '../../src/check/icmp-packet.ts';
import { blockAllBut } from '../../src/check/icmp-socket.ts';

// The ICMP side of PING_CHECK: checksums, echo requests byte for byte, and the reading of
// what a raw socket hands over. The captured replies come from the Linux kernel answering
// in a lab namespace (IPv4: with the IP header a raw socket delivers; IPv6: bare).

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Echo reply from 192.0.2.12 to 192.0.2.11, id 0x1234, seq 7, data "abcdefgh". */
const REPLY_V4 = hex(`
  4500 0024 03d8 0000 4001 f2e9 c000020c c000020b
  00 00 5c2f 1234 0007 6162636465666768`);

/** Echo reply from 2001:db8::12 (the source comes from recvfrom), checksum by the kernel. */
const REPLY_V6 = hex('81 00 7f4f 1234 0007 6162636465666768');

describe('internet checksum', () => {
  it('matches the RFC 1071 worked example and verifies to zero', () => {
    const data = hex('0001 f203 f4f5 f6f7');
    assert.equal(internetChecksum(data), 0x220d);
    const withSum = Buffer.concat([data, hex('220d')]);
    assert.equal(internetChecksum(withSum), 0);
  });

  it('pads an odd length with a zero byte, also across parts', () => {
    assert.equal(internetChecksum(hex('01')), ~0x0100 & 0xffff);
    assert.equal(internetChecksum(hex('00'), hex('01 02')), internetChecksum(hex('0001 02')));
  });

  it("agrees with the kernel's checksums on a captured reply (IP header and ICMP)", () => {
    assert.equal(internetChecksum(REPLY_V4.subarray(0, 20)), 0);
    assert.equal(internetChecksum(REPLY_V4.subarray(20)), 0);
  });
});

describe('echo requests', () => {
  it('builds an ICMPv4 echo request byte for byte, checksum included', () => {
    const p = echoRequest(4, 0x1234, 7, Buffer.from('abcdefgh'));
    // the request the kernel answered with REPLY_V4 (whose checksum is this one + 0x0800)
    assert.equal(p.toString('hex'), '0800542f123400076162636465666768');
    assert.equal(internetChecksum(p), 0);
  });

  it('leaves the ICMPv6 checksum to the kernel', () => {
    const p = echoRequest(6, 0xabcd, 0xffff, Buffer.alloc(0));
    assert.equal(p.toString('hex'), '80000000abcdffff');
  });

  it('checksums correctly whatever the id, sequence and data', () => {
    fc.assert(
      fc.property(fc.nat(0xffff), fc.nat(0xffff), fc.uint8Array({ maxLength: 200 }), (id, seq, data) => {
        assert.equal(internetChecksum(echoRequest(4, id, seq, data)), 0);
      }),
    );
  });

  it('builds the IPv4 header for a pinned source (IP_HDRINCL)', () => {
    const h = ipv4Header('192.0.2.21', '192.0.2.12', 136);
    assert.ok(h);
    // version 4, IHL 5, total 156, id 0 (the kernel picks one), no DF, TTL 64, ICMP
    assert.equal(h.subarray(0, 10).toString('hex'), '4500009c000000004001');
    assert.equal(h.subarray(12, 16).join('.'), '192.0.2.21');
    assert.equal(h.subarray(16, 20).join('.'), '192.0.2.12');
    assert.equal(internetChecksum(h), 0);
    assert.equal(ipv4Header('2001:db8::1', '192.0.2.12', 8), undefined);
  });
});

describe('IPv6 with our own header (bindTo)', () => {
  it('computes the ICMPv6 checksum as the kernel did for a captured reply', () => {
    const src = hex('20010db8000000000000000000000012');
    const dst = hex('20010db8000000000000000000000011');
    const zeroed = Buffer.from(REPLY_V6);
    zeroed.writeUInt16BE(0, 2);
    assert.equal(icmpv6Checksum(src, dst, zeroed), REPLY_V6.readUInt16BE(2));
  });

  it('builds the IPv6 header and fills the checksum in', () => {
    const p = ipv6Packet(
      '2001:db8:1::21',
      '2001:db8::12',
      echoRequest(6, 0x1234, 7, Buffer.from('abcdefgh')),
    );
    assert.ok(p);
    assert.equal(p.length, 40 + 16);
    // version 6, traffic class and flow label 0, payload 16, next header 58, hop limit 64
    assert.equal(p.subarray(0, 8).toString('hex'), '600000000010' + '3a40');
    assert.equal(p.subarray(8, 24).toString('hex'), '20010db8000100000000000000000021');
    assert.equal(p.subarray(24, 40).toString('hex'), '20010db8000000000000000000000012');
    const icmp = p.subarray(40);
    assert.equal(icmp[0], 128);
    const sum = icmp.readUInt16BE(2);
    assert.notEqual(sum, 0);
    const pseudo = Buffer.concat([p.subarray(8, 40), hex('00000010 000000 3a')]);
    assert.equal(internetChecksum(pseudo, icmp), 0, 'the message verifies against its pseudo-header');
    assert.equal(ipv6Packet('192.0.2.1', '2001:db8::12', icmp), undefined);
  });
});

describe('reading what the raw socket delivers', () => {
  it('reads a captured IPv4 echo reply, taking the sender from the IP header', () => {
    assert.deepEqual(parseIcmp(4, REPLY_V4, '192.0.2.12'), {
      kind: 'echo-reply',
      id: 0x1234,
      seq: 7,
      from: '192.0.2.12',
    });
  });

  it('reads a captured ICMPv6 echo reply, with the sender in canonical form', () => {
    assert.deepEqual(parseIcmp(6, REPLY_V6, '2001:0db8:0:0::12'), {
      kind: 'echo-reply',
      id: 0x1234,
      seq: 7,
      from: '2001:db8::12',
    });
  });

  it('reads an IPv4 host unreachable quoting our request', () => {
    const request = echoRequest(4, 0x4242, 9, Buffer.alloc(16));
    const quoted = Buffer.concat([
      ipv4Header('192.0.2.11', '192.0.2.99', request.length) ?? Buffer.alloc(0),
      request,
    ]);
    const icmp = Buffer.concat([hex('0301 0000 00000000'), quoted.subarray(0, 28)]);
    const packet = Buffer.concat([
      ipv4Header('192.0.2.11', '192.0.2.11', icmp.length) ?? Buffer.alloc(0),
      icmp,
    ]);
    assert.deepEqual(parseIcmp(4, packet, '192.0.2.11'), {
      kind: 'unreachable',
      code: 1,
      from: '192.0.2.11',
      id: 0x4242,
      seq: 9,
      to: '192.0.2.99',
    });
    assert.equal(describeIcmpError(4, 'unreachable', 1), 'host unreachable');
  });

  it('reads an ICMPv6 address unreachable and a time exceeded quoting our request', () => {
    const ip6 = hex(`6000 0000 0010 3a40 20010db8000000000000000000000011 20010db8000000000000000000000099`);
    const request = echoRequest(6, 0x0102, 3, Buffer.alloc(8));
    const unreachable = Buffer.concat([hex('0103 0000 00000000'), ip6, request]);
    assert.deepEqual(parseIcmp(6, unreachable, '2001:db8::11'), {
      kind: 'unreachable',
      code: 3,
      from: '2001:db8::11',
      id: 0x0102,
      seq: 3,
      to: '2001:db8::99',
    });
    assert.equal(describeIcmpError(6, 'unreachable', 3), 'address unreachable');
    const exceeded = Buffer.concat([hex('0300 0000 00000000'), ip6, request]);
    assert.equal(parseIcmp(6, exceeded, '2001:db8::1')?.kind, 'time-exceeded');
  });

  it('ignores echo requests, other types, errors about other protocols, and short packets', () => {
    const req = echoRequest(4, 1, 1, Buffer.alloc(0));
    const asV4 = (icmp: Buffer) =>
      Buffer.concat([ipv4Header('192.0.2.1', '192.0.2.2', icmp.length) ?? Buffer.alloc(0), icmp]);
    assert.equal(parseIcmp(4, asV4(req), '192.0.2.1'), undefined);
    assert.equal(parseIcmp(4, asV4(hex('0d00 0000 0000 0000')), '192.0.2.1'), undefined); // timestamp
    const udpQuoted = Buffer.concat([
      hex('0303 0000 00000000'),
      hex('4500 0020 0000 0000 4011 0000 c0000201 c0000202'),
      hex('1234 0035 000c 0000'),
    ]);
    assert.equal(parseIcmp(4, asV4(udpQuoted), '192.0.2.1'), undefined);
    assert.equal(parseIcmp(4, REPLY_V4.subarray(0, 27), '192.0.2.12'), undefined);
    assert.equal(parseIcmp(6, REPLY_V6.subarray(0, 7), '2001:db8::12'), undefined);
    assert.equal(parseIcmp(6, hex('8700 0000 0000 0000'), 'fe80::1'), undefined); // neighbour solicitation
    assert.equal(parseIcmp(6, hex('81 01 0000 1234 0007'), '2001:db8::12'), undefined); // reply, code 1
  });

  it('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(4 as const, 6 as const), (b, family) => {
        parseIcmp(family, b, family === 4 ? '192.0.2.1' : '2001:db8::1');
      }),
      { numRuns: 3000 },
    );
    // and with a plausible IPv4 header in front of noise
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(15), (b, ihl) => {
        const head = hex('4000 0000 0000 0000 4001 0000 c0000201 c0000202');
        head[0] = 0x40 | ihl;
        parseIcmp(4, Buffer.concat([head, b]), '192.0.2.1');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the kernel ICMP filters', () => {
  it('blocks every type but the ones asked for, one bit per type', () => {
    // written in the host's byte order: this machine (x86-64) is little-endian
    const v4 = blockAllBut([0, 3, 11], 1);
    assert.equal(v4.length, 4);
    const word = v4.readUInt32LE(0);
    assert.equal(word, (0xffffffff & ~(1 | (1 << 3) | (1 << 11))) >>> 0);
    const v6 = blockAllBut([1, 3, 129], 8);
    assert.equal(v6.length, 32);
    assert.equal(v6.readUInt32LE(0), (0xffffffff & ~((1 << 1) | (1 << 3))) >>> 0);
    assert.equal(v6.readUInt32LE(16), (0xffffffff & ~(1 << 1)) >>> 0); // 129 = 4 * 32 + 1
    for (const i of [1, 2, 3, 5, 6, 7]) assert.equal(v6.readUInt32LE(i * 4), 0xffffffff);
  });
});
