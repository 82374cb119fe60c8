import { readFileSync } from 'node:fs';
import type { CliIo, Command } from './io.ts';
import { processIo } from './io.ts';

// The `keepgit` entry point: a table of subcommands, each loaded only when used so that
// `keepgit validate` does not pay for isomorphic-git.

interface Sub {
  summary: string;
  usage: string;
  load: () => Promise<Command>;
}

const SUBCOMMANDS: Record<string, Sub> = {
  validate: {
    summary: 'check a desired-state repository: schema, references and policies',
    usage: 'keepgit validate DIR [--json]',
    load: async () => (await import('./validate.ts')).validateCommand,
  },
  plan: {
    summary: 'show what a revision changes on each node, and which changes are disruptive',
    usage:
      'keepgit plan OLD_DIR NEW_DIR | --repo DIR [--from REV] [--to REV] [--node NAME] [--json | --markdown]',
    load: async () => (await import('./plan.ts')).planCommand,
  },
  import: {
    summary: 'turn keepalived.conf files into a desired-state repository',
    usage: 'keepgit import [NODE=]FILE... -o DIR [--force] [--name CLUSTER] [--config-id ID]',
    load: async () => (await import('./import.ts')).importCommand,
  },
  lab: {
    summary: 'create or remove a test network of namespaces (root; documentation addresses only)',
    usage: 'keepgit lab up|down|status [--hosts a,b,c] [--prefix NAME]',
    load: async () => (await import('./lab.ts')).labCommand,
  },
  reconcile: {
    summary: 'one reconcile of a node: fetch, signature, history, gate, then hand it to the running agent',
    usage:
      'keepgit reconcile --once (--config FILE | --repo URL | --repo-dir DIR) --node NAME [--agent URL] [--state-dir DIR]',
    load: async () => (await import('./reconcile.ts')).reconcileCommand,
  },
  agent: {
    summary: "run this node's VRRP instances from a repository directory (root; SIGTERM stops gracefully)",
    usage:
      'keepgit agent (--config FILE | --repo-dir DIR | --repo URL [--branch B]) --node NAME [--listen HOST:PORT (default: no HTTP)] [--log json|text]',
    load: async () => (await import('./agent.ts')).agentCommand,
  },
  status: {
    summary: 'one table of every node: Ready, revision, refused revisions, masters, drift, real servers',
    usage: 'keepgit status [URL...] [--json] [--timeout MS]   (default URL http://127.0.0.1:9742)',
    load: async () => (await import('./status.ts')).statusCommand,
  },
  genhash: {
    summary: "print the MD5 digest of a page for an HTTP/HTTPS check, as keepalived's genhash does",
    usage: 'keepgit genhash URL | [--ssl] [--sni] --server ADDR --port PORT --url PATH [--virtualhost HOST]',
    load: async () => (await import('./genhash.ts')).genhashCommand,
  },
  export: {
    summary: "render a node's view back to keepalived.conf",
    usage: 'keepgit export DIR --node NAME [--format keepalived] [-o FILE] [--with-secrets]',
    load: async () => (await import('./export.ts')).exportCommand,
  },
};

function usage(io: CliIo): void {
  io.out('keepgit — keepalived, run the GitOps way');
  io.out('');
  io.out('Usage: keepgit <command> [options]    (keepgit <command> --help for details)');
  io.out('');
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  for (const [name, sub] of Object.entries(SUBCOMMANDS)) io.out(`  ${name.padEnd(width)}  ${sub.summary}`);
  io.out('');
  io.out('Documentation: docs/cli.md');
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    usage(io);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    io.out(`keepgit ${pkg.version}`);
    return 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    io.err(`keepgit: unknown command "${name}"`);
    usage(io);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`Usage: ${sub.usage}`);
    io.out('');
    io.out(sub.summary);
    io.out('See docs/cli.md for the options and exit codes.');
    return 0;
  }
  try {
    return await (await sub.load())(rest, io);
  } catch (e) {
    // A bug, not a user error: say so plainly instead of dumping a stack at the user.
    io.err(`keepgit ${name}: internal error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.KEEPGIT_DEBUG) io.err(e instanceof Error ? (e.stack ?? '') : '');
    return 2;
  }
}
