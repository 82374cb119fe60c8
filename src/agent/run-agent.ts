import type { AddressDriver, AddressEvent } from '../drivers/addresses/address-driver.ts';
import type { HopLimitGuard } from '../drivers/vrrp-socket/hop-limit-guard.ts';
import type { OpenTransport } from '../drivers/vrrp-socket/transport.ts';
import { type NodeView, type ViewInstance, virtualServerKey } from '../model/node-view.ts';
import type { Repository } from '../model/repository.ts';
import { type NotifyEvent, type NotifyScripts, type NotifyState, runNotify } from '../notify/run-notify.ts';
import type { SecurityFs } from '../notify/script-security.ts';
import type { FileTrackerIo } from '../track/file-tracker.ts';
import type { ProcReader } from '../track/process-tracker.ts';
import type { GetEnt, RunAs } from '../track/run-as.ts';
import { type ScriptRunner, spawnRunner } from '../track/run-script.ts';
import { type InstanceStatus, type InstanceTransition, VrrpInstance } from '../vrrp/instance.ts';
import type { Announcer } from '../vrrp/instance-announcer.ts';
import type { Log } from '../vrrp/instance-log.ts';
import type { Clock, Timers } from '../vrrp/instance-timers.ts';
import type { VrrpStateName } from '../vrrp/state-machine.ts';
import { createSyncGroup, type SyncGroup, type SyncMember, syncFaultReason } from '../vrrp/sync-group.ts';
import { primaryAddress } from './primary-address.ts';
import type { LoadBalancer, LoadBalancerDeps, LoadBalancerStatus } from './run-load-balancer.ts';
import { resolveScriptIdentities } from './script-identity.ts';
import { instancePassword, type SecretSources } from './secrets.ts';
import { startTracking, type Trackable, type Tracking } from './trackers.ts';

// The agent: one node's view, run. It starts a VRRP instance per instance of the view and
// connects them to the node (addresses, links) and to whatever brings new revisions.
// Every dependency that touches the kernel or the clock comes in, so the same code runs
// in unit tests against fakes and in the lab against namespaces.
//
// Revisions: a source (SIGHUP on the directory today, the Git loop later) calls
// `applyRevision` with each new repository that passed the gate. A revision that changes
// only load balancing is applied in place (checks kept, real servers added or drained);
// one that changes the VRRP side is not applied at all until hot reload of instances
// lands — a revision is applied whole or not at all — and the agent says so.

export interface AgentDeps {
  openTransport: OpenTransport;
  addresses: AddressDriver;
  announcer?: Announcer;
  clock: Clock;
  timers: Timers;
  log: Log;
  secrets: SecretSources;
  wallClock?: () => number;
  /** Runs track and notify scripts (default: the real one, as the run-as user). */
  runner?: ScriptRunner;
  /** User and group look-ups for script users (default getent). */
  getent?: GetEnt;
  /** For enableScriptSecurity's checks (default the real file system). */
  securityFs?: SecurityFs;
  /** The agent's own identity, the scripts' last resort without script security. */
  self?: RunAs;
  fileIo?: FileTrackerIo;
  procReader?: ProcReader;
  /** The load-balancing dataplanes to choose from; needed when the view has virtual servers. */
  dataplanes?: LoadBalancerDeps['dataplanes'];
  /** Probe environment of the health checks (tests replace MISC probes, file I/O). */
  probeEnv?: LoadBalancerDeps['probeEnv'];
  readSysctl?: LoadBalancerDeps['readSysctl'];
  /** The kernel-side IPv6 hop-limit check for VRRP (installed when an instance speaks IPv6). */
  hopLimitGuard?: HopLimitGuard;
}

export interface AgentStart {
  node: string;
  repository: Repository;
  view: NodeView;
  /** A name for the revision running (a commit, or the directory it was read from). */
  revision: string;
}

