import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { agentAnnouncer } from '../agent/arp-announcer.ts';
import { createLogger, type LogFormat } from '../agent/log.ts';
import { runAgent } from '../agent/run-agent.ts';
import { type AgentStatusSource, agentStatusSource } from '../api/agent-status-source.ts';
import type { Listening } from '../api/listen.ts';
import { createNetlinkAddressDriver } from '../drivers/addresses/netlink-address-driver.ts';
import { openVrrpTransport } from '../drivers/vrrp-socket/vrrp-transport.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { parseDuration } from '../model/duration.ts';
import type { NodeView } from '../model/node-view.ts';
import { fileApplyJournal } from '../reconcile/apply-journal.ts';
import type { WriteResult } from '../reconcile/atomic-write.ts';
import { openStateStore } from '../reconcile/state-store.ts';
import type { Log } from '../vrrp/instance-log.ts';
import { systemClock, systemTimers } from '../vrrp/instance-timers.ts';
import { type LoadResult, loadDesired, warmLoadsFor } from './agent-load.ts';
import { type AgentFlags, agentSettings, SOURCE_OPTIONS } from './agent-settings.ts';
import { type AgentSource, dirSource, gitSource } from './agent-source.ts';
import type { Command } from './io.ts';

// keepgit agent: run this node's share of a repository until told to stop.
//
// Exit codes: 0 stopped by SIGTERM/SIGINT after releasing every VIP; 1 refused to start
// (invalid repository, policy error, missing secret, interface or privilege) or a second
// signal cut the graceful stop short; 2 usage.
//
// --listen is off by default: an agent opens no port unless told where. The documented
// choice is --listen 127.0.0.1:9742; port 0 lets the kernel pick one (logged as
// "listening"), which is what tests use.

const USAGE =
  'usage: keepgit agent (--config FILE | --repo-dir DIR | --repo URL [--branch B | --tag T]) --node NAME\n' +
  '                     [--listen HOST:PORT] [--log json|text] [--state-dir DIR]\n' +
  '  --config     the agent configuration (source, trust keys, webhook secret, ...; see docs/agent-config.md)\n' +
  '  --repo-dir   follow a directory: read at start and on SIGHUP\n' +
  '  --repo       follow a Git remote over HTTP(S) (polled every 30 s; the branch main unless told)\n' +
  '  --listen     serve the status API (/, /status, /readyz, /metrics ...) on this address only (default: no HTTP; e.g. 127.0.0.1:9742)\n' +
  '  --log        json (default): one JSON object per line; text: one human line per event\n' +
  '  --state-dir  where the Git cache, the applied revision and the apply journal live (default /var/lib/keepgit, or $KEEPGIT_STATE_DIR)';

