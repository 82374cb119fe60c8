import { compareIp, ipFamily } from '../model/ip.ts';
import { type MachineConfig, machineConfigProblem } from './machine-config.ts';
import { initialMasterWaitMs, masterDownIntervalMs, releaseBoundMs, skewTimeMs } from './timers.ts';

// The VRRP state machine of RFC 5798 section 6.4 (and RFC 3768 for v2) as a pure reducer,
// matched to keepalived where keepalived and the RFC part ways, so that a keepalived peer
// sees the same behaviour from us as from another keepalived.
//
// It owns no timer: every result says when it next wants to be called (`nextDeadline`,
// an absolute time in the caller's clock), and the caller calls `step` with a `timer`
// event then, or with any other event earlier. Anything already due at `now` happens
// before the event, so a late caller gets the order the protocol would have had.
//
// Beyond the RFC's three states: Fault is keepalived's (link down or a tracker failing:
// no adverts, no VIPs) and Stopping is ours: a master that was told to stop keeps its VIPs
// until it hears its successor (make-before-break), bounded by releaseBoundMs.
//
// Where we follow keepalived rather than the RFC text (read from keepalived 2.x vrrp.c,
// vrrp_scheduler.c, vrrp_track.c):
// - `state MASTER` without priority 255 starts as a backup whose first timer is one
//   interval plus the least skew, not Master_Down_Interval; an owner configured
//   `state BACKUP` waits its (short) Master_Down_Interval instead of taking over at once.
// - preempt_delay starts when a backup first hears a lower-priority master, not at start.
// - A master hearing a lower priority advertises at once (RFC 9568; off with
//   lower_prio_no_advert) and re-announces its VIPs (keepalived's garp_lower_prio_repeat).
// - Tracker priorities are clamped to 1..254, the owner's never moves, and a backup's
//   running master-down timer is moved by the change in skew.
// - Leaving Fault is always to Backup with a fresh Master_Down_Interval, even for the owner.

export type VrrpStateName = 'Initialize' | 'Backup' | 'Master' | 'Fault' | 'Stopping';

export const VRRP_STATE_NAMES: readonly VrrpStateName[] = [
  'Initialize',
  'Backup',
  'Master',
  'Fault',
  'Stopping',
];

export type TransitionReason =
  /** Initialize left on start. */
  | 'start'
  /** The address owner (priority 255, state MASTER) takes over at start. */
  | 'address-owner'
  /** No advert for Master_Down_Interval. */
  | 'master-down'
  /** The master resigned (priority 0) and our skew has passed. */
  | 'master-resigned'
  /** We ignored a lower-priority master until its down timer ran out. */
  | 'preempt'
  /** A master heard a better one (higher priority, or equal and higher address). */
  | 'higher-priority'
  | 'fault'
  | 'fault-cleared'
  | 'stop'
  /** A stopping master heard the new master: its VIPs can go. */
  | 'successor-heard'
  /** A stopping master heard nobody within releaseBoundMs. */
  | 'release-bound'
  /** The sync group moved every member. */
  | 'sync-group';

export interface MachineState {
  readonly config: MachineConfig;
  readonly current: VrrpStateName;
  /** When `current` began. */
  readonly since: number;
  /** Effective priority: the configured one moved by trackers, 1..254 (255 only for the owner). */
  readonly priority: number;
  /** The master as last heard (ourselves while Master), for status. */
  readonly master: { readonly address: string; readonly priority: number } | undefined;
  /** v3 learns it from the master's adverts; v2 always uses its own. */
  readonly masterAdverIntervalMs: number;
  /** Backup: when the master is declared down. */
  readonly masterDownAt: number | undefined;
  /** Backup: what the running master-down timer means, to name the takeover. */
  readonly masterDownCause: 'master-down' | 'master-resigned' | 'preempt';
  /** Master: when the next advert is due. */
  readonly adverAt: number | undefined;
  /** Backup with preempt_delay: until when lower-priority masters are still accepted. */
  readonly preemptDelayUntil: number | undefined;
  /** Stopping: when the VIPs go even if no successor was heard. */
  readonly releaseAt: number | undefined;
  /** Active fault reasons (interface down, failed trackers, sync group); Fault while any. */
  readonly faults: readonly string[];
  /** Whether the VIPs are configured, i.e. becomeMaster was asked and releaseVips not since. */
  readonly vipsHeld: boolean;
}

