import type { TrackFile, TrackProcess, VrrpScript } from '../model/cluster-schema.ts';
import { dispatch } from './import-keywords.ts';
import { type FileImport, note, type Sink, sited, unsupported } from './import-types.ts';
import {
  arg,
  blockName,
  expectArgs,
  isModelName,
  modelName,
  readBool,
  readChoice,
  readInt,
  readSeconds,
} from './import-values.ts';
import type { KaStatement } from './keepalived-ast.ts';

// What VRRP tracks: vrrp_script, vrrp_track_process and track_file definitions, and the
// track_* lists of an instance or sync group that refer to them (and to interfaces).

const REVERSE_UNSUPPORTED = 'reverse is not supported on the definition; write reverse on the track_* entry';

function readWeight(stmt: KaStatement, sink: Sink): number | undefined {
  expectArgs(stmt, sink, 2);
  if (stmt.args[1] !== undefined && stmt.args[1] !== 'reverse') {
    unsupported(sink, stmt, `expected "reverse" after the weight, got ${JSON.stringify(stmt.args[1])}`);
  } else if (stmt.args[1] === 'reverse') unsupported(sink, stmt, REVERSE_UNSUPPORTED);
  return readInt(stmt, sink, -254, 254);
}

type Handlers<T> = Record<string, (stmt: KaStatement, c: { v: T; sink: Sink }) => void>;

const SCRIPT: Handlers<Partial<VrrpScript>> = {
  script: (stmt, c) => {
    const words = stmt.args;
    if (words.length === 0) {
      arg(stmt, c.sink, 0, 'a command line');
      return;
    }
    expectArgs(stmt, c.sink, words.length);
    c.v.script = words.join(' ');
    if (words.length > 1) {
      note(c.sink, stmt.pos, `unquoted command line taken as "${c.v.script}"; keepalived wants it in quotes`);
    }
  },
  interval: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readSeconds(stmt, c.sink, 1_000_000);
    if (v !== undefined) c.v.interval = v;
  },
  timeout: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readSeconds(stmt, c.sink, 1_000_000);
    if (v !== undefined) c.v.timeout = v;
  },
  weight: (stmt, c) => {
    const v = readWeight(stmt, c.sink);
    if (v !== undefined) c.v.weight = v;
  },
  rise: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readInt(stmt, c.sink, 1, 1000);
    if (v !== undefined) c.v.rise = v;
  },
  fall: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readInt(stmt, c.sink, 1, 1000);
    if (v !== undefined) c.v.fall = v;
  },
  user: (stmt, c) => {
    expectArgs(stmt, c.sink, 2);
    const u = arg(stmt, c.sink, 0, 'a user name');
    if (u !== undefined) c.v.user = stmt.args[1] ? `${u}:${stmt.args[1].replace(/^:/, '')}` : u;
  },
  init_fail: (stmt, c) => {
    expectArgs(stmt, c.sink, 0);
    c.v.initFail = true;
  },
};

export function importVrrpScript(stmt: KaStatement, f: FileImport, sink: Sink): void {
  const name = blockName(stmt, sink, 'vrrp_script');
  if (name === undefined) return;
  const v: Partial<VrrpScript> = { name };
  dispatch(stmt.block ?? [], 'script', SCRIPT, { v, sink }, sink);
  if (v.script === undefined) {
    unsupported(sink, stmt, 'vrrp_script has no script: not imported');
    return;
  }
  f.scripts.push(sited({ ...v, name, script: v.script }, stmt));
}

const PROCESS: Handlers<Partial<TrackProcess>> = {
  process: (stmt, c) => {
    const p = arg(stmt, c.sink, 0, 'a process name');
    if (p === undefined) return;
    expectArgs(stmt, c.sink, stmt.args.length);
    c.v.process = p;
    if (stmt.args.length > 1) c.v.args = stmt.args.slice(1).join(' ');
  },
  param_match: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readChoice(stmt, c.sink, { initial: 'initial', partial: 'partial' } as const);
    if (v !== undefined) c.v.paramMatch = v;
  },
  weight: (stmt, c) => {
    const v = readWeight(stmt, c.sink);
    if (v !== undefined) c.v.weight = v;
  },
  quorum: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readInt(stmt, c.sink, 1, 65535);
    if (v !== undefined) c.v.quorum = v;
  },
  quorum_max: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readInt(stmt, c.sink, 1, 65535);
    if (v !== undefined) c.v.quorumMax = v;
  },
  fork_delay: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readSeconds(stmt, c.sink, 100_000);
    if (v !== undefined) c.v.forkDelay = v;
  },
  terminate_delay: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readSeconds(stmt, c.sink, 100_000);
    if (v !== undefined) c.v.terminateDelay = v;
  },
  delay: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readSeconds(stmt, c.sink, 100_000);
    if (v !== undefined) c.v.delay = v;
  },
  full_command: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readBool(stmt, c.sink);
    if (v !== undefined) c.v.fullCommand = v;
  },
};

