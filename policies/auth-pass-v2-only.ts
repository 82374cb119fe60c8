import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// RFC 5798 (VRRPv3) has no authentication field; keepalived reports auth on a v3 instance
// as a configuration error and drops it. An error rather than a warning: a reviewer who
// reads "auth: PASS" believes adverts are authenticated, and on the wire they are not.

export const authPassV2Only: Rule = {
  id: 'auth-pass-v2-only',
  severity: 'error',
  description: 'auth is only used with VRRPv2',
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      if (!item.instance.auth) continue;
      const node = item.nodes[0];
      const mine =
        node === undefined ? undefined : ctx.view(node).instances.find((i) => i.name === item.instance.name);
      if (mine?.version !== 3) continue;
      out.push({
        file: ctx.cluster,
        path: [...item.path, 'auth'],
        message:
          'VRRPv3 has no authentication (RFC 5798 removed it) and the auth would be ignored: remove auth, ' +
          'or set version: 2 if the peers require PASS',
      });
    }
    return out;
  },
};