export type VrrpEvent =
  | { readonly type: 'start' }
  | { readonly type: 'stop' }
  | { readonly type: 'timer' }
  | {
      readonly type: 'advert';
      readonly srcAddr: string;
      readonly priority: number;
      readonly intervalMs: number;
      /** Carried for the caller's checks and logs: keepalived only counts a mismatch, so the machine ignores them. */
      readonly addresses?: readonly string[];
    }
  /** The tracker-adjusted total; clamped to 1..254 and ignored for the owner, as keepalived does. */
  | { readonly type: 'priority'; readonly priority: number }
  | { readonly type: 'fault'; readonly reason: string }
  | { readonly type: 'faultCleared'; readonly reason: string }
  /** Sync group: another member became master, follow it now. */
  | { readonly type: 'syncMaster' }
  /** Sync group: another member fell back, follow it (without a priority-0 advert). */
  | { readonly type: 'syncBackup' };

export type VrrpAction =
  | { readonly type: 'sendAdvert'; readonly priority: number }
  /** Add the VIPs and announce them (GARP / unsolicited NA, with the configured repeats and delays). */
  | { readonly type: 'becomeMaster' }
  /** Remove the VIPs: on the way to Backup, Fault, or at the end of a stop. */
  | { readonly type: 'releaseVips' }
  /** We stayed master against a lower-priority master: announce the VIPs again (garp_lower_prio_*). */
  | { readonly type: 'reannounce' }
  | {
      readonly type: 'notify';
      readonly from: VrrpStateName;
      readonly to: VrrpStateName;
      readonly reason: TransitionReason;
    }
  /** The instance has finished stopping: the caller may close its socket. */
  | { readonly type: 'stopped' };

export interface StepResult {
  readonly state: MachineState;
  readonly actions: readonly VrrpAction[];
  /** When to call again with a `timer` event; undefined = only other events can move it. */
  readonly nextDeadline: number | undefined;
}

const OWNER = 255;

/** A machine in Initialize, waiting for `start`. Throws on a configuration the schema should have refused. */
export function initialMachineState(config: MachineConfig, now: number): MachineState {
  const problem = machineConfigProblem(config);
  if (problem !== undefined) throw new RangeError(`VRRP state machine: ${problem}`);
  return {
    config,
    current: 'Initialize',
    since: now,
    priority: config.priority,
    master: undefined,
    masterAdverIntervalMs: config.advertIntervalMs,
    masterDownAt: undefined,
    masterDownCause: 'master-down',
    adverAt: undefined,
    preemptDelayUntil: undefined,
    releaseAt: undefined,
    faults: [],
    vipsHeld: false,
  };
}

/** The one timer that matters in the current state. */
export function nextDeadline(s: MachineState): number | undefined {
  switch (s.current) {
    case 'Backup':
      return s.masterDownAt;
    case 'Master':
      return s.adverAt;
    case 'Stopping':
      return s.releaseAt;
    default:
      return undefined;
  }
}

export function step(state: MachineState, event: VrrpEvent, now: number): StepResult {
  const out: VrrpAction[] = [];
  let s = fireDue(state, now, out);
  s = apply(s, event, now, out);
  // A priority change can pull the master-down timer into the past.
  s = fireDue(s, now, out);
  return { state: s, actions: out, nextDeadline: nextDeadline(s) };
}

function fireDue(state: MachineState, now: number, out: VrrpAction[]): MachineState {
  let s = state;
  // Each expiry either leaves the state or sets its timer after `now` (intervals are
  // positive), so this settles within a couple of rounds; the bound is only a guard.
  for (let round = 0; round < 4; round++) {
    const due = nextDeadline(s);
    if (due === undefined || due > now) break;
    s = expire(s, now, out);
  }
  return s;
}

function expire(s: MachineState, now: number, out: VrrpAction[]): MachineState {
  switch (s.current) {
    case 'Backup':
      return goMaster(s, now, s.masterDownCause, out);
    case 'Master':
      out.push({ type: 'sendAdvert', priority: s.priority });
      return { ...s, adverAt: now + s.config.advertIntervalMs };
    case 'Stopping':
      return finishStop(s, now, 'release-bound', out);
    default:
      return s;
  }
}

