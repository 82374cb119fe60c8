// bench/failover-capture.ts — the advert-level side of bench/failover.ts: what left the
// lab's bridge towards the client, captured by bench/failover-capture.c (an AF_PACKET
// socket in the switch namespace; tcpdump is not assumed), parsed here, and the failover
// read off it: the old master's last advert to the new master's first advert and to its
// first gratuitous ARP for the VIP. The parsing and the arithmetic are pure (unit-tested
// in test/unit/bench-failover-capture.test.ts); compiling and running the helper are not.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { Lab } from '../src/lab/topology.ts';

export type Frame =
  | { at: number; kind: 'vrrp'; srcMac: string; src: string; version: number; vrid: number; priority: number }
  | { at: number; kind: 'arp'; srcMac: string; op: number; senderIp: string; targetIp: string };

const ETH_P_IP = 0x0800;
const ETH_P_ARP = 0x0806;
const VRRP = 112;

const mac = (b: Uint8Array, at: number) =>
  Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
const ipv4 = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

/** One line of the helper: "<epoch s with ns> <hex frame>"; undefined for "ready" and anything else. */
export function parseCaptureLine(line: string): Frame | undefined {
  const m = /^(\d+)\.(\d{9}) ([0-9a-f]+)$/.exec(line.trim());
  if (!m?.[1] || !m[2] || !m[3] || m[3].length % 2 !== 0) return undefined;
  const at = Number(m[1]) * 1000 + Number(m[2]) / 1e6;
  const b = Buffer.from(m[3], 'hex');
  if (b.length < 14) return undefined;
  const type = b.readUInt16BE(12);
  const srcMac = mac(b, 6);
  if (type === ETH_P_ARP) {
    if (b.length < 42) return undefined;
    return { at, kind: 'arp', srcMac, op: b.readUInt16BE(20), senderIp: ipv4(b, 28), targetIp: ipv4(b, 38) };
  }
  if (type !== ETH_P_IP || b.length < 34 || b[23] !== VRRP) return undefined;
  const ihl = ((b[14] ?? 0) & 0x0f) * 4;
  const v = 14 + ihl;
  if (ihl < 20 || b.length < v + 3) return undefined;
  return {
    at,
    kind: 'vrrp',
    srcMac,
    src: ipv4(b, 26),
    version: (b[v] ?? 0) >> 4,
    vrid: b[v + 1] ?? 0,
    priority: b[v + 2] ?? 0,
  };
}

export interface FailoverParties {
  /** The old master's and the new master's IPv4 source, the new master's MAC. */
  oldIp: string;
  newIp: string;
  newMac: string;
  vrid: number;
  vip: string;
  /** The event (epoch ms): the new master's adverts and ARP before it do not count. */
  since: number;
}

export interface AdvertFailover {
  /** Capture times (epoch ms) of the frames the figures are read from. */
  lastOld?: number;
  firstNew?: number;
  firstGarp?: number;
  /** Old master's last advert → new master's first advert (priority > 0). */
  advertMs?: number;
  /** Old master's last advert → new master's first gratuitous ARP for the VIP. */
  garpMs?: number;
}

/**
 * The advert-level failover in a capture: the new master's first advert at or after the
 * event, the old master's last advert (of any priority: a priority-0 one on SIGTERM)
 * before that, and the new master's first gratuitous ARP (sender = target = the VIP,
 * from its MAC) at or after the event.
 */
export function advertFailover(frames: readonly Frame[], p: FailoverParties): AdvertFailover {
  let firstNew: number | undefined;
  let firstGarp: number | undefined;
  for (const f of frames) {
    if (f.at < p.since) continue;
    if (
      firstNew === undefined &&
      f.kind === 'vrrp' &&
      f.src === p.newIp &&
      f.vrid === p.vrid &&
      f.priority > 0
    )
      firstNew = f.at;
    if (
      firstGarp === undefined &&
      f.kind === 'arp' &&
      f.srcMac === p.newMac &&
      f.senderIp === p.vip &&
      f.targetIp === p.vip
    )
      firstGarp = f.at;
  }
  let lastOld: number | undefined;
  const until = firstNew ?? Number.POSITIVE_INFINITY;
  for (const f of frames)
    if (f.kind === 'vrrp' && f.src === p.oldIp && f.vrid === p.vrid && f.at <= until) lastOld = f.at;
  const out: AdvertFailover = {};
  if (lastOld !== undefined) out.lastOld = lastOld;
  if (firstNew !== undefined) out.firstNew = firstNew;
  if (firstGarp !== undefined) out.firstGarp = firstGarp;
  if (lastOld !== undefined && firstNew !== undefined) out.advertMs = firstNew - lastOld;
  if (lastOld !== undefined && firstGarp !== undefined) out.garpMs = firstGarp - lastOld;
  return out;
}

const SOURCE = resolve(import.meta.dirname, 'failover-capture.c');

/** Compiles the helper into `dir`; the binary's path, or why not. */
export function compileCapture(dir: string): { ok: true; path: string } | { ok: false; why: string } {
  const path = join(dir, 'failover-capture');
  const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-o', path, SOURCE], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: `cc: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, why: `cc failed: ${r.stderr.trim()}` };
  return { ok: true, path };
}

export interface Capture {
  readonly frames: readonly Frame[];
  ready(): boolean;
  /** Why the helper stopped, once it has. */
  failed(): string | undefined;
  child: ChildProcess;
}

/** The helper on the switch's port to `host`, collecting frames until the lab is destroyed. */
export function startCapture(lab: Lab, binary: string, host: string): Capture {
  const port = lab.hosts.find((h) => h.name === host)?.port;
  if (!port) throw new Error(`no host ${host} in the lab`);
  const child = lab.spawn('switch', binary, [port], { stdio: ['ignore', 'pipe', 'pipe'] });
  const frames: Frame[] = [];
  let ready = false;
  let failure: string | undefined;
  let stderr = '';
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const line of parts) {
      if (line === 'ready') ready = true;
      const f = parseCaptureLine(line);
      if (f) frames.push(f);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.once('exit', (code, signal) => {
    failure = `capture helper exited ${signal ?? code}: ${stderr.trim()}`;
  });
  return { frames, ready: () => ready, failed: () => failure, child };
}
