import type { AddressDriver, AddressScope, Vip } from '../drivers/addresses/address-driver.ts';
import type {
  OpenTransport,
  ReceivedAdvert,
  Transport,
  TransportCounters,
  TransportOptions,
} from '../drivers/vrrp-socket/transport.ts';
import { canonicalIp, parseCidr } from '../model/ip.ts';
import type { ViewInstance, ViewVip } from '../model/node-view.ts';
import { type AdvertFields, advertIntervalMs, noAuth, passwordAuth, type V2Auth } from './advert.ts';
import { type Announcer, noAnnouncer } from './instance-announcer.ts';
import type { Log, LogEntry } from './instance-log.ts';
import type { Clock, TimerHandle, Timers } from './instance-timers.ts';
import { machineConfig } from './machine-config.ts';
import { reconfigureMachine } from './reconfigure-machine.ts';
import {
  initialMachineState,
  type MachineState,
  step,
  type VrrpAction,
  type VrrpEvent,
  type VrrpStateName,
} from './state-machine.ts';

// One running VRRP instance: the thing with a lifetime around the pure state machine.
// It owns the machine's state, one transport, one timer, and the order in which the
// machine's actions reach the node. Everything that decides lives in `step`; this file
// only feeds it events and carries out what it asks, so a bug here is a plumbing bug.
//
// Adverts go out at once, VIP changes through one queue: an advert must not wait behind a
// slow netlink call (peers would time us out), but an add and a later remove of the same
// VIP must reach the kernel in that order. goMaster asks for the advert before the VIPs,
// and that order survives because sends are issued synchronously.
//
// Nothing that arrives from the network or comes back from a driver may take the process
// down: a bad packet, a refused address or a failed send is logged and counted, and the
// instance carries on, as keepalived does.
//
// A hot reload hands a running instance a new view (`reconfigure`): it keeps its state and
// its timers, and changes on the node only what differs (the VIPs added or removed), so
// that a revision touching one VIP does not re-elect anything.

export interface VrrpInstanceOptions {
  view: ViewInstance;
  /** Our primary address on the instance's link: the advert source and the election tie break. */
  address: string;
  openTransport: OpenTransport;
  addresses: AddressDriver;
  announcer?: Announcer;
  clock: Clock;
  timers: Timers;
  log: Log;
  /** The v2 PASS password, already read from the secretRef. Kept out of every log line. */
  password?: string;
  /** Wall time in ms since the epoch, for `since` in status (default Date.now). */
  wallClock?: () => number;
  /** Told of each state change after it is logged (the agent runs notify scripts from it). */
  onTransition?: (t: InstanceTransition) => void;
  /** Told of every advert the transport hands over, before the instance's own checks (split brain). */
  onAdvert?: (heard: HeardAdvert) => void;
}

export interface HeardAdvert {
  source: string;
  priority: number;
  intervalMs: number;
  /** Whether this instance was master when it heard it. */
  asMaster: boolean;
}

/** The VIP side of an instance at one moment, for drift checks. */
export interface VipSnapshot {
  state: VrrpStateName;
  /** Whether the instance holds its VIPs (master, or stopping before it let go). */
  holds: boolean;
  vips: readonly Vip[];
  /** VIP work queued and not finished: the node is about to change. */
  pending: boolean;
  /** Counts VIP work ever queued: two equal snapshots saw no change in between. */
  changes: number;
  /** Resolves when the VIP work queued so far has finished. */
  idle: Promise<void>;
}

/** What a reconfigure's VIP work came to: the first refusal, in the kernel's words. */
export type VipWork = { ok: true } | { ok: false; error: string };

export interface InstanceTransition {
  from: VrrpStateName;
  to: VrrpStateName;
  reason: string;
  /** The priority after trackers. */
  priority: number;
}

/** Drops the instance makes on top of the transport's own (TTL, checksum, VRID ...). */
export type InstanceDropReason = 'version-mismatch' | 'auth-mismatch' | 'interval-mismatch';

export interface InstanceCounters {
  dropped: Partial<Record<InstanceDropReason, number>>;
  /** Adverts whose address list differs from ours: keepalived logs these and carries on. */
  addressMismatch: number;
  sendErrors: number;
  vipErrors: number;
  /** VIPs deleted outside keepgit while master, and added back. */
  vipsHealed: number;
  announceErrors: number;
  /** Events the machine refused by throwing: a bug, but not one that should stop the node. */
  internalErrors: number;
  transport?: TransportCounters;
}

