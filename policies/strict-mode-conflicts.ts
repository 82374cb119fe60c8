import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// vrrp_strict (strict: true) makes keepalived refuse or silently drop settings that
// RFC 5798 does not allow. keepgit follows keepalived, so a strict instance that also
// asks for one of them does not do what the repository says: say so before it runs.
// (From keepalived.conf(5), vrrp_strict.)

export const strictModeConflicts: Rule = {
  id: 'strict-mode-conflicts',
  severity: 'warn',
  description:
    'a strict instance asks for something strict mode drops (auth, unicast, preemptDelay, MASTER below 255, accept with v2)',
  check(ctx: PolicyContext): Violation[] {
    const out: Violation[] = [];
    for (const item of ctx.instances()) {
      for (const node of item.nodes) {
        const v = ctx.view(node).instances.find((i) => i.name === item.instance.name);
        if (!v?.flags.strict) continue;
        const say = (field: string, what: string) =>
          out.push({
            file: ctx.cluster,
            path: [...item.path, field],
            message: `strict mode (vrrp_strict) ${what}; drop the setting or turn strict off`,
          });
        if (v.auth) say('auth', 'does not support authentication: keepalived ignores it');
        if (v.unicast) say('unicast', 'does not allow unicast peers');
        if (v.preemptDelayMs > 0) say('preemptDelay', 'does not support a preempt delay');
        if (v.state === 'MASTER' && v.priority !== 255)
          say('state', `allows state MASTER only with priority 255 (${node} has ${v.priority})`);
        if (v.flags.acceptVips && v.version === 2)
          say('acceptVips', 'does not allow accept mode with VRRPv2');
      }
    }
    return out;
  },
};
