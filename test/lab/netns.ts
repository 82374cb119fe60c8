import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

// Network namespaces for tests: named with a per-run prefix, created only by the test
// that uses them, and always removed (the caller's finally, and a process-exit hook in
// case the test is interrupted). Nothing is ever created in the root namespace.

export const RUN_PREFIX = `kgt${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
const created = new Set<string>();

export function sh(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return {
    status: r.status ?? (r.error ? 127 : 1),
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? r.error?.message ?? '',
  };
}

function must(cmd: string, args: string[]): string {
  const r = sh(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/**
 * Why a lab test cannot run here, or undefined when it can. Under CI every lab test must
 * run: the caller turns a reason into a failure there, and into a skip elsewhere.
 */
export function labUnavailable(tools: string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const t of ['ip', ...tools]) {
    if (sh('sh', ['-c', `command -v ${t}`]).status !== 0)
      return `needs ${t} (apt-get install ${t === 'ip' ? 'iproute2' : t})`;
  }
  return undefined;
}

export function newNamespace(role: string): string {
  const name = `${RUN_PREFIX}-${role}`;
  must('ip', ['netns', 'add', name]);
  created.add(name);
  must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** An interface named `name` inside `ns` (a veth whose peer stays in the same namespace). */
export function addInterface(ns: string, name: string): void {
  const peer = `p${randomBytes(3).toString('hex')}`;
  must('ip', ['-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
  must('ip', ['-n', ns, 'link', 'set', name, 'up']);
  must('ip', ['-n', ns, 'link', 'set', peer, 'up']);
}

export function deleteNamespace(ns: string): void {
  if (!created.has(ns)) return;
  sh('ip', ['netns', 'del', ns]);
  created.delete(ns);
}

process.on('exit', () => {
  for (const ns of created) sh('ip', ['netns', 'del', ns]);
});
