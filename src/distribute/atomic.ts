/**
 * Atomic replacement of an output file with a chosen mode, by the file vault's own recipe
 * (src/vaults/fs-util.ts): a temp file in the same directory, created with the final mode,
 * fsynced, renamed over the target, then the directory fsynced. A reader sees the old complete
 * file or the new complete file, never a partial or empty one.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ensureDirectory, isErrno, replaceAtomically, tempFileOwner } from '../vaults/fs-util';
import { pidAlive } from '../owner';

/** Replaces `target` atomically with `data`, the file having exactly `mode`; creates its directory (0700). */
export async function writeFileAtomically(target: string, data: string, mode: number): Promise<void> {
  await ensureDirectory(dirname(target));
  await replaceAtomically(target, data, mode);
}

/**
 * Removes temp files left beside `target` by a process that died mid-write (they hold a secret;
 * they are 0600 but should not linger). Temp files of live processes are left alone. Returns how
 * many were removed.
 */
export async function removeStaleTempFiles(target: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dirname(target));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 0;
    throw err;
  }
  let removed = 0;
  for (const name of names) {
    const pid = tempFileOwner(name, basename(target));
    if (pid === undefined || pidAlive(pid)) continue;
    await fs.rm(join(dirname(target), name), { force: true });
    removed++;
  }
  return removed;
}
