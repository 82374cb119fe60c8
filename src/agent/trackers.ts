import { parseDuration } from '../model/duration.ts';
import type { NodeView, ViewInstance } from '../model/node-view.ts';
import { parseScript } from '../track/argv.ts';
import {
  applyReport,
  evaluateTracking,
  type TrackEvaluation,
  type TrackReport,
  type TrackStates,
  type TrackWeight,
  trackKey,
} from '../track/effective-priority.ts';
import { FileTracker, type FileTrackerIo } from '../track/file-tracker.ts';
import { ProcessTracker, type ProcReader } from '../track/process-tracker.ts';
import type { RunAs } from '../track/run-as.ts';
import type { ScriptRunner } from '../track/run-script.ts';
import { ScriptTracker } from '../track/script-tracker.ts';
import { trackWeights } from '../track/track-weights.ts';
import type { Log } from '../vrrp/instance-log.ts';
import type { Timers } from '../vrrp/instance-timers.ts';

// The agent's trackers: one tracker per vrrp_script / track_file / track_process that some
// instance of the node references, shared by all of them, plus the links named in
// `track.interfaces` (fed from the address driver's link events by the agent). Each report
// is folded into the states, and every instance that weighs that tracker gets its new
// priority and its `track:NAME` faults raised or cleared. Only changes reach an instance.
//
// A sync group's own track list applies to every member, as keepalived's does; where an
// instance tracks the same object itself, its own reference (and weight) wins.
//
// A hot reload hands the trackers the new view (`reconfigure`): a tracker whose definition
// is the same keeps running with its last result (a script is not run again because of a
// reload), one whose definition changed is started again but its last result stands until
// it reports, one nobody references any more stops, and each instance gets its new
// priority and faults only where they differ from what it was last given.

/** What the trackers need of an instance: VrrpInstance has exactly these. */
export interface Trackable {
  setPriority(priority: number): void;
  fault(reason: string): void;
  clearFault(reason: string): void;
}

export interface TrackingDeps {
  timers: Timers;
  runner: ScriptRunner;
  log: Log;
  /** The run-as user of each vrrp_script by name (its `user`, else the node's default). */
  scriptRunAs: ReadonlyMap<string, RunAs>;
  fileIo?: FileTrackerIo;
  procReader?: ProcReader;
}

export type TrackedView = Pick<NodeView, 'scripts' | 'trackProcesses' | 'trackFiles' | 'syncGroups'>;

export interface Tracking {
  /** A tracked link went up or down (or was found so at start). */
  link(ifname: string, up: boolean): void;
  /** An instance's priority and faults under `view`'s references, from the results known now. */
  evaluate(instance: ViewInstance, view: TrackedView): TrackEvaluation;
  /**
   * Follows a new view. `instances` is the whole new set; an instance that is the same
   * object as before keeps what it was last given, and is told only what differs.
   */
  reconfigure(view: TrackedView, instances: readonly { view: ViewInstance; inst: Trackable }[]): void;
  /** The interfaces tracked now (the caller reports their state after a reconfigure). */
  links(): ReadonlySet<string>;
  stop(): Promise<void>;
}

interface Tracked {
  inst: Trackable;
  name: string;
  base: number;
  weights: TrackWeight[];
  /** The priority the instance was last given (its configured one until then). */
  priority: number;
  faults: Set<string>;
}

const ms = (d: string | undefined, fallback: number): number =>
  d === undefined ? fallback : (parseDuration(d) ?? fallback);

export const trackFaultReason = (name: string): string => `track:${name}`;

