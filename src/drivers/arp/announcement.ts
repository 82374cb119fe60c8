import { type Family, ipFamily } from '../../model/ip.ts';
import { type AnnounceError, invalidAddress, invalidMac } from './announce-errors.ts';
import { garpFrame } from './garp-frame.ts';
import { isUnicastMac, macBytes } from './mac.ts';
import { naFrame } from './na-packet.ts';

// What one announcement sends, before anything is sent: the frames and packets for each
// VIP, and an error value for each VIP that cannot be announced. Pure; shared by the real
// announcer and the fake so that both refuse the same input the same way.

export interface AnnouncedVip {
  /** "192.0.2.10" or "2001:db8::10"; a "/prefix" (as the VIP driver's Vip has) is ignored. */
  address: string;
  family: Family;
}

export interface AnnounceTiming {
  /** keepalived's garp_master_repeat: times each VIP is announced in one burst. Default 5. */
  repeat?: number;
  /** keepalived's garp_interval: ms between two GARPs on the interface. Default 0. */
  garpIntervalMs?: number;
  /** keepalived's gna_interval: ms between two NAs on the interface. Default 0. */
  gnaIntervalMs?: number;
}

export const DEFAULT_TIMING: Required<AnnounceTiming> = { repeat: 5, garpIntervalMs: 0, gnaIntervalMs: 0 };

export interface Announcement {
  garps: { address: string; frame: Buffer }[];
  nas: { address: string; frame: Buffer }[];
  errors: AnnounceError[];
}

export function planAnnouncement(
  vips: readonly AnnouncedVip[],
  ifname: string,
  mac: string,
  options: { ipv6Router?: boolean } = {},
): Announcement {
  const plan: Announcement = { garps: [], nas: [], errors: [] };
  const hw = macBytes(mac);
  if (!hw || !isUnicastMac(hw)) {
    plan.errors.push(invalidMac(mac, ifname));
    return plan;
  }
  const seen = new Set<string>();
  for (const vip of vips) {
    const address = vip.address.split('/')[0] ?? '';
    if (ipFamily(address) !== vip.family) {
      plan.errors.push(invalidAddress(vip.address, vip.family));
      continue;
    }
    // The same VIP twice (two instances, or "a/24" and "a/32") is announced once.
    if (seen.has(address)) continue;
    seen.add(address);
    if (vip.family === 4) plan.garps.push({ address, frame: garpFrame(address, mac) });
    else plan.nas.push({ address, frame: naFrame(address, mac, { router: options.ipv6Router ?? false }) });
  }
  return plan;
}

/** Timing with defaults filled in and out-of-range values clamped to what makes sense. */
export function effectiveTiming(...layers: (AnnounceTiming | undefined)[]): Required<AnnounceTiming> {
  const t = Object.assign({}, DEFAULT_TIMING, ...layers.map((l) => definedOnly(l ?? {})));
  return {
    repeat: Math.max(1, Math.floor(t.repeat)),
    garpIntervalMs: Math.max(0, t.garpIntervalMs),
    gnaIntervalMs: Math.max(0, t.gnaIntervalMs),
  };
}

function definedOnly(t: AnnounceTiming): AnnounceTiming {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));
}
