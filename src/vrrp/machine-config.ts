import { ipFamily } from '../model/ip.ts';
import type { ViewInstance } from '../model/node-view.ts';
import type { VrrpVersion } from './timers.ts';

// What the VRRP state machine needs to know about its instance, with keepalived's rules
// for combining options already applied (vrrp_complete_instance), so that the reducer
// never has to reason about contradictory settings and behaves as keepalived would with
// the same keepalived.conf.

export interface MachineConfig {
  readonly version: VrrpVersion;
  /** The configured (base) priority, 1..255; 255 = address owner. */
  readonly priority: number;
  /** Our Advertisement_Interval. */
  readonly advertIntervalMs: number;
  readonly preempt: boolean;
  /** keepalived's preempt_delay; 0 = none. */
  readonly preemptDelayMs: number;
  /** keepalived's `state`, with its default (MASTER for the owner) applied. */
  readonly initialState: 'MASTER' | 'BACKUP';
  /** Our primary address on the instance's link: the tie break compares it with the sender's. */
  readonly address: string;
  /** Master hearing a lower priority: stay silent (RFC 5798) instead of advertising at once (RFC 9568). */
  readonly lowerPrioNoAdvert: boolean;
  /** Master hearing a higher priority: advertise once before yielding, so the winner re-announces. */
  readonly higherPrioSendAdvert: boolean;
  /** The address owner drops every advert (vrrp_strict). */
  readonly ownerIgnoreAdverts: boolean;
  /** A master that wins a contested election re-announces its VIPs (GARP / unsolicited NA). */
  readonly reannounceOnLowerPriority: boolean;
}

export type MachineConfigSource = Pick<
  ViewInstance,
  'version' | 'priority' | 'state' | 'advertIntervalMs' | 'preempt' | 'preemptDelayMs' | 'flags'
>;

const OWNER = 255;

/** The machine's configuration for one instance of this node, whose primary address is `address`. */
export function machineConfig(view: MachineConfigSource, address: string): MachineConfig {
  const strict = view.flags.strict;
  const owner = view.priority === OWNER;
  // strict mode insists that state MASTER and address ownership go together; keepalived
  // corrects the state rather than the priority, and so do we.
  const initialState = strict || view.state === undefined ? (owner ? 'MASTER' : 'BACKUP') : view.state;
  // nopreempt cannot hold back the owner, nor an instance told to start as master.
  const preempt = view.preempt || owner || initialState === 'MASTER';
  const preemptDelayMs = !preempt || strict || initialState === 'MASTER' ? 0 : view.preemptDelayMs;
  return {
    version: view.version,
    priority: view.priority,
    advertIntervalMs: view.advertIntervalMs,
    preempt,
    preemptDelayMs,
    initialState,
    address,
    lowerPrioNoAdvert: strict || view.flags.lowerPrioNoAdvert,
    higherPrioSendAdvert: !strict && view.flags.higherPrioSendAdvert,
    ownerIgnoreAdverts: strict && owner,
    // keepalived's garp_lower_prio_repeat defaults to the master repeat, and strict mode forbids it.
    reannounceOnLowerPriority: !strict,
  };
}

/** Why a configuration cannot run, or undefined. The schema rules these out; this guards other callers. */
export function machineConfigProblem(config: MachineConfig): string | undefined {
  if (!Number.isInteger(config.priority) || config.priority < 1 || config.priority > OWNER)
    return `priority ${config.priority} is not an integer in 1..255`;
  if (!Number.isFinite(config.advertIntervalMs) || config.advertIntervalMs <= 0)
    return `advert interval ${config.advertIntervalMs} ms is not positive`;
  if (!Number.isFinite(config.preemptDelayMs) || config.preemptDelayMs < 0)
    return `preempt delay ${config.preemptDelayMs} ms is negative`;
  if (ipFamily(config.address) === undefined) return `"${config.address}" is not an IP address`;
  return undefined;
}
