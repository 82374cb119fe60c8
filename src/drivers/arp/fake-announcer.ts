import { noSuchInterface } from './announce-errors.ts';
import { type AnnouncedVip, type AnnounceTiming, effectiveTiming, planAnnouncement } from './announcement.ts';
import type { AnnounceResult, Announcer } from './announcer.ts';

// An announcer that sends nothing and remembers what it was asked, for unit tests of the
// VRRP instance and the agent. It refuses the same input as the real one (same planner)
// and counts what the real one would send; `failNext` makes the next call fail as the
// kernel would have.

export interface AnnounceCall {
  vips: AnnouncedVip[];
  ifname: string;
  mac: string;
  timing: Required<AnnounceTiming>;
  /** From the injected clock, so tests can check garp_master_delay spacing. */
  at: number;
}

export interface FakeAnnouncerOptions extends AnnounceTiming {
  /** Interface name to MAC. When given, other interfaces do not exist; when not, any name does. */
  interfaces?: Record<string, string>;
  now?: () => number;
}

export class FakeAnnouncer implements Announcer {
  readonly calls: AnnounceCall[] = [];
  closed = 0;
  private failure: AnnounceResult | undefined;

  constructor(private readonly options: FakeAnnouncerOptions = {}) {}

  /** The next announce() returns this instead of succeeding. */
  failNext(result: AnnounceResult & { ok: false }): void {
    this.failure = result;
  }

  async announce(
    vips: readonly AnnouncedVip[],
    ifname: string,
    mac?: string,
    timing?: AnnounceTiming,
  ): Promise<AnnounceResult> {
    const known = this.options.interfaces;
    const ifMac = known ? known[ifname] : '02:00:00:00:00:01';
    if (vips.length === 0) return { ok: true, sent: 0 };
    if (ifMac === undefined) return { ok: false, sent: 0, errors: [noSuchInterface(ifname)] };
    const t = effectiveTiming(this.options, timing);
    const used = mac ?? ifMac;
    this.calls.push({
      vips: vips.map((v) => ({ ...v })),
      ifname,
      mac: used,
      timing: t,
      at: this.options.now?.() ?? Date.now(),
    });
    const failure = this.failure;
    this.failure = undefined;
    if (failure) return failure;
    const plan = planAnnouncement(vips, ifname, used);
    const sent = (plan.garps.length + plan.nas.length) * t.repeat;
    return plan.errors.length === 0 ? { ok: true, sent } : { ok: false, sent, errors: plan.errors };
  }

  close(): void {
    this.closed++;
  }
}
