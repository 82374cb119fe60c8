import type { PathSeg } from '../src/model/repository.ts';
import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// keepalived ignores, in an instance that belongs to a sync group, every tracker with a
// non-zero weight: weights could raise one member above the peer and another below,
// splitting the group across nodes. The tracker then silently does nothing at all.

type Ref = string | { name: string; weight?: number };

export const syncGroupTrackWeight: Rule = {
  id: 'sync-group-track-weight',
  severity: 'warn',
  description: 'instances in a sync group track with weight 0 (or the group tracks instead)',
  check(ctx: PolicyContext): Violation[] {
    const doc = ctx.cluster.doc;
    const defined = {
      interfaces: new Map<string, number | undefined>(),
      scripts: new Map((doc.scripts ?? []).map((s) => [s.name, s.weight])),
      processes: new Map((doc.trackProcesses ?? []).map((p) => [p.name, p.weight])),
      files: new Map((doc.trackFiles ?? []).map((f) => [f.name, f.weight])),
    };
    const groupOf = new Map<string, string>();
    for (const g of doc.syncGroups ?? [])
      for (const i of g.instances) if (!groupOf.has(i)) groupOf.set(i, g.name);
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      const group = groupOf.get(item.instance.name);
      const track = item.instance.track;
      if (group === undefined || !track) continue;
      for (const kind of ['interfaces', 'scripts', 'processes', 'files'] as const) {
        (track[kind] as readonly Ref[] | undefined)?.forEach((ref, k) => {
          const name = typeof ref === 'string' ? ref : ref.name;
          const weight = (typeof ref === 'string' ? undefined : ref.weight) ?? defined[kind].get(name) ?? 0;
          if (weight === 0) return;
          const path: PathSeg[] = [...item.path, 'track', kind, k];
          out.push({
            file: ctx.cluster,
            path,
            message:
              `${item.instance.name} is in sync group ${group}, where trackers with a weight are ignored, so ` +
              `${kind.slice(0, -1)} ${name} (weight ${weight}) would never affect it: set weight: 0 here, ` +
              `or track it on sync group ${group}`,
          });
        });
      }
    }
    return out;
  },
};
