import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { agentAnnouncer } from '../agent/arp-announcer.ts';
import { createLogger, type LogFormat } from '../agent/log.ts';
import { runAgent } from '../agent/run-agent.ts';

/** Kept here so that a VRRP-only agent does not load the dataplane drivers to learn it. */
const DEFAULT_STATE_DIR = '/var/lib/keepgit';

import type { Listening } from '../api/listen.ts';
import { createNetlinkAddressDriver } from '../drivers/addresses/netlink-address-driver.ts';
import { openVrrpTransport } from '../drivers/vrrp-socket/vrrp-transport.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import type { NodeView } from '../model/node-view.ts';
import type { Log } from '../vrrp/instance-log.ts';
import { systemClock, systemTimers } from '../vrrp/instance-timers.ts';
import { loadDesired } from './agent-load.ts';
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
  'usage: keepgit agent --repo-dir DIR --node NAME [--listen HOST:PORT] [--log json|text]\n' +
  '  --listen   serve the status API (/, /status, /readyz, /metrics ...) on this address only (default: no HTTP; e.g. 127.0.0.1:9742)\n' +
  '  --log      json (default): one JSON object per line; text: one human line per event';

export const agentCommand: Command = async (args, io) => {
  let values: { 'repo-dir'?: string; node?: string; listen?: string; log?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      allowPositionals: false,
      options: {
        'repo-dir': { type: 'string' },
        node: { type: 'string' },
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
  const dir = values['repo-dir'];
  const node = values.node;
  if (dir === undefined || node === undefined) {
    io.err('keepgit agent: --repo-dir and --node are required');
    io.err(USAGE);
    return 2;
  }
  const format = values.log ?? 'json';
  if (format !== 'json' && format !== 'text') {
    io.err(`keepgit agent: --log ${format}: expected json or text`);
    return 2;
  }
  // The HTTP server (Hono and @hono/node-server) is loaded only when asked for: an agent
  // without --listen does not carry it in memory.
  const api = values.listen === undefined ? undefined : await import('../api/listen.ts');
  const at = values.listen === undefined ? undefined : api?.parseListen(values.listen);
  if (values.listen !== undefined && at === undefined) {
    io.err(`keepgit agent: --listen ${values.listen}: expected HOST:PORT, e.g. 127.0.0.1:9742 or [::1]:9742`);
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

  const desired = await loadDesired(dir, node);
  if (desired.ok === 'crashed') {
    io.err(`keepgit agent: refusing to start: the repository could not be loaded: ${desired.message}`);
    return 1;
  }
  if (!desired.ok) {
    for (const d of desired.diagnostics) io.err(formatDiagnostic(d));
    io.err(`keepgit agent: refusing to start: ${dir} is not a valid repository for node ${node}`);
    return 1;
  }
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
  // SIGHUP, as with keepalived: read the directory again and apply what changed. The
  // revision goes through the same gate as at start, in the same loader.
  let reloads = 0;
  let onReload: () => void = () => {};
  const hup = () => onReload();
  process.on('SIGHUP', hup);
  const done = () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
    process.off('SIGHUP', hup);
    addresses.close();
  };

  const started = await runAgent(
    { node, repository: desired.repository, view: desired.view, revision: `dir:${resolve(dir)}` },
    {
      openTransport: openVrrpTransport,
      addresses,
      ...(announcing.ok ? { announcer: announcing.announcer } : {}),
      clock: systemClock,
      timers,
      log,
      secrets: { env: process.env, readFile: (p) => readFileSync(p, 'utf8') },
      ...(desired.view.virtualServers.length > 0
        ? {
            dataplanes: (await import('../agent/node-dataplanes.ts')).nodeDataplanes(
              process.env.KEEPGIT_STATE_DIR ?? DEFAULT_STATE_DIR,
            ),
          }
        : {}),
      ...(desired.view.instances.some((i) => i.family === 6)
        ? { hopLimitGuard: (await import('../drivers/vrrp-socket/hop-limit-guard.ts')).nftHopLimitGuard() }
        : {}),
    },
  );
  if (!started.ok) {
    log({ level: 'error', event: 'agent-refused', node, message: started.message });
    done();
    return 1;
  }
  const agent = started.agent;
  let vips = vipsOf(desired.view);
  const status =
    metrics === undefined
      ? undefined
      : (await import('../api/agent-status-source.ts')).agentStatusSource({
          agent,
          source: { kind: 'dir', url: resolve(dir), ref: null, lastFetchAt: new Date().toISOString() },
          vips: () => vips,
          metrics,
        });
  let reloading = Promise.resolve();
  onReload = () => {
    reloading = reloading.then(async () => {
      const revision = `dir:${resolve(dir)}#${++reloads}`;
      log({ level: 'info', event: 'signal', reason: 'SIGHUP', message: `reading ${dir} again` });
      const next = await loadDesired(dir, node);
      status?.sourceChanged({
        lastFetchAt: new Date().toISOString(),
        lastError: next.ok === 'crashed' ? next.message : undefined,
      });
      if (next.ok === true) {
        const gated = { repository: next.repository, view: next.view };
        const outcome = status
          ? await status.reconcile(revision, () => agent.applyRevision(gated, revision))
          : await agent.applyRevision(gated, revision);
        if (outcome.applied) vips = vipsOf(next.view);
        return;
      }
      const why =
        next.ok === 'crashed'
          ? next.message
          : `it does not pass the gate: ${next.diagnostics.map(formatDiagnostic).join('; ')}`;
      log({ level: 'warn', event: 'revision-refused', revision, message: `${why}; nothing was changed` });
      status?.refuse(revision, why);
    });
  };

  let server: Listening | undefined;
  if (api !== undefined && at !== undefined && status !== undefined) {
    try {
      const { statusApp } = await import('../api/status-app.ts');
      server = await api.listen(
        statusApp(status, {
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
        message: `cannot listen on ${values.listen}: ${e instanceof Error ? e.message : String(e)}`,
      });
      await agent.stop();
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
  done();
  return code;
};

/** Each instance's VIPs (excluded ones too: the node holds them as well), for /status. */
function vipsOf(view: NodeView): Record<string, string[]> {
  return Object.fromEntries(
    view.instances.map((i) => [i.name, [...i.vips, ...i.excludedVips].map((v) => v.address)]),
  );
}
