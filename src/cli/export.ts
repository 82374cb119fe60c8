import { chmod, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { exportKeepalived, secretParameter } from '../config/export-keepalived.ts';
import { loadRepository } from '../config/load-repository.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import { nodeView } from '../model/node-view.ts';
import { readRepositoryDir } from '../source/read-repository-dir.ts';
import type { Command } from './io.ts';

// keepgit export DIR --node NAME [--format keepalived] [-o FILE] [--with-secrets]
// Exit 0 written; 1 the repository is invalid or a secret cannot be read; 2 usage.

export const exportCommand: Command = async (args, io) => {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (e) {
    io.err(`keepgit export: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const dir = positionals[0];
  if (!dir || positionals.length > 1 || !values.node) {
    io.err('usage: keepgit export DIR --node NAME [--format keepalived] [-o FILE] [--with-secrets]');
    return 2;
  }
  if (values.format !== 'keepalived') {
    io.err(`keepgit export: unknown format "${values.format}" (supported: keepalived)`);
    return 2;
  }
  const read = await readRepositoryDir(dir);
  if (hasErrors(read.diagnostics)) {
    for (const d of read.diagnostics) io.err(formatDiagnostic(d));
    return 2;
  }
  const loaded = loadRepository(read.files);
  if (!loaded.repository || hasErrors(loaded.diagnostics)) {
    for (const d of loaded.diagnostics) io.err(formatDiagnostic(d));
    io.err(`keepgit export: ${dir} is not a valid repository; nothing exported`);
    return 1;
  }
  const repo = loaded.repository;
  const names = repo.nodes.map((n) => n.doc.metadata.name);
  if (!names.includes(values.node)) {
    io.err(`keepgit export: no node "${values.node}" in ${dir} (nodes: ${names.join(', ') || 'none'})`);
    return 2;
  }
  const view = nodeView(
    repo.cluster.doc,
    repo.nodes.map((n) => n.doc),
    values.node,
  );
  for (const i of view.instances) {
    if (i.auth?.plaintext)
      io.err(
        `keepgit export: instance ${i.name}: its password is written in Git (refused by policy no-plaintext-secret) and is not exported; use auth.secretRef`,
      );
  }
  const secrets = new Map<string, string>();
  if (values['with-secrets']) {
    for (const i of view.instances) {
      const ref = i.auth?.secretRef;
      if (!ref) continue;
      const name = secretParameter(ref, i.name);
      const value =
        'env' in ref
          ? process.env[ref.env]
          : await readFile(ref.file, 'utf8').then(
              (t) => t.trim(),
              () => undefined,
            );
      if (value === undefined || value === '') {
        io.err(
          `keepgit export: instance ${i.name}: secret ${'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`} is not set or unreadable`,
        );
        return 1;
      }
      secrets.set(name, value);
    }
  }
  const text = exportKeepalived(view, { secrets, origin: `${dir}, node ${values.node}` });
  if (values.output) {
    // A file that may hold passwords is readable by its owner only.
    // chmod too: writeFile's mode applies only when it creates the file.
    const mode = secrets.size > 0 ? 0o600 : 0o644;
    await writeFile(values.output, text, { mode });
    await chmod(values.output, mode);
    io.err(`wrote ${values.output}`);
  } else io.out(text.trimEnd());
  return 0;
};

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      node: { type: 'string' },
      format: { type: 'string', default: 'keepalived' },
      output: { type: 'string', short: 'o' },
      'with-secrets': { type: 'boolean', default: false },
    },
  });
}
