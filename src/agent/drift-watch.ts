import type { DriftItem } from '../api/node-status.ts';
import type { AddressDriver } from '../drivers/addresses/address-driver.ts';
import type { ViewInstance } from '../model/node-view.ts';
import { addressDrift } from '../reconcile/address-drift.ts';
import { dataplaneDrift } from '../reconcile/dataplane-drift.ts';
import { type DriftObservation, driftKey, updateDrift } from '../reconcile/drift-tracker.ts';
import {
  liveRivals,
  nextRivalExpiry,
  type Rivals,
  rivalHeard,
  splitBrainDrift,
  splitBrainSources,
} from '../reconcile/split-brain.ts';
import type { HeardAdvert, VipSnapshot, VrrpInstance } from '../vrrp/instance.ts';
import type { Log } from '../vrrp/instance-log.ts';
import type { Clock, TimerHandle, Timers } from '../vrrp/instance-timers.ts';
import type { LoadBalancer } from './run-load-balancer.ts';

// The agent's drift watch: it compares the live node with what the desired state and the
// VRRP facts require, keeps what differs (with since when) for /status, logs each drift
// once when it appears and once when it ends, and heals it unless told not to.
//
// - Addresses, on every address event and on the resync timer: a master's VIPs present, a
//   backup's absent. An instance with VIP work in flight is not judged (its answer is about
//   to change): it is looked at again when that work is done. Healing goes through the
//   instance's own VIP queue, so it cannot overtake a transition.
// - The dataplane, on the resync timer: what the reconciler last applied against what the
//   kernel holds. Healing applies the same content again.
// - Split brain, on every advert heard while master (see reconcile/split-brain.ts). Nothing
//   to heal: which of the two masters is right is the operator's call.
//
// A heal that does not take is not retried before the next resync: a kernel that refuses
// an address must not be asked again in a tight loop.

export const DEFAULT_RESYNC_MS = 30_000;

/** A running instance and the view it runs. */
export interface WatchedInstance {
  inst: VrrpInstance;
  view: Pick<ViewInstance, 'name' | 'vrid' | 'advertIntervalMs'>;
}

export interface DriftWatchDeps {
  addresses: AddressDriver;
  clock: Clock;
  timers: Timers;
  log: Log;
  wallClock: () => number;
  /** Heal what drifted (default true); false only reports. */
  selfHeal: boolean;
  /** How often everything is compared again, ms. */
  resyncMs: number;
  instances: () => readonly WatchedInstance[];
  loadBalancer: () => LoadBalancer | undefined;
}

export interface DriftWatch {
  items(): DriftItem[];
  /** An address event: the node's addresses may differ from what they should be. */
  addressesChanged(): void;
  /** Instances changed state, or a revision changed them: look at the addresses again. */
  instancesChanged(): void;
  advertHeard(inst: VrrpInstance, heard: HeardAdvert): void;
  /** One resync now (the timer's work); resolves when its checks and heals are done. */
  resync(): Promise<void>;
  stop(): void;
}

