import { parseArgs } from 'node:util';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { loadDesired } from './agent-load.ts';
import { type AgentFlags, type AgentSourceSetting, agentSettings, SOURCE_OPTIONS } from './agent-settings.ts';
import { followedRefOf, gitSourceConfig } from './agent-source.ts';
import type { Command } from './io.ts';

// keepgit reconcile --once: one invocation of the agent's revision handler, for cron, CI or a
// Git hook. It takes the head of the source as the agent would — fetch (into the same cache),
// signature, rewind check against what the node applied, the gate — and then, when an agent
// runs on the node (--agent URL, or the configuration's listen address), hands the revision
// to it through its webhook and waits until the agent has applied or refused it. Without an
// agent nothing is applied (VIPs belong to a running VRRP speaker): the command then answers
// whether the nodes would take this revision.
//
// Exit codes: 0 applied (or, without an agent, accepted), 1 refused (the reason printed),
// 2 an error (usage, unreachable source or agent).

const USAGE =
  'usage: keepgit reconcile --once (--config FILE | --repo URL [--branch B | --tag T] | --repo-dir DIR) --node NAME\n' +
  '                         [--state-dir DIR] [--agent URL] [--timeout 30s]';

export const reconcileCommand: Command = async (args, io) => {
  let values: AgentFlags & { once?: boolean; agent?: string; timeout?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      allowPositionals: false,
      options: {
        ...SOURCE_OPTIONS,
        once: { type: 'boolean' },
        agent: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    io.err(`keepgit reconcile: ${e instanceof Error ? e.message : String(e)}`);
    io.err(USAGE);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.once !== true) {
    io.err('keepgit reconcile: only --once is supported (the agent is the long-running form)');
    io.err(USAGE);
    return 2;
  }
  const { once: _, agent, timeout, help: __, ...flags } = values;
  const settings = await agentSettings(flags, {
    out: io.out,
    err: (l) => io.err(l.replace(/^keepgit agent:/, 'keepgit reconcile:')),
  });
  if (typeof settings === 'number') return settings;
  const { parseDuration } = await import('../model/duration.ts');
  const timeoutMs = parseDuration(timeout ?? '30s');
  if (timeoutMs === undefined) {
    io.err(`keepgit reconcile: --timeout ${timeout}: expected a duration such as 30s`);
    return 2;
  }

  const head = await headOf(settings.source, settings.stateDir, settings.trust);
  if ('error' in head) {
    io.err(`keepgit reconcile: ${head.error}`);
    return 2;
  }
  if ('refused' in head) {
    io.out(`refused ${head.revision}: ${head.refused}`);
    return 1;
  }
  const desired = await loadDesired(head.input, settings.node);
  if (desired.ok !== true) {
    if (desired.ok === false) for (const d of desired.diagnostics) io.err(formatDiagnostic(d));
    io.out(
      `refused ${head.revision}: ${desired.ok === 'crashed' ? desired.message : 'it does not pass the gate (diagnostics above)'}`,
    );
    return 1;
  }

  const agentUrl = agent ?? (settings.config.listen ? `http://${settings.config.listen}` : undefined);
  if (agentUrl === undefined) {
    io.out(
      `accepted ${head.revision} for node ${settings.node}: signature, history and gate pass; nothing applied (no agent given: --agent URL)`,
    );
    return 0;
  }
  if (settings.source.kind !== 'git' || settings.webhookSecret === undefined) {
    io.err(
      'keepgit reconcile: handing a revision to the agent needs a Git source and the webhook secret (webhook.secretFile or KEEPGIT_WEBHOOK_SECRET)',
    );
    return 2;
  }
  return handOver(agentUrl, head.revision, followedRefOf(gitSourceConfig(settings.source.git)), {
    secret: settings.webhookSecret,
    timeoutMs,
    io,
  });
};

type Head =
  | { revision: string; input: string | ReadonlyMap<string, string> }
  | { revision: string; refused: string }
  | { error: string };

/** The source's head as the agent would take it: fetched, signature and history checked. */
async function headOf(
  source: AgentSourceSetting,
  stateDir: string,
  trust: Parameters<typeof import('../source/verify-signature.ts').verifyCommit>[2] | undefined,
): Promise<Head> {
  if (source.kind === 'dir') return { revision: `dir:${source.dir}`, input: source.dir };
  const { fetchRevision, deepenHistory } = await import('../source/git-remote.ts');
  const config = gitSourceConfig(source.git);
  const fetched = await fetchRevision({ config, stateDir, env: process.env });
  if ('error' in fetched) return { error: fetched.error };
  if (trust !== undefined) {
    const { verifyCommit } = await import('../source/verify-signature.ts');
    const v = await verifyCommit(fetched.gitdir, fetched.commit, trust);
    if (!v.ok) return { revision: fetched.commit, refused: v.reason };
  }
  const applied = await appliedRevision(stateDir);
  if (applied !== undefined && /^[0-9a-f]{40}$/.test(applied)) {
    const { admitRevision, orderRevisions } = await import('../source/revision-order.ts');
    const order = await orderRevisions({
      gitdir: fetched.gitdir,
      fetched: fetched.commit,
      applied,
      deepen: (depth) => deepenHistory({ config, stateDir }, depth),
    });
    const verdict = admitRevision(order, config.allowRewind === true);
    if (!verdict.ok) return { revision: fetched.commit, refused: verdict.message };
  }
  return { revision: fetched.commit, input: fetched.files };
}

async function appliedRevision(stateDir: string): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    const state = JSON.parse(await readFile(`${stateDir}/state.json`, 'utf8')) as {
      applied?: { revision?: string } | null;
    };
    return state.applied?.revision;
  } catch {
    return undefined;
  }
}

/** Sends the agent a signed push for its followed ref and waits for its verdict on `revision`. */
async function handOver(
  agentUrl: string,
  revision: string,
  ref: string,
  o: { secret: string; timeoutMs: number; io: { out(l: string): void; err(l: string): void } },
): Promise<number> {
  const { createHmac } = await import('node:crypto');
  const base = agentUrl.replace(/\/+$/, '');
  const body = JSON.stringify({ ref, after: revision, repository: {} });
  const signature = `sha256=${createHmac('sha256', o.secret).update(body).digest('hex')}`;
  try {
    const res = await fetch(`${base}/hooks/git`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': signature,
      },
      body,
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 202) {
      o.io.err(`keepgit reconcile: the agent at ${base} answered ${res.status}: ${await res.text()}`);
      return 2;
    }
  } catch (e) {
    o.io.err(
      `keepgit reconcile: cannot reach the agent at ${base}: ${e instanceof Error ? e.message : String(e)}`,
    );
    return 2;
  }
  const until = Date.now() + o.timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(3000) });
      const s = (await res.json()) as {
        revision?: { applied?: string | null; refused?: { rev: string; reason: string }[] };
      };
      if (s.revision?.applied === revision) {
        o.io.out(`applied ${revision}`);
        return 0;
      }
      const refused = s.revision?.refused?.find((r) => r.rev === revision);
      if (refused) {
        o.io.out(`refused ${revision}: ${refused.reason}`);
        return 1;
      }
    } catch {
      // The agent may be busy applying: ask again.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  o.io.err(`keepgit reconcile: the agent did not apply or refuse ${revision} within ${o.timeoutMs} ms`);
  return 2;
}