function apply(s: MachineState, event: VrrpEvent, now: number, out: VrrpAction[]): MachineState {
  switch (event.type) {
    case 'start':
      return start(s, now, out);
    case 'stop':
      return stop(s, now, out);
    case 'timer':
      return s;
    case 'advert':
      return hear(s, event, now, out);
    case 'priority':
      return changePriority(s, event.priority);
    case 'fault':
      return fault(s, event.reason, now, out);
    case 'faultCleared':
      return clearFault(s, event.reason, now, out);
    case 'syncMaster':
      return s.current === 'Backup' ? goMaster(s, now, 'sync-group', out) : s;
    case 'syncBackup':
      return s.current === 'Master' ? leaveMaster(s, now, 'Backup', 'sync-group', out) : s;
  }
}

// --- entering states -------------------------------------------------------------------

function notify(out: VrrpAction[], from: VrrpStateName, to: VrrpStateName, reason: TransitionReason): void {
  out.push({ type: 'notify', from, to, reason });
}

function goMaster(s: MachineState, now: number, reason: TransitionReason, out: VrrpAction[]): MachineState {
  // Advert first, then the VIPs: the old master hears us and drops its VIPs before our
  // GARPs land (RFC 5798 6.4.1 order; keepalived's vrrp_state_master_tx).
  out.push({ type: 'sendAdvert', priority: s.priority });
  out.push({ type: 'becomeMaster' });
  notify(out, s.current, 'Master', reason);
  return {
    ...s,
    current: 'Master',
    since: now,
    master: { address: s.config.address, priority: s.priority },
    masterAdverIntervalMs: s.config.advertIntervalMs,
    masterDownAt: undefined,
    adverAt: now + s.config.advertIntervalMs,
    preemptDelayUntil: undefined,
    releaseAt: undefined,
    vipsHeld: true,
  };
}

function enterBackup(
  s: MachineState,
  now: number,
  downAfterMs: number,
  fields: Pick<MachineState, 'master' | 'masterAdverIntervalMs'>,
): MachineState {
  return {
    ...s,
    ...fields,
    current: 'Backup',
    since: now,
    masterDownAt: now + downAfterMs,
    masterDownCause: 'master-down',
    adverAt: undefined,
    preemptDelayUntil: undefined,
    releaseAt: undefined,
  };
}

function downInterval(s: MachineState, masterAdverIntervalMs: number): number {
  return masterDownIntervalMs(s.config.version, s.priority, masterAdverIntervalMs);
}

/** Master → Backup or Fault. Only a fault resigns with priority 0: a yielding master has a better peer already. */
function leaveMaster(
  s: MachineState,
  now: number,
  to: 'Backup' | 'Fault',
  reason: TransitionReason,
  out: VrrpAction[],
): MachineState {
  if (to === 'Fault') out.push({ type: 'sendAdvert', priority: 0 });
  out.push({ type: 'releaseVips' });
  notify(out, 'Master', to, reason);
  const own = s.config.advertIntervalMs;
  const backup = enterBackup({ ...s, vipsHeld: false }, now, downInterval(s, own), {
    master: undefined,
    masterAdverIntervalMs: own,
  });
  return to === 'Backup' ? backup : toFault(backup, now);
}

function toFault(s: MachineState, now: number): MachineState {
  return { ...s, current: 'Fault', since: now, masterDownAt: undefined, adverAt: undefined };
}

function finishStop(s: MachineState, now: number, reason: TransitionReason, out: VrrpAction[]): MachineState {
  out.push({ type: 'releaseVips' });
  notify(out, 'Stopping', 'Initialize', reason);
  out.push({ type: 'stopped' });
  return {
    ...s,
    current: 'Initialize',
    since: now,
    releaseAt: undefined,
    vipsHeld: false,
    master: undefined,
  };
}

// --- events ------------------------------------------------------------------------------

function start(s: MachineState, now: number, out: VrrpAction[]): MachineState {
  if (s.current !== 'Initialize') return s;
  const c = s.config;
  const fresh = { ...s, master: undefined };
  if (s.faults.length > 0) {
    notify(out, 'Initialize', 'Fault', 'start');
    return toFault(fresh, now);
  }
  if (c.initialState === 'MASTER' && c.priority === OWNER) return goMaster(fresh, now, 'address-owner', out);
  // keepalived's reading of `state MASTER` for a non-owner: a backup with a short timer.
  const wait =
    c.initialState === 'MASTER'
      ? initialMasterWaitMs(c.version, c.advertIntervalMs)
      : masterDownIntervalMs(c.version, fresh.priority, c.advertIntervalMs);
  notify(out, 'Initialize', 'Backup', 'start');
  return enterBackup(fresh, now, wait, { master: undefined, masterAdverIntervalMs: c.advertIntervalMs });
}