export interface InstanceStatus {
  name: string;
  vrid: number;
  interface: string;
  state: VrrpStateName;
  /** The configured priority. */
  priority: number;
  /** After trackers. */
  effectivePriority: number;
  /** "self" while we hold the role, the address heard otherwise, null when none is known. */
  master: string | null;
  /** When the current state began (ISO 8601). */
  since: string;
  faults: readonly string[];
  counters: InstanceCounters;
}

const SCOPES: readonly AddressScope[] = ['global', 'site', 'link', 'host', 'nowhere'];
const isScope = (s: string): s is AddressScope => (SCOPES as readonly string[]).includes(s);

export class VrrpInstance {
  readonly name: string;
  private state: MachineState;
  private secondBurst: TimerHandle | undefined;
  private transport: Transport | undefined;
  private unlisten: (() => void) | undefined;
  private timer: TimerHandle | undefined;
  /** When `timer` fires (clock ms), and when the machine wants its next timer event. */
  private timerAt = 0;
  private deadline: number | undefined;
  /** The VIP changes, one after another. */
  private vipQueue: Promise<void> = Promise.resolve();
  /** Work items in `vipQueue` not finished yet. */
  private queued = 0;
  /** Work items ever put in `vipQueue`. */
  private enqueued = 0;
  private sinceWall: number;
  private closed = false;
  private stopping: Promise<void> | undefined;
  private onStopped: (() => void) | undefined;
  private sendFailing = false;
  /**
   * Adverts by priority, each built once with its failure handler: the transport keeps
   * the encoding of the object it was last given, and no send allocates closures.
   */
  private readonly adverts = new Map<number, { fields: AdvertFields; failed: (e: unknown) => void }>();
  private readonly loggedOnce = new Set<string>();
  private checkedList: readonly string[] | undefined;
  private checkedSame = false;
  private readonly auth: V2Auth;
  /** The view running: the one given at construction, then each reconfigure's. */
  private view: ViewInstance;
  private advertAddresses: string[];
  private vips: Vip[];
  private readonly counts: Omit<InstanceCounters, 'transport'> = {
    dropped: {},
    addressMismatch: 0,
    sendErrors: 0,
    vipErrors: 0,
    vipsHealed: 0,
    announceErrors: 0,
    internalErrors: 0,
  };
  private readonly wall: () => number;
  private readonly announcer: Announcer;

  constructor(private readonly o: VrrpInstanceOptions) {
    this.name = o.view.name;
    this.view = o.view;
    this.wall = o.wallClock ?? Date.now;
    this.announcer = o.announcer ?? noAnnouncer;
    this.state = initialMachineState(machineConfig(o.view, o.address), o.clock.now());
    this.sinceWall = this.wall();
    this.auth = o.view.version === 2 && o.password !== undefined ? passwordAuth(o.password) : noAuth();
    this.advertAddresses = advertAddresses(o.view);
    this.vips = heldVips(o.view);
  }

  /**
   * Opens the transport without taking part yet (Initialize ignores what it hears). The
   * agent opens a new instance's transport before it changes anything, so that a revision
   * whose instance cannot open its socket is refused whole. `start` opens it if not done.
   */
  async open(): Promise<void> {
    if (this.transport !== undefined || this.closed) return;
    this.transport = await this.o.openTransport(transportOptions(this.view, this.o.address));
    this.unlisten = this.transport.onAdvert((r) => this.hear(r));
  }

  /** Opens the transport and leaves Initialize. Throws what opening the transport throws. */
  async start(): Promise<void> {
    const v = this.view;
    await this.open();
    this.log({
      level: 'info',
      event: 'started',
      vrid: v.vrid,
      interface: v.interface,
      address: this.o.address,
      version: v.version,
      priority: v.priority,
      advertIntervalMs: v.advertIntervalMs,
    });
    this.dispatch({ type: 'start' });
    // A VIP left on the node by an agent that was killed must not answer beside the real
    // master: a node that does not start as master does not hold the addresses.
    if (!this.state.vipsHeld) this.enqueue(() => this.removeVips('start'));
  }

