import { spawn } from 'node:child_process';

// How the nftables dataplane runs `nft`. Injected, so that the same driver can run inside
// a network namespace (tests: ['ip', 'netns', 'exec', NS, 'nft']) or on the host.

export interface NftResult {
  /** The exit status; 127 when the command could not be started at all. */
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs nft with `args`; `input`, when given, is written to its standard input (for `-f -`). */
export type NftRunner = (args: readonly string[], input?: string) => Promise<NftResult>;

/** Runs `command` (by default `nft`) with the arguments given. */
export function nftRunner(command: readonly string[] = ['nft']): NftRunner {
  const [cmd = 'nft', ...pre] = command;
  return (args, input) =>
    new Promise((resolve) => {
      const child = spawn(cmd, [...pre, ...args], {
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      let failed: Error | undefined;
      child.on('error', (e) => {
        failed = e;
      });
      if (child.stdin) {
        // nft missing, or exiting before it read everything (a parse error): its exit
        // status and stderr say why, so a broken pipe here is not news.
        child.stdin.on('error', () => undefined);
        child.stdin.end(input);
      }
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
