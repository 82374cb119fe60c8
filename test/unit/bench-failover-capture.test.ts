import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advertFailover, type Frame, parseCaptureLine } from '../../bench/failover-capture.ts';
import { buildFrame } from '../../src/drivers/vrrp-socket/frame.ts';
import { VRRP_GROUP_V4 } from '../../src/vrrp/advert.ts';

// bench/failover.ts reads the advert-level failover off the frames its capture helper
// prints; these are the parsing and the arithmetic, on frames built here.

const LB1 = { ip: '192.0.2.11', mac: '02:4b:47:00:00:01' };
const LB2 = { ip: '192.0.2.12', mac: '02:4b:47:00:00:02' };
const VIP = '192.0.2.100';

const macBytes = (m: string) => Buffer.from(m.split(':').map((x) => Number.parseInt(x, 16)));
const ip = (a: string) => Buffer.from(a.split('.').map(Number));
const ether = (src: string, dst: string, type: number, payload: Buffer) => {
  const h = Buffer.alloc(14);
  macBytes(dst).copy(h, 0);
  macBytes(src).copy(h, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
};
const advertFrame = (from: { ip: string; mac: string }, priority: number, vrid = 51) =>
  ether(
    from.mac,
    '01:00:5e:00:00:12',
    0x0800,
    buildFrame(
      { version: 3, type: 1, family: 4, vrid, priority, addresses: [VIP], advertIntervalCs: 10 },
      { family: 4, ifname: 'eth0', sourceAddress: from.ip },
      VRRP_GROUP_V4,
      1,
    ),
  );
const garpFrame = (from: { mac: string }, address: string) => {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0);
  arp.writeUInt16BE(0x0800, 2);
  arp[4] = 6;
  arp[5] = 4;
  arp.writeUInt16BE(1, 6);
  macBytes(from.mac).copy(arp, 8);
  ip(address).copy(arp, 14);
  ip(address).copy(arp, 24);
  return ether(from.mac, 'ff:ff:ff:ff:ff:ff', 0x0806, arp);
};
const line = (ms: number, frame: Buffer) => {
  const s = Math.floor(ms / 1000);
  const ns = Math.round((ms - s * 1000) * 1e6);
  return `${s}.${String(ns).padStart(9, '0')} ${frame.toString('hex')}`;
};
const T = 1_700_000_000_000;

describe('parseCaptureLine', () => {
  it('reads a VRRP advert and a gratuitous ARP with their kernel times', () => {
    const a = parseCaptureLine(line(T + 12.345678, advertFrame(LB1, 110)));
    assert.deepEqual(a, {
      at: T + 12.345678,
      kind: 'vrrp',
      srcMac: LB1.mac,
      src: LB1.ip,
      version: 3,
      vrid: 51,
      priority: 110,
    });
    const g = parseCaptureLine(line(T, garpFrame(LB2, VIP)));
    assert.deepEqual(g, { at: T, kind: 'arp', srcMac: LB2.mac, op: 1, senderIp: VIP, targetIp: VIP });
  });

  it('ignores the ready line, other frames and anything malformed', () => {
    assert.equal(parseCaptureLine('ready'), undefined);
    assert.equal(parseCaptureLine(`${T / 1000}.000000000 ${'00'.repeat(10)}`), undefined);
    assert.equal(parseCaptureLine('1.000000000 abc'), undefined);
    const icmp = advertFrame(LB1, 110);
    icmp[23] = 1;
    assert.equal(parseCaptureLine(line(T, icmp)), undefined);
    assert.equal(parseCaptureLine(line(T, advertFrame(LB1, 110).subarray(0, 30))), undefined);
  });
});

describe('advertFailover', () => {
  const frames = (xs: [number, Buffer][]): Frame[] =>
    xs.map(([ms, f]) => parseCaptureLine(line(T + ms, f)) as Frame);
  const parties = { oldIp: LB1.ip, newIp: LB2.ip, newMac: LB2.mac, vrid: 51, vip: VIP, since: T + 1000 };

  it("measures from the old master's last advert to the new master's first advert and GARP", () => {
    const f = frames([
      [0, advertFrame(LB1, 110)],
      [100, advertFrame(LB1, 110)],
      [150, advertFrame(LB1, 110, 52)], // another instance: not ours
      [900, advertFrame(LB2, 100)], // before the event (a start-up advert): not the takeover
      [950, garpFrame(LB2, VIP)],
      [1005, advertFrame(LB1, 110)], // the last one that made it out
      [1366, advertFrame(LB2, 100)],
      [1367, garpFrame(LB1, VIP)], // the old master's MAC: not the new master's
      [1370, garpFrame(LB2, '192.0.2.101')], // another address
      [1371, garpFrame(LB2, VIP)],
      [1466, advertFrame(LB2, 100)],
    ]);
    const r = advertFailover(f, parties);
    assert.equal(r.lastOld, T + 1005);
    assert.equal(r.firstNew, T + 1366);
    assert.equal(r.firstGarp, T + 1371);
    assert.ok(Math.abs((r.advertMs ?? 0) - 361) < 1e-6);
    assert.ok(Math.abs((r.garpMs ?? 0) - 366) < 1e-6);
  });

  it("counts a priority-0 advert as the old master's last (SIGTERM), not as the new master's first", () => {
    const f = frames([
      [990, advertFrame(LB1, 110)],
      [1001, advertFrame(LB1, 0)],
      [1040, advertFrame(LB2, 0)],
      [1062, advertFrame(LB2, 100)],
    ]);
    const r = advertFailover(f, parties);
    assert.equal(r.lastOld, T + 1001);
    assert.equal(r.firstNew, T + 1062);
    assert.equal(r.garpMs, undefined);
  });

  it('gives nothing it cannot read off the frames', () => {
    assert.deepEqual(advertFailover([], parties), {});
    const onlyNew = advertFailover(frames([[1100, advertFrame(LB2, 100)]]), parties);
    assert.equal(onlyNew.firstNew, T + 1100);
    assert.equal(onlyNew.advertMs, undefined);
  });
});
