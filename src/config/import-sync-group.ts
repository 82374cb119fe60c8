import type { SyncGroup } from '../model/cluster-schema.ts';
import { dispatch } from './import-keywords.ts';
import { type FileImport, type Settings, type Sink, sited, unsupported } from './import-types.ts';
import { blockName, expectArgs, modelName } from './import-values.ts';
import { notifyHandlers, trackHandlers } from './import-vrrp.ts';
import type { KaStatement } from './keepalived-ast.ts';

// vrrp_sync_group: its members (this file's instance names; the merge renames them when
// instances of several files become one), its notify scripts and its tracking.

interface Ctx {
  members: string[];
  settings: Settings;
  sink: Sink;
}

const HANDLERS: Record<string, (stmt: KaStatement, c: Ctx) => void> = {
  ...notifyHandlers<Ctx>(
    (c) => c,
    ['notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify'],
  ),
  ...trackHandlers<Ctx>((c) => c),
  group: (stmt, c) => {
    expectArgs(stmt, c.sink, 0, true);
    if (!stmt.block) unsupported(c.sink, stmt, 'expected a { block } of vrrp_instance names');
    // keepalived reads every word of the block, several per line allowed.
    for (const line of stmt.block ?? []) {
      if (line.block) unsupported(c.sink, line, 'unexpected { block } ignored');
      for (const w of [line.keyword, ...line.args]) {
        const n = modelName(w);
        if (!c.members.includes(n)) c.members.push(n);
      }
    }
  },
};

export function importSyncGroup(stmt: KaStatement, f: FileImport, sink: Sink): void {
  const name = blockName(stmt, sink, 'vrrp_sync_group');
  if (name === undefined) return;
  const c: Ctx = { members: [], settings: new Map(), sink };
  dispatch(stmt.block ?? [], 'syncGroup', HANDLERS, c, sink);
  if (c.members.length === 0) {
    unsupported(sink, stmt, `vrrp_sync_group ${name} not imported: it has no group { } members`);
    return;
  }
  const g: SyncGroup = { name, instances: c.members };
  type Notify = NonNullable<SyncGroup['notify']>;
  type Track = NonNullable<SyncGroup['track']>;
  const notify: Notify = {};
  const track: Track = {};
  for (const [path, v] of c.settings) {
    const [head, field] = path.split('.') as [string, string];
    if (head === 'notify') notify[field as keyof Notify] = v.value as string;
    else if (head === 'track') track[field as keyof Track] = v.value as Track['scripts'];
  }
  if (Object.keys(notify).length > 0) g.notify = notify;
  if (Object.keys(track).length > 0) g.track = track;
  f.syncGroups.push(sited(g, stmt));
}
