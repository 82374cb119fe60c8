import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  decodeAck,
  decodeDestDump,
  decodeInfo,
  decodeServiceAttrs,
  decodeServiceDump,
} from '../../src/drivers/ipvs/decode-ipvs.ts';
import {
  encodeCommand,
  encodeGetDests,
  encodeGetInfo,
  encodeGetServices,
} from '../../src/drivers/ipvs/encode-ipvs.ts';
import { decodeGetFamily, encodeGetFamily } from '../../src/drivers/ipvs/genl-family.ts';
import * as K from '../../src/drivers/ipvs/ip-vs-constants.ts';
import type { IpvsDest, IpvsService, IpvsServiceId } from '../../src/drivers/ipvs/ipvs-records.ts';
import {
  decodeError,
  HOST_LE,
  MalformedNetlink,
  parseAttrs,
  splitMessages,
} from '../../src/drivers/ipvs/netlink-codec.ts';

// The IPVS wire format, byte for byte. Every expected byte string below was written by
// hand from linux/ip_vs.h, linux/netlink.h and linux/genetlink.h (struct nlmsghdr is
// len u32, type u16, flags u16, seq u32, pid u32; struct genlmsghdr is cmd u8, version u8,
// reserved u16; struct nlattr is len u16, type u16, value, padding to 4), one field per
// line, so that the codec is checked against the header, not against itself.
// Host order is little-endian on the machines keepgit supports (x86-64, arm64).

const hex = (...parts: string[]) => parts.join('').replace(/\s+/g, '');
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (...parts: string[]) => new Uint8Array(Buffer.from(hex(...parts), 'hex'));

const FAMILY = 0x25;

const web: IpvsService = {
  af: K.AF_INET,
  fwmark: 0,
  protocol: K.IPPROTO.TCP,
  addr: '203.0.113.10',
  port: 80,
  scheduler: 'wrr',
  flags: 0,
  timeout: 0,
  netmask: 0xffffffff,
};

const webId: IpvsServiceId = {
  af: K.AF_INET,
  fwmark: 0,
  protocol: K.IPPROTO.TCP,
  addr: '203.0.113.10',
  port: 80,
};

const backend: IpvsDest = {
  af: K.AF_INET,
  addr: '198.51.100.11',
  port: 80,
  fwdMethod: K.IP_VS_CONN_F.MASQ,
  weight: 2,
  uThreshold: 0,
  lThreshold: 0,
};

// IPVS_CMD_ATTR_SERVICE for web, identity only (what DEL_SERVICE and the dest commands carry).
const WEB_ID_NEST = hex(
  '3000 0180', //                 nla_len 48, IPVS_CMD_ATTR_SERVICE (1) | NLA_F_NESTED (0x8000)
  '0600 0100 0200 0000', //       IPVS_SVC_ATTR_AF (1) = AF_INET (2), u16 + 2 bytes padding
  '0600 0200 0600 0000', //       IPVS_SVC_ATTR_PROTOCOL (2) = IPPROTO_TCP (6)
  '1400 0300 cb00710a 00000000 00000000 00000000', // IPVS_SVC_ATTR_ADDR (3): nf_inet_addr, 16 bytes
  '0600 0400 0050 0000', //       IPVS_SVC_ATTR_PORT (4) = 80, network order
);

