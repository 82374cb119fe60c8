import type { DriftItem } from '../api/node-status.ts';
import type { AddressDriver, AddressEvent, Vip } from '../drivers/addresses/address-driver.ts';
import type { HopLimitGuard } from '../drivers/vrrp-socket/hop-limit-guard.ts';
import type { OpenTransport, Transport } from '../drivers/vrrp-socket/transport.ts';
import { type NodeView, virtualServerKey } from '../model/node-view.ts';
import type { Repository } from '../model/repository.ts';
import { type NotifyEvent, type NotifyScripts, type NotifyState, runNotify } from '../notify/run-notify.ts';
import type { SecurityFs } from '../notify/script-security.ts';
import { addressDrift, addressKey } from '../reconcile/address-drift.ts';
import type { ApplyJournal } from '../reconcile/apply-journal.ts';
import { cleanLeftovers } from '../reconcile/clean-leftovers.ts';
import { journalAddresses } from '../reconcile/journal-addresses.ts';
import type { FileTrackerIo } from '../track/file-tracker.ts';
import type { ProcReader } from '../track/process-tracker.ts';
import type { GetEnt, RunAs } from '../track/run-as.ts';
import { type ScriptRunner, spawnRunner } from '../track/run-script.ts';
import { type InstanceStatus, transportOptions, type VipWork, VrrpInstance } from '../vrrp/instance.ts';
import type { Announcer } from '../vrrp/instance-announcer.ts';
import type { Log } from '../vrrp/instance-log.ts';
import type { Clock, Timers } from '../vrrp/instance-timers.ts';
import type { VrrpStateName } from '../vrrp/state-machine.ts';
import { createSyncGroup, type SyncGroup, type SyncMember, syncFaultReason } from '../vrrp/sync-group.ts';
import { DEFAULT_RESYNC_MS, type DriftWatch, startDriftWatch } from './drift-watch.ts';
import { type InstanceRuntime, planInstanceReload } from './plan-instance-reload.ts';
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
// `applyRevision` with each new repository that passed the gate. Load balancing is applied
// in place (checks kept, real servers added or drained). The VRRP side is hot reloaded:
// instances the revision does not touch are left alone (no call reaches them), new ones
// start, removed ones stop make-before-break, changed ones take the change running where
// the protocol allows (VIPs, priority, timers, scripts, peers) and are otherwise stopped
// and started again (plan-instance-reload.ts decides). Everything that could refuse the
// revision is checked, and new sockets opened, before anything changes: a revision is
// applied whole or refused whole.

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
  /** Heal drift (a VIP deleted or added by hand, a dataplane changed behind our back); default true. */
  selfHeal?: boolean;
  /** How often drift is looked for besides address events, ms (default 30 s). */
  resyncMs?: number;
  /**
   * Where an apply names the addresses it may touch before it touches any, so that the next
   * start can clean up after a kill -9 (default: none kept).
   */
  journal?: ApplyJournal;
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
  /** Live state that differs from what the desired state and the VRRP facts require, now. */
  drift(): DriftItem[];
}

export type RevisionOutcome =
  | { applied: true; revision: string }
  | { applied: false; revision: string; reason: string };

export type AgentResult = { ok: true; agent: Agent } | { ok: false; message: string };

/** One running instance and what the agent keeps beside it. */
interface Entry extends InstanceRuntime {
  inst: VrrpInstance;
  /** The one door through which the node's faults and the trackers reach the instance. */
  door: Trackable;
  /** Replaced or removed by a revision: its last transitions no longer speak for the name. */
  retired: boolean;
}

