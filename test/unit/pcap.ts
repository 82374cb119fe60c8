// Just enough of classic libpcap, Ethernet and the IPv6 fixed header to read the golden
// captures in test/fixtures/vectors. Test code: malformed input throws, so a broken
// fixture fails the test that reads it instead of being skipped.

export const LINKTYPE_ETHERNET = 1;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;

export interface PcapRecord {
  /** 1-based, as tshark numbers frames. */
  number: number;
  /** Seconds since the epoch; fraction in microseconds or nanoseconds per the magic. */
  time: number;
  originalLength: number;
  data: Buffer;
}

export interface Pcap {
  linkType: number;
  snapLength: number;
  records: PcapRecord[];
}

/** Classic pcap in either byte order, with microsecond (a1b2c3d4) or nanosecond (a1b23c4d) stamps. */
export function readPcap(file: Buffer): Pcap {
  if (file.length < 24) throw new Error(`pcap of ${file.length} bytes has no global header`);
  const magicBe = file.readUInt32BE(0);
  const magicLe = file.readUInt32LE(0);
  const known = [0xa1b2c3d4, 0xa1b23c4d];
  const le = known.includes(magicLe);
  if (!le && !known.includes(magicBe)) throw new Error(`not a classic pcap: magic ${magicBe.toString(16)}`);
  const u32 = (at: number): number => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const fraction = (le ? magicLe : magicBe) === 0xa1b23c4d ? 1e9 : 1e6;
  const records: PcapRecord[] = [];
  let at = 24;
  while (at < file.length) {
    if (at + 16 > file.length) throw new Error(`pcap record header at byte ${at} is cut short`);
    const captured = u32(at + 8);
    const start = at + 16;
    if (start + captured > file.length) throw new Error(`pcap record at byte ${at} is cut short`);
    records.push({
      number: records.length + 1,
      time: u32(at) + u32(at + 4) / fraction,
      originalLength: u32(at + 12),
      data: file.subarray(start, start + captured),
    });
    at = start + captured;
  }
  return { linkType: u32(20), snapLength: u32(16), records };
}

export interface EthernetFrame {
  dst: string;
  src: string;
  ethertype: number;
  /** Everything after the (last) ethertype: an IPv4/IPv6 packet or an ARP message. */
  payload: Buffer;
}

const mac = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** Ethernet II, skipping one 802.1Q tag if present. */
export function parseEthernet(frame: Buffer): EthernetFrame {
  if (frame.length < 14) throw new Error(`Ethernet frame of ${frame.length} bytes`);
  let at = 12;
  let ethertype = frame.readUInt16BE(at);
  if (ethertype === ETHERTYPE_VLAN) {
    at += 4;
    if (frame.length < at + 2) throw new Error('802.1Q frame cut short');
    ethertype = frame.readUInt16BE(at);
  }
  return {
    dst: mac(frame.subarray(0, 6)),
    src: mac(frame.subarray(6, 12)),
    ethertype,
    payload: frame.subarray(at + 2),
  };
}

export interface Ipv6Packet {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** Raw 16-byte addresses: the tests turn them into text with the codec's own helper. */
  src: Buffer;
  dst: Buffer;
  payload: Buffer;
}

/** The fixed IPv6 header; the captures carry no extension headers. */
export function parseIpv6(packet: Buffer): Ipv6Packet {
  if (packet.length < 40) throw new Error(`IPv6 packet of ${packet.length} bytes`);
  const first = packet.readUInt32BE(0);
  if (first >>> 28 !== 6) throw new Error(`IP version ${first >>> 28} in an IPv6 frame`);
  const payloadLength = packet.readUInt16BE(4);
  if (40 + payloadLength > packet.length) throw new Error('IPv6 payload cut short');
  return {
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength,
    nextHeader: packet[6] as number,
    hopLimit: packet[7] as number,
    src: packet.subarray(8, 24),
    dst: packet.subarray(24, 40),
    payload: packet.subarray(40, 40 + payloadLength),
  };
}