  /**
   * Hot reload: runs `view` from now on, without a transition. The caller has checked that
   * the instance's identity (VRID, interface, family, version, auth, source address) is
   * the same (instance-changes.ts) and gives the effective priority under the new view's
   * trackers, and a transport opened for the new peers when they changed. A master adds
   * and announces only the VIPs that are new and removes only those that went; a backup
   * only records the list. Resolves when that VIP work has run, with the first VIP the kernel
   * refused: the agent rolls the revision back on it.
   */
  reconfigure(
    view: ViewInstance,
    change: {
      priority: number;
      transport?: Transport;
      /**
       * Whether a VIP is on the node now (read from the kernel for this revision): a master
       * also adds back the VIPs of its list that are missing, so the change is made against
       * what the node holds, not against what the last revision left (keepalived's reload
       * does the latter and loses an address someone deleted by hand).
       */
      present?: (vip: Vip) => boolean;
    },
  ): Promise<VipWork> {
    if (this.closed) {
      void change.transport?.close();
      return Promise.resolve({ ok: true });
    }
    const before = this.vips;
    this.view = view;
    this.advertAddresses = advertAddresses(view);
    this.vips = heldVips(view);
    // Adverts are cached per priority with the old list and interval; the advert check too.
    this.adverts.clear();
    this.checkedList = undefined;
    if (change.transport !== undefined) this.swapTransport(change.transport);
    const keys = new Set(this.vips.map(vipIdentity));
    const gone = before.filter((v) => !keys.has(vipIdentity(v)));
    const had = new Set(before.map(vipIdentity));
    const present = change.present;
    const added = this.vips.filter((v) => !had.has(vipIdentity(v)) || (present !== undefined && !present(v)));
    // Queued behind any pending VIP work, which reads the new list when it runs: what went
    // is removed when we hold the VIPs or VIP work is pending (a release queued earlier no
    // longer knows those VIPs); a backup with nothing pending only records the list. What
    // is new is added only by a master that is one when this runs.
    const mayHold = this.state.vipsHeld || this.queued > 0;
    let refused: string | undefined;
    const refuse = (vip: Vip, error: { code: string; message: string }) => {
      this.vipFailed(vip, error);
      refused ??= error.message;
    };
    const work =
      (gone.length > 0 && mayHold) || added.length > 0
        ? this.enqueue(async () => {
            for (const vip of mayHold ? gone : []) {
              const r = await this.o.addresses.remove(vip).catch((e: unknown) => failed(e));
              if (!r.ok) refuse(vip, r.error);
              else if (!r.already)
                this.log({
                  level: 'info',
                  event: 'vip-removed',
                  reason: 'reload',
                  address: vip.address,
                  dev: vip.dev,
                });
            }
            if (!this.state.vipsHeld || this.state.current !== 'Master' || added.length === 0) return;
            const fresh: Vip[] = [];
            for (const vip of added) {
              const r = await this.o.addresses.add(vip).catch((e: unknown) => failed(e));
              if (!r.ok) {
                refuse(vip, r.error);
                continue;
              }
              this.log({
                level: 'info',
                event: r.already ? 'vip-present' : 'vip-added',
                reason: 'reload',
                address: vip.address,
                dev: vip.dev,
              });
              fresh.push(vip);
            }
            if (fresh.length > 0) await this.announce(fresh);
          })
        : Promise.resolve();
    this.reconfigureMachine(machineConfig(view, this.o.address), change.priority);
    return work.then((): VipWork => (refused === undefined ? { ok: true } : { ok: false, error: refused }));
  }

  private reconfigureMachine(config: ReturnType<typeof machineConfig>, priority: number): void {
    const before = this.state;
    let result: ReturnType<typeof reconfigureMachine>;
    try {
      result = reconfigureMachine(before, config, priority, this.o.clock.now());
    } catch (e) {
      this.counts.internalErrors++;
      this.log({ level: 'error', event: 'internal-error', reason: 'reconfigure', message: errorText(e) });
      return;
    }
    this.state = result.state;
    if (result.state.current !== before.current) this.sinceWall = this.wall();
    for (const action of result.actions) this.act(action);
    this.arm(result.nextDeadline);
  }