export const agentCommand: Command = async (args, io) => {
  let values: AgentFlags & { listen?: string; log?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      allowPositionals: false,
      options: {
        ...SOURCE_OPTIONS,
        listen: { type: 'string' },
        log: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    io.err(`keepgit agent: ${e instanceof Error ? e.message : String(e)}`);
    io.err(USAGE);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const settings = await agentSettings(values, io);
  if (typeof settings === 'number') return settings;
  const { node, config, stateDir } = settings;
  const format = values.log ?? config.log ?? 'json';
  if (format !== 'json' && format !== 'text') {
    io.err(`keepgit agent: --log ${format}: expected json or text`);
    return 2;
  }
  // The HTTP server (Hono and @hono/node-server) is loaded only when asked for: an agent
  // without --listen does not carry it in memory.
  const listenAt = values.listen ?? config.listen;
  const api = listenAt === undefined ? undefined : await import('../api/listen.ts');
  const at = listenAt === undefined ? undefined : api?.parseListen(listenAt);
  if (listenAt !== undefined && at === undefined) {
    io.err(`keepgit agent: --listen ${listenAt}: expected HOST:PORT, e.g. 127.0.0.1:9742 or [::1]:9742`);
    return 2;
  }

  // With the API on, every log line is also counted for /metrics, from the first one: the
  // first transitions happen while the instances start.
  const metrics =
    api === undefined ? undefined : (await import('../api/agent-metrics.ts')).createAgentMetrics();
  const writeLog = createLogger({ format: format as LogFormat, write: io.out });
  const log: Log = (entry) => {
    writeLog(entry);
    metrics?.observeLog(entry);
  };
  for (const message of settings.warnings) log({ level: 'warn', event: 'config-warning', message });

  const store = await openStateStore(stateDir);
  for (const message of store.warnings) log({ level: 'warn', event: 'state-unreadable', message });
  // The record is a cache: a disk that refuses it is worth a line, not the node.
  const recorded = (w: Promise<WriteResult>) =>
    w.then((r) => {
      if (!r.ok) log({ level: 'warn', event: 'state-write-error', message: r.message });
    });
  const refusedBeforeStart: { revision: string; reason: string }[] = [];
  const refuse = (revision: string, reason: string) => {
    log({ level: 'warn', event: 'revision-refused', revision, message: `${reason}; nothing was changed` });
    void recorded(store.recordRefused(revision, reason));
    if (status) status.refuse(revision, reason);
    else refusedBeforeStart.push({ revision, reason });
  };
  // Filled in once the agent runs; refusals before that are kept for it.
  let status: AgentStatusSource | undefined;

  const source: AgentSource =
    settings.source.kind === 'dir'
      ? await dirSource(settings.source.dir, {
          log,
          ...(settings.source.watch !== undefined ? { watch: settings.source.watch } : {}),
          ...(settings.source.debounceMs !== undefined ? { debounceMs: settings.source.debounceMs } : {}),
        })
      : await gitSource({
          git: settings.source.git,
          stateDir,
          ...(settings.trust ? { trust: settings.trust } : {}),
          ...(store.read().lastGood ? { lastGood: store.read().lastGood?.revision } : {}),
          log,
          env: process.env,
          onRefused: refuse,
        });

  // The first revision that passes the gate. A directory that does not is fatal (the
  // operator is at the console); a Git source waits for a newer commit, as it would later.
  let desired: Extract<LoadResult, { ok: true }>;
  let startRevision: string;
  // Until the agent runs, a stop signal only ends the wait for a first revision.
  let stopWaiting: (() => void) | undefined;
  const stopped = new Promise<undefined>((r) => (stopWaiting = () => r(undefined)));
  const whileWaiting = () => stopWaiting?.();
  process.on('SIGTERM', whileWaiting);
  process.on('SIGINT', whileWaiting);
  for (;;) {
    const c = await Promise.race([source.next(), stopped]);
    if (c === undefined) {
      process.off('SIGTERM', whileWaiting);
      process.off('SIGINT', whileWaiting);
      log({
        level: 'info',
        event: 'agent-stopped',
        node,
        message: 'stopped while waiting for a first revision',
      });
      await source.stop();
      return 0;
    }
    const got = await loadDesired(c.input, node);
    if (got.ok === true) {
      desired = got;
      startRevision = c.revision;
      break;
    }
    const why =
      got.ok === 'crashed'
        ? `the repository could not be loaded: ${got.message}`
        : `it does not pass the gate: ${got.diagnostics.map(formatDiagnostic).join('; ')}`;
    if (source.kind === 'dir') {
      if (got.ok === false) for (const d of got.diagnostics) io.err(formatDiagnostic(d));
      io.err(
        got.ok === 'crashed'
          ? `keepgit agent: refusing to start: ${why}`
          : `keepgit agent: refusing to start: ${settings.source.kind === 'dir' ? settings.source.dir : ''} is not a valid repository for node ${node}`,
      );
      await source.stop();
      return 1;
    }
    refuse(c.revision, why);
  }
  process.off('SIGTERM', whileWaiting);
  process.off('SIGINT', whileWaiting);
  source.running(startRevision);
  for (const d of desired.warnings)
    log({ level: 'warn', event: 'repository-warning', file: d.file, message: formatDiagnostic(d) });

  const addresses = createNetlinkAddressDriver({ keepAliveWhileSubscribed: true });
  const announcing = agentAnnouncer();
  if (!announcing.ok)
    log({
      level: 'warn',
      event: 'announcer-unavailable',
      message: `${announcing.message}: VIPs will not be announced`,
    });
  const timers = systemTimers();
  // Signals that arrive while instances are still starting must not be lost.
  let signalled: NodeJS.Signals | undefined;
  let onSignal: (sig: NodeJS.Signals) => void = (sig) => {
    signalled = sig;
  };
  const handler = (sig: NodeJS.Signals) => onSignal(sig);
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  // SIGHUP, as with keepalived: read the directory again (or fetch the remote now); the
  // revision goes through the same gate and apply as any other.
  let onReload: () => void = () => {};
  const hup = () => onReload();
  process.on('SIGHUP', hup);
  const done = () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
    process.off('SIGHUP', hup);
    addresses.close();
  };

  const resyncMs = config.resync === undefined ? undefined : parseDuration(config.resync);
  const started = await runAgent(
    { node, repository: desired.repository, view: desired.view, revision: startRevision },
    {
      openTransport: openVrrpTransport,
      addresses,
      ...(announcing.ok ? { announcer: announcing.announcer } : {}),
      clock: systemClock,
      timers,
      log,
      secrets: { env: process.env, readFile: (p) => readFileSync(p, 'utf8') },
      // KEEPGIT_TEST_HOLD_JOURNAL_MS is for the kill -9 lab test only (docs/reconcile.md).
      journal: fileApplyJournal(stateDir, {
        holdBeforeClearMs: Number(process.env.KEEPGIT_TEST_HOLD_JOURNAL_MS ?? 0) || 0,
      }),
      ...(desired.view.virtualServers.length > 0
        ? {
            dataplanes: (await import('../agent/node-dataplanes.ts')).nodeDataplanes(stateDir),
          }
        : {}),
      ...(desired.view.instances.some((i) => i.family === 6)
        ? { hopLimitGuard: (await import('../drivers/vrrp-socket/hop-limit-guard.ts')).nftHopLimitGuard() }
        : {}),
      // Drift (docs/drift.md): heal unless selfHeal is false; compare everything every `resync`.
      ...(config.selfHeal !== undefined ? { selfHeal: config.selfHeal } : {}),
      ...(resyncMs !== undefined && resyncMs > 0 ? { resyncMs } : {}),
    },
  );
  if (!started.ok) {
    log({ level: 'error', event: 'agent-refused', node, message: started.message });
    await source.stop();
    done();
    return 1;
  }
  const agent = started.agent;
  let vips = vipsOf(desired.view);
  status = agentStatusSource({
    agent,
    source: () => source.status(),
    vips: () => vips,
    drift: () => agent.drift(),
    ...(metrics ? { metrics } : {}),
  });
  const tracked = status;
  for (const r of refusedBeforeStart) tracked.refuse(r.revision, r.reason);
  void recorded(store.recordApplied(startRevision));

  // Every later revision, from any source, takes this path: gate, apply (whole or not at
  // all), record.
  source.follow(async (c) => {
    const next = await loadDesired(c.input, node);
    if (next.ok !== true) {
      refuse(
        c.revision,
        next.ok === 'crashed'
          ? `the repository could not be loaded: ${next.message}`
          : `it does not pass the gate: ${next.diagnostics.map(formatDiagnostic).join('; ')}`,
      );
      return;
    }
    const gated = { repository: next.repository, view: next.view };
    const outcome = await tracked.reconcile(c.revision, () => agent.applyRevision(gated, c.revision));
    if (outcome.applied) {
      vips = vipsOf(next.view);
      source.running(c.revision);
      await recorded(store.recordApplied(c.revision));
    } else await recorded(store.recordRefused(c.revision, outcome.reason));
  });
  // A Git source's revisions arrive at any time and a webhook's latency counts: keep the
  // next repository loader started and waiting.
  if (source.kind === 'git') warmLoadsFor(node);
  onReload = () => {
    log({
      level: 'info',
      event: 'signal',
      reason: 'SIGHUP',
      message: `reading the ${source.kind} source again`,
    });
    source.trigger();
  };

  // The webhook: a push to the followed ref fetches at once.
  const hookSecret = source.kind === 'git' ? settings.webhookSecret : undefined;
  if (hookSecret !== undefined && at === undefined)
    log({
      level: 'warn',
      event: 'webhook-off',
      message: 'a webhook secret is set but the API is not listening (--listen)',
    });

  let server: Listening | undefined;
  if (api !== undefined && at !== undefined) {
    try {
      const { statusApp } = await import('../api/status-app.ts');
      const hooks =
        hookSecret === undefined
          ? undefined
          : (await import('../api/hook-route.ts')).hookRoutes({
              secret: hookSecret,
              onPush: (push) => {
                const mine = source.follows(push.ref);
                log({
                  level: 'info',
                  event: 'webhook',
                  reason: push.provider,
                  message: `push to ${push.ref}${mine ? ': fetching now' : ': not the followed ref, ignored'}`,
                });
                if (mine) source.trigger();
                return mine;
              },
            });
      server = await api.listen(
        statusApp(tracked, {
          ...(hooks ? { hooks } : {}),
          onError: (e) =>
            log({ level: 'error', event: 'api-error', message: e instanceof Error ? e.message : String(e) }),
        }),
        at,
      );
      log({ level: 'info', event: 'listening', host: server.host, port: server.port });
    } catch (e) {
      log({
        level: 'error',
        event: 'agent-refused',
        message: `cannot listen on ${listenAt}: ${e instanceof Error ? e.message : String(e)}`,
      });
      await agent.stop();
      await source.stop();
      done();
      return 1;
    }
  }

  const code = await new Promise<number>((resolveExit) => {
    let stopping = false;
    onSignal = (sig) => {
      if (stopping) {
        // An operator who asks twice wants out now: leave as a crash would, the peer times us out.
        log({
          level: 'warn',
          event: 'signal',
          reason: sig,
          message: 'second signal: exiting without waiting',
        });
        agent.abandon().then(() => resolveExit(1));
        return;
      }
      stopping = true;
      log({
        level: 'info',
        event: 'signal',
        reason: sig,
        message: 'stopping: priority 0, then VIPs released',
      });
      agent.stop().then(() => resolveExit(0));
    };
    if (signalled !== undefined) onSignal(signalled);
  });
  await server?.close();
  // The poller's timer (or the directory watcher) would keep the process alive.
  await source.stop();
  done();
  return code;
};

/** Each instance's VIPs (excluded ones too: the node holds them as well), for /status. */
function vipsOf(view: NodeView): Record<string, string[]> {
  return Object.fromEntries(
    view.instances.map((i) => [i.name, [...i.vips, ...i.excludedVips].map((v) => v.address)]),
  );
}
