import type { Check } from '../model/cluster-schema.ts';
import { parseDuration } from '../model/duration.ts';
import type { NodeView, ViewCheck, ViewRealServer, ViewVirtualServer } from '../model/node-view.ts';
import { checkScriptCommand, type SecurityFs } from '../notify/script-security.ts';
import { parseScript, type ScriptCommand } from '../track/argv.ts';
import { type FileTrackerIo, systemFileIo } from '../track/file-tracker.ts';
import type { RunAs } from '../track/run-as.ts';
import type { CheckOutcome, CheckTarget, ProbeContext, ProbeFn } from './check-types.ts';
import { probeDns } from './dns-check.ts';
import { createFileProbe, type FileSpec } from './file-check.ts';
import { type HttpSpec, probeHttp, probeHttps } from './http-check.ts';
import { type MiscSpec, probeMisc } from './misc-check.ts';
import { probePing } from './ping-check.ts';
import { probeSmtp } from './smtp-check.ts';
import { probeTcp } from './tcp-check.ts';
import { probeUdp } from './udp-check.ts';

// From a check as the node view holds it to the one attempt the scheduler runs: the probe
// of its kind with its kind-specific fields (defaults from the virtual and real server filled
// in), its attempt timeout, and for FILE_CHECK a watch on the file. Anything the repository
// got wrong that the schema cannot see (an unparsable script, an unknown track file) becomes
// a probe that always fails with the reason, so the server shows DOWN with a message saying
// what to fix, instead of the agent refusing to start or crashing.

export interface ProbeEnv {
  trackFiles: NodeView['trackFiles'];
  /**
   * Who a MISC_CHECK runs as: its `user`, else the node's default script identity. Without
   * it, scripts run as the agent (tests).
   */
  runAs?: (user: string | undefined) => Promise<RunAs | { error: string }>;
  /** enableScriptSecurity: each MISC_CHECK script is checked once, as keepalived does. */
  scriptSecurity?: boolean;
  securityFs?: SecurityFs;
  fileIo?: FileTrackerIo;
  /** Shared so the probe's memory of each file's last good value survives revisions. */
  fileProbe?: ProbeFn<FileSpec>;
  /** Replaces the MISC probe (tests). */
  miscProbe?: ProbeFn<MiscSpec>;
}

export interface BoundProbe {
  run: (target: CheckTarget, ctx: ProbeContext) => Promise<CheckOutcome>;
  /** The hard timeout of one attempt. */
  timeoutMs: number;
  /** The kind-specific fields the probe runs with: part of the check's identity. */
  spec: unknown;
  watch?: (onChange: () => void) => { close(): void };
}

type SpecOf<T extends Check['type']> = Partial<Omit<Extract<Check, { type: T }>, 'type'>>;

const defaultFileProbe = createFileProbe();
const NO_SPEC = {};

const failing = (reason: string, timeoutMs: number, spec: unknown): BoundProbe => ({
  run: async () => ({ ok: false, latencyMs: 0, reason }),
  timeoutMs,
  spec,
});

