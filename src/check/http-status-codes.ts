// status_code as keepgit takes it: one code (200), or ranges and codes joined by commas
// ("200-299,302"); keepalived's default when none is given is any 2xx.

export interface StatusCodes {
  /** As written, for messages: "200-299,302". */
  text: string;
  matches: (code: number) => boolean;
}

export const DEFAULT_STATUS_CODES = '200-299';

export function parseStatusCodes(spec: number | string | undefined): StatusCodes | { error: string } {
  const text = spec === undefined ? DEFAULT_STATUS_CODES : String(spec).replace(/\s+/g, '');
  const ranges: [number, number][] = [];
  for (const part of text.split(',')) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m)
      return {
        error: `statusCode "${text}": expected a code or range such as 200, 200-299 or "200-299,302"`,
      };
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 100 || hi > 599 || hi < lo)
      return {
        error: `statusCode "${text}": ${part} is not a range of HTTP status codes (100..599, low-high)`,
      };
    ranges.push([lo, hi]);
  }
  return { text, matches: (code) => ranges.some(([lo, hi]) => code >= lo && code <= hi) };
}
