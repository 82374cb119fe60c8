import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GARP_FRAME_LENGTH, garpFrame } from '../../src/drivers/arp/garp-frame.ts';
import {
  ALL_NODES,
  ICMPV6_NEIGHBOUR_ADVERTISEMENT,
  icmpv6Checksum,
  NA_FRAME_LENGTH,
  NA_PACKET_LENGTH,
  naFrame,
  naPacket,
} from '../../src/drivers/arp/na-packet.ts';
import { canonicalIp } from '../../src/model/ip.ts';
import { addressText } from '../../src/vrrp/advert.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, parseEthernet, parseIpv6, readPcap } from './pcap.ts';

// Golden vectors: keepalived 2.2.7's own GARPs and unsolicited NAs after a takeover
// (test/fixtures/vectors/README.md). What we build for the same VIP and MAC must be the
// captured bytes; for NA the kernel adds the IPv6 header and checksum, so the header is
// checked field by field and the checksum recomputed over the pseudo-header.

const VECTORS = join(import.meta.dirname, '../fixtures/vectors');
const NEW_MASTER_MAC = '02:4b:41:00:00:12';
const pcap = (name: string) => readPcap(readFileSync(join(VECTORS, name)));

describe('GARP frame (garp-takeover.pcap)', () => {
  const garps = pcap('garp-takeover.pcap').records.filter(
    (r) => parseEthernet(r.data).ethertype === ETHERTYPE_ARP,
  );

  it('the capture holds the 5 + 5 GARPs of a takeover', () => {
    assert.equal(garps.length, 10);
  });

  it("equals keepalived's frames byte for byte", () => {
    const ours = garpFrame('192.0.2.10', NEW_MASTER_MAC);
    assert.equal(ours.length, GARP_FRAME_LENGTH);
    for (const r of garps) assert.equal(ours.toString('hex'), r.data.toString('hex'), `frame ${r.number}`);
  });

  it('matches the documented hex of frame 3', () => {
    assert.equal(
      garpFrame('192.0.2.10', NEW_MASTER_MAC).toString('hex'),
      'ffffffffffff024b4100001208060001080006040001024b41000012c000020affffffffffffc000020a',
    );
  });

  it('accepts upper-case MACs and refuses what cannot be announced', () => {
    assert.deepEqual(garpFrame('192.0.2.10', '02:4B:41:00:00:12'), garpFrame('192.0.2.10', NEW_MASTER_MAC));
    assert.throws(() => garpFrame('2001:db8::10', NEW_MASTER_MAC), RangeError);
    assert.throws(() => garpFrame('192.0.2.300', NEW_MASTER_MAC), RangeError);
    assert.throws(() => garpFrame('192.0.2.10', '02:4b:41:00:00'), RangeError);
    assert.throws(() => garpFrame('192.0.2.10', 'ff:ff:ff:ff:ff:ff'), RangeError);
    assert.throws(() => garpFrame('192.0.2.10', '00:00:00:00:00:00'), RangeError);
  });
});

describe('unsolicited NA (na-takeover-ipv6.pcap)', () => {
  const vip = 'fd4b:4100:0:1::10';
  const nas = pcap('na-takeover-ipv6.pcap')
    .records.map((r) => ({ r, eth: parseEthernet(r.data) }))
    .filter(({ eth }) => eth.ethertype === ETHERTYPE_IPV6)
    .map(({ r, eth }) => ({ r, eth, ip: parseIpv6(eth.payload) }))
    .filter(({ ip }) => ip.nextHeader === 58 && ip.payload[0] === ICMPV6_NEIGHBOUR_ADVERTISEMENT);

  it('the capture holds the 5 + 5 NAs of a takeover', () => {
    assert.equal(nas.length, 10);
  });

  it("our ICMPv6 message equals keepalived's once the kernel's checksum is in", () => {
    const ours = naPacket(vip, NEW_MASTER_MAC);
    assert.equal(ours.length, NA_PACKET_LENGTH);
    assert.equal(ours.readUInt16BE(2), 0, 'the kernel fills the checksum');
    const withSum = Buffer.from(ours);
    withSum.writeUInt16BE(icmpv6Checksum(vip, ALL_NODES, ours), 2);
    for (const { r, ip } of nas)
      assert.equal(withSum.toString('hex'), ip.payload.toString('hex'), `frame ${r.number}`);
  });

  it('the IPv6 header the socket options must produce: VIP to ff02::1, hop limit 255, class 0', () => {
    for (const { r, eth, ip } of nas) {
      assert.equal(eth.src, NEW_MASTER_MAC, `frame ${r.number}`);
      assert.equal(eth.dst, '33:33:00:00:00:01', `frame ${r.number}`);
      assert.equal(canonicalIp(addressText(ip.src, 0, 6)), vip, `frame ${r.number}`);
      assert.equal(canonicalIp(addressText(ip.dst, 0, 6)), ALL_NODES, `frame ${r.number}`);
      assert.equal(ip.hopLimit, 255, `frame ${r.number}`);
      assert.equal(ip.trafficClass, 0, `frame ${r.number}`);
      assert.equal(ip.payloadLength, NA_PACKET_LENGTH, `frame ${r.number}`);
    }
  });

  it("the whole frame equals keepalived's byte for byte (flow label 0, as keepalived writes it)", () => {
    const ours = naFrame(vip, NEW_MASTER_MAC);
    assert.equal(ours.length, NA_FRAME_LENGTH);
    for (const { r } of nas) assert.equal(ours.toString('hex'), r.data.toString('hex'), `frame ${r.number}`);
    assert.equal(
      ours.toString('hex'),
      '333300000001024b4100001286dd6000000000203afffd4b4100000000010000000000000010ff020000000000000000000000000001' +
        '8800968820000000fd4b41000000000100000000000000100201024b41000012',
    );
  });

  it('sets Router only when asked (an interface that forwards)', () => {
    assert.equal(naPacket(vip, NEW_MASTER_MAC).readUInt32BE(4), 0x20000000);
    assert.equal(naPacket(vip, NEW_MASTER_MAC, { router: true }).readUInt32BE(4), 0xa0000000);
  });

  it('refuses what cannot be announced', () => {
    assert.throws(() => naPacket('192.0.2.10', NEW_MASTER_MAC), RangeError);
    assert.throws(() => naPacket(vip, '33:33:00:00:00:01'), RangeError);
  });
});
