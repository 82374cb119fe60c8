import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, sep } from 'node:path';
import { globSegmentMatcher, hasGlobMagic } from '../config/import-glob.ts';
import { routerIdOf } from '../config/import-global.ts';
import { type ImportInput, importKeepalived } from '../config/import-keepalived.ts';
import { isModelName, modelName } from '../config/import-values.ts';
import type { KaIncludeResolver } from '../config/keepalived-ast.ts';
import { parseKeepalivedConf } from '../config/keepalived-parse.ts';
import { loadRepository } from '../config/load-repository.ts';
import { renderRepository } from '../config/render-repository.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import type { CliIo, Command } from './io.ts';

// keepgit import [NODE=]FILE... -o DIR [--force] [--name CLUSTER] [--config-id ID]
// (--config-id: keepalived's -i, which selects the @ID conditional lines)
//
// The I/O edge of the importer: reads the files and their includes, names the nodes,
// and writes the repository. Exit codes:
//   0  everything imported;
//   2  imported, but some keywords were not (each printed as file:line: keyword (reason)).
//      An input with no vrrp_instance and no virtual_server (an empty file, say) is one of
//      them: its node is written, but such an import is almost always the wrong file;
//   1  nothing written: bad usage, an unreadable or non-text input, a syntax error
//      (file:line), a non-empty DIR without --force.
// The repository is checked with the loader before anything is written, so exit 0 or 2
// always leaves a repository that `keepgit validate` loads.

const USAGE = 'usage: keepgit import [NODE=]FILE... -o DIR [--force] [--name CLUSTER] [--config-id ID]';

interface Args {
  inputs: { node?: string; file: string }[];
  out: string;
  force: boolean;
  name?: string;
  configId?: string;
}

function parseArgs(argv: string[], io: CliIo): Args | undefined {
  const inputs: Args['inputs'] = [];
  let out: string | undefined;
  let force = false;
  let name: string | undefined;
  let configId: string | undefined;
  let options = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (flag: string): string | undefined => {
      const inline = a.startsWith(`${flag}=`) ? a.slice(flag.length + 1) : undefined;
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') io.err(`keepgit import: ${flag} needs a value\n${USAGE}`);
      return v || undefined;
    };
    if (options && a === '--') options = false;
    else if (
      options &&
      (a === '-o' || a === '--output' || a.startsWith('-o=') || a.startsWith('--output='))
    ) {
      out = value(a.startsWith('--') ? '--output' : '-o');
      if (out === undefined) return undefined;
    } else if (options && (a === '--name' || a.startsWith('--name='))) {
      name = value('--name');
      if (name === undefined) return undefined;
      if (!isModelName(name)) {
        io.err(
          `keepgit import: --name ${JSON.stringify(name)}: expected letters, digits, '_', '.', ':' or '-' (at most 63)`,
        );
        return undefined;
      }
    } else if (options && (a === '--config-id' || a.startsWith('--config-id='))) {
      configId = value('--config-id');
      if (configId === undefined) return undefined;
    } else if (options && a === '--force') force = true;
    else if (options && a.startsWith('-') && a !== '-') {
      io.err(`keepgit import: unknown option ${a}\n${USAGE}`);
      return undefined;
    } else {
      // NODE=FILE when what precedes the first = could be a node name, not a path.
      const m = /^([^=/\\]+)=(.+)$/.exec(a);
      inputs.push(m ? { node: m[1] as string, file: m[2] as string } : { file: a });
    }
  }
  if (inputs.length === 0 || out === undefined) {
    io.err(
      `keepgit import: ${inputs.length === 0 ? 'no keepalived.conf file given' : 'no output directory (-o DIR)'}\n${USAGE}`,
    );
    return undefined;
  }
  return {
    inputs,
    out,
    force,
    ...(name === undefined ? {} : { name }),
    ...(configId === undefined ? {} : { configId }),
  };
}

const errorText = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') return 'no such file';
  if (err?.code === 'EACCES') return 'permission denied';
  if (err?.code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(e);
};

