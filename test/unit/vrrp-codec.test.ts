import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { canonicalIp } from '../../src/model/ip.ts';
import {
  type AdvertFields,
  addressText,
  advertIntervalMs,
  authPassword,
  noAuth,
  passwordAuth,
  VRRP_GROUP_V4,
  VRRP_GROUP_V6,
  VRRP_PROTOCOL,
} from '../../src/vrrp/advert.ts';
import { decodeAdvert, decodeIpv4Packet } from '../../src/vrrp/decode-advert.ts';
import { encodeAdvert, encodeIpv4Header } from '../../src/vrrp/encode-advert.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, parseEthernet, parseIpv6, readPcap } from './pcap.ts';

// Golden vectors: real keepalived 2.2.7 traffic (test/fixtures/vectors/README.md). Every
// VRRP frame must decode to what its config says, and the advert built from that config
// must encode to the captured bytes exactly.

const VECTORS = join(import.meta.dirname, '../fixtures/vectors');

type NodeName = 'lb1' | 'lb2';
const NODES: Record<NodeName, { mac: string; ipv4: string; ipv6Global: string; linkLocal: string }> = {
  lb1: {
    mac: '02:4b:41:00:00:11',
    ipv4: '192.0.2.11',
    ipv6Global: 'fd4b:4100:0:1::11',
    linkLocal: 'fe80::4b:41ff:fe00:11',
  },
  lb2: {
    mac: '02:4b:41:00:00:12',
    ipv4: '192.0.2.12',
    ipv6Global: 'fd4b:4100:0:1::12',
    linkLocal: 'fe80::4b:41ff:fe00:12',
  },
};

interface Capture {
  pcap: string;
  configs: Partial<Record<NodeName, string>>;
  /**
   * Every frame in order: `lb1`/`lb2` an advert from that node at its configured priority,
   * `lb1:0` one with priority 0, GARP a gratuitous ARP, NA an unsolicited neighbour
   * advertisement; `X*n` repeats X.
   */
  frames: string;
  /** The VRRP checksum tshark printed in the README, where it decodes an advert. */
  documented?: { frame: number; checksum: number };
}

const CAPTURES: Capture[] = [
  {
    pcap: 'vrrp2-ipv4-auth-pass.pcap',
    configs: { lb1: 'vrrp2-ipv4-auth-pass.lb1.conf' },
    frames: 'lb1*3',
    documented: { frame: 1, checksum: 0x4049 },
  },
  {
    pcap: 'vrrp3-ipv4.pcap',
    configs: { lb1: 'vrrp3-ipv4.lb1.conf' },
    frames: 'lb1*3',
    documented: { frame: 1, checksum: 0xfbc1 },
  },
  {
    pcap: 'vrrp3-ipv6.pcap',
    configs: { lb1: 'vrrp3-ipv6.lb1.conf' },
    frames: 'lb1*3',
    documented: { frame: 1, checksum: 0xe385 },
  },
  {
    pcap: 'vrrp2-ipv4-3vips.pcap',
    configs: { lb1: 'vrrp2-ipv4-3vips.lb1.conf' },
    frames: 'lb1*3',
    documented: { frame: 1, checksum: 0x2a92 },
  },
  {
    pcap: 'vrrp3-ipv4-3vips-adv10cs.pcap',
    configs: { lb1: 'vrrp3-ipv4-3vips-adv10cs.lb1.conf' },
    frames: 'lb1*3',
    documented: { frame: 1, checksum: 0x77e5 },
  },
  {
    pcap: 'vrrp3-ipv6-3vips-adv10cs.pcap',
    configs: { lb1: 'vrrp3-ipv6-3vips-adv10cs.lb1.conf' },
    frames: 'lb1*3',
    documented: { frame: 1, checksum: 0x66e1 },
  },
  {
    pcap: 'garp-takeover.pcap',
    configs: { lb1: 'takeover-v4.lb1.conf', lb2: 'takeover-v4.lb2.conf' },
    frames: 'lb1 lb2 GARP*5 lb2*4 GARP*5 lb2',
  },
  {
    pcap: 'na-takeover-ipv6.pcap',
    configs: { lb1: 'takeover-v6.lb1.conf', lb2: 'takeover-v6.lb2.conf' },
    frames: 'lb1 lb2 NA*5 lb2*4 NA*5 lb2',
  },
  {
    pcap: 'prio0-shutdown.pcap',
    configs: { lb1: 'takeover-v4.lb1.conf', lb2: 'takeover-v4.lb2.conf' },
    frames: 'lb1 lb1:0 lb2 GARP*5 lb2',
    documented: { frame: 2, checksum: 0x1cc0 },
  },
  {
    pcap: 'prio0-shutdown-v3.pcap',
    configs: { lb1: 'prio0-v3.lb1.conf', lb2: 'prio0-v3.lb2.conf' },
    frames: 'lb1 lb1:0 lb2 GARP*5 lb2',
    documented: { frame: 2, checksum: 0x69c2 },
  },
];

