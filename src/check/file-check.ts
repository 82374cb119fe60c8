import { parseTrackFileValue } from '../track/effective-priority.ts';
import { type FileTrackerIo, systemFileIo } from '../track/file-tracker.ts';
import type { CheckOutcome, ProbeFn } from './check-types.ts';

// FILE_CHECK: the number in a track file decides the real server, by keepalived's rules
// (check_file.c, track_file.c). With weight 0 the file is a flag: 0 is up, anything else down
// (reversed with `reverse`). Otherwise value × weight (× -1 with reverse) is added to the real
// server's weight, and only a result at or below -2^31 is down. A missing file reads as 0; an
// unreadable number is ignored (the previous value stands), as keepalived does.

export interface FileSpec {
  /** The track file's path (trackFiles[].file). */
  path: string;
  /** The check's weight, else the track file's, else 1. */
  weight: number;
  reverse?: boolean;
  /** The real server's configured weight: the outcome's weight is absolute. */
  baseWeight: number;
}

const WEIGHT_FAULT = -2147483648;
const WEIGHT_MAX = 2147483647;

/** What a value read from the file means for the real server. */
export function fileOutcome(
  value: number,
  spec: Pick<FileSpec, 'weight' | 'reverse' | 'baseWeight'>,
): { up: true; weight?: number } | { up: false; reason: string } {
  if (spec.weight === 0) {
    const failed = (value !== 0) !== Boolean(spec.reverse);
    return failed
      ? { up: false, reason: `file holds ${value}${spec.reverse ? ' (reverse)' : ''}` }
      : { up: true };
  }
  const status = Math.min(WEIGHT_MAX, Math.max(WEIGHT_FAULT, value * spec.weight * (spec.reverse ? -1 : 1)));
  if (status <= WEIGHT_FAULT)
    return { up: false, reason: `file holds ${value}: weight ${status} is a fault` };
  return { up: true, weight: spec.baseWeight + status };
}

/**
 * A FILE_CHECK probe. It remembers the last good value of each file, because keepalived keeps
 * the previous value when the file holds something that is not a number.
 */
export function createFileProbe(io: FileTrackerIo = systemFileIo): ProbeFn<FileSpec> {
  const lastGood = new Map<string, number>();
  return async (spec, _target, ctx): Promise<CheckOutcome> => {
    const started = ctx.now();
    const text = await io.read(spec.path);
    const parsed = parseTrackFileValue(text);
    let value: number;
    let note = '';
    if ('invalid' in parsed) {
      value = lastGood.get(spec.path) ?? 0;
      note = ` (${spec.path}: ${parsed.invalid}; keeping ${value})`;
    } else {
      value = parsed.value;
      lastGood.set(spec.path, value);
    }
    const latencyMs = ctx.now() - started;
    const r = fileOutcome(value, spec);
    if (!r.up) return { ok: false, latencyMs, reason: `${r.reason}${note}` };
    return {
      ok: true,
      latencyMs,
      ...(r.weight !== undefined ? { weight: r.weight } : {}),
      detail: `file holds ${value}${note}`,
    };
  };
}
