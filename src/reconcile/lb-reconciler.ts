import {
  type ApplyStats,
  type Dataplane,
  type DataplaneContent,
  DataplaneError,
} from '../drivers/dataplane/dataplane.ts';
import type { NodeView } from '../model/node-view.ts';
import {
  type DesiredDataplane,
  type Draining,
  desiredDataplane,
  type Facts,
  type VirtualServerState,
} from '../plan/dataplane-desired.ts';
import type { Log } from '../vrrp/instance-log.ts';
import type { Clock, TimerHandle, Timers } from '../vrrp/instance-timers.ts';

// The load-balancing half of the one reconcile path: facts in (check results, a new
// revision, a drain deadline), the dataplane's desired content computed by the pure
// planner, the driver asked to make the kernel hold it. The driver applies only what
// differs, so a flapping check rewrites one service and nothing else.
//
// Applies never overlap: while one runs, later triggers only mark the state dirty, and one
// more apply with the newest facts follows. A refused apply is logged with the driver's
// words and kept in status; the previous content stays in the kernel (the driver's
// all-or-nothing promise) and the next trigger tries again.

export interface LbReconcilerOptions {
  dataplane: Dataplane;
  view: Pick<NodeView, 'virtualServers' | 'virtualServerGroups'>;
  clock: Clock;
  timers: Timers;
  log: Log;
  /** Wall time for status (default Date.now). */
  wallClock?: () => number;
  /** A virtual server reached or lost its quorum (quorum_up / quorum_down scripts). */
  onQuorum?: (virtualServer: string, up: boolean) => void;
}

export interface LbStatus {
  dataplane: string;
  lastApply?: {
    at: string;
    ok: boolean;
    stats?: ApplyStats;
    error?: string;
  };
  virtualServers: VirtualServerState[];
  /** What the dataplane was last made to hold: each service's destinations and weights. */
  services: { key: string; destinations: { address: string; port: number; weight: number }[] }[];
  draining: { virtualServer: string; destination: string; untilMs: number }[];
}

export class LbReconciler {
  private view: LbReconcilerOptions['view'];
  private facts: Facts = new Map();
  private previous = new Map<string, boolean>();
  private draining: (Draining & { until: number })[] = [];
  private drainTimer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private last: LbStatus['lastApply'];
  private states: VirtualServerState[] = [];
  private applied: LbStatus['services'] = [];
  /** What the last apply that succeeded gave the dataplane (drift is measured against it). */
  private content: DataplaneContent | undefined;
  private readonly wall: () => number;

  constructor(private readonly o: LbReconcilerOptions) {
    this.view = o.view;
    this.wall = o.wallClock ?? Date.now;
  }

  /** The first apply; resolves when the kernel holds the content (or refused it: see status). */
  start(facts: Facts): Promise<void> {
    this.facts = facts;
    return this.trigger();
  }

  /** The checkers' facts changed. */
  factsChanged(facts: Facts): Promise<void> {
    this.facts = facts;
    return this.trigger();
  }

  /**
   * A new revision: real servers it removes from a virtual server that stays are drained
   * (weight 0 until the virtual server's drainTime has passed), the rest applies at once.
   * `drain: false` (a rollback) drops them at once: they came with the revision rolled back.
   */
  setView(view: LbReconcilerOptions['view'], opts: { drain?: boolean } = {}): Promise<void> {
    const now = this.o.clock.now();
    const after = new Map(view.virtualServers.map((v) => [v.key, v]));
    for (const before of opts.drain === false ? [] : this.view.virtualServers) {
      const next = after.get(before.key);
      if (!next || next.drainMs <= 0) continue;
      const kept = new Set(next.realServers.map((r) => r.key));
      for (const rs of before.realServers) {
        if (kept.has(rs.key)) continue;
        this.draining.push({
          vsKey: before.key,
          until: now + next.drainMs,
          destination: { address: rs.address, port: rs.port, weight: 0, forwarding: rs.forwarding },
        });
        this.o.log({
          level: 'info',
          event: 'real-server-draining',
          reason: before.key,
          address: rs.key,
          message: `removed by the revision: weight 0 for ${next.drainMs / 1000} s, then deleted`,
        });
      }
    }
    // A server that comes back is live again, not draining.
    this.draining = this.draining.filter(
      (d) =>
        !after
          .get(d.vsKey)
          ?.realServers.some((r) => r.address === d.destination.address && r.port === d.destination.port),
    );
    this.view = view;
    this.armDrain();
    return this.trigger();
  }