  /** The new peers' transport replaces the old one between two packets; the old one closes. */
  private swapTransport(next: Transport): void {
    const old = this.transport;
    this.unlisten?.();
    this.transport = next;
    this.unlisten = next.onAdvert((r) => this.hear(r));
    void old?.close().catch((e: unknown) => {
      this.log({ level: 'warn', event: 'close-error', message: errorText(e) });
    });
  }

  /** Tracker total (configured priority ± weights); the machine clamps it. */
  setPriority(priority: number): void {
    this.dispatch({ type: 'priority', priority });
  }

  fault(reason: string): void {
    this.dispatch({ type: 'fault', reason });
  }

  clearFault(reason: string): void {
    this.dispatch({ type: 'faultCleared', reason });
  }

  /**
   * The kernel says an address went from an interface. A VIP we hold that someone deleted
   * by hand (or a tool that "cleans up" addresses) is drift: put it back and announce it,
   * so the VIP does not stay dark until the next election.
   */
  addressRemoved(ifname: string, address: string): void {
    if (this.closed || !this.state.vipsHeld) return;
    if (this.state.current !== 'Master' && this.state.current !== 'Stopping') return;
    const vip = this.vips.find((v) => v.dev === ifname && vipKey(v.address) === address);
    if (!vip) return;
    this.counts.vipsHealed++;
    this.log({
      level: 'warn',
      event: 'vip-healed',
      address: vip.address,
      dev: vip.dev,
      message: 'the VIP was deleted outside keepgit while this node is master; added back and announced',
    });
    this.enqueue(async () => {
      if (!this.state.vipsHeld) return;
      const r = await this.o.addresses.add(vip).catch((e: unknown) => failed(e));
      if (!r.ok) return this.vipFailed(vip, r.error);
      await this.announce([vip]);
    });
  }

  /**
   * The node holds a VIP of ours while we do not (added by hand, or left by a crash): take
   * it off, in the VIP queue, if we still do not hold our VIPs when its turn comes.
   */
  removeStray(vip: Vip): void {
    if (this.closed || this.state.vipsHeld) return;
    this.enqueue(async () => {
      if (this.state.vipsHeld) return;
      const r = await this.o.addresses.remove(vip).catch((e: unknown) => failed(e));
      if (!r.ok) return this.vipFailed(vip, r.error);
      if (!r.already)
        this.log({
          level: 'info',
          event: 'vip-removed',
          reason: 'drift',
          address: vip.address,
          dev: vip.dev,
        });
    });
  }

  vipSnapshot(): VipSnapshot {
    return {
      state: this.state.current,
      holds: this.state.vipsHeld,
      vips: this.vips,
      pending: this.queued > 0,
      changes: this.enqueued,
      idle: this.vipQueue,
    };
  }

  /** Sync group: another member became master; a backup follows at once. */
  syncMaster(): void {
    this.dispatch({ type: 'syncMaster' });
  }

  /** Sync group: the group's master yielded; a master follows to backup. */
  syncBackup(): void {
    this.dispatch({ type: 'syncBackup' });
  }

  /**
   * Make-before-break: a master sends priority 0 and keeps its VIPs until it hears the
   * successor (or the machine's bound passes); others stop at once. Resolves when the VIPs
   * are gone and the transport is closed.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const done = new Promise<void>((resolve) => {
        this.onStopped = resolve;
      });
      this.dispatch({ type: 'stop' });
      await done;
      await this.vipQueue;
      await this.close();
      this.log({ level: 'info', event: 'stopped' });
    })();
    return this.stopping;
  }

  /**
   * Goes silent without a word to the peers and without touching the VIPs: what a crash
   * leaves behind. For tests and for a second signal that wants out now.
   */
  async abandon(): Promise<void> {
    await this.close();
  }

  status(): InstanceStatus {
    const s = this.state;
    const v = this.view;
    const self = s.current === 'Master' || s.current === 'Stopping';
    return {
      name: v.name,
      vrid: v.vrid,
      interface: v.interface,
      state: s.current,
      priority: v.priority,
      effectivePriority: s.priority,
      master: self ? 'self' : (s.master?.address ?? null),
      since: new Date(this.sinceWall).toISOString(),
      faults: [...s.faults],
      counters: this.counters(),
    };
  }

  counters(): InstanceCounters {
    const c: InstanceCounters = { ...this.counts, dropped: { ...this.counts.dropped } };
    const t = this.transport?.counters();
    if (t) c.transport = t;
    return c;
  }