export interface AgentStatus {
  node: string;
  revision: string;
  startedAt: string;
  instances: InstanceStatus[];
  /** Present when the node runs virtual servers. */
  loadBalancer?: LoadBalancerStatus;
  /** Present when an instance speaks IPv6: whether off-link adverts are dropped by the kernel. */
  ipv6HopLimitCheck?: { installed: boolean; message?: string };
}

/** A revision that passed the gate (schema, references, policies) and the node's view of it. */
export interface GatedRevision {
  repository: Repository;
  view: NodeView;
}

/** Anything that produces new gated desired states: SIGHUP on the directory, the Git loop, a webhook. */
export interface RevisionSource {
  subscribe(onRevision: (next: GatedRevision, revision: string) => void): () => void;
}

export interface Agent {
  readonly instances: readonly VrrpInstance[];
  status(): AgentStatus;
  /** Applies a gated revision; resolves with what happened (also logged). */
  applyRevision(next: GatedRevision, revision: string): Promise<RevisionOutcome>;
  /** Make-before-break stop of every instance; resolves when every VIP is released. */
  stop(): Promise<void>;
  /** Silent exit without touching VIPs (a second signal, or a test simulating a crash). */
  abandon(): Promise<void>;
}

export type RevisionOutcome =
  | { applied: true; revision: string }
  | { applied: false; revision: string; reason: string };

export type AgentResult = { ok: true; agent: Agent } | { ok: false; message: string };

