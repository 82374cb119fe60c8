import { canonicalKeyword, dispatch } from './import-keywords.ts';
import { type FileImport, type Sink, sited } from './import-types.ts';
import { arg, expectArgs, readBool } from './import-values.ts';
import { vrrpSettingHandlers } from './import-vrrp-settings.ts';
import type { KaStatement } from './keepalived-ast.ts';

// global_defs: who the node is (router_id, script user) and the VRRP defaults of the
// cluster. Mail, SNMP, FIFOs and daemon tuning are reported by the keyword table.

interface Ctx {
  f: FileImport;
  sink: Sink;
}

const HANDLERS: Record<string, (stmt: KaStatement, c: Ctx) => void> = {
  ...vrrpSettingHandlers<Ctx>('global', (c) => ({ settings: c.f.vrrpDefaults, sink: c.sink })),
  router_id: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = arg(stmt, c.sink, 0, 'a router id');
    if (v !== undefined) c.f.routerId = sited(v, stmt);
  },
  enable_script_security: (stmt, c) => {
    expectArgs(stmt, c.sink, 1);
    const v = readBool(stmt, c.sink);
    if (v !== undefined) c.f.enableScriptSecurity = sited(v, stmt);
  },
  script_user: (stmt, c) => {
    expectArgs(stmt, c.sink, 2);
    const user = arg(stmt, c.sink, 0, 'a user name');
    if (user === undefined) return;
    const group = stmt.args[1];
    c.f.scriptUser = sited(group === undefined ? user : `${user}:${group.replace(/^:/, '')}`, stmt);
  },
};

export function importGlobalDefs(stmt: KaStatement, f: FileImport, sink: Sink): void {
  expectArgs(stmt, sink, 0, true);
  dispatch(stmt.block ?? [], 'global', HANDLERS, { f, sink }, sink);
}

/** The router_id a file sets, if any: the CLI names a node after it. */
export function routerIdOf(statements: readonly KaStatement[]): string | undefined {
  for (const s of statements) {
    if (s.keyword !== 'global_defs') continue;
    for (const g of s.block ?? []) {
      if (canonicalKeyword('global', g.keyword) === 'router_id' && g.args[0]) return g.args[0];
    }
  }
  return undefined;
}
