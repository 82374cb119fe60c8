import { agentSelf } from '../agent/script-identity.ts';
import type { NodeView } from '../model/node-view.ts';
import { defaultRunAs, type GetEnt, type RunAs, resolveRunAs, systemGetEnt } from '../track/run-as.ts';

// Who a node's MISC_CHECK scripts run as, by the rule its track and notify scripts follow:
// the check's own `user`, else the node's scriptUser, else keepalived_script, else (only
// without enableScriptSecurity) the agent's own identity. Each name is looked up once.

export function miscRunAs(
  view: Pick<NodeView, 'scriptUser' | 'enableScriptSecurity'>,
  deps: { getent?: GetEnt; self?: RunAs } = {},
): (user: string | undefined) => Promise<RunAs | { error: string }> {
  const getent = deps.getent ?? systemGetEnt;
  const cache = new Map<string, Promise<RunAs | { error: string }>>();
  return (user) => {
    const key = user ?? '';
    let found = cache.get(key);
    if (found === undefined) {
      found =
        user !== undefined
          ? resolveRunAs(user, getent)
          : defaultRunAs(
              {
                ...(view.scriptUser !== undefined ? { scriptUser: view.scriptUser } : {}),
                enableScriptSecurity: view.enableScriptSecurity,
                self: deps.self ?? agentSelf(),
              },
              getent,
            );
      cache.set(key, found);
    }
    return found;
  };
}
