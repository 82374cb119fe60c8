import { readFileSync } from 'node:fs';

// Kernel settings the agent only reads (net.ipv4.ip_forward ...): a file under /proc/sys.

/** The trimmed content of a /proc/sys file, or undefined when it cannot be read. */
export function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}