/** Starts the trackers the instances reference. Throws only on a script that does not parse. */
export function startTracking(
  view: TrackedView,
  instances: readonly { view: ViewInstance; inst: Trackable }[],
  deps: TrackingDeps,
): Tracking {
  let tracked: Tracked[] = [];
  let states: TrackStates = new Map();
  let stopped = false;
  /** Running trackers by kind:name, with the definition they were started from. */
  const running = new Map<string, { definition: string; stop: () => Promise<void> | void }>();
  let links = new Set<string>();

  const onReport = (report: TrackReport) => {
    if (stopped) return;
    const key = trackKey(report.kind, report.name);
    const before = states.get(key);
    const next = applyReport(states, report);
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(next.get(key))) return;
    states = next;
    deps.log({
      level: 'info',
      event: 'track-change',
      kind: report.kind,
      reason: report.name,
      ...(report.kind === 'file' ? { value: report.value } : { ok: report.ok }),
    });
    for (const t of tracked) if (t.weights.some((w) => trackKey(w.kind, w.name) === key)) update(t);
  };

  const update = (t: Tracked) => {
    const e = evaluateTracking(t.base, states, t.weights);
    if (e.priority !== t.priority) {
      t.priority = e.priority;
      t.inst.setPriority(e.priority);
    }
    const now = new Set(e.faults.map((f) => trackFaultReason(f.name)));
    for (const r of now) if (!t.faults.has(r)) t.inst.fault(r);
    for (const r of t.faults) if (!now.has(r)) t.inst.clearFault(r);
    t.faults = now;
  };

  function startError(kind: string, name: string, e: unknown) {
    deps.log({
      level: 'error',
      event: 'track-error',
      kind,
      reason: name,
      message: e instanceof Error ? e.message : String(e),
    });
  }

  /** Every tracker `wanted` references, with its definition; throws on a script that does not parse. */
  const definitions = (v: TrackedView, wanted: readonly Tracked[]) => {
    const used = (kind: TrackWeight['kind']) =>
      new Set(wanted.flatMap((t) => t.weights.filter((w) => w.kind === kind).map((w) => w.name)));
    const out = new Map<string, { definition: string; start: () => () => Promise<void> | void }>();
    for (const name of used('script')) {
      const def = v.scripts.find((s) => s.name === name);
      if (!def) continue; // the repository's validation refuses unknown names
      const command = parseScript(def.script);
      if ('error' in command) throw new Error(`vrrp_script ${name}: ${command.error}`);
      const runAs = deps.scriptRunAs.get(name);
      out.set(trackKey('script', name), {
        definition: JSON.stringify([def, runAs]),
        start: () => {
          const intervalMs = ms(def.interval, 1000);
          const timeoutMs = def.timeout === undefined ? undefined : ms(def.timeout, intervalMs);
          const tracker = new ScriptTracker({
            name,
            command,
            intervalMs,
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
            ...(def.rise !== undefined ? { rise: def.rise } : {}),
            ...(def.fall !== undefined ? { fall: def.fall } : {}),
            ...(def.weight !== undefined ? { weight: def.weight } : {}),
            ...(def.initFail !== undefined ? { initFail: def.initFail } : {}),
            ...(runAs ? { runAs } : {}),
            runner: deps.runner,
            timers: deps.timers,
            onChange: onReport,
            log: (l) => {
              if (l.event === 'skipped')
                deps.log({ level: 'warn', event: 'track-script-skipped', reason: name, message: l.reason });
              else if (l.event === 'output')
                deps.log({
                  level: 'debug',
                  event: 'track-script-output',
                  reason: name,
                  stream: l.stream,
                  text: l.text,
                });
              else deps.log({ level: 'debug', event: 'track-script-result', reason: name, message: l.text });
            },
          });
          tracker.start();
          return () => tracker.stop();
        },
      });
    }
    for (const name of used('file')) {
      const def = v.trackFiles.find((f) => f.name === name);
      if (!def) continue;
      out.set(trackKey('file', name), {
        definition: JSON.stringify(def),
        start: () => {
          const tracker = new FileTracker({
            name,
            file: def.file,
            ...(def.weight !== undefined ? { weight: def.weight } : {}),
            ...(def.initFile !== undefined ? { initFile: def.initFile } : {}),
            ...(deps.fileIo ? { io: deps.fileIo } : {}),
            timers: deps.timers,
            onChange: onReport,
            log: (l) =>
              deps.log({ level: 'warn', event: 'track-file-invalid', reason: name, message: l.reason }),
          });
          tracker.start().catch((e: unknown) => startError('file', name, e));
          return () => tracker.stop();
        },
      });
    }
    for (const name of used('process')) {
      const def = v.trackProcesses.find((p) => p.name === name);
      if (!def) continue;
      out.set(trackKey('process', name), {
        definition: JSON.stringify(def),
        start: () => {
          const tracker = new ProcessTracker({
            name,
            process: def.process,
            ...(def.args !== undefined ? { args: def.args } : {}),
            ...(def.paramMatch !== undefined ? { paramMatch: def.paramMatch } : {}),
            ...(def.fullCommand !== undefined ? { fullCommand: def.fullCommand } : {}),
            ...(def.weight !== undefined ? { weight: def.weight } : {}),
            ...(def.quorum !== undefined ? { quorum: def.quorum } : {}),
            ...(def.quorumMax !== undefined ? { quorumMax: def.quorumMax } : {}),
            ...(def.forkDelay !== undefined ? { forkDelayMs: ms(def.forkDelay, 0) } : {}),
            ...(def.terminateDelay !== undefined ? { terminateDelayMs: ms(def.terminateDelay, 0) } : {}),
            ...(deps.procReader ? { reader: deps.procReader } : {}),
            timers: deps.timers,
            onChange: onReport,
            log: (l) =>
              deps.log({
                level: 'warn',
                event: 'track-process-scan-failed',
                reason: name,
                message: l.reason,
              }),
          });
          tracker.start().catch((e: unknown) => startError('process', name, e));
          return () => tracker.stop();
        },
      });
    }
    return { trackers: out, links: used('interface') };
  };

  const trackedOf = (v: TrackedView, list: readonly { view: ViewInstance; inst: Trackable }[]): Tracked[] =>
    list.map(({ view: iv, inst }) => ({
      inst,
      name: iv.name,
      base: iv.priority,
      weights: memberWeights(iv, v),
      // What the machine starts with: only a different total is worth telling it.
      priority: iv.priority,
      faults: new Set<string>(),
    }));

  /** Stops what `wanted` no longer references, starts what is new or redefined. */
  const follow = (next: ReturnType<typeof definitions>): Promise<void>[] => {
    const stopping: Promise<void>[] = [];
    for (const [key, r] of running) {
      const want = next.trackers.get(key);
      if (want !== undefined && want.definition === r.definition) continue;
      running.delete(key);
      stopping.push(Promise.resolve(r.stop()));
      // A tracker nobody references has no result any more; a redefined one keeps its last
      // result until it reports again, so that a reload does not move priorities by itself.
      if (want === undefined) {
        const without = new Map(states);
        without.delete(key);
        states = without;
      }
    }
    for (const [key, want] of next.trackers)
      if (!running.has(key)) running.set(key, { definition: want.definition, stop: want.start() });
    links = next.links;
    return stopping;
  };

  tracked = trackedOf(view, instances);
  follow(definitions(view, tracked));

  return {
    link: (ifname, up) => {
      if (links.has(ifname)) onReport({ kind: 'interface', name: ifname, ok: up, weight: 0 });
    },
    evaluate: (iv, v) => {
      const key = (w: TrackWeight) => trackKey(w.kind, w.name);
      const weights = memberWeights(iv, v);
      const known = new Map([...states].filter(([k]) => weights.some((w) => key(w) === k)));
      return evaluateTracking(iv.priority, known, weights);
    },
    reconfigure: (v, list) => {
      if (stopped) return;
      const next = trackedOf(v, list);
      // Checked before anything stops or starts: a script that does not parse throws here.
      const defs = definitions(v, next);
      const before = new Map(tracked.map((t) => [t.inst, t]));
      for (const t of next) {
        const old = before.get(t.inst);
        if (old === undefined) continue;
        t.priority = old.priority;
        t.faults = old.faults;
      }
      for (const p of follow(defs)) p.catch((e: unknown) => startError('stop', 'tracker', e));
      tracked = next;
      for (const t of tracked) if (before.has(t.inst) || t.weights.length > 0) update(t);
    },
    links: () => links,
    stop: async () => {
      stopped = true;
      const all = [...running.values()];
      running.clear();
      await Promise.all(all.map((r) => r.stop()));
    },
  };
}

/** An instance's weights plus those of its sync group's track list. */
function memberWeights(
  v: ViewInstance,
  view: Pick<NodeView, 'scripts' | 'trackProcesses' | 'trackFiles' | 'syncGroups'>,
): TrackWeight[] {
  const own = trackWeights(v.track, view);
  const group = view.syncGroups.find((g) => g.instances.includes(v.name));
  if (!group) return own;
  const seen = new Set(own.map((w) => trackKey(w.kind, w.name)));
  return [...own, ...trackWeights(group.track, view).filter((w) => !seen.has(trackKey(w.kind, w.name)))];
}
