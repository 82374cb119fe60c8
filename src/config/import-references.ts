import type { TrackRef } from './import-track.ts';
import type { Settings } from './import-types.ts';
import { type FileImport, type Sink, unsupported } from './import-types.ts';

// References inside one file that keepalived resolves by name: track_script, track_process
// and track_file entries, FILE_CHECK's track_file and `virtual_server group`. keepalived
// ignores (with a warning) a name the file does not define; the import leaves it out and
// says so, so the written repository still refers only to what exists.

const KINDS = [
  { field: 'scripts', keyword: 'track_script', what: 'vrrp_script' },
  { field: 'processes', keyword: 'track_process', what: 'vrrp_track_process' },
  { field: 'files', keyword: 'track_file', what: 'track_file' },
] as const;

const refName = (r: TrackRef): string => (typeof r === 'string' ? r : r.name);

function checkTrackSettings(settings: Settings, defined: Record<string, Set<string>>, sink: Sink): void {
  for (const k of KINDS) {
    const key = `track.${k.field}`;
    const s = settings.get(key);
    if (!s) continue;
    const refs = s.value as TrackRef[];
    const kept = refs.filter((r) => {
      if (defined[k.field]?.has(refName(r))) return true;
      unsupported(
        sink,
        { pos: s.pos, keyword: k.keyword },
        `no ${k.what} ${refName(r)} is defined in this file: left out`,
      );
      return false;
    });
    if (kept.length === refs.length) continue;
    if (kept.length === 0) settings.delete(key);
    else settings.set(key, { ...s, value: kept });
  }
}

export function checkFileReferences(f: FileImport, sink: Sink): void {
  const defined: Record<string, Set<string>> = {
    scripts: new Set(f.scripts.map((s) => s.value.name)),
    processes: new Set(f.trackProcesses.map((s) => s.value.name)),
    files: new Set(f.trackFiles.map((s) => s.value.name)),
  };
  for (const inst of f.instances) checkTrackSettings(inst.settings, defined, sink);
  for (const g of f.syncGroups) {
    const track = g.value.track;
    if (!track) continue;
    const settings: Settings = new Map();
    for (const k of KINDS) {
      const refs = track[k.field];
      if (refs) settings.set(`track.${k.field}`, { value: refs, pos: g.pos, keyword: k.keyword });
    }
    checkTrackSettings(settings, defined, sink);
    const next: NonNullable<typeof track> = {};
    if (track.interfaces) next.interfaces = track.interfaces;
    for (const k of KINDS) {
      const s = settings.get(`track.${k.field}`);
      if (s) next[k.field] = s.value as TrackRef[];
    }
    g.value = { ...g.value, track: next };
    if (Object.keys(next).length === 0) delete g.value.track;
  }
  const groups = new Set(f.virtualServerGroups.map((g) => g.value.name));
  f.virtualServers = f.virtualServers.filter((vs) => {
    const g = vs.value.group;
    if (g === undefined || groups.has(g)) return true;
    unsupported(
      sink,
      vs,
      `virtual_server group ${g} not imported: no virtual_server_group ${g} is defined in this file`,
    );
    return false;
  });
  for (const vs of f.virtualServers) {
    for (const rs of vs.value.realServers ?? []) {
      if (!rs.checks) continue;
      rs.checks = rs.checks.filter((c) => {
        if (c.type !== 'file' || defined.files?.has(c.file)) return true;
        unsupported(
          sink,
          vs,
          `FILE_CHECK of real_server ${rs.address}: no track_file ${c.file} is defined in this file: left out`,
        );
        return false;
      });
      if (rs.checks.length === 0) delete rs.checks;
    }
  }
}
