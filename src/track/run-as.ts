import { execFile } from 'node:child_process';

// Who a script runs as. keepalived takes `user[:group]` (group defaulting to the user's), falls
// back to the user keepalived_script, and with enable_script_security refuses to fall back to
// its own (root) identity. Names are looked up with getent, so NSS users work as in keepalived.

export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/** Looks a name up in a database (`passwd` or `group`); undefined when there is no such entry. */
export type GetEnt = (db: 'passwd' | 'group', key: string) => Promise<string | undefined>;

export const systemGetEnt: GetEnt = (db, key) =>
  new Promise((resolve) => {
    execFile('getent', [db, key], { timeout: 5000 }, (err, stdout) =>
      resolve(err ? undefined : stdout.trim()),
    );
  });

/** `name:x:uid:gid:...` → uid and gid; undefined for anything else. */
export function parsePasswdLine(line: string): { name: string; uid: number; gid: number } | undefined {
  const f = line.split('\n')[0]?.split(':') ?? [];
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (f.length < 4 || !f[0] || !Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
  return { name: f[0], uid, gid };
}

export function parseGroupLine(line: string): number | undefined {
  const f = line.split('\n')[0]?.split(':') ?? [];
  const gid = Number(f[2]);
  return f.length >= 3 && f[2] !== '' && Number.isInteger(gid) ? gid : undefined;
}

/** Resolves `user[:group]` (or `user group`, keepalived's other spelling). */
export async function resolveRunAs(
  spec: string,
  getent: GetEnt = systemGetEnt,
): Promise<RunAs | { error: string }> {
  const [user = '', group] = spec.trim().split(/[:\s]+/);
  const pw = await getent('passwd', user);
  const entry = pw === undefined ? undefined : parsePasswdLine(pw);
  if (!entry)
    return { error: `script user "${user}" does not exist on this node: create it or change scriptUser` };
  let gid = entry.gid;
  if (group) {
    const gr = await getent('group', group);
    const g = gr === undefined ? undefined : parseGroupLine(gr);
    if (g === undefined) return { error: `script group "${group}" does not exist on this node` };
    gid = g;
  }
  return { user, uid: entry.uid, gid };
}

export const KEEPALIVED_SCRIPT_USER = 'keepalived_script';

/**
 * The default identity for scripts on a node: scriptUser, else keepalived_script if it exists,
 * else (only without script security) the agent's own identity.
 */
export async function defaultRunAs(
  opts: { scriptUser?: string; enableScriptSecurity: boolean; self: RunAs },
  getent: GetEnt = systemGetEnt,
): Promise<RunAs | { error: string }> {
  if (opts.scriptUser) return resolveRunAs(opts.scriptUser, getent);
  const ks = await resolveRunAs(KEEPALIVED_SCRIPT_USER, getent);
  if (!('error' in ks)) return ks;
  if (opts.enableScriptSecurity)
    return {
      error: `enableScriptSecurity is on but no scriptUser is set and user ${KEEPALIVED_SCRIPT_USER} does not exist: set scriptUser in the node's document or create the user`,
    };
  return opts.self;
}