  /** The content the last successful apply gave the dataplane; undefined before one, or while an apply runs. */
  appliedContent(): DataplaneContent | undefined {
    return this.running === undefined ? this.content : undefined;
  }

  /**
   * Applies the desired content again (drift healing). The driver rewrites what it finds
   * changed behind its back once a read has shown it the kernel's content.
   */
  reapply(): Promise<void> {
    return this.trigger();
  }

  status(): LbStatus {
    const now = this.o.clock.now();
    return {
      dataplane: this.o.dataplane.kind,
      ...(this.last ? { lastApply: this.last } : {}),
      virtualServers: this.states,
      services: this.applied,
      draining: this.draining.map((d) => ({
        virtualServer: d.vsKey,
        destination: `${d.destination.address}:${d.destination.port}`,
        untilMs: Math.max(0, Math.round(d.until - now)),
      })),
    };
  }

  /** Stops reacting; with `clear`, removes everything keepgit put in the dataplane. */
  async stop(opts: { clear: boolean }): Promise<void> {
    this.stopped = true;
    if (this.drainTimer !== undefined) this.o.timers.clear(this.drainTimer);
    this.drainTimer = undefined;
    await this.running;
    if (opts.clear)
      await this.o.dataplane
        .clear()
        .catch((e: unknown) =>
          this.o.log({ level: 'error', event: 'dataplane-error', message: errorText(e) }),
        );
  }

  private trigger(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.dirty = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.dirty = false;
        await this.applyOnce();
      } while (this.dirty && !this.stopped);
      this.running = undefined;
    })();
    return this.running;
  }

  private async applyOnce(): Promise<void> {
    const desired: DesiredDataplane = desiredDataplane({
      view: this.view,
      facts: this.facts,
      previous: this.previous,
      draining: this.draining,
    });
    this.noteQuorum(desired.virtualServers);
    const at = new Date(this.wall()).toISOString();
    try {
      const stats = await this.o.dataplane.apply(desired.content);
      this.last = { at, ok: true, stats };
      this.content = desired.content;
      this.states = desired.virtualServers;
      this.applied = desired.content.services.map((svc) => ({
        key: svc.key,
        destinations: svc.destinations.map((d) => ({ address: d.address, port: d.port, weight: d.weight })),
      }));
      this.previous = new Map(desired.virtualServers.map((s) => [s.key, s.up]));
      if (stats.added + stats.changed + stats.removed > 0)
        this.o.log({
          level: 'info',
          event: 'dataplane-applied',
          added: stats.added,
          changed: stats.changed,
          removed: stats.removed,
          ms: Math.round(stats.ms * 10) / 10,
        });
    } catch (e) {
      const message = errorText(e);
      this.last = { at, ok: false, error: message };
      this.o.log({
        level: 'error',
        event: 'dataplane-error',
        reason: e instanceof DataplaneError ? e.service : undefined,
        message: `${message}; the dataplane keeps its previous content`,
      });
    }
  }

  /** keepalived logs quorum changes (and runs quorum_up/down): say when a service goes up or down. */
  private noteQuorum(states: readonly VirtualServerState[]): void {
    for (const s of states) {
      const was = this.previous.get(s.key);
      if (was === undefined || was === s.up) continue;
      this.o.log({
        level: s.up ? 'info' : 'warn',
        event: s.up ? 'quorum-up' : 'quorum-down',
        reason: s.key,
        aliveWeight: s.aliveWeight,
        message: s.sorryActive ? 'the sorry server takes the traffic' : undefined,
      });
      this.o.onQuorum?.(s.key, s.up);
    }
  }

  private armDrain(): void {
    if (this.drainTimer !== undefined) this.o.timers.clear(this.drainTimer);
    this.drainTimer = undefined;
    if (this.draining.length === 0 || this.stopped) return;
    const next = Math.min(...this.draining.map((d) => d.until));
    this.drainTimer = this.o.timers.set(
      () => {
        this.drainTimer = undefined;
        const now = this.o.clock.now();
        const done = this.draining.filter((d) => d.until <= now);
        this.draining = this.draining.filter((d) => d.until > now);
        for (const d of done)
          this.o.log({
            level: 'info',
            event: 'real-server-drained',
            reason: d.vsKey,
            address: `${d.destination.address}:${d.destination.port}`,
          });
        this.armDrain();
        void this.trigger();
      },
      Math.max(0, next - this.o.clock.now()),
    );
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