export function probeFor(
  check: ViewCheck,
  where: { virtualServer: ViewVirtualServer; realServer: ViewRealServer },
  env: ProbeEnv,
): BoundProbe {
  const timeoutMs = check.connectTimeoutMs;
  switch (check.type) {
    case 'tcp':
      return { run: (t, ctx) => probeTcp(NO_SPEC, t, ctx), timeoutMs, spec: {} };
    case 'http':
    case 'https': {
      const s = check.spec as SpecOf<'https'>;
      const spec: HttpSpec = {
        urls: s.urls ?? [],
        ...((s.virtualhost ?? where.virtualServer.virtualhost)
          ? { virtualhost: s.virtualhost ?? where.virtualServer.virtualhost }
          : {}),
        ...(s.httpProtocol ? { httpProtocol: s.httpProtocol } : {}),
        ...(s.sni ? { sni: true } : {}),
      };
      const probe = check.type === 'https' ? probeHttps : probeHttp;
      // connect_timeout bounds each url; the attempt may take one per url.
      return {
        run: (t, ctx) => probe(spec, t, ctx),
        timeoutMs: timeoutMs * Math.max(1, spec.urls.length),
        spec,
      };
    }
    case 'smtp': {
      const s = check.spec as SpecOf<'smtp'>;
      const spec = s.heloName !== undefined ? { heloName: s.heloName } : {};
      return { run: (t, ctx) => probeSmtp(spec, t, ctx), timeoutMs, spec };
    }
    case 'misc':
      return miscProbe(check, env);
    case 'file':
      return fileProbe(check, where.realServer, env);
    case 'dns': {
      const s = check.spec as SpecOf<'dns'>;
      const spec = {
        ...(s.queryType !== undefined ? { queryType: s.queryType } : {}),
        ...(s.queryName !== undefined ? { queryName: s.queryName } : {}),
      };
      return { run: (t, ctx) => probeDns(spec, t, ctx), timeoutMs, spec };
    }
    case 'udp': {
      const s = check.spec as SpecOf<'udp'>;
      const spec = {
        ...(s.payload !== undefined ? { payload: s.payload } : {}),
        ...(s.requireReply !== undefined ? { requireReply: s.requireReply } : {}),
      };
      return { run: (t, ctx) => probeUdp(spec, t, ctx), timeoutMs, spec };
    }
    case 'ping':
      return { run: (t, ctx) => probePing({}, t, ctx), timeoutMs, spec: {} };
  }
}

function miscProbe(check: ViewCheck, env: ProbeEnv): BoundProbe {
  const s = check.spec as SpecOf<'misc'>;
  const timeoutMs = (s.timeout !== undefined ? parseDuration(s.timeout) : undefined) ?? check.delayLoopMs;
  const identity = { script: s.script, user: s.user, dynamic: Boolean(s.dynamic) };
  const cmd = parseScript(s.script ?? '');
  if ('error' in cmd) return failing(`MISC_CHECK script: ${cmd.error}`, timeoutMs, identity);
  const probe = env.miscProbe ?? probeMisc;
  // Resolved on the first attempt and kept: getent and the security walk are not free, and
  // their answer does not change between attempts.
  let ready: Promise<MiscSpec | { error: string }> | undefined;
  const prepare = async (command: ScriptCommand): Promise<MiscSpec | { error: string }> => {
    const runAs = env.runAs ? await env.runAs(s.user) : undefined;
    if (runAs && 'error' in runAs) return { error: `MISC_CHECK user: ${runAs.error}` };
    if (env.scriptSecurity && runAs) {
      const r = await checkScriptCommand(command, runAs, env.securityFs);
      if (!r.ok) return { error: `MISC_CHECK ${r.message}` };
    }
    return {
      command,
      ...(s.dynamic ? { dynamic: true } : {}),
      ...(runAs ? { runAs: { uid: runAs.uid, gid: runAs.gid } } : {}),
    };
  };
  return {
    timeoutMs,
    spec: identity,
    run: async (t, ctx) => {
      ready ??= prepare(cmd);
      const spec = await ready;
      if ('error' in spec) return { ok: false, latencyMs: 0, reason: spec.error };
      return probe(spec, t, ctx);
    },
  };
}

function fileProbe(check: ViewCheck, rs: ViewRealServer, env: ProbeEnv): BoundProbe {
  const s = check.spec as SpecOf<'file'>;
  const def = env.trackFiles.find((f) => f.name === s.file);
  const identity = { file: s.file, path: def?.file, weight: s.weight, reverse: Boolean(s.reverse) };
  if (!def)
    return failing(
      `FILE_CHECK file: no trackFiles entry named "${s.file ?? ''}": add it to trackFiles or fix the name`,
      check.connectTimeoutMs,
      identity,
    );
  const spec: FileSpec = {
    path: def.file,
    weight: s.weight ?? def.weight ?? 1,
    ...(s.reverse ? { reverse: true } : {}),
    baseWeight: rs.weight,
  };
  const io = env.fileIo ?? systemFileIo;
  const probe = env.fileProbe ?? (env.fileIo ? createFileProbe(env.fileIo) : defaultFileProbe);
  return {
    run: (t, ctx) => probe(spec, t, ctx),
    timeoutMs: check.connectTimeoutMs,
    spec: { ...spec },
    watch: (onChange) => io.watch(def.file, onChange),
  };
}
