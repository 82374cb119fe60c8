import { builtinRules } from '../../policies/index.ts';
import { displayPath } from '../config/display-path.ts';
import type { PolicyDoc } from '../model/cluster-schema.ts';
import { type Diagnostic, type Severity, sortDiagnostics } from '../model/diagnostic.ts';
import type { Located, PathSeg, Repository } from '../model/repository.ts';
import { declarativeRule } from './declarative-rule.ts';
import { policyContext } from './policy-context.ts';
import type { Params, Rule, Violation } from './rule.ts';

// The gate every revision passes before it may be applied: built-in rules as the
// repository tuned them, then the repository's own rules. Whatever a rule does, the run
// ends in diagnostics: a rule that throws is reported, never propagated.

/** Code on diagnostics about the policy documents themselves rather than the desired state. */
export const POLICY_CONFIG = 'policy-config';

interface Configured {
  rule: Rule;
  severity: Severity;
  params: Params;
  enabled: boolean;
}

const describeType = (v: unknown): string => (Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v);

function toDiagnostic(v: Violation, severity: Severity, rule: string): Diagnostic {
  const d: Diagnostic = { severity, file: v.file.file, message: v.message, rule };
  const pos = v.file.locate(v.path);
  if (pos) {
    d.line = pos.line;
    d.col = pos.col;
  }
  const path = displayPath(v.file.doc, v.path);
  if (path) d.path = path;
  return d;
}

const configError = (file: Located<PolicyDoc>, path: PathSeg[], message: string): Diagnostic =>
  toDiagnostic({ file, path, message }, 'error', POLICY_CONFIG);

/** Applies `builtin:` overrides from every policy file, in order; a later file wins. */
function configure(
  repo: Repository,
  builtin: readonly Rule[],
  declared: ReadonlySet<string>,
  out: Diagnostic[],
): Configured[] {
  const configured = new Map<string, Configured>(
    builtin.map((rule) => [
      rule.id,
      { rule, severity: rule.severity, params: { ...rule.params }, enabled: true },
    ]),
  );
  const known = () => [...configured.keys()].sort().join(', ');
  for (const file of repo.policies) {
    for (const [id, over] of Object.entries(file.doc.builtin ?? {})) {
      const c = configured.get(id);
      if (!c) {
        out.push(
          configError(
            file,
            ['builtin', id],
            declared.has(id)
              ? `"${id}" is one of this repository's own rules: change its severity under rules, not builtin`
              : `no built-in rule is called "${id}": use one of ${known()}`,
          ),
        );
        continue;
      }
      if (over.enabled !== undefined) c.enabled = over.enabled;
      if (over.severity !== undefined) c.severity = over.severity;
      const defaults: Params = c.rule.params ?? {};
      for (const [key, value] of Object.entries(over.params ?? {})) {
        const at: PathSeg[] = ['builtin', id, 'params', key];
        const fallback = defaults[key];
        if (fallback === undefined) {
          const takes = Object.keys(defaults);
          out.push(
            configError(
              file,
              at,
              takes.length === 0
                ? `rule ${id} takes no params: remove params`
                : `rule ${id} has no param "${key}": use one of ${takes.join(', ')}`,
            ),
          );
        } else if (typeof value !== typeof fallback) {
          out.push(
            configError(
              file,
              at,
              `param ${key} of rule ${id} expects a ${typeof fallback}, got ${describeType(value)}`,
            ),
          );
        } else {
          c.params = { ...c.params, [key]: value as typeof fallback };
        }
      }
    }
  }
  return [...configured.values()];
}

/** The repository's own rules, each checked for mistakes of its own first. */
function declare(repo: Repository, builtinIds: ReadonlySet<string>, out: Diagnostic[]): Rule[] {
  const rules: Rule[] = [];
  const seen = new Map<string, string>();
  for (const file of repo.policies) {
    (file.doc.rules ?? []).forEach((spec, index) => {
      const idPath: PathSeg[] = ['rules', index, 'id'];
      if (builtinIds.has(spec.id)) {
        out.push(configError(file, idPath, `"${spec.id}" is a built-in rule: give this rule another id`));
        return;
      }
      const earlier = seen.get(spec.id);
      if (earlier !== undefined) {
        out.push(
          configError(file, idPath, `rule id "${spec.id}" is already used in ${earlier}: ids must be unique`),
        );
        return;
      }
      seen.set(spec.id, file.file);
      const compiled = declarativeRule(file, index);
      for (const p of compiled.problems) out.push(toDiagnostic(p, 'error', POLICY_CONFIG));
      if (compiled.rule) rules.push(compiled.rule);
    });
  }
  return rules;
}

const key = (d: Diagnostic): string =>
  JSON.stringify([d.file, d.line, d.col, d.path, d.rule, d.severity, d.message]);

/** Every policy finding for a repository, sorted by file and position. */
export function runPolicies(repo: Repository, builtin: readonly Rule[] = builtinRules): Diagnostic[] {
  const out: Diagnostic[] = [];
  const declaredIds = new Set(repo.policies.flatMap((p) => (p.doc.rules ?? []).map((r) => r.id)));
  const builtinIds = new Set(builtin.map((r) => r.id));
  const configured = configure(repo, builtin, declaredIds, out);
  const declared = declare(repo, builtinIds, out);
  const ctx = policyContext(repo);
  const runs: Configured[] = [
    ...configured.filter((c) => c.enabled),
    ...declared.map((rule) => ({ rule, severity: rule.severity, params: {}, enabled: true })),
  ];
  for (const { rule, severity, params } of runs) {
    try {
      out.push(...rule.check(ctx, params).map((v) => toDiagnostic(v, severity, rule.id)));
    } catch (e) {
      // A broken rule must not let a revision through unchecked, nor crash the agent.
      out.push({
        severity: 'error',
        file: repo.cluster.file,
        message: `policy ${rule.id} failed: ${e instanceof Error ? e.message : String(e)}`,
        rule: rule.id,
      });
    }
  }
  const unique = [...new Map(out.map((d) => [key(d), d])).values()];
  // Ties in position (an in-memory repository has none) fall back to path, rule and text.
  unique.sort(
    (a, b) =>
      (a.path ?? '').localeCompare(b.path ?? '') ||
      (a.rule ?? '').localeCompare(b.rule ?? '') ||
      a.message.localeCompare(b.message),
  );
  return sortDiagnostics(unique);
}