export function startDriftWatch(deps: DriftWatchDeps): DriftWatch {
  let items: DriftItem[] = [];
  const addressFound = new Map<VrrpInstance, DriftObservation[]>();
  let dataplaneFound: DriftObservation[] = [];
  const rivals = new Map<VrrpInstance, Rivals>();
  /** Per instance, the split-brain sources last published (to publish only on a change). */
  const splitShown = new Map<VrrpInstance, string>();
  /** Items a heal was asked for since they appeared or since the last resync. */
  const healed = new Set<string>();
  let stopped = false;
  let resyncTimer: TimerHandle | undefined;
  let rivalTimer: TimerHandle | undefined;
  let rivalTimerAt = 0;
  let checking: Promise<void> | undefined;
  let checkAgain = false;

  const publish = () => {
    const current = deps.instances();
    const present = new Set(current.map((w) => w.inst));
    for (const m of [addressFound, rivals, splitShown])
      for (const k of [...m.keys()]) if (!present.has(k)) m.delete(k);
    const now = deps.clock.now();
    const observed: DriftObservation[] = [];
    for (const w of current) {
      observed.push(...(addressFound.get(w.inst) ?? []));
      const sources = splitSources(w, now);
      if (sources.length > 0) observed.push(splitBrainDrift(w.view.name, w.view.vrid, sources));
    }
    observed.push(...dataplaneFound);
    const u = updateDrift(items, observed, new Date(deps.wallClock()).toISOString());
    items = u.items;
    for (const d of u.appeared)
      deps.log({
        level: 'warn',
        event: 'drift-detected',
        kind: d.kind,
        subject: d.subject,
        expected: d.expected,
        actual: d.actual,
        message: deps.selfHeal || d.kind === 'split-brain' ? undefined : 'selfHeal is off: reported only',
      });
    for (const d of u.resolved) {
      healed.delete(driftKey(d));
      deps.log({
        level: 'info',
        event: 'drift-resolved',
        kind: d.kind,
        subject: d.subject,
        expected: d.expected,
        actual: d.actual,
      });
    }
  };

  /** Split brain needs this node to be master now; a backup hears the master by design. */
  const splitSources = (w: WatchedInstance, now: number): string[] => {
    const r = rivals.get(w.inst);
    if (r === undefined) return [];
    if (w.inst.vipSnapshot().state !== 'Master') {
      rivals.delete(w.inst);
      return [];
    }
    return splitBrainSources(r, now);
  };

  /** Whether `key` may be healed now: once per appearance, and again after each resync. */
  const mayHeal = (d: DriftObservation) => {
    if (!deps.selfHeal) return false;
    const k = driftKey(d);
    if (healed.has(k)) return false;
    healed.add(k);
    return true;
  };

  const checkAddresses = async () => {
    const before = new Map(deps.instances().map((w) => [w.inst, w.inst.vipSnapshot()]));
    let live: Awaited<ReturnType<AddressDriver['list']>>;
    try {
      live = await deps.addresses.list();
    } catch (e) {
      deps.log({ level: 'warn', event: 'drift-check-error', reason: 'addresses', message: errorText(e) });
      return;
    }
    if (stopped) return;
    const now = deps.instances().map((w) => ({ w, s: w.inst.vipSnapshot() }));
    const findings = addressDrift(
      now.map(({ w, s }) => ({ instance: w.view.name, state: s.state, holds: s.holds, vips: s.vips })),
      live,
    );
    const judged: { w: WatchedInstance; found: typeof findings }[] = [];
    for (const { w, s } of now) {
      if (!steady(before.get(w.inst), s)) {
        // Its VIPs are about to change: look again when that is done.
        void s.idle.then(() => request());
        continue;
      }
      const found = findings.filter((f) => f.instance === w.view.name);
      addressFound.set(w.inst, found);
      judged.push({ w, found });
    }
    publish();
    for (const { w, found } of judged)
      for (const f of found) {
        if (!mayHeal(f)) continue;
        if (f.kind === 'vip-missing') w.inst.addressRemoved(f.vip.dev, f.address);
        else w.inst.removeStray(f.vip);
      }
  };

  /** Coalesced: one address check at a time, and one more if asked meanwhile. */
  const request = () => {
    if (stopped) return;
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = (async () => {
      do {
        checkAgain = false;
        await checkAddresses();
      } while (checkAgain && !stopped);
      checking = undefined;
    })();
  };

  const checkDataplane = async () => {
    const lb = deps.loadBalancer();
    if (lb === undefined) {
      dataplaneFound = [];
      return;
    }
    const look = async () => {
      try {
        const o = await lb.observe();
        if (o !== undefined && !stopped) dataplaneFound = dataplaneDrift(o.kind, o.desired, o.live);
      } catch (e) {
        deps.log({ level: 'warn', event: 'drift-check-error', reason: 'dataplane', message: errorText(e) });
      }
    };
    await look();
    publish();
    const heal = dataplaneFound.filter(mayHeal);
    if (heal.length === 0 || stopped) return;
    await lb.reapply();
    await look();
    publish();
  };

  const resync = async () => {
    healed.clear();
    for (const [inst, r] of rivals) rivals.set(inst, liveRivals(r, deps.clock.now()));
    request();
    await Promise.all([checking, checkDataplane()]);
  };

  const armResync = () => {
    if (stopped) return;
    resyncTimer = deps.timers.set(() => {
      resyncTimer = undefined;
      void resync().finally(armResync);
    }, deps.resyncMs);
  };
  armResync();

  /** One timer for the soonest moment a rival falls silent. */
  const armRivals = () => {
    let next: number | undefined;
    for (const r of rivals.values()) {
      const at = nextRivalExpiry(r);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    if (rivalTimer !== undefined) {
      if (next !== undefined && rivalTimerAt === next) return;
      deps.timers.clear(rivalTimer);
      rivalTimer = undefined;
    }
    if (next === undefined || stopped) return;
    rivalTimerAt = next;
    rivalTimer = deps.timers.set(
      () => {
        rivalTimer = undefined;
        const now = deps.clock.now();
        for (const [inst, r] of rivals) {
          const left = liveRivals(r, now);
          if (left.size === 0) rivals.delete(inst);
          else rivals.set(inst, left);
        }
        refreshSplit();
        armRivals();
      },
      Math.max(0, next - deps.clock.now()),
    );
  };

  /** Publishes when an instance's split-brain answer changed. */
  const refreshSplit = () => {
    const now = deps.clock.now();
    let changed = false;
    for (const w of deps.instances()) {
      const shown = splitSources(w, now).join(',');
      if ((splitShown.get(w.inst) ?? '') !== shown) changed = true;
      splitShown.set(w.inst, shown);
    }
    if (changed) publish();
  };

  return {
    items: () => items.map((d) => ({ ...d })),
    addressesChanged: request,
    instancesChanged: () => {
      refreshSplit();
      request();
    },
    advertHeard: (inst, h) => {
      // Priority 0 is a master resigning: the opposite of a claim.
      if (stopped || !h.asMaster || h.priority === 0) return;
      const w = deps.instances().find((x) => x.inst === inst);
      if (w === undefined) return;
      const interval = Math.max(w.view.advertIntervalMs, h.intervalMs);
      rivals.set(inst, rivalHeard(rivals.get(inst) ?? new Map(), h.source, interval, deps.clock.now()));
      refreshSplit();
      armRivals();
    },
    resync,
    stop: () => {
      stopped = true;
      if (resyncTimer !== undefined) deps.timers.clear(resyncTimer);
      if (rivalTimer !== undefined) deps.timers.clear(rivalTimer);
      resyncTimer = undefined;
      rivalTimer = undefined;
    },
  };
}

/** Both snapshots without VIP work in flight, and none queued in between. */
function steady(before: VipSnapshot | undefined, after: VipSnapshot): boolean {
  return before !== undefined && !before.pending && !after.pending && before.changes === after.changes;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