function readText(file: string): string {
  if (statSync(file).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  return readFileSync(file, 'utf8');
}

/** The files a glob pattern names, sorted as glob(3) returns them. */
export function expandGlob(pattern: string): string[] {
  const parts = pattern.split(/[/\\]+/);
  let paths: string[] = [isAbsolute(pattern) ? sep : ''];
  for (const [i, part] of parts.entries()) {
    if (part === '' && i === 0) continue;
    if (part === '') continue;
    const last = i === parts.length - 1;
    const next: string[] = [];
    for (const base of paths) {
      if (!hasGlobMagic(part)) {
        next.push(base === '' ? part : join(base, part));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base === '' ? '.' : base);
      } catch {
        continue;
      }
      const match = globSegmentMatcher(part);
      for (const n of names.sort()) if (match(n)) next.push(base === '' ? n : join(base, n));
    }
    paths = last ? next : next.filter((p) => isDir(p));
  }
  return paths.filter((p) => p !== '' && p !== sep && isFile(p));
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** Includes resolve against the including file's directory; an unreadable match is an error. */
const resolveInclude: KaIncludeResolver = (pattern, fromFile) => {
  const full = isAbsolute(pattern) ? pattern : join(dirname(fromFile), pattern);
  return expandGlob(full).map((file) => {
    try {
      return { file, text: readText(file) };
    } catch (e) {
      throw new Error(`cannot read ${file}: ${errorText(e)}`);
    }
  });
};

/** Node names: NODE= if given, else router_id, else the file name; each made unique. */
function nodeNames(
  parsed: { node?: string; file: string; statements: ImportInput['statements'] }[],
  io: CliIo,
): string[] | undefined {
  const names: string[] = [];
  const explicit = new Set(parsed.flatMap((p) => (p.node ? [p.node] : [])));
  for (const p of parsed) {
    if (p.node !== undefined) {
      if (!isModelName(p.node)) {
        io.err(
          `keepgit import: node name ${JSON.stringify(p.node)}: expected letters, digits, '_', '.', ':' or '-' (at most 63)`,
        );
        return undefined;
      }
      if (names.includes(p.node)) {
        io.err(`keepgit import: node ${p.node} is given twice; each file is one node`);
        return undefined;
      }
      names.push(p.node);
      continue;
    }
    const fromFile = modelName(basename(p.file, extname(p.file)) || 'node');
    const rid = routerIdOf(p.statements);
    const candidates = [rid === undefined ? undefined : modelName(rid), fromFile].filter(
      (c): c is string => c !== undefined && !names.includes(c) && !explicit.has(c),
    );
    let name = candidates[0];
    if (name === undefined) {
      for (let k = 2; name === undefined || names.includes(name) || explicit.has(name); k++)
        name = `${fromFile.slice(0, 60)}-${k}`;
    }
    if (rid !== undefined && name !== modelName(rid)) {
      io.out(
        `${p.file}: node ${name} (its router_id ${rid} names another node; use NODE=${p.file} to choose)`,
      );
    }
    names.push(name);
  }
  return names;
}

function checkOutputDir(dir: string, force: boolean, io: CliIo): boolean {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) {
      io.err(`keepgit import: ${dir} exists and is not a directory`);
      return false;
    }
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    io.err(`keepgit import: ${dir}: ${errorText(e)}`);
    return false;
  }
  // A fresh `git init` is where an import naturally goes.
  if (entries.some((e) => e !== '.git') && !force) {
    io.err(`keepgit import: ${dir} is not empty; nothing written (use --force to write into it)`);
    return false;
  }
  return true;
}

const safeList = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export const importCommand: Command = async (argv, io) => {
  const args = parseArgs(argv, io);
  if (!args) return 1;
  if (!checkOutputDir(args.out, args.force, io)) return 1;

  const parsed: {
    node?: string;
    file: string;
    statements: ImportInput['statements'];
    notices: ImportInput['notices'];
  }[] = [];
  for (const input of args.inputs) {
    let text: string;
    try {
      text = readText(input.file);
    } catch (e) {
      io.err(`${input.file}: cannot read: ${errorText(e)}; nothing written`);
      return 1;
    }
    const r = parseKeepalivedConf(
      text,
      input.file,
      resolveInclude,
      args.configId === undefined ? {} : { configId: args.configId },
    );
    if (!r.ok) {
      io.err(`${r.error.pos.file}:${r.error.pos.line}: ${r.error.message}; nothing written`);
      return 1;
    }
    parsed.push({ ...input, statements: r.statements, notices: r.notices });
  }
  const names = nodeNames(parsed, io);
  if (!names) return 1;

  const result = importKeepalived(
    parsed.map((p, i) => ({
      node: names[i] as string,
      file: p.file,
      statements: p.statements,
      notices: p.notices ?? [],
    })),
    args.name === undefined ? {} : { clusterName: args.name },
  );
  const files = renderRepository(
    result,
    args.inputs.map((i) => i.file),
  );
  const loaded = loadRepository(files);
  if (hasErrors(loaded.diagnostics)) {
    for (const d of loaded.diagnostics) io.err(formatDiagnostic(d));
    io.err(
      'keepgit import: the imported repository would not load (see above); nothing written. ' +
        'Unless a limit named above explains it, this is a bug in the importer: please report it',
    );
    return 1;
  }
  try {
    mkdirSync(join(args.out, 'nodes'), { recursive: true });
    for (const [path, text] of files) writeFileSync(join(args.out, path), text);
  } catch (e) {
    io.err(`keepgit import: cannot write ${args.out}: ${errorText(e)}`);
    return 1;
  }

  // --force replaces an earlier import: its node files would otherwise join this
  // repository's nodes (and take part in every instance without a per-node map).
  for (const name of safeList(join(args.out, 'nodes'))) {
    if (/\.ya?ml$/.test(name) && !files.has(`nodes/${name}`)) {
      rmSync(join(args.out, 'nodes', name), { force: true });
      io.out(`${join(args.out, 'nodes', name)}: note: removed (left by an earlier import, not in this one)`);
    }
  }
  for (const n of result.notes) io.out(`${n.pos.file}:${n.pos.line}: note: ${n.message}`);
  for (const u of result.unsupported) {
    const what = u.keyword === '' ? u.reason : `${u.keyword} (${u.reason})`;
    io.err(`${u.pos.file}:${u.pos.line}: ${what}`);
  }
  const c = result.cluster;
  const counts = [
    plural(c.instances?.length ?? 0, 'instance'),
    plural(c.syncGroups?.length ?? 0, 'sync group'),
    plural(c.virtualServers?.length ?? 0, 'virtual server'),
  ];
  const who = result.nodes.map((n, i) => `${n.metadata.name} (${parsed[i]?.file})`).join(', ');
  io.out(`imported ${plural(result.nodes.length, 'node')} into ${args.out}: ${who}`);
  io.out(`  ${counts.join(', ')}`);
  if (result.secrets.length > 0) {
    io.out(`  secrets to provide in the agent's environment (see ${join(args.out, '.env.example')}):`);
    for (const s of result.secrets) io.out(`    ${s.env}  (auth_pass of ${s.instance})`);
  }
  if (result.unsupported.length > 0) {
    io.out(
      `  ${plural(result.unsupported.length, 'setting')} not imported: listed on stderr as file:line: keyword (reason)`,
    );
    return 2;
  }
  return 0;
};