export function importTrackProcess(stmt: KaStatement, f: FileImport, sink: Sink): void {
  const name = blockName(stmt, sink, 'vrrp_track_process');
  if (name === undefined) return;
  const v: Partial<TrackProcess> = { name };
  dispatch(stmt.block ?? [], 'trackProcess', PROCESS, { v, sink }, sink);
  if (v.process === undefined) {
    unsupported(sink, stmt, 'vrrp_track_process has no process: not imported');
    return;
  }
  f.trackProcesses.push(sited({ ...v, name, process: v.process }, stmt));
}

const FILE: Handlers<Partial<TrackFile>> = {
  file: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = arg(stmt, c.sink, 0, 'a file path');
    if (v !== undefined) c.v.file = v;
  },
  weight: (stmt, c) => {
    const v = readWeight(stmt, c.sink);
    if (v !== undefined) c.v.weight = v;
  },
  init_file: (stmt, c) => {
    expectArgs(stmt, c.sink, 2);
    let value: number | undefined;
    let overwrite = false;
    for (const [i, a] of stmt.args.entries()) {
      if (a === 'overwrite') overwrite = true;
      else if (i === 0) value = readInt(stmt, c.sink, -2147483647, 2147483647, 0);
      else unsupported(c.sink, stmt, `expected [VALUE] [overwrite], got ${JSON.stringify(a)}`);
    }
    if (value === undefined && !overwrite) c.v.initFile = true;
    else c.v.initFile = { ...(value === undefined ? {} : { value }), ...(overwrite ? { overwrite } : {}) };
  },
};

export function importTrackFile(stmt: KaStatement, f: FileImport, sink: Sink): void {
  const name = blockName(stmt, sink, 'track_file');
  if (name === undefined) return;
  const v: Partial<TrackFile> = { name };
  dispatch(stmt.block ?? [], 'trackFile', FILE, { v, sink }, sink);
  if (v.file === undefined) {
    unsupported(sink, stmt, 'track_file has no file: not imported');
    return;
  }
  f.trackFiles.push(sited({ ...v, name, file: v.file }, stmt));
}

export type TrackRef = string | { name: string; weight?: number; reverse?: boolean };

/**
 * The entries of a track_interface / track_script / track_process / track_file block:
 * `NAME [weight N] [reverse|noreverse]`. Interface names are kept as written (they name
 * real devices); definition names go through the same renaming as their definitions.
 */
export function readTrackRefs(stmt: KaStatement, kind: 'interface' | 'definition', sink: Sink): TrackRef[] {
  expectArgs(stmt, sink, 0, true);
  if (!stmt.block) {
    unsupported(sink, stmt, `expected a { block } of names`);
    return [];
  }
  const out: TrackRef[] = [];
  for (const line of stmt.block) {
    let name = line.keyword;
    if (kind === 'definition') name = modelName(name);
    else if (!isModelName(name)) {
      unsupported(sink, line, `interface name ${JSON.stringify(name)} does not fit the model's name rule`);
      continue;
    }
    if (line.block) unsupported(sink, line, 'unexpected { block } ignored');
    const ref: { name: string; weight?: number; reverse?: boolean } = { name };
    let ok = true;
    for (let i = 0; i < line.args.length; i++) {
      const a = line.args[i];
      if (a === 'weight') {
        const w = readInt(line, sink, -254, 254, i + 1);
        i++;
        if (w === undefined) ok = false;
        else ref.weight = w;
      } else if (a === 'reverse') ref.reverse = true;
      else if (a === 'noreverse') ref.reverse = false;
      else {
        unsupported(sink, line, `expected "weight N", "reverse" or "noreverse", got ${JSON.stringify(a)}`);
        ok = false;
      }
    }
    if (!ok) continue;
    if (ref.reverse === false) delete ref.reverse;
    out.push(ref.weight === undefined && ref.reverse === undefined ? name : ref);
  }
  return out;
}