function stop(s: MachineState, now: number, out: VrrpAction[]): MachineState {
  switch (s.current) {
    case 'Master':
      out.push({ type: 'sendAdvert', priority: 0 });
      notify(out, 'Master', 'Stopping', 'stop');
      return {
        ...s,
        current: 'Stopping',
        since: now,
        adverAt: undefined,
        releaseAt: now + releaseBoundMs(s.config.version, s.config.advertIntervalMs),
      };
    case 'Backup':
    case 'Fault':
      notify(out, s.current, 'Initialize', 'stop');
      out.push({ type: 'stopped' });
      return {
        ...s,
        current: 'Initialize',
        since: now,
        masterDownAt: undefined,
        preemptDelayUntil: undefined,
        master: undefined,
      };
    case 'Initialize':
      out.push({ type: 'stopped' });
      return s;
    case 'Stopping':
      return s;
  }
}

type Advert = Extract<VrrpEvent, { type: 'advert' }>;

/** Adverts any VRRP router must discard whatever its state. */
function acceptable(s: MachineState, a: Advert): boolean {
  if (!Number.isInteger(a.priority) || a.priority < 0 || a.priority > OWNER) return false;
  if (!Number.isFinite(a.intervalMs) || a.intervalMs <= 0) return false;
  if (ipFamily(a.srcAddr) === undefined) return false;
  // RFC 3768 7.1: a v2 router MUST discard an advert whose interval differs from its own
  // (keepalived: "to prevent concurrent VRID running").
  if (s.config.version === 2 && a.intervalMs !== s.config.advertIntervalMs) return false;
  return true;
}

function hear(s: MachineState, a: Advert, now: number, out: VrrpAction[]): MachineState {
  if (!acceptable(s, a)) return s;
  // Our own adverts, looped back: one arriving late in Stopping must not pass for the successor's.
  if (compareIp(a.srcAddr, s.config.address) === 0) return s;
  switch (s.current) {
    case 'Backup':
    case 'Master':
      if (s.config.ownerIgnoreAdverts && s.priority === OWNER) return s;
      return s.current === 'Backup' ? backupHears(s, a, now) : masterHears(s, a, now, out);
    case 'Stopping':
      // Any live advert is the successor's: backups never advertise.
      return a.priority > 0 ? finishStop(s, now, 'successor-heard', out) : s;
    default:
      // Initialize and Fault do not take part.
      return s;
  }
}

function learnedInterval(s: MachineState, a: Advert): number {
  // RFC 5798 6.4.2: v3 follows the master's interval; v2 has only one interval (checked in acceptable).
  return s.config.version === 3 ? a.intervalMs : s.masterAdverIntervalMs;
}

/** RFC 5798 6.4.2, with keepalived's preempt_delay. */
function backupHears(s: MachineState, a: Advert, now: number): MachineState {
  const c = s.config;
  if (a.priority === 0) {
    return {
      ...s,
      masterDownAt: now + skewTimeMs(c.version, s.priority, s.masterAdverIntervalMs),
      masterDownCause: 'master-resigned',
    };
  }
  const heard = { address: a.srcAddr, priority: a.priority };
  // keepalived's preempt_delay: the first lower-priority advert heard in Backup starts the
  // delay, and lower-priority masters are obeyed until it ends; only then does the
  // master-down timer get to run out. A better master cancels it.
  const delaying = c.preemptDelayMs > 0 && (s.preemptDelayUntil === undefined || s.preemptDelayUntil > now);
  if (!c.preempt || a.priority >= s.priority || delaying) {
    const interval = learnedInterval(s, a);
    let preemptDelayUntil: number | undefined;
    if (c.preemptDelayMs > 0 && a.priority < s.priority)
      preemptDelayUntil = s.preemptDelayUntil ?? now + c.preemptDelayMs;
    return {
      ...s,
      master: heard,
      masterAdverIntervalMs: interval,
      masterDownAt: now + downInterval(s, interval),
      masterDownCause: 'master-down',
      preemptDelayUntil,
    };
  }
  // A lower-priority master while we may preempt: let its timer run out.
  return { ...s, master: heard, masterDownCause: 'preempt' };
}

