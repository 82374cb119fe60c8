import type { Change, FieldChange, NodePlan, Plan, PlanSummary } from './plan-types.ts';
import { summarize } from './plan-types.ts';

// A plan as a reviewer reads it in a pull request comment: plain text shaped like a diff
// (+ added, - removed, ~ changed), what is disruptive marked with "!", a count per node
// and overall. The Markdown variant wraps the same lines in ```diff blocks so GitHub and
// GitLab colour them. The JSON variant is the Plan itself with a fixed key order.

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatSummary(s: PlanSummary): string {
  return `${plural(s.nodes, 'node')}, ${plural(s.changes, 'change')}, ${s.disruptive} disruptive`;
}

const shown = (v: string | null): string => v ?? '(none)';

function fieldLine(op: Change['op'], f: FieldChange): string {
  if (op === '+') return `    ${f.field}: ${shown(f.to)}`;
  if (op === '-') return `    ${f.field}: ${shown(f.from)}`;
  return `    ${f.field}: ${shown(f.from)} → ${shown(f.to)}`;
}

/**
 * Lines of one change. Hitless reasons are left out under a node that is added or
 * removed as a whole: there everything is new (or gone) and the node line says so.
 */
export function changeLines(c: Change, wholeNode: boolean): string[] {
  const lines = [`${c.op} ${c.target}`, ...(c.fields ?? []).map((f) => fieldLine(c.op, f))];
  if (c.disruptive) lines.push(`  ! disruptive: ${c.reason ?? 'see the change above'}`);
  else if (c.reason && !wholeNode) lines.push(`  hitless: ${c.reason}`);
  return lines;
}

function nodeHeader(n: NodePlan): string {
  const s = summarize([n]);
  const disruptive = s.disruptive > 0 ? `, ${s.disruptive} disruptive` : '';
  return `node ${n.node} (${n.status}): ${plural(s.changes, 'change')}${disruptive}`;
}

function nodeBody(n: NodePlan): string[] {
  const whole = n.status === 'added' || n.status === 'removed';
  return n.changes.flatMap((c) => changeLines(c, whole));
}

const unchangedNodes = (plan: Plan): string[] =>
  plan.nodes.filter((n) => n.changes.length === 0).map((n) => n.node);

/** What was compared, for the first line: a directory, or a revision and its commit. */
export interface PlanLabels {
  from?: string;
  to?: string;
}

const compared = (l: PlanLabels): string | undefined =>
  l.from !== undefined && l.to !== undefined ? `${l.from} → ${l.to}` : undefined;

export function renderPlan(plan: Plan, labels: PlanLabels = {}): string {
  const title = compared(labels);
  const lines: string[] = title ? [`plan ${title}`, ''] : [];
  for (const n of plan.nodes) {
    if (n.changes.length === 0) continue;
    lines.push(nodeHeader(n), ...nodeBody(n), '');
  }
  const same = unchangedNodes(plan);
  if (same.length > 0) lines.push(`unchanged: ${same.join(', ')}`, '');
  const s = summarize(plan.nodes);
  lines.push(s.changes === 0 ? `No changes. ${formatSummary(s)}` : formatSummary(s));
  return lines.join('\n');
}

export function renderPlanMarkdown(plan: Plan, labels: PlanLabels = {}): string {
  const s = summarize(plan.nodes);
  const title = compared(labels);
  const lines = [`### keepgit plan: ${formatSummary(s)}`, ''];
  if (title) lines.push(`\`${title}\``, '');
  if (s.disruptive > 0) {
    lines.push(
      `> [!WARNING]`,
      `> ${plural(s.disruptive, 'disruptive change')}: see the lines marked \`!\`.`,
      '',
    );
  }
  for (const n of plan.nodes) {
    if (n.changes.length === 0) continue;
    lines.push(`#### ${nodeHeader(n)}`, '', '```diff', ...nodeBody(n), '```', '');
  }
  const same = unchangedNodes(plan);
  if (same.length > 0) lines.push(`Unchanged: ${same.join(', ')}`, '');
  if (s.changes === 0) lines.push('No changes.', '');
  return lines.join('\n').trimEnd();
}

/** The Plan as JSON, keys in a fixed order whatever order the objects were built in. */
export function renderPlanJson(plan: Plan): string {
  const ordered = {
    nodes: plan.nodes.map((n) => ({
      node: n.node,
      status: n.status,
      changes: n.changes.map((c) => ({
        op: c.op,
        kind: c.kind,
        target: c.target,
        ...(c.fields ? { fields: c.fields.map((f) => ({ field: f.field, from: f.from, to: f.to })) } : {}),
        disruptive: c.disruptive,
        ...(c.reason !== undefined ? { reason: c.reason } : {}),
      })),
    })),
  };
  return JSON.stringify(ordered, null, 2);
}
