import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// The state directory's files are replaced, never edited: a power cut or a kill -9 leaves
// either the old file or the new one, whole. The temporary file lives in the same directory
// (a rename across file systems is a copy), its data reaches the disk before the rename,
// and the directory is synced after it so that the rename itself survives a crash.

export type WriteResult = { ok: true } | { ok: false; message: string };

/** Replaces `path` with `text` atomically and durably; the directory must exist. */
export async function writeFileAtomic(path: string, text: string): Promise<WriteResult> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDir(dir);
    return { ok: true };
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    return { ok: false, message: `cannot write ${path}: ${errorText(e)}` };
  }
}

/** Makes a rename or unlink in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
