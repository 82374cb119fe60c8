import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type AgentConfig, readAgentConfig } from '../config/agent-config.ts';
import { parseDuration } from '../model/duration.ts';
import type { TrustKeys } from '../source/trust-keys.ts';
import type { CliIo } from './io.ts';

// What `keepgit agent` runs with: its configuration file (optional) with the command line
// on top. Everything a user can get wrong here ends the command before anything starts,
// with the file, field or flag named.

export const DEFAULT_STATE_DIR = '/var/lib/keepgit';

/** The parseArgs options naming where the desired state comes from (agent and reconcile). */
export const SOURCE_OPTIONS = {
  config: { type: 'string' },
  'repo-dir': { type: 'string' },
  repo: { type: 'string' },
  branch: { type: 'string' },
  tag: { type: 'string' },
  node: { type: 'string' },
  'state-dir': { type: 'string' },
} as const;

export interface AgentFlags {
  config?: string;
  'repo-dir'?: string;
  repo?: string;
  branch?: string;
  tag?: string;
  node?: string;
  'state-dir'?: string;
}

export type AgentSourceSetting =
  | { kind: 'dir'; dir: string; watch?: boolean; debounceMs?: number }
  | { kind: 'git'; git: NonNullable<AgentConfig['source']['git']> };

export interface AgentSettings {
  node: string;
  config: Omit<AgentConfig, 'source'>;
  source: AgentSourceSetting;
  stateDir: string;
  trust?: TrustKeys;
  /** The webhook's secret, from KEEPGIT_WEBHOOK_SECRET or webhook.secretFile. */
  webhookSecret?: string;
  /** To log once the agent's log is open. */
  warnings: string[];
}

/** The settings, or the exit code after saying what is wrong (1 a bad file, 2 usage). */
export async function agentSettings(
  flags: AgentFlags,
  io: CliIo,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<AgentSettings | number> {
  const usage = (message: string): number => {
    io.err(`keepgit agent: ${message}`);
    return 2;
  };
  let config: Partial<AgentConfig> = {};
  if (flags.config !== undefined) {
    const r = await readAgentConfig(flags.config);
    if (!r.ok) {
      for (const e of r.errors) io.err(e);
      io.err(`keepgit agent: refusing to start: ${flags.config} is not a valid agent configuration`);
      return 1;
    }
    config = r.config;
  }
  const sources = [flags['repo-dir'], flags.repo].filter((s) => s !== undefined).length;
  if (sources > 1) return usage('give one of --repo-dir and --repo');
  if ((flags.branch !== undefined || flags.tag !== undefined) && flags.repo === undefined)
    return usage('--branch and --tag go with --repo');
  if (flags.branch !== undefined && flags.tag !== undefined) return usage('give --branch or --tag, not both');
  let source: AgentSourceSetting;
  if (flags['repo-dir'] !== undefined) source = { kind: 'dir', dir: flags['repo-dir'] };
  else if (flags.repo !== undefined)
    source = {
      kind: 'git',
      git: {
        ...(config.source?.git ?? {}),
        url: flags.repo,
        ...(flags.tag !== undefined ? { tag: flags.tag, branch: undefined } : {}),
        ...(flags.branch !== undefined ? { branch: flags.branch, tag: undefined } : {}),
      },
    };
  else if (config.source?.git) source = { kind: 'git', git: config.source.git };
  else if (config.source?.dir) {
    const d = config.source.dir;
    const debounceMs = d.debounce === undefined ? undefined : parseDuration(d.debounce);
    source = {
      kind: 'dir',
      dir: d.path,
      ...(d.watch !== undefined ? { watch: d.watch } : {}),
      ...(debounceMs !== undefined ? { debounceMs } : {}),
    };
  } else return usage('say where the desired state comes from: --config FILE, --repo-dir DIR or --repo URL');
  const node = flags.node ?? config.node;
  if (node === undefined) return usage('--node (or node: in the configuration) is required');

  let trust: TrustKeys | undefined;
  if (config.trust !== undefined) {
    const { loadTrustKeys } = await import('../source/trust-keys.ts');
    const r = await loadTrustKeys(config.trust, { baseDir: dirname(flags.config ?? '.') });
    if (!r.ok) {
      for (const e of r.errors) io.err(`${flags.config}: ${e}`);
      io.err('keepgit agent: refusing to start: a trust key could not be read');
      return 1;
    }
    trust = r.trust;
  }
  const secret = readWebhookSecret(config, env);
  if ('error' in secret) {
    io.err(`keepgit agent: refusing to start: ${secret.error}`);
    return 1;
  }
  const { source: _, ...rest } = config;
  return {
    node,
    config: rest,
    source,
    stateDir: flags['state-dir'] ?? config.stateDir ?? env.KEEPGIT_STATE_DIR ?? DEFAULT_STATE_DIR,
    ...(trust ? { trust } : {}),
    ...(secret.secret !== undefined ? { webhookSecret: secret.secret } : {}),
    warnings: secret.warning ? [secret.warning] : [],
  };
}

function readWebhookSecret(
  config: Partial<AgentConfig>,
  env: Readonly<Record<string, string | undefined>>,
): { secret?: string; warning?: string } | { error: string } {
  const file = config.webhook?.secretFile;
  const fromEnv = env.KEEPGIT_WEBHOOK_SECRET?.trim();
  if (file !== undefined && fromEnv)
    return {
      error: 'the webhook secret is set twice (KEEPGIT_WEBHOOK_SECRET and webhook.secretFile): keep one',
    };
  if (fromEnv) return { secret: fromEnv };
  if (file === undefined) return {};
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text === '') return { error: `webhook.secretFile ${file} is empty` };
    // Readable by everyone means known to everyone: say so (the agent still starts).
    if ((statSync(file).mode & 0o004) !== 0)
      return { secret: text, warning: `webhook.secretFile ${file} is readable by every user: chmod 600 it` };
    return { secret: text };
  } catch (e) {
    return { error: `cannot read webhook.secretFile ${file}: ${(e as NodeJS.ErrnoException).code ?? e}` };
  }
}
