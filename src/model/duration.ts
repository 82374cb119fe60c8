// Durations in the desired state are human strings ("1s", "250ms", "3h", "1m30s").
// keepalived counts in (possibly fractional) seconds; we keep the text for readable diffs
// and convert to milliseconds where a number is needed.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  let ms = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const m = PART.exec(text);
    if (!m || m.index !== at) return undefined;
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return Math.round(ms * 1000) / 1000;
}

/** The shortest string that reads back as the same number of milliseconds. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  if (ms >= 1000 && (ms * 1000) % 1000 === 0 && (ms / 1000).toString().length <= 6) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** keepalived writes durations as seconds, possibly fractional ("advert_int 0.1"). */
export function secondsToDuration(seconds: number): string {
  return formatDuration(Math.round(seconds * 1_000_000) / 1000);
}

export function durationToSeconds(text: string): number | undefined {
  const ms = parseDuration(text);
  return ms === undefined ? undefined : ms / 1000;
}
