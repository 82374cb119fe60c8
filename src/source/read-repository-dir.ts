import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { YAML_LIMITS } from '../config/yaml-document.ts';
import type { Diagnostic } from '../model/diagnostic.ts';

// The effectful edge in front of loadRepository: a checked-out directory read into the
// path → text map the pure loader takes. Only the files the loader looks at are read.

export interface ReadResult {
  /** Repository-relative path ("nodes/lb1.yaml") → text. */
  files: Map<string, string>;
  diagnostics: Diagnostic[];
}

const YAML_FILE = /\.ya?ml$/;

export async function readRepositoryDir(dir: string): Promise<ReadResult> {
  const files = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const problem = (file: string, message: string) => diagnostics.push({ severity: 'error', file, message });

  let top: Stats;
  try {
    top = await stat(dir);
  } catch (e) {
    problem(dir, `cannot read the repository directory: ${reason(e)}`);
    return { files, diagnostics };
  }
  if (!top.isDirectory()) {
    problem(dir, 'not a directory: give the directory that holds keepgit.yaml');
    return { files, diagnostics };
  }

  const wanted: string[] = [];
  for (const name of await list(dir, '.', problem)) {
    if (name === 'keepgit.yaml' || name === 'keepgit.yml') wanted.push(name);
  }
  for (const sub of ['nodes', 'policies']) {
    for (const name of await list(dir, sub, problem)) {
      if (YAML_FILE.test(name)) wanted.push(`${sub}/${name}`);
    }
  }

  await Promise.all(
    wanted.map(async (rel) => {
      const path = join(dir, rel);
      try {
        const info = await stat(path);
        if (!info.isFile()) return;
        // Refuse before reading: a huge file should cost neither memory nor time.
        if (info.size > YAML_LIMITS.maxBytes) {
          problem(rel, `file is ${info.size} bytes; keepgit reads at most ${YAML_LIMITS.maxBytes}`);
          return;
        }
        files.set(rel, await readFile(path, 'utf8'));
      } catch (e) {
        problem(rel, `cannot read: ${reason(e)}`);
      }
    }),
  );
  return { files: new Map([...files].sort(([a], [b]) => a.localeCompare(b))), diagnostics };
}

/** Entry names of `dir/sub`; a missing subdirectory is simply empty. */
async function list(
  dir: string,
  sub: string,
  problem: (file: string, message: string) => void,
): Promise<string[]> {
  try {
    return (await readdir(join(dir, sub))).sort();
  } catch (e) {
    if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return [];
    problem(sub === '.' ? dir : `${sub}/`, `cannot list: ${reason(e)}`);
    return [];
  }
}

const isCode = (e: unknown, code: string): boolean =>
  e instanceof Error && 'code' in e && (e as NodeJS.ErrnoException).code === code;

function reason(e: unknown): string {
  if (isCode(e, 'ENOENT')) return 'no such file or directory';
  if (isCode(e, 'EACCES')) return 'permission denied';
  if (isCode(e, 'ENOTDIR')) return 'not a directory';
  return e instanceof Error ? e.message : String(e);
}