export async function runAgent(start: AgentStart, deps: AgentDeps): Promise<AgentResult> {
  const { view, node } = start;
  const wall = deps.wallClock ?? Date.now;
  const startedAt = new Date(wall()).toISOString();

  let live: Awaited<ReturnType<AddressDriver['list']>>;
  let links: Awaited<ReturnType<AddressDriver['links']>>;
  try {
    [live, links] = await Promise.all([deps.addresses.list(), deps.addresses.links()]);
  } catch (e) {
    return { ok: false, message: `cannot read the node's addresses and links: ${errorText(e)}` };
  }

  // Scripts' identities (and, with enableScriptSecurity, their safety) before anything starts.
  const identities = await resolveScriptIdentities(view, {
    ...(deps.getent ? { getent: deps.getent } : {}),
    ...(deps.securityFs ? { securityFs: deps.securityFs } : {}),
    ...(deps.self ? { self: deps.self } : {}),
  });
  if (!identities.ok) return { ok: false, message: identities.message };
  const runner = deps.runner ?? spawnRunner;
  const notifyRunAs = identities.ids.notifyRunAs;
  const notifying = new Set<Promise<unknown>>();
  const notifyEvent = (scripts: NotifyScripts, event: NotifyEvent, subject: Record<string, string>) => {
    const done = runNotify(scripts, event, {
      runner,
      ...(notifyRunAs ? { runAs: notifyRunAs } : {}),
      log: (l) => {
        const failed = l.kind === 'error' || (l.kind === 'result' && !isSuccess(l.result));
        deps.log({
          level: l.kind === 'stdout' || l.kind === 'stderr' ? 'debug' : failed ? 'warn' : 'info',
          event: 'notify',
          ...subject,
          reason: l.script,
          state: l.event.state,
          kind: l.kind,
          message: l.text,
        });
      },
    }).done;
    notifying.add(done);
    done.finally(() => notifying.delete(done));
  };
  const groups = new Map<string, SyncGroup>();
  const notifyOn = (v: ViewInstance) => (t: InstanceTransition) => {
    if (v.syncGroup !== undefined) groups.get(v.syncGroup)?.transition(v.name, t);
    const state = notifyState(t.to);
    if (state === undefined) return;
    notifyEvent(
      v.notify,
      { type: 'INSTANCE', name: v.name, state, priority: t.priority },
      { instance: v.name },
    );
  };

  // Every instance is checked before any starts: a half-started node would hold some VIPs
  // and not others for a reason only the log explains.
  const prepared: VrrpInstance[] = [];
  for (const v of view.instances) {
    const address = primaryAddress(v, live);
    if (!address.ok) return { ok: false, message: address.message };
    const password = instancePassword(v, start.repository.cluster.doc, deps.secrets);
    if (!password.ok) return { ok: false, message: password.message };
    prepared.push(
      new VrrpInstance({
        view: v,
        address: address.address,
        openTransport: deps.openTransport,
        addresses: deps.addresses,
        ...(deps.announcer ? { announcer: deps.announcer } : {}),
        clock: deps.clock,
        timers: deps.timers,
        log: deps.log,
        ...(password.password !== undefined ? { password: password.password } : {}),
        wallClock: wall,
        onTransition: notifyOn(v),
      }),
    );
  }

  // Sync groups, and the one door through which the node's faults reach an instance, so
  // that its group hears of every change to the faults that are its own.
  const byName = new Map(prepared.map((i) => [i.name, i]));
  for (const g of view.syncGroups) {
    const members = g.instances.flatMap((n) => {
      const inst = byName.get(n);
      return inst ? [syncMember(inst)] : [];
    });
    if (members.length === 0) continue;
    groups.set(
      g.name,
      createSyncGroup(g.name, members, {
        log: deps.log,
        onGroupState: (state) => {
          const ns = notifyState(state);
          if (ns !== undefined)
            notifyEvent(g.notify, { type: 'GROUP', name: g.name, state: ns, priority: 0 }, { group: g.name });
        },
      }),
    );
  }
  const faultDoor = new Map<VrrpInstance, Trackable>();
  view.instances.forEach((v, i) => {
    const inst = prepared[i];
    if (!inst) return;
    const group = v.syncGroup !== undefined ? groups.get(v.syncGroup) : undefined;
    const report = () =>
      group?.ownFault(
        v.name,
        inst.status().faults.some((f) => f !== syncFaultReason(group.name)),
      );
    faultDoor.set(inst, {
      setPriority: (p) => inst.setPriority(p),
      fault: (r) => {
        inst.fault(r);
        report();
      },
      clearFault: (r) => {
        inst.clearFault(r);
        report();
      },
    });
  });
  const door = (inst: VrrpInstance): Trackable => faultDoor.get(inst) ?? inst;

  // Load balancing before any instance starts: a dataplane the kernel refuses stops the
  // agent here, with nothing half-started.
  let lb: LoadBalancer | undefined;
  if (view.virtualServers.length > 0) {
    if (!deps.dataplanes)
      return { ok: false, message: 'virtual servers need a dataplane, and none was given' };
    const docs = virtualServerDocs(start.repository, view);
    // Loaded only by nodes that balance: a VRRP-only agent does not carry checkers and drivers.
    const { startLoadBalancer } = await import('./run-load-balancer.ts');
    const started = await startLoadBalancer(view, docs, {
      dataplanes: deps.dataplanes,
      clock: deps.clock,
      timers: deps.timers,
      log: deps.log,
      wallClock: wall,
      runner,
      ...(notifyRunAs ? { scriptRunAs: notifyRunAs } : {}),
      ...(deps.probeEnv ? { probeEnv: deps.probeEnv } : {}),
      ...(deps.readSysctl ? { readSysctl: deps.readSysctl } : {}),
    });
    if (!started.ok) return { ok: false, message: started.message };
    lb = started.lb;
  }

  // keepalived tracks the instance's own interface unless dont_track_primary: a link that
  // is down or has lost its carrier is a fault, not a reason to become master.
  const tracked = new Map<string, VrrpInstance[]>();
  view.instances.forEach((v: ViewInstance, i) => {
    const inst = prepared[i];
    if (!inst || v.flags.dontTrackPrimary) return;
    tracked.set(v.interface, [...(tracked.get(v.interface) ?? []), inst]);
  });
  const linkFault = (ifname: string) => `interface ${ifname} down`;
  for (const [ifname, insts] of tracked) {
    const link = links.find((l) => l.name === ifname);
    if (link !== undefined && !link.up) for (const inst of insts) door(inst).fault(linkFault(ifname));
  }
  let tracking: Tracking | undefined;
  const onEvent = (ev: AddressEvent) => {
    if (ev.kind === 'address-removed') {
      for (const inst of prepared) inst.addressRemoved(ev.address.ifname, ev.address.address);
    } else if (ev.kind === 'link-up' || ev.kind === 'link-down') {
      tracking?.link(ev.link.name, ev.kind === 'link-up');
      for (const inst of tracked.get(ev.link.name) ?? []) {
        if (ev.kind === 'link-down') door(inst).fault(linkFault(ev.link.name));
        else door(inst).clearFault(linkFault(ev.link.name));
      }
    } else if (ev.kind === 'overflow') {
      // Some link change may have been lost: ask the kernel again.
      deps.addresses.links().then(
        (now) => {
          for (const l of now) tracking?.link(l.name, l.up);
          for (const l of now)
            for (const inst of tracked.get(l.name) ?? []) {
              if (l.up) door(inst).clearFault(linkFault(l.name));
              else door(inst).fault(linkFault(l.name));
            }
        },
        (e: unknown) => deps.log({ level: 'error', event: 'links-error', message: errorText(e) }),
      );
    }
  };
  const unsubscribe = deps.addresses.subscribe(onEvent);

  // IPv6 adverts' hop limit is invisible to our sockets: the kernel checks it for us.
  let hopCheck: AgentStatus['ipv6HopLimitCheck'];
  const guard = view.instances.some((v) => v.family === 6) ? deps.hopLimitGuard : undefined;
  if (guard) {
    const r = await guard.install();
    hopCheck = r.ok ? { installed: true } : { installed: false, message: r.message };
    if (!r.ok) deps.log({ level: 'warn', event: 'hop-limit-check-missing', message: r.message });
  }

  const started: VrrpInstance[] = [];
  for (const inst of prepared) {
    try {
      await inst.start();
      started.push(inst);
    } catch (e) {
      unsubscribe();
      // Nothing has had time to become master: these stop at once, without a VIP to release.
      await Promise.all(started.map((s) => s.stop()));
      await lb?.stop({ clear: true });
      return { ok: false, message: `instance ${inst.name}: ${errorText(e)}` };
    }
  }

  // One tracker per referenced script, file, process, shared by the instances weighing it.
  try {
    tracking = startTracking(
      view,
      view.instances.flatMap((v, i) => {
        const inst = prepared[i];
        return inst ? [{ view: v, inst: door(inst) }] : [];
      }),
      {
        timers: deps.timers,
        runner,
        log: deps.log,
        scriptRunAs: identities.ids.scriptRunAs,
        ...(deps.fileIo ? { fileIo: deps.fileIo } : {}),
        ...(deps.procReader ? { procReader: deps.procReader } : {}),
      },
    );
  } catch (e) {
    unsubscribe();
    await Promise.all(started.map((s) => s.stop()));
    await lb?.stop({ clear: true });
    return { ok: false, message: errorText(e) };
  }
  const trackedLinks = new Set(
    [...view.instances, ...view.syncGroups].flatMap((v) => v.track.interfaces.map((t) => t.name)),
  );
  for (const name of trackedLinks) tracking.link(name, links.find((l) => l.name === name)?.up ?? false);
  const running = tracking;

  deps.log({
    level: 'info',
    event: 'agent-started',
    node,
    revision: start.revision,
    instances: view.instances.map((i) => i.name),
  });

  let stopping: Promise<void> | undefined;
  let current = start.revision;
  let currentView = view;
  const agent: Agent = {
    instances: started,
    status: () => ({
      node,
      revision: current,
      startedAt,
      instances: started.map((i) => i.status()),
      ...(lb ? { loadBalancer: lb.status() } : {}),
      ...(hopCheck ? { ipv6HopLimitCheck: hopCheck } : {}),
    }),
    applyRevision: async (next, revision) => {
      const refuse = (reason: string): RevisionOutcome => {
        deps.log({ level: 'warn', event: 'revision-refused', revision, running: current, message: reason });
        return { applied: false, revision, reason };
      };
      if (stopping) return refuse('the agent is stopping');
      if (vrrpPart(next.view) !== vrrpPart(currentView))
        return refuse(
          'it changes VRRP instances, sync groups or trackers: that is applied by restarting the agent until hot reload of instances lands; nothing was changed',
        );
      const docs = virtualServerDocs(next.repository, next.view);
      if (lb === undefined && next.view.virtualServers.length > 0)
        return refuse('it adds the first virtual servers of this node: that takes a restart of the agent');
      if (lb !== undefined) {
        if (next.view.virtualServers.length === 0)
          return refuse('it removes every virtual server of this node: that takes a restart of the agent');
        const r = await lb.applyView(next.view, docs);
        if (!r.ok) return refuse(r.message);
      }
      current = revision;
      currentView = next.view;
      deps.log({ level: 'info', event: 'revision-applied', revision });
      return { applied: true, revision };
    },
    stop: () => {
      stopping ??= (async () => {
        deps.log({ level: 'info', event: 'agent-stopping', node });
        unsubscribe();
        await running.stop();
        await Promise.all(started.map((i) => i.stop()));
        // keepalived removes its virtual servers when it stops; so do we, after the VIPs.
        await lb?.stop({ clear: true });
        if (hopCheck?.installed) await guard?.remove();
        // The STOP notify scripts (bounded by their timeout) finish before we say stopped.
        await Promise.all(notifying);
        deps.log({ level: 'info', event: 'agent-stopped', node });
      })();
      return stopping;
    },
    abandon: async () => {
      unsubscribe();
      await running.stop();
      await Promise.all(started.map((i) => i.abandon()));
      await lb?.stop({ clear: false });
    },
  };
  return { ok: true, agent };
}

