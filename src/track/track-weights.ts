import type { NodeView, ViewInstance } from '../model/node-view.ts';
import type { TrackWeight } from './effective-priority.ts';

// keepalived's defaults for an unweighted reference: a track_interface and a track_script or
// track_process definition without weight count as 0 (down = FAULT); a track_file as 1.
const DEFAULT_FILE_WEIGHT = 1;

/** The weights one instance (or sync group) applies, the reference's weight winning over the definition's. */
export function trackWeights(
  track: ViewInstance['track'],
  defs: Pick<NodeView, 'scripts' | 'trackProcesses' | 'trackFiles'>,
): TrackWeight[] {
  const out: TrackWeight[] = [];
  const push = (kind: TrackWeight['kind'], name: string, weight: number, reverse: boolean | undefined) =>
    out.push(reverse ? { kind, name, weight, reverse } : { kind, name, weight });
  for (const t of track.interfaces) push('interface', t.name, t.weight ?? 0, t.reverse);
  for (const t of track.scripts)
    push('script', t.name, t.weight ?? defs.scripts.find((s) => s.name === t.name)?.weight ?? 0, t.reverse);
  for (const t of track.processes)
    push(
      'process',
      t.name,
      t.weight ?? defs.trackProcesses.find((p) => p.name === t.name)?.weight ?? 0,
      t.reverse,
    );
  for (const t of track.files)
    push(
      'file',
      t.name,
      t.weight ?? defs.trackFiles.find((f) => f.name === t.name)?.weight ?? DEFAULT_FILE_WEIGHT,
      t.reverse,
    );
  return out;
}
