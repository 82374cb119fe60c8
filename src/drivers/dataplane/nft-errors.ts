import type { Script } from './nft-render.ts';

// nft's complaints, short enough for a status page: the first few errors, each with the
// virtual server whose line the kernel or the parser refused.

export interface NftComplaint {
  message: string;
  /** The first service named by an error, if any. */
  service?: string;
}

const ERROR_LINE = /^[^\n]*?:(\d+):\d+(?:-\d+)?: Error: (.*)$/;

export function summariseNftErrors(stderr: string, script?: Pick<Script, 'owners'>): NftComplaint {
  const found: string[] = [];
  let service: string | undefined;
  let total = 0;
  for (const line of stderr.split('\n')) {
    const m = ERROR_LINE.exec(line);
    const plain = m ? undefined : /^Error: (.*)$/.exec(line.trim());
    if (!m && !plain) continue;
    total++;
    if (found.length >= 3) continue;
    if (m) {
      const at = Number(m[1]) - 1;
      const owner = script?.owners[at];
      service ??= owner;
      found.push(owner ? `${m[2]} (virtual server "${owner}")` : (m[2] ?? ''));
    } else found.push(plain?.[1] ?? '');
  }
  if (found.length === 0) {
    const text = stderr.trim().split('\n').slice(0, 3).join(' ').slice(0, 300);
    return { message: text || 'nft failed without a message' };
  }
  const more = total > found.length ? ` (and ${total - found.length} more)` : '';
  const out: NftComplaint = { message: `${found.join('; ')}${more}` };
  if (service !== undefined) out.service = service;
  return out;
}
