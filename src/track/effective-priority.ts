// What the trackers of one VRRP instance make of its priority and whether it may run at all,
// by keepalived's rules (vrrp_track.c, track_file.c), so that an imported fleet elects the same
// master it did under keepalived. Pure: the trackers report, this only counts.

export type TrackKind = 'interface' | 'script' | 'process' | 'file';

/** The last thing a tracker reported. Files carry the number read; the others up or down. */
export type TrackState =
  | { kind: 'interface' | 'script' | 'process'; name: string; ok: boolean }
  | { kind: 'file'; name: string; value: number };

/** What a tracker emits on a change: its state plus its own default weight (the definition's). */
export type TrackReport = TrackState & { weight: number };

/** How one instance (or sync group) weighs one tracker: its override, else the definition's weight. */
export interface TrackWeight {
  kind: TrackKind;
  name: string;
  weight: number;
  reverse?: boolean;
}

export type TrackStates = ReadonlyMap<string, TrackState>;

export interface TrackFault {
  kind: TrackKind;
  name: string;
  reason: string;
}

export interface TrackEvaluation {
  /** The priority to advertise: base adjusted and held in 1..254; 255 (address owner) never moves. */
  priority: number;
  /** Trackers that put the instance in FAULT: a weight-0 tracker that is down, a file at -254 or below. */
  faults: TrackFault[];
  /**
   * Weight-0 trackers that have not reported yet. keepalived keeps the instance in INIT until
   * they have (a weighted tracker that has not reported simply adds nothing).
   */
  pending: { kind: TrackKind; name: string }[];
}

export const PRIORITY_OWNER = 255;
/** keepalived clamps a track_file's contribution to -254..253 and treats -254 as FAULT. */
const FILE_FAULT = -254;
const FILE_MAX = 253;

export const trackKey = (kind: TrackKind, name: string): string => `${kind}:${name}`;

/** The states after one report; a new map, so a caller can compare before and after. */
export function applyReport(states: TrackStates, report: TrackReport): Map<string, TrackState> {
  const next = new Map(states);
  const state: TrackState =
    report.kind === 'file'
      ? { kind: 'file', name: report.name, value: report.value }
      : { kind: report.kind, name: report.name, ok: report.ok };
  next.set(trackKey(report.kind, report.name), state);
  return next;
}

/**
 * A file's contribution before the instance adds it up: keepalived multiplies the value by the
 * weight (and -1 for reverse), except that with weight 0 the file is a flag, 0 meaning OK.
 */
export function fileStatus(value: number, weight: number, reverse: boolean): number {
  const sign = reverse ? -1 : 1;
  if (weight === 0) return (value !== 0) === !reverse ? FILE_FAULT : 0;
  const status = value * weight * sign;
  return Math.min(FILE_MAX, Math.max(FILE_FAULT, status));
}

export function evaluateTracking(
  base: number,
  states: TrackStates,
  weights: readonly TrackWeight[],
): TrackEvaluation {
  const faults: TrackFault[] = [];
  const pending: { kind: TrackKind; name: string }[] = [];
  let total = 0;
  for (const w of weights) {
    const sign = w.reverse ? -1 : 1;
    const state = states.get(trackKey(w.kind, w.name));
    if (state === undefined) {
      if (w.weight === 0) pending.push({ kind: w.kind, name: w.name });
      continue;
    }
    if (state.kind === 'file') {
      const status = fileStatus(state.value, w.weight, Boolean(w.reverse));
      if (status <= FILE_FAULT)
        faults.push({ kind: w.kind, name: w.name, reason: `file value ${state.value}` });
      else total += status;
      continue;
    }
    if (w.weight === 0) {
      // reverse turns a weight-0 tracker upside down: the instance is down while the tracker is up.
      if (state.ok !== !w.reverse)
        faults.push({ kind: w.kind, name: w.name, reason: state.ok ? 'up (reverse)' : 'down' });
      continue;
    }
    // Only one side of each tracker moves the priority: a positive weight rewards being up, a
    // negative one punishes being down; reverse flips the sign of what is added.
    if (state.ok && w.weight > 0) total += w.weight * sign;
    else if (!state.ok && w.weight < 0) total += w.weight * sign;
  }
  const priority =
    base >= PRIORITY_OWNER ? PRIORITY_OWNER : Math.min(PRIORITY_OWNER - 1, Math.max(1, base + total));
  return { priority, faults, pending };
}

export function effectivePriority(
  base: number,
  states: TrackStates,
  weights: readonly TrackWeight[],
): number {
  return evaluateTracking(base, states, weights).priority;
}

/** The reasons the instance must be in FAULT; empty when it may run. */
export function faulted(states: TrackStates, weights: readonly TrackWeight[]): TrackFault[] {
  return evaluateTracking(0, states, weights).faults;
}

/**
 * A track_file's text as keepalived reads it: strtol(buf, NULL, 0) on at most the first 127 bytes
 * (leading white space, a sign, 0x for hex, a leading 0 for octal, digits up to the first
 * non-digit). Text with no number reads as 0, as does an empty or missing file; a number outside
 * INT32_MIN..INT32_MAX+1 is refused and keepalived keeps the previous value.
 */
export function parseTrackFileValue(text: string | undefined): { value: number } | { invalid: string } {
  if (text === undefined) return { value: 0 };
  const s = text.slice(0, 127);
  let i = 0;
  while (i < s.length && ' \t\n\v\f\r'.includes(s[i] as string)) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  let base = 10;
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && /[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (s[i] === '0') base = 8;
  const digit = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  let n = 0n;
  let sawDigit = false;
  while (i < s.length && digit.test(s[i] as string)) {
    n = n * BigInt(base) + BigInt(Number.parseInt(s[i] as string, base));
    sawDigit = true;
    i++;
  }
  if (!sawDigit) return { value: 0 };
  if (negative) n = -n;
  if (n < -2147483648n || n > 2147483648n) return { invalid: `number ${n} is out of range` };
  return { value: Number(n) };
}
