import { spawn, spawnSync } from 'node:child_process';

// Running the few tools the lab needs (ip, nft, sh, ping): synchronous for the short
// configuration steps, asynchronous for what runs inside a host while other things go on.

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    status: r.status ?? (r.error ? 127 : 1),
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? r.error?.message ?? '',
  };
}

/** `run`, but a failure is an exception that names the command. */
export function must(cmd: string, args: readonly string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

export interface RunAsyncOptions {
  /** Killed (SIGKILL, by PID) after this long; status is then 124. */
  timeoutMs?: number;
  input?: string;
}

export function runAsync(
  cmd: string,
  args: readonly string[],
  opts: RunAsyncOptions = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: 127, stdout, stderr: stderr || e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: timedOut ? 124 : (code ?? 1), stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** The first of `tools` not found on PATH, or undefined. */
export function missingTool(tools: readonly string[]): string | undefined {
  return tools.find((t) => run('sh', ['-c', 'command -v "$1"', 'sh', t]).status !== 0);
}

export const isRoot = (): boolean => process.getuid?.() === 0;