/** RFC 5798 6.4.3, with keepalived's (RFC 9568's) advert back to a lower-priority master. */
function masterHears(s: MachineState, a: Advert, now: number, out: VrrpAction[]): MachineState {
  const c = s.config;
  if (a.priority === 0) {
    // The resigning master's backups are about to time out: show them a master now.
    out.push({ type: 'sendAdvert', priority: s.priority });
    return { ...s, adverAt: now + c.advertIntervalMs };
  }
  const byAddress = compareIp(a.srcAddr, c.address);
  if (a.priority > s.priority || (a.priority === s.priority && byAddress > 0)) {
    // Seen last, our advert makes the winner (if keepalived with garp_lower_prio_repeat) re-announce.
    if (c.higherPrioSendAdvert) out.push({ type: 'sendAdvert', priority: s.priority });
    const backup = leaveMaster(s, now, 'Backup', 'higher-priority', out);
    const interval = learnedInterval(s, a);
    return {
      ...backup,
      master: { address: a.srcAddr, priority: a.priority },
      masterAdverIntervalMs: interval,
      masterDownAt: now + downInterval(s, interval),
    };
  }
  // A contested election we win: a lower-priority router thinks it is master (split brain
  // healing, or it missed our adverts). Tell it now rather than at our next advert, and
  // re-announce the VIPs, whose ARP/ND entries it may have taken over.
  let next = s;
  if (!c.lowerPrioNoAdvert) {
    out.push({ type: 'sendAdvert', priority: s.priority });
    next = { ...s, adverAt: now + c.advertIntervalMs };
  }
  if (c.reannounceOnLowerPriority) out.push({ type: 'reannounce' });
  return next;
}

function clampPriority(s: MachineState, total: number): number {
  if (s.config.priority === OWNER) return OWNER; // the owner's priority is not the trackers' to move
  return Math.min(OWNER - 1, Math.max(1, Math.round(total)));
}

function changePriority(s: MachineState, total: number): MachineState {
  if (!Number.isFinite(total)) return s;
  const priority = clampPriority(s, total);
  if (priority === s.priority) return s;
  const next = { ...s, priority };
  // A running master-down timer was armed with the old skew: move it by the difference,
  // as keepalived does, so a backup that now outranks the master takes over as if it had
  // always had this priority (once the master's adverts stop being accepted). A master
  // just advertises the new priority: a better backup preempts it.
  if (s.current === 'Backup' && s.masterDownAt !== undefined) {
    const shift =
      skewTimeMs(s.config.version, priority, s.masterAdverIntervalMs) -
      skewTimeMs(s.config.version, s.priority, s.masterAdverIntervalMs);
    return { ...next, masterDownAt: s.masterDownAt + shift };
  }
  return next;
}

function fault(s: MachineState, reason: string, now: number, out: VrrpAction[]): MachineState {
  if (s.faults.includes(reason)) return s;
  const wasUp = s.faults.length === 0;
  const next = { ...s, faults: [...s.faults, reason].sort() };
  if (!wasUp) return next;
  switch (s.current) {
    case 'Master':
      // keepalived tries a priority-0 advert even then: if the link still carries it, the
      // backup takes over after its skew instead of Master_Down_Interval.
      return leaveMaster(next, now, 'Fault', 'fault', out);
    case 'Backup':
      notify(out, 'Backup', 'Fault', 'fault');
      return toFault({ ...next, preemptDelayUntil: undefined, master: undefined }, now);
    case 'Stopping':
      // Keeping the VIPs only helps while the link and the service are good.
      return finishStop(next, now, 'fault', out);
    default:
      return next;
  }
}

function clearFault(s: MachineState, reason: string, now: number, out: VrrpAction[]): MachineState {
  if (!s.faults.includes(reason)) return s;
  const next = { ...s, faults: s.faults.filter((f) => f !== reason) };
  if (next.faults.length > 0 || s.current !== 'Fault') return next;
  // Back as a backup that has heard nobody yet (keepalived's try_up_instance), even the
  // owner: a master elected meanwhile is kept until our timer says it is gone or preempted.
  notify(out, 'Fault', 'Backup', 'fault-cleared');
  const own = s.config.advertIntervalMs;
  return enterBackup(next, now, downInterval(next, own), { master: undefined, masterAdverIntervalMs: own });
}
