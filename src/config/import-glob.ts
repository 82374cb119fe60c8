// The glob patterns keepalived's `include` takes (glob(3) without braces): `*`, `?` and
// `[...]` within one path segment. Pure: the CLI walks the directories and asks here
// whether a name matches. As in the shell, a wildcard does not match a leading dot.

export const hasGlobMagic = (segment: string): boolean => /[*?[]/.test(segment);

/** A matcher for one path segment, e.g. "*.conf" or "vs-[0-9]?.conf". */
export function globSegmentMatcher(segment: string): (name: string) => boolean {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      // Inside a class only \ and ] (and ^ at the start, handled above) are special to RegExp.
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < segment.length) {
      re += escapeChar(segment[++i] as string);
    } else re += escapeChar(c);
  }
  let rx: RegExp;
  try {
    rx = new RegExp(`^${re}$`);
  } catch {
    // A class such as [z-a] matches nothing in glob(3) either.
    return () => false;
  }
  const dotOk = segment.startsWith('.');
  return (name) => (dotOk || !name.startsWith('.')) && rx.test(name);
}

const escapeChar = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