  // --- events in ------------------------------------------------------------------------

  private dispatch(event: VrrpEvent): void {
    if (this.closed) return;
    const before = this.state;
    let result: ReturnType<typeof step>;
    try {
      result = step(before, event, this.o.clock.now());
    } catch (e) {
      this.counts.internalErrors++;
      this.log({ level: 'error', event: 'internal-error', reason: event.type, message: errorText(e) });
      return;
    }
    this.state = result.state;
    if (result.state.current !== before.current) this.sinceWall = this.wall();
    for (const action of result.actions) this.act(action);
    this.arm(result.nextDeadline);
  }

  /**
   * The machine wants a `timer` event at `deadline`. Most dispatches only move it later
   * (every advert a backup hears pushes its master-down time back), so a pending timer
   * that fires no later is kept, and when it fires early it is set again for the rest:
   * a backup sets one timer per master-down interval instead of one per advert heard.
   */
  private arm(deadline: number | undefined): void {
    this.deadline = this.closed ? undefined : deadline;
    if (this.timer !== undefined) {
      if (this.deadline !== undefined && this.timerAt <= this.deadline) return;
      this.o.timers.clear(this.timer);
      this.timer = undefined;
    }
    if (this.deadline !== undefined) this.setTimer(this.deadline);
  }

  private setTimer(at: number): void {
    this.timerAt = at;
    this.timer = this.o.timers.set(this.onTimer, Math.max(0, at - this.o.clock.now()));
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    const due = this.deadline;
    if (due === undefined || this.closed) return;
    // Moved later since this timer was set: wait for the rest. Compared with the time the
    // timer was set for, not with the clock, so the machine gets its event exactly when
    // it would have had it from a timer set at each dispatch.
    if (due > this.timerAt) this.setTimer(due);
    else this.dispatch({ type: 'timer' });
  };

  /** The checks the transport leaves to the instance, then the machine. */
  private hear(r: ReceivedAdvert): void {
    try {
      const a = r.advert;
      const v = this.view;
      const intervalMs = advertIntervalMs(a);
      this.o.onAdvert?.({
        source: r.source,
        priority: a.priority,
        intervalMs,
        asMaster: this.state.current === 'Master',
      });
      const refused =
        a.version !== v.version
          ? 'version-mismatch'
          : a.version === 2 && !sameAuth(a.auth, this.auth)
            ? 'auth-mismatch'
            : // RFC 3768 7.1; the machine drops these too, but only here are they counted.
              a.version === 2 && intervalMs !== v.advertIntervalMs
              ? 'interval-mismatch'
              : undefined;
      if (refused !== undefined) {
        this.drop(refused, r, { version: a.version, intervalMs });
        return;
      }
      if (a.priority !== 0 && !v.flags.skipCheckAdvAddr && !this.listsOurs(a.addresses)) {
        this.counts.addressMismatch++;
        this.once(`address-mismatch ${r.source}`, {
          level: 'warn',
          event: 'address-mismatch',
          source: r.source,
          got: a.addresses,
          expected: this.advertAddresses,
          message: 'the advert lists other addresses than ours; further ones from this peer are counted only',
        });
      }
      this.dispatch({
        type: 'advert',
        srcAddr: r.source,
        priority: a.priority,
        intervalMs,
        addresses: a.addresses,
      });
    } catch (e) {
      this.counts.internalErrors++;
      this.log({ level: 'error', event: 'internal-error', reason: 'advert', message: errorText(e) });
    }
  }

  /**
   * Whether an advert's address list is ours. The transport hands over the same decoded
   * list while a peer's advert does not change, so the answer is kept for that list.
   */
  private listsOurs(addresses: readonly string[]): boolean {
    if (addresses !== this.checkedList) {
      this.checkedList = addresses;
      this.checkedSame = sameSet(addresses, this.advertAddresses);
    }
    return this.checkedSame;
  }

  private drop(reason: InstanceDropReason, r: ReceivedAdvert, extra: Record<string, number>): void {
    this.counts.dropped[reason] = (this.counts.dropped[reason] ?? 0) + 1;
    this.once(`${reason} ${r.source}`, {
      level: 'warn',
      event: 'advert-dropped',
      reason,
      source: r.source,
      ...extra,
      message: 'further drops for this reason from this peer are counted only',
    });
  }