describe('ipvs codec: constants of linux/ip_vs.h', () => {
  it('match a table written by hand from the header', () => {
    assert.deepEqual(
      [K.IPVS_CMD.NEW_SERVICE, K.IPVS_CMD.SET_SERVICE, K.IPVS_CMD.DEL_SERVICE, K.IPVS_CMD.GET_SERVICE],
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      [K.IPVS_CMD.NEW_DEST, K.IPVS_CMD.SET_DEST, K.IPVS_CMD.DEL_DEST, K.IPVS_CMD.GET_DEST],
      [5, 6, 7, 8],
    );
    assert.deepEqual([K.IPVS_CMD.SET_INFO, K.IPVS_CMD.GET_INFO, K.IPVS_CMD.FLUSH], [14, 15, 17]);
    assert.deepEqual([K.IPVS_CMD_ATTR.SERVICE, K.IPVS_CMD_ATTR.DEST], [1, 2]);
    assert.deepEqual(
      [
        K.IPVS_SVC_ATTR.AF,
        K.IPVS_SVC_ATTR.PROTOCOL,
        K.IPVS_SVC_ATTR.ADDR,
        K.IPVS_SVC_ATTR.PORT,
        K.IPVS_SVC_ATTR.FWMARK,
        K.IPVS_SVC_ATTR.SCHED_NAME,
        K.IPVS_SVC_ATTR.FLAGS,
        K.IPVS_SVC_ATTR.TIMEOUT,
        K.IPVS_SVC_ATTR.NETMASK,
        K.IPVS_SVC_ATTR.STATS,
        K.IPVS_SVC_ATTR.PE_NAME,
        K.IPVS_SVC_ATTR.STATS64,
      ],
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assert.deepEqual(
      [
        K.IPVS_DEST_ATTR.ADDR,
        K.IPVS_DEST_ATTR.PORT,
        K.IPVS_DEST_ATTR.FWD_METHOD,
        K.IPVS_DEST_ATTR.WEIGHT,
        K.IPVS_DEST_ATTR.U_THRESH,
        K.IPVS_DEST_ATTR.L_THRESH,
        K.IPVS_DEST_ATTR.ADDR_FAMILY,
        K.IPVS_DEST_ATTR.TUN_FLAGS,
      ],
      [1, 2, 3, 4, 5, 6, 11, 15],
    );
    assert.deepEqual([K.IP_VS_CONN_F.MASQ, K.IP_VS_CONN_F.TUNNEL, K.IP_VS_CONN_F.DROUTE], [0, 2, 3]);
    assert.deepEqual(
      [K.IP_VS_SVC_F.PERSISTENT, K.IP_VS_SVC_F.HASHED, K.IP_VS_SVC_F.ONEPACKET, K.IP_VS_SVC_F.SCHED1],
      [1, 2, 4, 8],
    );
    assert.deepEqual([K.IP_VS_SVC_F.SCHED2, K.IP_VS_SVC_F.SCHED3], [0x10, 0x20]);
    assert.equal(K.NLA_F_NESTED, 0x8000);
    assert.equal(K.GENL_ID_CTRL, 0x10);
    assert.equal(K.IPVS_GENL_NAME, 'IPVS');
    assert.equal(K.IPVS_GENL_VERSION, 1);
  });

  const header = '/usr/include/linux/ip_vs.h';
  it('match /usr/include/linux/ip_vs.h on this machine', {
    skip: existsSync(header) ? false : `${header} not present (apt-get install linux-libc-dev)`,
  }, () => {
    const text = readFileSync(header, 'utf8');
    const values = new Map<string, number>();
    for (const m of text.matchAll(/#define\s+(IP_VS_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b/g))
      values.set(m[1] ?? '', Number(m[2]));
    for (const block of text.matchAll(/enum\s*\{([^}]*)\}/g)) {
      let next = 0;
      for (const raw of (block[1] ?? '').replace(/\/\*[\s\S]*?\*\//g, '').split(',')) {
        const m = /^\s*(\w+)\s*(?:=\s*(\w+))?\s*$/.exec(raw);
        if (!m?.[1]) continue;
        if (m[2] !== undefined) next = Number(m[2]);
        values.set(m[1], next++);
      }
    }
    const groups: [string, Record<string, number>][] = [
      ['IPVS_CMD_', K.IPVS_CMD],
      ['IPVS_CMD_ATTR_', K.IPVS_CMD_ATTR],
      ['IPVS_SVC_ATTR_', K.IPVS_SVC_ATTR],
      ['IPVS_DEST_ATTR_', K.IPVS_DEST_ATTR],
      ['IPVS_INFO_ATTR_', K.IPVS_INFO_ATTR],
      ['IP_VS_SVC_F_', K.IP_VS_SVC_F],
      ['IP_VS_CONN_F_', K.IP_VS_CONN_F],
    ];
    let compared = 0;
    for (const [prefix, table] of groups)
      for (const [name, value] of Object.entries(table)) {
        assert.equal(values.get(prefix + name), value, `${prefix}${name}`);
        compared++;
      }
    assert.ok(compared > 60, `compared ${compared} constants`);
    assert.equal(values.get('IP_VS_SCHEDNAME_MAXLEN'), K.IP_VS_SCHEDNAME_MAXLEN);
  });

  it('runs on a little-endian host (the byte tables below assume it)', () => {
    assert.equal(HOST_LE, true);
  });
});

describe('ipvs codec: requests, byte for byte', () => {
  it('CTRL_CMD_GETFAMILY "IPVS" (the bytes this machine echoed back in its ENOENT)', () => {
    assert.equal(
      toHex(encodeGetFamily(1, 'IPVS')),
      hex(
        '20000000 1000 0500 01000000 00000000', // len 32, GENL_ID_CTRL, REQUEST|ACK, seq 1, pid 0
        '03 01 0000', //                           CTRL_CMD_GETFAMILY, version 1
        '0900 0200 49505653 00 000000', //         CTRL_ATTR_FAMILY_NAME "IPVS\0", 3 bytes padding
      ),
    );
  });

  it('NEW_SERVICE: IPv4 TCP 203.0.113.10:80, wrr, not persistent', () => {
    assert.equal(
      toHex(encodeCommand(FAMILY, 7, { op: 'new-service', service: web })),
      hex(
        '68000000 2500 0500 07000000 00000000', // len 104, family 0x25, REQUEST|ACK, seq 7
        '01 01 0000', //                           IPVS_CMD_NEW_SERVICE, IPVS_GENL_VERSION
        '5400 0180', //                            IPVS_CMD_ATTR_SERVICE, nested, 84 bytes
        '0600 0100 0200 0000', //                  AF = AF_INET
        '0600 0200 0600 0000', //                  PROTOCOL = TCP
        '1400 0300 cb00710a 00000000 00000000 00000000', // ADDR 203.0.113.10
        '0600 0400 0050 0000', //                  PORT 80 (be16)
        '0800 0600 77727200', //                   SCHED_NAME "wrr\0"
        '0c00 0700 00000000 ffffffff', //          FLAGS struct ip_vs_flags { flags 0, mask ~0 }
        '0800 0800 00000000', //                   TIMEOUT 0
        '0800 0900 ffffffff', //                   NETMASK 255.255.255.255 (be32)
      ),
    );
  });

  it('NEW_SERVICE: IPv6 UDP [2001:db8::10]:53, sh with sh-port, persistent 300 s per /64', () => {
    const v6: IpvsService = {
      af: K.AF_INET6,
      fwmark: 0,
      protocol: K.IPPROTO.UDP,
      addr: '2001:db8::10',
      port: 53,
      scheduler: 'sh',
      flags: K.IP_VS_SVC_F.PERSISTENT | K.IP_VS_SVC_F.SCHED2,
      timeout: 300,
      netmask: 64,
    };
    assert.equal(
      toHex(encodeCommand(FAMILY, 8, { op: 'new-service', service: v6 })),
      hex(
        '68000000 2500 0500 08000000 00000000',
        '01 01 0000',
        '5400 0180',
        '0600 0100 0a00 0000', //                  AF = AF_INET6 (10)
        '0600 0200 1100 0000', //                  PROTOCOL = UDP (17)
        '1400 0300 20010db8 00000000 00000000 00000010', // ADDR 2001:db8::10
        '0600 0400 0035 0000', //                  PORT 53
        '0700 0600 736800 00', //                  SCHED_NAME "sh\0" + 1 byte padding
        '0c00 0700 11000000 ffffffff', //          FLAGS PERSISTENT (1) | SCHED2 (0x10) = sh-port
        '0800 0800 2c010000', //                   TIMEOUT 300
        '0800 0900 40000000', //                   NETMASK: IPv6 prefix length 64, host order
      ),
    );
  });

  it('NEW_SERVICE: fwmark 7 (IPv4), rr, persistent 60 s per /24', () => {
    const fwm: IpvsService = {
      af: K.AF_INET,
      fwmark: 7,
      protocol: 0,
      addr: '',
      port: 0,
      scheduler: 'rr',
      flags: K.IP_VS_SVC_F.PERSISTENT,
      timeout: 60,
      netmask: 0xffffff00,
    };
    assert.equal(
      toHex(encodeCommand(FAMILY, 9, { op: 'new-service', service: fwm })),
      hex(
        '4c000000 2500 0500 09000000 00000000', // len 76
        '01 01 0000',
        '3800 0180', //                            nested, 56 bytes
        '0600 0100 0200 0000', //                  AF = AF_INET
        '0800 0500 07000000', //                   FWMARK 7 (no protocol, address or port)
        '0700 0600 727200 00', //                  SCHED_NAME "rr\0"
        '0c00 0700 01000000 ffffffff', //          FLAGS PERSISTENT
        '0800 0800 3c000000', //                   TIMEOUT 60
        '0800 0900 ffffff00', //                   NETMASK 255.255.255.0 (be32)
      ),
    );
  });

  it('SET_SERVICE differs from NEW_SERVICE only in the command byte', () => {
    const set = encodeCommand(FAMILY, 7, { op: 'set-service', service: web });
    const add = encodeCommand(FAMILY, 7, { op: 'new-service', service: web });
    assert.equal(set[16], K.IPVS_CMD.SET_SERVICE);
    assert.deepEqual(set.subarray(17), add.subarray(17));
    assert.deepEqual(set.subarray(0, 16), add.subarray(0, 16));
  });

  it('DEL_SERVICE carries only what names the service', () => {
    assert.equal(
      toHex(encodeCommand(FAMILY, 10, { op: 'del-service', service: webId })),
      hex('44000000 2500 0500 0a000000 00000000', '03 01 0000', WEB_ID_NEST),
    );
  });

  it('NEW_DEST: 198.51.100.11:80, NAT (masquerading), weight 2', () => {
    assert.equal(
      toHex(encodeCommand(FAMILY, 11, { op: 'new-dest', service: webId, dest: backend })),
      hex(
        '8c000000 2500 0500 0b000000 00000000', // len 140
        '05 01 0000', //                           IPVS_CMD_NEW_DEST
        WEB_ID_NEST,
        '4800 0280', //                            IPVS_CMD_ATTR_DEST (2) | NLA_F_NESTED, 72 bytes
        '0600 0b00 0200 0000', //                  ADDR_FAMILY (11) = AF_INET
        '1400 0100 c633640b 00000000 00000000 00000000', // ADDR (1) 198.51.100.11
        '0600 0200 0050 0000', //                  PORT (2) 80
        '0800 0300 00000000', //                   FWD_METHOD (3) = IP_VS_CONN_F_MASQ
        '0800 0400 02000000', //                   WEIGHT (4) = 2
        '0800 0500 00000000', //                   U_THRESH (5)
        '0800 0600 00000000', //                   L_THRESH (6)
      ),
    );
  });

  it('SET_DEST: the same real server switched to direct routing, weight 0', () => {
    const b = encodeCommand(FAMILY, 12, {
      op: 'set-dest',
      service: webId,
      dest: { ...backend, fwdMethod: K.IP_VS_CONN_F.DROUTE, weight: 0 },
    });
    assert.equal(b[16], K.IPVS_CMD.SET_DEST);
    assert.equal(
      toHex(b.subarray(20 + 48 + 4 + 8 + 20 + 8)),
      hex('0800 0300 03000000', '0800 0400 00000000', '0800 0500 00000000', '0800 0600 00000000'),
    );
  });

  it('DEL_DEST names the real server only', () => {
    assert.equal(
      toHex(encodeCommand(FAMILY, 13, { op: 'del-dest', service: webId, dest: backend })),
      hex(
        '6c000000 2500 0500 0d000000 00000000', // len 108
        '07 01 0000', //                           IPVS_CMD_DEL_DEST
        WEB_ID_NEST,
        '2800 0280', //                            nested, 40 bytes
        '0600 0b00 0200 0000',
        '1400 0100 c633640b 00000000 00000000 00000000',
        '0600 0200 0050 0000',
      ),
    );
  });

  it('a TUN real server with an IPv6 address behind an IPv4 service says its own family', () => {
    const b = encodeCommand(FAMILY, 14, {
      op: 'new-dest',
      service: webId,
      dest: { ...backend, af: K.AF_INET6, addr: '2001:db8::11', fwdMethod: K.IP_VS_CONN_F.TUNNEL },
    });
    const dest = b.subarray(20 + 48);
    assert.equal(
      toHex(dest.subarray(0, 4 + 8 + 20)),
      hex('4800 0280', '0600 0b00 0a00 0000', '1400 0100 20010db8 00000000 00000000 00000011'),
    );
  });

  it('GET_SERVICE dump, GET_DEST dump and GET_INFO', () => {
    assert.equal(
      toHex(encodeGetServices(FAMILY, 20)),
      hex('14000000 2500 0103 14000000 00000000', '04 01 0000'), // REQUEST | DUMP (0x301)
    );
    assert.equal(
      toHex(encodeGetDests(FAMILY, 21, webId)),
      hex('44000000 2500 0103 15000000 00000000', '08 01 0000', WEB_ID_NEST),
    );
    assert.equal(toHex(encodeGetInfo(FAMILY, 22)), hex('14000000 2500 0500 16000000 00000000', '0f 01 0000'));
  });
});

// A GET_SERVICE dump reply as ip_vs_genl_fill_service writes it: nests without
// NLA_F_NESTED, flags with IP_VS_SVC_F_HASHED and mask ~0, statistics nested inside.
const SERVICE_REPLY = hex(
  '80000000 2500 0200 09000000 34120000', // len 128, family, NLM_F_MULTI, seq 9, pid 0x1234
  '01 01 0000', //                           IPVS_CMD_NEW_SERVICE
  '6c00 0100', //                            IPVS_CMD_ATTR_SERVICE, no NLA_F_NESTED, 108 bytes
  '0600 0100 0200 0000',
  '0600 0200 0600 0000',
  '1400 0300 cb00710a 00000000 00000000 00000000',
  '0600 0400 0050 0000',
  '0800 0600 776c6300', //                   "wlc\0"
  '0c00 0700 02000000 ffffffff', //          flags HASHED, mask ~0
  '0800 0800 00000000',
  '0800 0900 ffffffff',
  '1800 0a00', //                            IPVS_SVC_ATTR_STATS, 24 bytes
  '0800 0100 05000000', //                   CONNS 5
  '0c00 0400 0010000000000000', //           INBYTES 4096 (u64)
);

const FWMARK_REPLY = hex(
  '54000000 2500 0200 09000000 34120000', // len 84
  '01 01 0000',
  '4000 0100', //                            64 bytes
  '0600 0100 0a00 0000', //                  AF_INET6
  '0800 0500 2a000000', //                   FWMARK 42
  '0700 0600 6d6800 00', //                  "mh\0"
  '0c00 0700 1a000000 ffffffff', //          HASHED | SCHED1 | SCHED2 (mh-fallback, mh-port)
  '0800 0800 00000000',
  '0800 0900 80000000', //                   prefix 128
  '0800 0b00 73697000', //                   PE_NAME "sip\0"
);

const DONE = hex('14000000 0300 0200 09000000 34120000', '00000000');

const DEST_REPLY = hex(
  '54000000 2500 0200 0a000000 34120000', // len 84
  '05 01 0000', //                           IPVS_CMD_NEW_DEST
  '4000 0200', //                            IPVS_CMD_ATTR_DEST, no flag, 64 bytes
  '1400 0100 c633640b 00000000 00000000 00000000', // ADDR
  '0600 0200 1f90 0000', //                  PORT 8080
  '0800 0300 03000000', //                   FWD_METHOD DROUTE
  '0800 0400 05000000', //                   WEIGHT 5
  '0800 0500 64000000', //                   U_THRESH 100
  '0800 0600 0a000000', //                   L_THRESH 10
);

const messages = (...h: string[]) => h.flatMap((x) => splitMessages(fromHex(x)));

describe('ipvs codec: replies', () => {
  it('a service dump in several datagrams, ended by NLMSG_DONE', () => {
    const r = decodeServiceDump(messages(SERVICE_REPLY, FWMARK_REPLY, DONE), FAMILY);
    assert.ok(r.ok);
    assert.deepEqual(r.value, [
      { ...web, scheduler: 'wlc' },
      {
        af: K.AF_INET6,
        fwmark: 42,
        protocol: 0,
        addr: '',
        port: 0,
        scheduler: 'mh',
        flags: K.IP_VS_SVC_F.SCHED1 | K.IP_VS_SVC_F.SCHED2,
        timeout: 0,
        netmask: 128,
        peName: 'sip',
      },
    ]);
  });

  it('several messages in one datagram split at their lengths', () => {
    const all = splitMessages(fromHex(SERVICE_REPLY, DONE));
    assert.deepEqual(
      all.map((m) => [m.type, m.flags, m.seq, m.pid]),
      [
        [FAMILY, K.NLM_F.MULTI, 9, 0x1234],
        [K.NLMSG.DONE, K.NLM_F.MULTI, 9, 0x1234],
      ],
    );
  });

  it('a destination dump without ADDR_FAMILY takes the service family', () => {
    const r = decodeDestDump(messages(DEST_REPLY, DONE), FAMILY, K.AF_INET);
    assert.ok(r.ok);
    assert.deepEqual(r.value, [
      {
        af: K.AF_INET,
        addr: '198.51.100.11',
        port: 8080,
        fwdMethod: K.IP_VS_CONN_F.DROUTE,
        weight: 5,
        uThreshold: 100,
        lThreshold: 10,
      },
    ]);
  });

  it('an empty dump is just NLMSG_DONE', () => {
    const r = decodeServiceDump(messages(DONE), FAMILY);
    assert.deepEqual(r, { ok: true, value: [] });
  });

  it('NLMSG_ERROR with ENOENT, as this machine answered CTRL_CMD_GETFAMILY "IPVS"', () => {
    // Captured from the kernel here (no IPVS): error -2, then the whole request echoed.
    const captured = hex(
      '34000000 0200 0000 01000000 ea0b0008',
      'feffffff',
      '20000000 1000 0500 01000000 00000000 03010000 0900 0200 4950565300000000',
    );
    const r = decodeGetFamily(messages(captured));
    assert.deepEqual(r, { ok: false, error: { errno: 2 } });
  });

  it('a family reply followed by its acknowledgement (NLM_F_CAPPED: header only)', () => {
    const reply = hex(
      '30000000 1000 0000 05000000 00000000',
      '01 02 0000', //                           CTRL_CMD_NEWFAMILY, version 2
      '0900 0200 49505653 00000000', //          FAMILY_NAME "IPVS"
      '0600 0100 2500 0000', //                  FAMILY_ID 0x25
      '0800 0300 01000000', //                   VERSION 1
    );
    const ack = hex(
      '24000000 0200 0001 05000000 00000000',
      '00000000',
      '20000000 1000 0500 05000000 00000000',
    );
    const r = decodeGetFamily(messages(reply, ack));
    assert.deepEqual(r, { ok: true, value: { id: 0x25, name: 'IPVS', version: 1, maxAttr: 0 } });
  });

  it('an extended ack carries the kernel text (NLM_F_ACK_TLVS)', () => {
    const m = messages(
      hex(
        '34000000 0200 0003 06000000 00000000', // flags CAPPED | ACK_TLVS
        'eaffffff', //                             -EINVAL
        '14000000 2500 0500 06000000 00000000', // the request's header only
        '0d00 0100 62616420 61747472 00 000000', // NLMSGERR_ATTR_MSG "bad attr"
      ),
    );
    assert.deepEqual(decodeAck(m), { errno: 22, text: 'bad attr' });
  });

  it('a dump refused with EPERM is an error, not an empty list', () => {
    const r = decodeServiceDump(
      messages(
        hex(
          '28000000 0200 0000 09000000 00000000',
          'ffffffff',
          '14000000 2500 0103 09000000 00000000 04010000',
        ),
      ),
      FAMILY,
    );
    assert.deepEqual(r, { ok: false, error: { errno: 1 } });
  });

  it('GET_INFO: version 1.2.1 and the connection table size', () => {
    const r = decodeInfo(
      messages(
        hex('24000000 2500 0000 03000000 00000000', '0e 01 0000', '0800 0100 01020100', '0800 0200 00100000'),
        hex('24000000 0200 0001 03000000 00000000', '00000000', '14000000 2500 0500 03000000 00000000'),
      ),
      FAMILY,
    );
    assert.deepEqual(r, { ok: true, value: { version: 0x010201, connTabSize: 4096 } });
  });

  it('requests decode back to what was encoded (the fake kernel reads them this way)', () => {
    const b = encodeCommand(FAMILY, 1, { op: 'new-service', service: web });
    const [m] = splitMessages(b);
    assert.ok(m);
    const [nest] = parseAttrs(m.payload.subarray(4));
    assert.ok(nest?.nested);
    assert.deepEqual(decodeServiceAttrs(nest.data).service, web);
  });
});

describe('ipvs codec: malformed input is an error value, never a crash', () => {
  const cases: [string, Uint8Array][] = [
    ['a header claiming more bytes than sent', fromHex('ff000000 2500 0200 01000000 00000000')],
    ['a header claiming fewer than 16 bytes', fromHex('08000000 2500 0200 01000000 00000000')],
    ['stray bytes after the last message', fromHex(DONE, '0102')],
  ];
  for (const [name, bytes] of cases)
    it(name, () => assert.throws(() => splitMessages(bytes), MalformedNetlink));

  it('an attribute longer than its message', () => {
    assert.throws(() => parseAttrs(fromHex('ff00 0100 00000000')), MalformedNetlink);
  });

  it('a service without its address family', () => {
    const bad = hex('20000000 2500 0200 09000000 00000000', '01 01 0000', '0c00 0100', '0800 0500 07000000');
    assert.throws(() => decodeServiceDump(messages(bad, DONE), FAMILY), MalformedNetlink);
  });

  it('a dump without NLMSG_DONE', () => {
    assert.throws(() => decodeServiceDump(messages(SERVICE_REPLY), FAMILY), MalformedNetlink);
  });

  it('an NLMSG_ERROR too short to hold the request header', () => {
    const [m] = messages(hex('14000000 0200 0000 01000000 00000000', 'feffffff'));
    assert.ok(m);
    assert.throws(() => decodeError(m), MalformedNetlink);
  });

  it('random bytes never throw anything but MalformedNetlink', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 500; i++) {
      const b = new Uint8Array(16 + (rnd() % 64));
      for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
      new DataView(b.buffer).setUint32(0, b.length, true);
      new DataView(b.buffer).setUint16(4, FAMILY, true);
      for (const decode of [
        () => decodeServiceDump([...splitMessages(b), ...messages(DONE)], FAMILY),
        () => decodeDestDump([...splitMessages(b), ...messages(DONE)], FAMILY, K.AF_INET6),
        () => decodeGetFamily(splitMessages(b)),
        () => decodeInfo(splitMessages(b), FAMILY),
      ])
        try {
          decode();
        } catch (e) {
          assert.ok(e instanceof MalformedNetlink, String(e));
        }
    }
  });
});
