import type { LiveAddress } from '../drivers/addresses/address-driver.ts';
import type { ClusterDoc } from '../model/cluster-schema.ts';
import type { NodeView, ViewInstance } from '../model/node-view.ts';
import { parseScript } from '../track/argv.ts';
import { diffInstances, transportChanged } from '../vrrp/instance-changes.ts';
import { machineConfig, machineConfigProblem } from '../vrrp/machine-config.ts';
import { primaryAddress } from './primary-address.ts';
import { instancePassword, type SecretSources } from './secrets.ts';

// What a new revision does to the node's VRRP instances, decided before anything moves: a
// revision is applied whole or refused whole, so everything that can refuse it (an
// interface without an address to speak from, a secret that cannot be read, a script that
// does not parse) is found here. The source address and the password are part of an
// instance's identity like its VRID: a new one re-creates the instance even when the view
// reads the same (a new value behind the same secretRef, an address moved on the node).

/** What an instance runs from besides its view. */
export interface InstanceRuntime {
  view: ViewInstance;
  /** The advert's source address. */
  address: string;
  password: string | undefined;
}

export interface InstanceReloadPlan {
  added: InstanceRuntime[];
  removed: string[];
  recreated: (InstanceRuntime & { fields: string[] })[];
  /** Applied in place; `reopen` when the transport must be opened again (unicast peers). */
  changed: (InstanceRuntime & { fields: string[]; reopen: boolean })[];
  unchanged: string[];
}

export type InstanceReloadResult = { ok: true; plan: InstanceReloadPlan } | { ok: false; message: string };

export function planInstanceReload(
  running: readonly InstanceRuntime[],
  next: NodeView,
  cluster: ClusterDoc,
  live: readonly LiveAddress[],
  secrets: SecretSources,
): InstanceReloadResult {
  const byName = new Map(running.map((r) => [r.view.name, r]));
  const diff = diffInstances(
    running.map((r) => r.view),
    next.instances,
  );
  const runtime = (v: ViewInstance): { ok: true; rt: InstanceRuntime } | { ok: false; message: string } => {
    const address = primaryAddress(v, live);
    if (!address.ok) return address;
    const password = instancePassword(v, cluster, secrets);
    if (!password.ok) return password;
    const problem = machineConfigProblem(machineConfig(v, address.address));
    if (problem !== undefined) return { ok: false, message: `instance ${v.name}: ${problem}` };
    return { ok: true, rt: { view: v, address: address.address, password: password.password } };
  };

  const plan: InstanceReloadPlan = { added: [], removed: [], recreated: [], changed: [], unchanged: [] };
  for (const v of diff.added) {
    const r = runtime(v);
    if (!r.ok) return r;
    plan.added.push(r.rt);
  }
  plan.removed = diff.removed.map((v) => v.name);
  for (const k of diff.kept) {
    const old = byName.get(k.next.name);
    const r = runtime(k.next);
    if (!r.ok) return r;
    if (old === undefined) continue; // paired by name: cannot happen
    const fields = k.change.kind === 'unchanged' ? [] : [...k.change.fields];
    const forced = k.change.kind === 'recreated' ? [...k.change.fields] : [];
    if (r.rt.address !== old.address && !forced.includes('unicast.source')) forced.push('source address');
    if (r.rt.password !== old.password) forced.push('auth');
    if (forced.length > 0) plan.recreated.push({ ...r.rt, fields: [...new Set(forced)] });
    else if (fields.length > 0)
      plan.changed.push({ ...r.rt, fields, reopen: transportChanged(k.running, k.next) });
    else plan.unchanged.push(k.next.name);
  }

  // Trackers start after the instances changed: a script that cannot run must refuse now.
  const referenced = new Set(
    [...next.instances, ...next.syncGroups].flatMap((v) => v.track.scripts.map((t) => t.name)),
  );
  for (const s of next.scripts) {
    if (!referenced.has(s.name)) continue;
    const command = parseScript(s.script);
    if ('error' in command) return { ok: false, message: `vrrp_script ${s.name}: ${command.error}` };
  }
  return { ok: true, plan };
}
