import { spawn } from 'node:child_process';

// How the nftables dataplane runs `nft`. Injected, so that the same driver can run inside
// a network namespace (tests: ['ip', 'netns', 'exec', NS, 'nft']) or on the host.

export interface NftResult {
  /** The exit status; 127 when the command could not be started at all. */
  status: number;
  stdout: string;
  stderr: string;
}

export type NftRunner = (args: readonly string[]) => Promise<NftResult>;

/** Runs `command` (by default `nft`) with the arguments given. */
export function nftRunner(command: readonly string[] = ['nft']): NftRunner {
  const [cmd = 'nft', ...pre] = command;
  return (args) =>
    new Promise((resolve) => {
      const child = spawn(cmd, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      let failed: Error | undefined;
      child.on('error', (e) => {
        failed = e;
      });
      child.on('close', (code) => {
        const stderr = Buffer.concat(err).toString('utf8');
        resolve({
          status: failed ? 127 : (code ?? 1),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: failed ? `${stderr}${failed.message}` : stderr,
        });
      });
    });
}
