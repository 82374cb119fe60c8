import { userInfo } from 'node:os';
import type { NodeView } from '../model/node-view.ts';
import { checkScriptCommand, type SecurityFs } from '../notify/script-security.ts';
import { parseScript } from '../track/argv.ts';
import { defaultRunAs, type GetEnt, type RunAs, resolveRunAs } from '../track/run-as.ts';

// Who the node's scripts run as, settled before anything starts: the node's default identity
// (scriptUser, keepalived_script, else the agent's own without script security) and each
// tracked vrrp_script's own `user`. With enableScriptSecurity every script that can run
// (tracked scripts and notify scripts) is checked as keepalived does, and one unsafe script
// refuses the start: better no agent than one that runs code anyone could have changed.

export interface ScriptIdentities {
  /** Undefined when the node runs no script at all (nothing was resolved). */
  notifyRunAs: RunAs | undefined;
  scriptRunAs: Map<string, RunAs>;
}

export interface ScriptIdentityDeps {
  getent?: GetEnt;
  securityFs?: SecurityFs;
  self?: RunAs;
}

export function agentSelf(): RunAs {
  const u = userInfo();
  return { user: u.username, uid: u.uid, gid: u.gid };
}

/** The notify scripts of the view's instances, as [where, text]. */
function notifyScripts(view: NodeView): [string, string][] {
  const out: [string, string][] = [];
  for (const i of view.instances)
    for (const key of ['master', 'backup', 'fault', 'stop', 'notify'] as const) {
      const text = i.notify[key];
      if (text !== undefined) out.push([`instance ${i.name} notify.${key}`, text]);
    }
  return out;
}

export async function resolveScriptIdentities(
  view: NodeView,
  deps: ScriptIdentityDeps = {},
): Promise<{ ok: true; ids: ScriptIdentities } | { ok: false; message: string }> {
  const trackedNames = new Set(view.instances.flatMap((i) => i.track.scripts.map((t) => t.name)));
  const tracked = view.scripts.filter((s) => trackedNames.has(s.name));
  const notify = notifyScripts(view);
  const ids: ScriptIdentities = { notifyRunAs: undefined, scriptRunAs: new Map() };
  if (tracked.length === 0 && notify.length === 0) return { ok: true, ids };

  const fallback = await defaultRunAs(
    {
      ...(view.scriptUser !== undefined ? { scriptUser: view.scriptUser } : {}),
      enableScriptSecurity: view.enableScriptSecurity,
      self: deps.self ?? agentSelf(),
    },
    deps.getent,
  );
  if ('error' in fallback) return { ok: false, message: fallback.error };
  ids.notifyRunAs = fallback;

  const toCheck: [string, string, RunAs][] = notify.map(([where, text]) => [where, text, fallback]);
  for (const s of tracked) {
    let runAs = fallback;
    if (s.user !== undefined) {
      const own = await resolveRunAs(s.user, deps.getent);
      if ('error' in own) return { ok: false, message: `vrrp_script ${s.name}: ${own.error}` };
      runAs = own;
    }
    ids.scriptRunAs.set(s.name, runAs);
    toCheck.push([`vrrp_script ${s.name}`, s.script, runAs]);
  }

  if (view.enableScriptSecurity)
    for (const [where, text, runAs] of toCheck) {
      const cmd = parseScript(text);
      if ('error' in cmd) return { ok: false, message: `${where}: ${cmd.error}` };
      const r = await checkScriptCommand(cmd, runAs, deps.securityFs);
      if (!r.ok) return { ok: false, message: `${where}: ${r.message}` };
    }
  return { ok: true, ids };
}