  // --- actions out ----------------------------------------------------------------------

  private act(action: VrrpAction): void {
    switch (action.type) {
      case 'sendAdvert':
        this.send(action.priority);
        return;
      case 'becomeMaster':
        this.enqueue(async () => {
          await this.addVips();
          await this.announce();
        });
        this.announceAgainLater();
        return;
      case 'releaseVips':
        this.enqueue(() => this.removeVips('release'));
        return;
      case 'reannounce':
        this.enqueue(() => this.announce());
        return;
      case 'notify':
        this.log({
          level: 'info',
          event: 'transition',
          from: action.from,
          to: action.to,
          reason: action.reason,
          priority: this.state.priority,
          master: this.status().master,
        });
        try {
          this.o.onTransition?.({
            from: action.from,
            to: action.to,
            reason: action.reason,
            priority: this.state.priority,
          });
        } catch (e) {
          this.counts.internalErrors++;
          this.log({ level: 'error', event: 'internal-error', reason: 'transition', message: errorText(e) });
        }
        return;
      case 'stopped':
        this.enqueue(async () => this.onStopped?.());
        return;
    }
  }

  private send(priority: number): void {
    const t = this.transport;
    if (!t) return;
    let advert = this.adverts.get(priority);
    if (advert === undefined) {
      try {
        advert = { fields: this.advert(priority), failed: (e) => this.sendFailed(priority, e) };
      } catch (e) {
        this.counts.internalErrors++;
        this.log({ level: 'error', event: 'internal-error', reason: 'encode', message: errorText(e) });
        return;
      }
      this.adverts.set(priority, advert);
    }
    t.send(advert.fields).then(this.sent, advert.failed);
  }

  private readonly sent = (): void => {
    if (this.sendFailing) this.log({ level: 'info', event: 'send-recovered' });
    this.sendFailing = false;
  };

  private sendFailed(priority: number, e: unknown): void {
    this.counts.sendErrors++;
    // One line per streak of failures, not one per advert: a dead link would flood the log.
    if (!this.sendFailing) this.log({ level: 'error', event: 'send-error', priority, message: errorText(e) });
    this.sendFailing = true;
  }

  /** The advert for a priority, built once: the transport reuses its encoding while it is the same object. */
  private advert(priority: number): AdvertFields {
    const v = this.view;
    const base = { type: 1 as const, vrid: v.vrid, priority, addresses: [...this.advertAddresses] };
    if (v.version === 2) {
      return Object.freeze({
        ...base,
        version: 2,
        family: 4,
        advertIntervalS: Math.round(v.advertIntervalMs / 1000),
        auth: this.auth,
      });
    }
    return Object.freeze({
      ...base,
      version: 3,
      family: v.family,
      advertIntervalCs: Math.round(v.advertIntervalMs / 10),
    });
  }

  /** Queues VIP work; resolves when this item has run (never rejects). */
  private enqueue(work: () => Promise<void>): Promise<void> {
    this.queued++;
    this.enqueued++;
    this.vipQueue = this.vipQueue
      .then(work)
      .catch((e: unknown) => {
        this.counts.internalErrors++;
        this.log({ level: 'error', event: 'internal-error', reason: 'vip-queue', message: errorText(e) });
      })
      .finally(() => {
        this.queued--;
      });
    return this.vipQueue;
  }

  private async addVips(): Promise<void> {
    for (const vip of this.vips) {
      const r = await this.o.addresses.add(vip).catch((e: unknown) => failed(e));
      if (r.ok) {
        this.log({
          level: 'info',
          event: r.already ? 'vip-present' : 'vip-added',
          address: vip.address,
          dev: vip.dev,
        });
      } else this.vipFailed(vip, r.error);
    }
  }

  private vipFailed(vip: Vip, error: { code: string; message: string }): void {
    this.counts.vipErrors++;
    this.log({
      level: 'error',
      event: 'vip-error',
      reason: error.code,
      address: vip.address,
      dev: vip.dev,
      message: error.message,
    });
  }