export async function runAgent(start: AgentStart, deps: AgentDeps): Promise<AgentResult> {
  const { view, node } = start;
  const wall = deps.wallClock ?? Date.now;
  const startedAt = new Date(wall()).toISOString();

  // Before the node is read: what a killed apply left is not the node's.
  if (deps.journal) await cleanLeftovers(deps.journal, node, deps.addresses, deps.log);

  let live: Awaited<ReturnType<AddressDriver['list']>>;
  let links: Awaited<ReturnType<AddressDriver['links']>>;
  try {
    [live, links] = await Promise.all([deps.addresses.list(), deps.addresses.links()]);
  } catch (e) {
    return { ok: false, message: `cannot read the node's addresses and links: ${errorText(e)}` };
  }

  // Scripts' identities (and, with enableScriptSecurity, their safety) before anything starts.
  const identityDeps = {
    ...(deps.getent ? { getent: deps.getent } : {}),
    ...(deps.securityFs ? { securityFs: deps.securityFs } : {}),
    ...(deps.self ? { self: deps.self } : {}),
  };
  const identities = await resolveScriptIdentities(view, identityDeps);
  if (!identities.ok) return { ok: false, message: identities.message };
  const runner = deps.runner ?? spawnRunner;
  let notifyRunAs = identities.ids.notifyRunAs;
  // The trackers read their users from this map: a revision refills it in place.
  const scriptRunAs = new Map(identities.ids.scriptRunAs);
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

  let currentView = view;
  let currentRepository = start.repository;
  let entries: Entry[] = [];
  const groups = new Map<string, { group: SyncGroup; members: VrrpInstance[] }>();
  const groupOf = (e: Entry) =>
    e.view.syncGroup !== undefined ? groups.get(e.view.syncGroup)?.group : undefined;

  // Notify scripts and sync groups are read from the entry's view when a transition
  // happens, so that a revision that changes them needs nothing else.
  // Started once the instances run; instances tell it what they hear and do.
  let drift: DriftWatch | undefined;
  const newEntry = (rt: InstanceRuntime): Entry => {
    let self: Entry | undefined;
    const inst = new VrrpInstance({
      view: rt.view,
      address: rt.address,
      openTransport: deps.openTransport,
      addresses: deps.addresses,
      ...(deps.announcer ? { announcer: deps.announcer } : {}),
      clock: deps.clock,
      timers: deps.timers,
      log: deps.log,
      ...(rt.password !== undefined ? { password: rt.password } : {}),
      wallClock: wall,
      onAdvert: (h) => drift?.advertHeard(inst, h),
      onTransition: (t) => {
        drift?.instancesChanged();
        const v = self?.view ?? rt.view;
        if (self && !self.retired) groupOf(self)?.transition(v.name, t);
        const state = notifyState(t.to);
        if (state === undefined) return;
        notifyEvent(
          v.notify,
          { type: 'INSTANCE', name: v.name, state, priority: t.priority },
          { instance: v.name },
        );
      },
    });
    // Each change to the instance's own faults is told to its group.
    const report = () => {
      const group = self === undefined || self.retired ? undefined : groupOf(self);
      group?.ownFault(inst.name, ownFaults(inst, group.name));
    };
    const door: Trackable = {
      setPriority: (p) => inst.setPriority(p),
      fault: (r) => {
        inst.fault(r);
        report();
      },
      clearFault: (r) => {
        inst.clearFault(r);
        report();
      },
    };
    self = { ...rt, inst, door, retired: false };
    return self;
  };

  /** Builds the groups of `v` whose members are new or other than before; drops the others. */
  const followGroups = (v: NodeView) => {
    const byName = new Map(entries.map((e) => [e.view.name, e]));
    const wanted = new Set(v.syncGroups.map((g) => g.name));
    for (const [name] of groups)
      if (!wanted.has(name)) {
        groups.delete(name);
        releaseGroupFault(name, new Set());
      }
    for (const g of v.syncGroups) {
      const members = g.instances.flatMap((n) => {
        const e = byName.get(n);
        return e ? [e.inst] : [];
      });
      const had = groups.get(g.name);
      if (had !== undefined && sameList(had.members, members)) continue;
      if (had !== undefined) groups.delete(g.name);
      if (members.length === 0) {
        releaseGroupFault(g.name, new Set());
        continue;
      }
      const group = createSyncGroup(g.name, members.map(syncMember), {
        log: deps.log,
        onGroupState: (state) => {
          const ns = notifyState(state);
          const def = currentView.syncGroups.find((x) => x.name === g.name);
          if (ns !== undefined && def !== undefined)
            notifyEvent(
              def.notify,
              { type: 'GROUP', name: g.name, state: ns, priority: 0 },
              { group: g.name },
            );
        },
      });
      groups.set(g.name, { group, members });
      if (had === undefined) continue;
      // A rebuilt group learns its members' own faults; it holds the others in fault where
      // the old one did (a fault already held is not raised twice), and lets go of the rest.
      const faulty = members.filter((m) => ownFaults(m, g.name)).map((m) => m.name);
      for (const name of faulty) group.ownFault(name, true);
      releaseGroupFault(g.name, new Set(members.filter((m) => faulty.some((f) => f !== m.name))));
    }
  };
  /** Clears a group's fault from every instance but `held`. */
  const releaseGroupFault = (name: string, held: ReadonlySet<VrrpInstance>) => {
    const reason = syncFaultReason(name);
    for (const e of entries)
      if (!held.has(e.inst) && e.inst.status().faults.includes(reason)) e.inst.clearFault(reason);
  };

  // keepalived tracks the instance's own interface unless dont_track_primary: a link that
  // is down or has lost its carrier is a fault, not a reason to become master.
  const linkFault = (ifname: string) => `interface ${ifname} down`;
  const tracksLink = (e: Entry, ifname: string) =>
    !e.view.flags.dontTrackPrimary && e.view.interface === ifname;
  const primaryLink = (e: Entry, now: readonly { name: string; up: boolean }[]) => {
    const reason = linkFault(e.view.interface);
    const link = now.find((l) => l.name === e.view.interface);
    if (!e.view.flags.dontTrackPrimary && link !== undefined && !link.up) e.door.fault(reason);
    else if (e.inst.status().faults.includes(reason)) e.door.clearFault(reason);
  };

  // Every instance is checked before any starts: a half-started node would hold some VIPs
  // and not others for a reason only the log explains.
  for (const v of view.instances) {
    const address = primaryAddress(v, live);
    if (!address.ok) return { ok: false, message: address.message };
    const password = instancePassword(v, start.repository.cluster.doc, deps.secrets);
    if (!password.ok) return { ok: false, message: password.message };
    entries.push(newEntry({ view: v, address: address.address, password: password.password }));
  }
  followGroups(view);

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

  for (const e of entries) primaryLink(e, links);
  let tracking: Tracking | undefined;
  const onEvent = (ev: AddressEvent) => {
    // A VIP deleted by hand on a master, or added on a backup: drift-watch.ts reports and heals.
    if (ev.kind === 'address-removed' || ev.kind === 'address-added') {
      drift?.addressesChanged();
    } else if (ev.kind === 'link-up' || ev.kind === 'link-down') {
      tracking?.link(ev.link.name, ev.kind === 'link-up');
      for (const e of entries) {
        if (!tracksLink(e, ev.link.name)) continue;
        if (ev.kind === 'link-down') e.door.fault(linkFault(ev.link.name));
        else e.door.clearFault(linkFault(ev.link.name));
      }
    } else if (ev.kind === 'overflow') {
      drift?.addressesChanged();
      // Some link change may have been lost: ask the kernel again.
      deps.addresses.links().then(
        (now) => {
          for (const l of now) tracking?.link(l.name, l.up);
          for (const l of now)
            for (const e of entries) {
              if (!tracksLink(e, l.name)) continue;
              if (l.up) e.door.clearFault(linkFault(l.name));
              else e.door.fault(linkFault(l.name));
            }
        },
        (e: unknown) => deps.log({ level: 'error', event: 'links-error', message: errorText(e) }),
      );
    }
  };
  const unsubscribe = deps.addresses.subscribe(onEvent);

  // IPv6 adverts' hop limit is invisible to our sockets: the kernel checks it for us.
  let hopCheck: AgentStatus['ipv6HopLimitCheck'];
  const installGuard = async (v: NodeView) => {
    if (hopCheck?.installed || !deps.hopLimitGuard || !v.instances.some((i) => i.family === 6)) return;
    const r = await deps.hopLimitGuard.install();
    hopCheck = r.ok ? { installed: true } : { installed: false, message: r.message };
    if (!r.ok) deps.log({ level: 'warn', event: 'hop-limit-check-missing', message: r.message });
  };
  await installGuard(view);

  const started: VrrpInstance[] = [];
  for (const { inst } of entries) {
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
  const trackedEntries = () => entries.map((e) => ({ view: e.view, inst: e.door }));
  try {
    tracking = startTracking(view, trackedEntries(), {
      timers: deps.timers,
      runner,
      log: deps.log,
      scriptRunAs,
      ...(deps.fileIo ? { fileIo: deps.fileIo } : {}),
      ...(deps.procReader ? { procReader: deps.procReader } : {}),
    });
  } catch (e) {
    unsubscribe();
    await Promise.all(started.map((s) => s.stop()));
    await lb?.stop({ clear: true });
    return { ok: false, message: errorText(e) };
  }
  for (const name of tracking.links()) tracking.link(name, links.find((l) => l.name === name)?.up ?? false);
  const running = tracking;

  drift = startDriftWatch({
    addresses: deps.addresses,
    clock: deps.clock,
    timers: deps.timers,
    log: deps.log,
    wallClock: wall,
    selfHeal: deps.selfHeal ?? true,
    resyncMs: deps.resyncMs ?? DEFAULT_RESYNC_MS,
    instances: () => entries,
    loadBalancer: () => lb,
  });
  const watch = drift;

  deps.log({
    level: 'info',
    event: 'agent-started',
    node,
    revision: start.revision,
    instances: view.instances.map((i) => i.name),
  });

  let stopping: Promise<void> | undefined;
  let current = start.revision;
  /** Instances a revision removed or replaced, until they have released their VIPs. */
  const retiring = new Set<Promise<void>>();
  const retire = (e: Entry): Promise<void> => {
    e.retired = true;
    const done = e.inst.stop();
    retiring.add(done);
    void done.finally(() => retiring.delete(done));
    return done;
  };

  const apply = async (next: GatedRevision, revision: string): Promise<RevisionOutcome> => {
    const refuse = (reason: string): RevisionOutcome => {
      deps.log({ level: 'warn', event: 'revision-refused', revision, running: current, message: reason });
      return { applied: false, revision, reason };
    };
    if (stopping) return refuse('the agent is stopping');

    // Everything that can refuse the revision, before anything changes.
    if (lb === undefined && next.view.virtualServers.length > 0)
      return refuse('it adds the first virtual servers of this node: that takes a restart of the agent');
    if (lb !== undefined && next.view.virtualServers.length === 0)
      return refuse('it removes every virtual server of this node: that takes a restart of the agent');
    let nowLive: typeof live;
    let nowLinks: typeof links;
    try {
      [nowLive, nowLinks] = await Promise.all([deps.addresses.list(), deps.addresses.links()]);
    } catch (e) {
      return refuse(`cannot read the node's addresses and links: ${errorText(e)}; nothing was changed`);
    }
    const ids = await resolveScriptIdentities(next.view, identityDeps);
    if (!ids.ok) return refuse(`${ids.message}; nothing was changed`);
    const planned = planInstanceReload(
      entries,
      next.view,
      next.repository.cluster.doc,
      nowLive,
      deps.secrets,
    );
    if (!planned.ok) return refuse(`${planned.message}; nothing was changed`);
    const plan = planned.plan;
    // New instances open their sockets now, and changed peers theirs: a socket the node
    // refuses refuses the revision while the running instances are still untouched.
    const fresh = [...plan.added, ...plan.recreated].map(newEntry);
    const reopened = new Map<string, Transport>();
    const closeOpened = async () => {
      await Promise.all(fresh.map((e) => e.inst.abandon()));
      await Promise.all([...reopened.values()].map((t) => t.close().catch(() => {})));
    };
    try {
      for (const e of fresh) await e.inst.open();
      for (const c of plan.changed)
        if (c.reopen)
          reopened.set(c.view.name, await deps.openTransport(transportOptions(c.view, c.address)));
    } catch (e) {
      await closeOpened();
      return refuse(`cannot open a VRRP socket: ${errorText(e)}; nothing was changed`);
    }
    if (deps.journal) {
      const w = await deps.journal.write({
        node,
        revision,
        running: current,
        at: new Date(wall()).toISOString(),
        addresses: journalAddresses(
          entries.map((e) => e.view),
          next.view.instances,
        ),
      });
      if (!w.ok) {
        await closeOpened();
        return refuse(`cannot write the apply journal: ${w.message}; nothing was changed`);
      }
    }
    const endJournal = async () => {
      const r = await deps.journal?.clear();
      if (r && !r.ok) deps.log({ level: 'error', event: 'journal-error', message: r.message });
    };
    /** The load balancer back on the view running before this revision. */
    const restoreLb = async (): Promise<string | undefined> => {
      if (lb === undefined) return undefined;
      const r = await lb.applyView(currentView, virtualServerDocs(currentRepository, currentView), {
        rollback: true,
      });
      return r.ok ? undefined : `the load balancer could not be put back: ${r.message}`;
    };
    const rolledBack = (error: string, incomplete: readonly string[]): RevisionOutcome => {
      const reason = `${error}; rolled back${incomplete.length > 0 ? ` (incompletely: ${incomplete.join('; ')})` : ''}`;
      deps.log({
        level: 'error',
        event: 'revision-rolled-back',
        revision,
        running: current,
        message: reason,
      });
      return { applied: false, revision, reason: `revision ${revision} rolled back: ${error}` };
    };
    if (lb !== undefined) {
      const r = await lb.applyView(next.view, virtualServerDocs(next.repository, next.view));
      if (!r.ok) {
        // A refusal by the kernel came after the load balancer took the view: take it back.
        const incomplete = r.kernel ? await restoreLb() : undefined;
        await closeOpened();
        await endJournal();
        return r.kernel ? rolledBack(r.message, incomplete ? [incomplete] : []) : refuse(r.message);
      }
    }

    // The changed instances change their VIPs first, and the apply waits for the kernel's
    // answer: a VIP it refuses rolls the revision back while nothing else has changed yet (no
    // instance stopped or started, no tracker or group rebuilt). Unchanged instances are not
    // called at all.
    const previous = entries;
    const byName = new Map(previous.map((e) => [e.view.name, e]));
    const changing = plan.changed.flatMap((c) => {
      const e = byName.get(c.view.name);
      return e ? [{ c, e, before: e.view }] : [];
    });
    const liveKeys = new Set(nowLive.map((a) => `${a.ifname} ${addressKey(a.address)}`));
    const present = (v: Vip) => liveKeys.has(`${v.dev} ${addressKey(v.address)}`);
    const vipWork: Promise<VipWork>[] = [];
    for (const { c, e } of changing) {
      deps.log({ level: 'info', event: 'instance-changed', instance: c.view.name, fields: c.fields });
      e.view = c.view;
      const transport = reopened.get(c.view.name);
      vipWork.push(
        e.inst.reconfigure(c.view, {
          priority: running.evaluate(c.view, next.view).priority,
          present,
          ...(transport ? { transport } : {}),
        }),
      );
    }
    let refused: VipWork | undefined = (await Promise.all(vipWork)).find((w) => !w.ok);
    // Verify: what the kernel holds now for the changed instances is what they want (a
    // master holds every VIP of its new list, nobody else any), read back, not assumed.
    if (refused === undefined && changing.length > 0)
      refused = await verifyAddressesWith(
        deps.addresses,
        changing.map((x) => x.e.inst),
      );
    if (refused !== undefined && !refused.ok) {
      // Each changed instance back on its previous view: what the revision added is removed,
      // what it removed is added back (by a master), in the same queue.
      const incomplete: string[] = [];
      const undo: Promise<VipWork>[] = [];
      for (const { c, e, before } of changing) {
        e.view = before;
        let transport: Transport | undefined;
        if (c.reopen)
          try {
            transport = await deps.openTransport(transportOptions(before, e.address));
          } catch (x) {
            incomplete.push(`instance ${before.name} keeps the new peers: ${errorText(x)}`);
          }
        undo.push(
          e.inst.reconfigure(before, {
            priority: running.evaluate(before, currentView).priority,
            ...(transport ? { transport } : {}),
          }),
        );
      }
      for (const w of await Promise.all(undo)) if (!w.ok) incomplete.push(w.error);
      const lbBack = await restoreLb();
      if (lbBack) incomplete.push(lbBack);
      await closeOpened();
      await endJournal();
      return rolledBack(refused.error, incomplete);
    }

    // From here on nothing fails the revision.
    currentView = next.view;
    currentRepository = next.repository;
    notifyRunAs = ids.ids.notifyRunAs;
    scriptRunAs.clear();
    for (const [k, v] of ids.ids.scriptRunAs) scriptRunAs.set(k, v);
    for (const r of plan.recreated)
      deps.log({ level: 'info', event: 'instance-recreated', instance: r.view.name, fields: r.fields });
    const leaving = [...plan.removed, ...plan.recreated.map((r) => r.view.name)].flatMap((n) => {
      const e = byName.get(n);
      return e ? [retire(e)] : [];
    });
    const freshByName = new Map(fresh.map((e) => [e.view.name, e]));
    entries = next.view.instances.flatMap((v) => {
      const e = freshByName.get(v.name) ?? byName.get(v.name);
      return e && !e.retired ? [e] : [];
    });
    followGroups(next.view);
    for (const c of plan.changed) {
      const e = byName.get(c.view.name);
      if (e && c.fields.includes('flags')) primaryLink(e, nowLinks);
    }
    // make-before-break: an old instance hands its VIPs over before its successor of the
    // same VRID starts.
    await Promise.all(leaving);
    for (const e of fresh) primaryLink(e, nowLinks);
    await installGuard(next.view);
    for (const e of fresh) await e.inst.start();
    const trackedBefore = new Set(running.links());
    running.reconfigure(next.view, trackedEntries());
    for (const name of running.links())
      if (!trackedBefore.has(name)) running.link(name, nowLinks.find((l) => l.name === name)?.up ?? false);
    await endJournal();

    watch.instancesChanged();
    current = revision;
    const summary = {
      added: plan.added.map((r) => r.view.name),
      removed: plan.removed,
      recreated: plan.recreated.map((r) => r.view.name),
      changed: plan.changed.map((r) => r.view.name),
      unchanged: plan.unchanged,
    };
    deps.log({
      level: 'info',
      event: 'revision-applied',
      revision,
      ...summary,
      message: Object.entries(summary)
        .map(([k, v]) => `${v.length} ${k}`)
        .join(', '),
    });
    return { applied: true, revision };
  };

  // One revision at a time: the next one is planned against what the last one left.
  let applying: Promise<unknown> = Promise.resolve();
  const agent: Agent = {
    get instances() {
      return entries.map((e) => e.inst);
    },
    status: () => ({
      node,
      revision: current,
      startedAt,
      instances: entries.map((e) => e.inst.status()),
      ...(lb ? { loadBalancer: lb.status() } : {}),
      ...(hopCheck ? { ipv6HopLimitCheck: hopCheck } : {}),
    }),
    drift: () => watch.items(),
    applyRevision: (next, revision) => {
      const outcome = applying.then(() => apply(next, revision));
      applying = outcome.catch(() => {});
      return outcome;
    },
    stop: () => {
      stopping ??= (async () => {
        deps.log({ level: 'info', event: 'agent-stopping', node });
        watch.stop();
        await applying;
        unsubscribe();
        await running.stop();
        await Promise.all([...entries.map((e) => e.inst.stop()), ...retiring]);
        // keepalived removes its virtual servers when it stops; so do we, after the VIPs.
        await lb?.stop({ clear: true });
        if (hopCheck?.installed) await deps.hopLimitGuard?.remove();
        // The STOP notify scripts (bounded by their timeout) finish before we say stopped.
        await Promise.all(notifying);
        deps.log({ level: 'info', event: 'agent-stopped', node });
      })();
      return stopping;
    },
    abandon: async () => {
      watch.stop();
      unsubscribe();
      await running.stop();
      await Promise.all(entries.map((e) => e.inst.abandon()));
      await lb?.stop({ clear: false });
    },
  };
  return { ok: true, agent };
}

/**
 * The verify stage of an apply: the live addresses against what each changed instance
 * wants once its VIP work is done. A difference fails the apply (and rolls it back).
 */
async function verifyAddressesWith(
  addresses: AddressDriver,
  instances: readonly VrrpInstance[],
): Promise<VipWork> {
  const snaps = instances.map((inst) => ({ inst, s: inst.vipSnapshot() }));
  await Promise.all(snaps.map((x) => x.s.idle));
  let live: Awaited<ReturnType<AddressDriver['list']>>;
  try {
    live = await addresses.list();
  } catch (e) {
    return { ok: false, error: `verify: cannot read the node's addresses: ${errorText(e)}` };
  }
  const findings = addressDrift(
    snaps.map(({ inst }) => {
      const v = inst.vipSnapshot();
      return { instance: inst.name, state: v.state, holds: v.holds, vips: v.vips };
    }),
    live,
  );
  const first = findings[0];
  if (first === undefined) return { ok: true };
  return {
    ok: false,
    error: `verify: ${first.subject} is ${first.actual}, expected ${first.expected}${findings.length > 1 ? ` (and ${findings.length - 1} more)` : ''}`,
  };
}

/** The repository's documents of the virtual servers a view runs. */
function virtualServerDocs(repository: Repository, view: NodeView) {
  const mine = new Set(view.virtualServers.map((v) => v.key));
  return (repository.cluster.doc.virtualServers ?? []).filter((vs) => mine.has(virtualServerKey(vs)));
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

/** Whether the instance has a fault of its own, besides the one its group holds it in. */
function ownFaults(inst: VrrpInstance, group: string): boolean {
  return inst.status().faults.some((f) => f !== syncFaultReason(group));
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const isSuccess = (r: { kind: string; code?: number } | undefined): boolean =>
  r?.kind === 'exit' && r.code === 0;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
