import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { duration } from '../model/common-schema.ts';
import { type Diagnostic, formatDiagnostic } from '../model/diagnostic.ts';
import { parseDuration } from '../model/duration.ts';
import { parseYamlDocument } from './yaml-document.ts';
import { checkSchema } from './zod-diagnostics.ts';

// The agent's own configuration (/etc/keepgit/agent.yaml): where this node's desired state
// comes from, which keys may sign it, the webhook's secret, the state directory. It lives
// on the node, never in the repository it describes: a repository cannot choose the keys
// it is checked against. Secrets are named by file (or environment), never written here.

const gitSource = z
  .object({
    url: z.string().min(1),
    branch: z.string().min(1).optional(),
    tag: z.string().min(1).optional(),
    interval: duration.optional(),
    depth: z.number().int().min(0).optional(),
    allowRewind: z.boolean().optional(),
    tokenFile: z.string().min(1).optional(),
    tokenAuth: z.enum(['basic', 'bearer']).optional(),
    username: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
  })
  .strict()
  .refine((g) => !(g.branch && g.tag), { error: 'set branch or tag, not both' });

// A key file, or the key's text inline (an armoured OpenPGP key, an OpenSSH public key line).
const trustKey = z.union([z.object({ file: z.string().min(1) }).strict(), z.string().min(1)]);

export const agentConfigSchema = z
  .object({
    node: z.string().min(1).optional(),
    stateDir: z.string().min(1).optional(),
    listen: z.string().min(1).optional(),
    log: z.enum(['json', 'text']).optional(),
    source: z
      .object({
        git: gitSource.optional(),
        dir: z
          .object({ path: z.string().min(1), watch: z.boolean().optional(), debounce: duration.optional() })
          .strict()
          .optional(),
      })
      .strict()
      .refine((s) => (s.git === undefined) !== (s.dir === undefined), {
        error: 'set exactly one of source.git and source.dir',
      }),
    webhook: z
      .object({ secretFile: z.string().min(1).optional() })
      .strict()
      .optional(),
    trust: z
      .object({ keys: z.array(trustKey).min(1) })
      .strict()
      .optional(),
    selfHeal: z.boolean().optional(),
    resync: duration.optional(),
  })
  .strict();

export type AgentConfig = z.output<typeof agentConfigSchema>;

export const DEFAULT_POLL_INTERVAL_MS = 30_000;

export type AgentConfigResult = { ok: true; config: AgentConfig } | { ok: false; errors: string[] };

/** Parses the text of an agent configuration file; errors name the file, line and field. */
export function parseAgentConfig(text: string, file: string): AgentConfigResult {
  const parsed = parseYamlDocument(text, file);
  const fail = (ds: Diagnostic[]): AgentConfigResult => ({ ok: false, errors: ds.map(formatDiagnostic) });
  if (!parsed.doc) return fail(parsed.diagnostics);
  const checked = checkSchema(agentConfigSchema, parsed.doc);
  if (!checked.data) return fail(checked.diagnostics);
  return { ok: true, config: checked.data };
}

export async function readAgentConfig(file: string): Promise<AgentConfigResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { ok: false, errors: [`${file}: cannot read the agent configuration (${code})`] };
  }
  return parseAgentConfig(text, file);
}

/** The poll interval of a git source, in ms. */
export function pollIntervalMs(git: NonNullable<AgentConfig['source']['git']>): number {
  return git.interval === undefined
    ? DEFAULT_POLL_INTERVAL_MS
    : (parseDuration(git.interval) ?? DEFAULT_POLL_INTERVAL_MS);
}
