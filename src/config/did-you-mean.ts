// A "did you mean" for names a person mistyped: field names, node names, instance names.

/** Edit distance where swapping two neighbouring letters costs one ("prioirty" → "priority"). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] as number;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate closest to `word`, if one is close enough to be a likely typo and no other
 * is as close. A case-only difference always counts; otherwise about one edit per three letters.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  // Comparing a long hostile key against every candidate is quadratic; no real typo is that long.
  if (word.length > 64) return undefined;
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tied = false;
  for (const c of candidates) {
    if (c === word) continue;
    if (c.toLowerCase() === lower) return c;
    // lb3 is no typo of lb1: numbered siblings are different things, not near misses.
    if (c.replace(/\d+/g, '#') === word.replace(/\d+/g, '#')) continue;
    const dist = editDistance(lower, c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
      tied = false;
    } else if (dist === bestDistance) {
      tied = true;
    }
  }
  // Two equally close candidates: a guess between them would mislead as often as help.
  const allowed = Math.max(1, Math.floor(word.length / 3));
  return bestDistance <= allowed && !tied ? best : undefined;
}

/** ` (did you mean "x"?)`, or nothing. */
export function suggestion(word: string, candidates: Iterable<string>): string {
  const hit = didYouMean(word, candidates);
  return hit === undefined ? '' : ` (did you mean "${hit}"?)`;
}
