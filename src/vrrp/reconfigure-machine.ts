import type { MachineConfig } from './machine-config.ts';
import { type MachineState, nextDeadline, type StepResult, step, type VrrpAction } from './state-machine.ts';
import { masterDownIntervalMs } from './timers.ts';

// A running machine told that its configuration changed (a hot reload), without a
// transition of its own: the state, the master heard and the running timers stay, and
// only what the new settings mean for them changes. What follows is the protocol's:
// - a new priority goes through the machine's own `priority` event (clamping, the owner's
//   255, a backup's master-down timer moved by the change in skew), and a master
//   advertises it at once, so that a better backup preempts now rather than next interval
//   and a worse one learns it is still outranked;
// - a backup that may now preempt does so when it next hears the lower master (the
//   machine's rules on that advert); one that may no longer preempt waits for the master
//   instead of letting its timer run out on it;
// - a new advert interval applies from the next advert (a master never advertises later
//   than the new interval allows); a v2 backup compares adverts with its own interval, so
//   that is what it now expects.

/**
 * The machine under `config`, with effective priority `priority` (trackers included).
 * The caller checked the config (machineConfigProblem) and that identity fields did not change.
 */
export function reconfigureMachine(
  state: MachineState,
  config: MachineConfig,
  priority: number,
  now: number,
): StepResult {
  const old = state.config;
  let s: MachineState = { ...state, config };
  if (config.version === 2 || s.current === 'Master')
    s = { ...s, masterAdverIntervalMs: config.advertIntervalMs };
  if (s.current === 'Master' && s.adverAt !== undefined && config.advertIntervalMs < old.advertIntervalMs)
    s = { ...s, adverAt: Math.min(s.adverAt, now + config.advertIntervalMs) };
  if (s.current === 'Backup' && !config.preempt && s.masterDownCause === 'preempt')
    s = {
      ...s,
      masterDownAt: now + masterDownIntervalMs(config.version, s.priority, s.masterAdverIntervalMs),
      masterDownCause: 'master-down',
    };
  if (config.preemptDelayMs === 0 && s.preemptDelayUntil !== undefined)
    s = { ...s, preemptDelayUntil: undefined };

  const before = s.priority;
  const r = step(s, { type: 'priority', priority }, now);
  const actions: VrrpAction[] = [...r.actions];
  let next = r.state;
  // The machine's master advertises a new priority only at its next interval.
  if (
    next.current === 'Master' &&
    next.priority !== before &&
    !actions.some((a) => a.type === 'sendAdvert' && a.priority === next.priority)
  ) {
    actions.push({ type: 'sendAdvert', priority: next.priority });
    next = {
      ...next,
      master: { address: config.address, priority: next.priority },
      adverAt: now + config.advertIntervalMs,
    };
  }
  return { state: next, actions, nextDeadline: nextDeadline(next) };
}