  private async removeVips(why: 'release' | 'start'): Promise<void> {
    for (const vip of this.vips) {
      const r = await this.o.addresses.remove(vip).catch((e: unknown) => failed(e));
      if (r.ok) {
        // At start, an absent VIP is the normal case and not worth a line.
        if (!(r.already && why === 'start'))
          this.log({
            level: 'info',
            event: r.already ? 'vip-absent' : 'vip-removed',
            reason: why === 'start' ? 'left-over' : undefined,
            address: vip.address,
            dev: vip.dev,
          });
      } else this.vipFailed(vip, r.error);
    }
  }

  /**
   * keepalived's second burst, garp_master_delay after becoming master, for the switches
   * and routers that missed the first (or were still relearning).
   */
  private announceAgainLater(): void {
    const delay = this.view.garp.masterDelayMs;
    if (delay <= 0) return;
    if (this.secondBurst !== undefined) this.o.timers.clear(this.secondBurst);
    this.secondBurst = this.o.timers.set(() => {
      this.secondBurst = undefined;
      if (!this.closed && this.state.current === 'Master') this.enqueue(() => this.announce());
    }, delay);
  }

  private async announce(vips: readonly Vip[] = this.vips): Promise<void> {
    const g = this.view.garp;
    try {
      await this.announcer.announce(vips, this.view.interface, {
        repeat: g.masterRepeat,
        garpIntervalMs: g.intervalMs,
        gnaIntervalMs: g.naIntervalMs,
      });
    } catch (e) {
      this.counts.announceErrors++;
      this.log({ level: 'error', event: 'announce-error', message: errorText(e) });
    }
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.o.timers.clear(this.timer);
    this.timer = undefined;
    // A pending second GARP burst must not hold a stopped agent's process open.
    if (this.secondBurst !== undefined) this.o.timers.clear(this.secondBurst);
    this.secondBurst = undefined;
    this.unlisten?.();
    await this.transport?.close().catch((e: unknown) => {
      this.log({ level: 'warn', event: 'close-error', message: errorText(e) });
    });
  }

  private log(entry: LogEntry): void {
    this.o.log({ ...entry, instance: this.name });
  }

  private once(key: string, entry: LogEntry): void {
    if (this.loggedOnce.has(key)) return;
    this.loggedOnce.add(key);
    this.log(entry);
  }
}

/** What the transport of an instance running `view` from `address` is opened with. */
export function transportOptions(view: ViewInstance, address: string): TransportOptions {
  return {
    family: view.family,
    ifname: view.interface,
    vrid: view.vrid,
    sourceAddress: address,
    ...(view.unicast && view.unicast.peers.length > 0 ? { unicastPeers: [...view.unicast.peers] } : {}),
  };
}

/**
 * Excluded VIPs are held like the others but kept out of adverts (keepalived's
 * virtual_ipaddress_excluded), so peers with other lists still agree.
 */
function advertAddresses(view: ViewInstance): string[] {
  return view.vips
    .filter((v) => v.family === view.family)
    .map((v) => canonicalIp(v.address.split('/')[0] ?? v.address));
}

function heldVips(view: ViewInstance): Vip[] {
  return [...view.vips, ...view.excludedVips].map((v) => toVip(v, view.interface));
}

/** A VIP with the same address on the same device but another label or scope is another VIP. */
function vipIdentity(v: Vip): string {
  return JSON.stringify([v.dev, vipKey(v.address), v.label, v.scope, v.brd]);
}

/** "a/p" as the kernel reports it (canonical address, prefix defaulting to the host length). */
function vipKey(address: string): string {
  const c = parseCidr(address);
  return c ? `${c.address}/${c.prefix}` : address;
}

function toVip(v: ViewVip, iface: string): Vip {
  const out: Vip = { address: v.address, dev: v.dev ?? iface };
  if (v.label !== undefined) out.label = v.label;
  if (v.scope !== undefined && isScope(v.scope)) out.scope = v.scope;
  if (v.brd !== undefined) out.brd = v.brd;
  return out;
}

function sameAuth(a: V2Auth, b: V2Auth): boolean {
  // keepalived compares the password only for PASS; type 0 carries zeros nobody checks.
  return a.type === b.type && (a.type !== 1 || a.data.equals(b.data));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const mine = new Set(b);
  return a.every((x) => mine.has(x));
}

/** A driver that threw instead of returning an error value is still only a failed change. */
function failed(e: unknown): { ok: false; error: { code: string; message: string } } {
  return { ok: false, error: { code: 'exception', message: errorText(e) } };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
