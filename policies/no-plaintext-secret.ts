import type { PolicyContext, Rule, Violation } from '../src/policy/rule.ts';

// Everything in the repository is read by every clone, CI log and reviewer. The message
// deliberately does not repeat the value: a diagnostic is printed and stored too.

export const noPlaintextSecret: Rule = {
  id: 'no-plaintext-secret',
  severity: 'error',
  description: 'no password is written in the repository',
  check(ctx: PolicyContext): Violation[] {
    return ctx.instances().flatMap((item) =>
      item.instance.auth?.password === undefined
        ? []
        : [
            {
              file: ctx.cluster,
              path: [...item.path, 'auth', 'password'],
              message:
                'a plaintext password is in Git: remove it (and rotate it), then reference it with ' +
                'auth.secretRef: { env: NAME } or { file: /path/on/node }',
            },
          ],
    );
  },
};
