import { type Settings, type Sink, unsupported, where } from './import-types.ts';
import { firstDifference, sameValue } from './import-values.ts';
import type { KaPos } from './keepalived-ast.ts';

// Settings the model holds once (per instance, per sync group, per cluster) but every
// node's file writes for itself: equal values are written once; a difference is reported
// on the later file's line and the first file's value is kept.

export interface Holder {
  /** The block the settings come from (vrrp_instance line, global_defs line, ...). */
  pos: KaPos;
  settings: Settings;
}

/** The merged value of every path, in the order the paths first appear. */
export function mergeSettings(
  holders: readonly Holder[],
  sink: Sink,
  scope: string,
  defaults: Readonly<Record<string, unknown>> = {},
): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const paths: string[] = [];
  for (const h of holders) for (const p of h.settings.keys()) if (!paths.includes(p)) paths.push(p);
  for (const path of paths) {
    const first = holders.map((h) => h.settings.get(path)).find((s) => s !== undefined);
    if (!first) continue;
    out.set(path, first.value);
    for (const h of holders) {
      const mine = h.settings.get(path);
      if (mine === first) continue;
      if (mine === undefined) {
        if (path in defaults && sameValue(defaults[path], first.value)) continue;
        unsupported(
          sink,
          { pos: h.pos, keyword: first.keyword },
          `not set here, but ${where(first.pos)} sets it; the model holds one value per ${scope}`,
        );
      } else if (!sameValue(mine.value, first.value)) {
        const at = firstDifference(first.value, mine.value);
        const detail = at && at !== '(the whole value)' && !at.includes('length') ? ` (at ${at})` : '';
        unsupported(
          sink,
          mine,
          `differs from ${where(first.pos)}${detail}; the model holds one value per ${scope}`,
        );
      }
    }
  }
  return out;
}

/** Sets a dotted path ("garp.masterDelay") in a plain object, creating the maps on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = target;
  for (const p of parts.slice(0, -1)) {
    const next = o[p];
    if (next === undefined || next === null || typeof next !== 'object') o[p] = {};
    o = o[p] as Record<string, unknown>;
  }
  o[parts[parts.length - 1] as string] = value;
}