const expand = (frames: string): string[] =>
  frames.split(' ').flatMap((t) => {
    const [token = '', n = '1'] = t.split('*');
    return new Array<string>(Number(n)).fill(token);
  });

/** The advert a keepalived config makes its node send; only what these fixtures use. */
function advertFromConfig(text: string, priority?: number): AdvertFields {
  const field = (name: string): string | undefined =>
    new RegExp(`^\\s*${name}\\s+(\\S+)`, 'm').exec(text)?.[1];
  const block = /virtual_ipaddress\s*\{([^}]*)\}/.exec(text)?.[1] ?? '';
  const addresses = block
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0]?.split('/')[0] ?? '')
    .filter((a) => a !== '')
    .map(canonicalIp);
  const common = {
    type: 1 as const,
    vrid: Number(field('virtual_router_id')),
    priority: priority ?? Number(field('priority')),
    addresses,
  };
  const advertInt = Number(field('advert_int'));
  if (field('vrrp_version') === '2') {
    const pass = field('auth_pass');
    const auth = field('auth_type') === 'PASS' && pass !== undefined ? passwordAuth(pass) : noAuth();
    return { ...common, version: 2, family: 4, advertIntervalS: advertInt, auth };
  }
  const family = addresses[0]?.includes(':') ? 6 : 4;
  return { ...common, version: 3, family, advertIntervalCs: Math.round(advertInt * 100) };
}

const senderOf = (mac: string): NodeName => {
  const n = (Object.keys(NODES) as NodeName[]).find((k) => NODES[k].mac === mac);
  assert.ok(n, `frame from unknown MAC ${mac}`);
  return n;
};

