import { parseDuration } from '../model/duration.ts';
import type { NodeView, ViewInstance } from '../model/node-view.ts';
import { parseScript } from '../track/argv.ts';
import {
  applyReport,
  evaluateTracking,
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

export interface Tracking {
  /** A tracked link went up or down (or was found so at start). */
  link(ifname: string, up: boolean): void;
  stop(): Promise<void>;
}

interface Tracked {
  inst: Trackable;
  name: string;
  base: number;
  weights: TrackWeight[];
  priority: number | undefined;
  faults: Set<string>;
}

const ms = (d: string | undefined, fallback: number): number =>
  d === undefined ? fallback : (parseDuration(d) ?? fallback);

export const trackFaultReason = (name: string): string => `track:${name}`;

/** Starts the trackers the instances reference. Throws only on a script that does not parse. */
export function startTracking(
  view: Pick<NodeView, 'scripts' | 'trackProcesses' | 'trackFiles' | 'syncGroups'>,
  instances: readonly { view: ViewInstance; inst: Trackable }[],
  deps: TrackingDeps,
): Tracking {
  const tracked: Tracked[] = instances.map(({ view: v, inst }) => ({
    inst,
    name: v.name,
    base: v.priority,
    weights: memberWeights(v, view),
    priority: undefined,
    faults: new Set(),
  }));
  let states: TrackStates = new Map();
  let stopped = false;

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

  const used = (kind: TrackWeight['kind']) =>
    new Set(tracked.flatMap((t) => t.weights.filter((w) => w.kind === kind).map((w) => w.name)));

  const stops: (() => Promise<void> | void)[] = [];
  for (const name of used('script')) {
    const def = view.scripts.find((s) => s.name === name);
    if (!def) continue; // the repository's validation refuses unknown names
    const command = parseScript(def.script);
    if ('error' in command) throw new Error(`vrrp_script ${name}: ${command.error}`);
    const runAs = deps.scriptRunAs.get(name);
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
    stops.push(() => tracker.stop());
  }
  for (const name of used('file')) {
    const def = view.trackFiles.find((f) => f.name === name);
    if (!def) continue;
    const tracker = new FileTracker({
      name,
      file: def.file,
      ...(def.weight !== undefined ? { weight: def.weight } : {}),
      ...(def.initFile !== undefined ? { initFile: def.initFile } : {}),
      ...(deps.fileIo ? { io: deps.fileIo } : {}),
      timers: deps.timers,
      onChange: onReport,
      log: (l) => deps.log({ level: 'warn', event: 'track-file-invalid', reason: name, message: l.reason }),
    });
    tracker.start().catch((e: unknown) => startError('file', name, e));
    stops.push(() => tracker.stop());
  }
  for (const name of used('process')) {
    const def = view.trackProcesses.find((p) => p.name === name);
    if (!def) continue;
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
        deps.log({ level: 'warn', event: 'track-process-scan-failed', reason: name, message: l.reason }),
    });
    tracker.start().catch((e: unknown) => startError('process', name, e));
    stops.push(() => tracker.stop());
  }

  function startError(kind: string, name: string, e: unknown) {
    deps.log({
      level: 'error',
      event: 'track-error',
      kind,
      reason: name,
      message: e instanceof Error ? e.message : String(e),
    });
  }

  const links = used('interface');
  return {
    link: (ifname, up) => {
      if (links.has(ifname)) onReport({ kind: 'interface', name: ifname, ok: up, weight: 0 });
    },
    stop: async () => {
      stopped = true;
      await Promise.all(stops.map((s) => s()));
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