/** The repository's documents of the virtual servers a view runs. */
function virtualServerDocs(repository: Repository, view: NodeView) {
  const mine = new Set(view.virtualServers.map((v) => v.key));
  return (repository.cluster.doc.virtualServers ?? []).filter((vs) => mine.has(virtualServerKey(vs)));
}

/** Everything of a view the VRRP side runs from: equal text, nothing for VRRP to change. */
function vrrpPart(view: NodeView): string {
  const { virtualServers, virtualServerGroups, dataplane, ...vrrp } = view;
  return JSON.stringify(vrrp);
}

/** Connects a revision source to an agent; returns the function that disconnects it. */
export function followRevisions(agent: Agent, source: RevisionSource): () => void {
  return source.subscribe((next, revision) => void agent.applyRevision(next, revision));
}

/** The notify state for a transition's target; none for Stopping (STOP follows when it ends). */
function notifyState(to: VrrpStateName): NotifyState | undefined {
  switch (to) {
    case 'Master':
      return 'MASTER';
    case 'Backup':
      return 'BACKUP';
    case 'Fault':
      return 'FAULT';
    case 'Initialize':
      return 'STOP';
    case 'Stopping':
      return undefined;
  }
}

/** What a sync group needs of an instance. */
function syncMember(inst: VrrpInstance): SyncMember {
  return {
    name: inst.name,
    state: () => inst.status().state,
    syncMaster: () => inst.syncMaster(),
    syncBackup: () => inst.syncBackup(),
    fault: (r) => inst.fault(r),
    clearFault: (r) => inst.clearFault(r),
  };
}

const isSuccess = (r: { kind: string; code?: number } | undefined): boolean =>
  r?.kind === 'exit' && r.code === 0;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