describe('keepalived golden vectors', () => {
  it('cover every capture in test/fixtures/vectors', () => {
    const present = readdirSync(VECTORS)
      .filter((f) => f.endsWith('.pcap'))
      .sort();
    assert.deepEqual(present, CAPTURES.map((c) => c.pcap).sort());
  });

  for (const capture of CAPTURES) {
    it(capture.pcap, () => {
      const pcap = readPcap(readFileSync(join(VECTORS, capture.pcap)));
      assert.equal(pcap.linkType, 1, 'LINKTYPE_ETHERNET');
      const expected = expand(capture.frames);
      const seen: string[] = [];
      const lastId = new Map<NodeName, number>();
      for (const record of pcap.records) {
        const at = `${capture.pcap} frame ${record.number}`;
        assert.equal(record.data.length, record.originalLength, `${at}: captured whole`);
        const eth = parseEthernet(record.data);
        const node = senderOf(eth.src);
        const token = expected[record.number - 1] ?? '';

        if (eth.ethertype === ETHERTYPE_ARP) {
          // GARP: request, sender IP = target IP (the VIP). Its own tests live elsewhere.
          assert.equal(eth.payload.readUInt16BE(6), 1, `${at}: ARP request`);
          assert.deepEqual(eth.payload.subarray(14, 18), eth.payload.subarray(24, 28), `${at}: gratuitous`);
          seen.push('GARP');
          continue;
        }
        if (eth.ethertype === ETHERTYPE_IPV6 && parseIpv6(eth.payload).nextHeader === 58) {
          assert.equal(parseIpv6(eth.payload).payload[0], 136, `${at}: ICMPv6 neighbour advertisement`);
          seen.push('NA');
          continue;
        }

        const prio0 = token.endsWith(':0');
        seen.push(prio0 ? `${node}:0` : node);
        const conf = capture.configs[node];
        assert.ok(conf, `${at}: no config for ${node}`);
        const confText = readFileSync(join(VECTORS, conf), 'utf8');
        const want = advertFromConfig(confText, prio0 ? 0 : undefined);

        let vrrp: Buffer;
        if (eth.ethertype === ETHERTYPE_IPV4) {
          assert.equal(eth.dst, '01:00:5e:00:00:12', `${at}: VRRP group MAC`);
          const r = decodeIpv4Packet(eth.payload);
          assert.ok(r.ok, `${at}: ${r.ok ? '' : r.reason.message}`);
          assert.deepEqual(
            { src: r.ip.src, dst: r.ip.dst, ttl: r.ip.ttl, tos: r.ip.tos, headerLength: r.ip.headerLength },
            { src: NODES[node].ipv4, dst: VRRP_GROUP_V4, ttl: 255, tos: 0xc0, headerLength: 20 },
            at,
          );
          // keepalived counts IDs per instance from 1; a takeover's new master starts afresh.
          const previous = lastId.get(node);
          if (previous !== undefined)
            assert.equal(r.ip.identification, previous + 1, `${at}: IP ID sequence`);
          else if (node === 'lb2') assert.equal(r.ip.identification, 1, `${at}: new master's first IP ID`);
          lastId.set(node, r.ip.identification);
          vrrp = eth.payload.subarray(20);
          assert.deepEqual(r.advert, { ...want, checksum: vrrp.readUInt16BE(6) }, at);

          const src = NODES[node].ipv4;
          const header = encodeIpv4Header({
            src,
            dst: VRRP_GROUP_V4,
            identification: r.ip.identification,
            payloadLength: vrrp.length,
          });
          const packet = Buffer.concat([header, encodeAdvert(want, { src, dst: VRRP_GROUP_V4 })]);
          assert.equal(packet.toString('hex'), eth.payload.toString('hex'), `${at}: whole IPv4 packet`);
          assert.deepEqual(encodeAdvert(r.advert, { src, dst: VRRP_GROUP_V4 }), vrrp, `${at}: re-encoded`);
        } else {
          assert.equal(eth.ethertype, ETHERTYPE_IPV6, at);
          assert.equal(eth.dst, '33:33:00:00:00:12', `${at}: VRRP group MAC`);
          const ip6 = parseIpv6(eth.payload);
          const src = addressText(ip6.src, 0, 6);
          assert.deepEqual(
            {
              src,
              dst: addressText(ip6.dst, 0, 6),
              hopLimit: ip6.hopLimit,
              nextHeader: ip6.nextHeader,
              trafficClass: ip6.trafficClass,
              extra: eth.payload.length - 40 - ip6.payloadLength,
            },
            {
              src: NODES[node].linkLocal,
              dst: VRRP_GROUP_V6,
              hopLimit: 255,
              nextHeader: VRRP_PROTOCOL,
              trafficClass: 0xc0,
              extra: 0,
            },
            at,
          );
          assert.notEqual(ip6.flowLabel, 0, `${at}: kernel-chosen flow label`);
          vrrp = ip6.payload;
          const r = decodeAdvert(vrrp, { family: 6, src, dst: VRRP_GROUP_V6 });
          assert.ok(r.ok, `${at}: ${r.ok ? '' : r.reason.message}`);
          assert.deepEqual(r.advert, { ...want, checksum: vrrp.readUInt16BE(6) }, at);
          const ours = encodeAdvert(want, { src: NODES[node].linkLocal, dst: VRRP_GROUP_V6 });
          assert.equal(ours.toString('hex'), vrrp.toString('hex'), `${at}: VRRP message`);
          // The pseudo-header carries the link-local source: the global address must not verify.
          const wrong = decodeAdvert(vrrp, { family: 6, src: NODES[node].ipv6Global, dst: VRRP_GROUP_V6 });
          assert.equal(wrong.ok ? 'ok' : wrong.reason.kind, 'bad-checksum', `${at}: pseudo-header source`);
        }

        const d = decodeAdvert(vrrp, { family: want.family, src: '192.0.2.99', dst: '192.0.2.98' });
        if (want.version === 2) {
          // v2 sums the VRRP message alone, so any IP addresses verify.
          assert.ok(d.ok, `${at}: v2 checksum without pseudo-header`);
          if (d.ok && d.advert.version === 2) {
            const pass = /auth_pass\s+(\S+)/.exec(confText)?.[1];
            assert.equal(d.advert.auth.type, pass ? 1 : 0, `${at}: auth type`);
            assert.equal(authPassword(d.advert.auth), pass ?? '', `${at}: auth string`);
          }
        } else if (want.family === 4) {
          assert.equal(d.ok ? 'ok' : d.reason.kind, 'bad-checksum', `${at}: v3 sums the IPv4 pseudo-header`);
        }
        assert.equal(
          advertIntervalMs(want),
          Number(/advert_int\s+(\S+)/.exec(confText)?.[1]) * 1000,
          `${at}: interval`,
        );
        if (record.number === capture.documented?.frame) {
          assert.equal(vrrp.readUInt16BE(6), capture.documented?.checksum, `${at}: tshark's checksum`);
        }
      }
      assert.deepEqual(seen, expected, `${capture.pcap}: frames`);
    });
  }
});
