import { importGlobalDefs } from './import-global.ts';
import { canonicalKeyword, dispatch } from './import-keywords.ts';
import { importVirtualServer, importVirtualServerGroup } from './import-lvs.ts';
import { mergeImports } from './import-merge.ts';
import { importSyncGroup } from './import-sync-group.ts';
import { importTrackFile, importTrackProcess, importVrrpScript } from './import-track.ts';
import {
  type FileImport,
  type ImportInput,
  type ImportOptions,
  type ImportResult,
  newSink,
  note,
  type Sink,
  unsupported,
} from './import-types.ts';
import { importVrrpInstance } from './import-vrrp.ts';
import type { KaNotice, KaPos, KaStatement } from './keepalived-ast.ts';

export type { ImportInput, ImportOptions, ImportResult } from './import-types.ts';

// keepalived.conf → desired state. Pure: takes the parsed statements of one file per node
// (the CLI reads and parses them) and returns one Cluster, a Node per file, the secrets to
// provide, and everything that could not be mapped, each with its file and line. Every
// statement is either mapped or reported: nothing is dropped silently.

type Root = (stmt: KaStatement, f: FileImport, sink: Sink) => void;

const ROOT: Record<string, (stmt: KaStatement, c: { f: FileImport; sink: Sink }) => void> =
  Object.fromEntries(
    (
      [
        [
          'global_defs',
          (s, f, k) => {
            f.globalDefs ??= s.pos;
            importGlobalDefs(s, f, k);
          },
        ],
        ['vrrp_instance', importVrrpInstance],
        ['vrrp_sync_group', importSyncGroup],
        ['vrrp_script', importVrrpScript],
        ['vrrp_track_process', importTrackProcess],
        ['track_file', importTrackFile],
        ['virtual_server', importVirtualServer],
        ['virtual_server_group', importVirtualServerGroup],
      ] as [string, Root][]
    ).map(([kw, h]) => [kw, (stmt, c) => h(stmt, c.f, c.sink)]),
  );

/** Parser notices: substitutions worth knowing (notes) or lines whose content was lost (unsupported). */
function reportNotice(n: KaNotice, sink: Sink): void {
  if (/parameter definition|matched no file|not a defined parameter/.test(n.message)) {
    note(sink, n.pos, n.message);
    return;
  }
  const keyword = n.message.split(' ')[0] ?? 'line';
  unsupported(sink, { pos: n.pos, keyword }, n.message.slice(keyword.length).trim());
}

function importFile(input: ImportInput, sink: Sink): FileImport {
  const file = input.file ?? input.statements[0]?.pos.file ?? `${input.node}.conf`;
  const f: FileImport = {
    node: input.node,
    file,
    vrrpDefaults: new Map(),
    scripts: [],
    trackProcesses: [],
    trackFiles: [],
    instances: [],
    syncGroups: [],
    virtualServerGroups: [],
    virtualServers: [],
  };
  for (const n of input.notices ?? []) reportNotice(n, sink);
  dispatch(input.statements, 'root', ROOT, { f, sink }, sink);
  const roots = new Set(input.statements.map((s) => canonicalKeyword('root', s.keyword)));
  // An empty or unrelated file imports "successfully" into nothing; that is almost always
  // the wrong file, so it is reported (exit 2) rather than passed over.
  if (!roots.has('vrrp_instance') && !roots.has('virtual_server')) {
    unsupported(
      sink,
      { pos: { file, line: 1 }, keyword: '' },
      'no vrrp_instance or virtual_server found: nothing to import for this node',
    );
  }
  return f;
}

/** Files in reading order: each input, then the files it includes, as they appear. */
function fileOrder(inputs: readonly ImportInput[]): Map<string, number> {
  const rank = new Map<string, number>();
  const visit = (stmts: readonly KaStatement[]): void => {
    for (const s of stmts) {
      if (!rank.has(s.pos.file)) rank.set(s.pos.file, rank.size);
      if (s.block) visit(s.block);
    }
  };
  for (const i of inputs) {
    if (i.file !== undefined && !rank.has(i.file)) rank.set(i.file, rank.size);
    visit(i.statements);
  }
  return rank;
}

export function importKeepalived(inputs: readonly ImportInput[], options: ImportOptions = {}): ImportResult {
  const sink = newSink();
  const files = inputs.map((i) => importFile(i, sink));
  const merged = mergeImports(files, sink, options);
  // Reported as a person reads the files, whichever pass found the problem.
  const rank = fileOrder(inputs);
  const byPlace = (a: { pos: KaPos }, b: { pos: KaPos }): number =>
    (rank.get(a.pos.file) ?? rank.size) - (rank.get(b.pos.file) ?? rank.size) || a.pos.line - b.pos.line;
  return { ...merged, unsupported: sink.unsupported.sort(byPlace), notes: sink.notes.sort(byPlace) };
}
