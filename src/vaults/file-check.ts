import { promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import { RotatorError } from '../errors';
import type { Logger } from '../types';
import { envelopeKindOf } from './file-envelope';
import { MARKER_FILE, storeRootFor } from './file-store';
import { isErrno } from './fs-util';

/**
 * What is at a configured `vault.path`, found out before anything there is created, changed or
 * chmod-ed. Earlier versions tightened whatever file was there to 0600 first (a copy of
 * /etc/passwd lost its mode; a folder lost its x bit) and replaced a symlink with a file.
 *
 * Decisions:
 * - Symlinks are refused, at `vault.path` and at its store folder, and never replaced: a link
 *   could point the vault (which rotator rewrites and chmods) at any file the user can write.
 *   The folders above them may be links (/var/lib → /data/var/lib is ordinary).
 * - `vault.path` may be missing or a rotator single-file vault (migrated on open); anything else
 *   (another file, a folder, a fifo, a device) is refused, untouched.
 * - The store folder may be missing, empty (an operator may create it to set its owner), or a
 *   rotator store (it holds the marker file); a folder holding anything else is refused.
 * - A vault folder that every user may write to is reported with a warning: another user could
 *   delete or replace the vault (the contents stay encrypted, so this is not fatal).
 */
export interface VaultLayout {
  /** The single-file vault of earlier versions at `vault.path`. */
  legacy: 'absent' | 'vault';
  /** The per-key store at `<vault.path>.d`. */
  store: 'absent' | 'empty' | 'store';
}

/** A file larger than this at `vault.path` is not a vault we wrote (it is not even read). */
const MAX_LEGACY_BYTES = 256 * 1024 * 1024;

export async function inspectVaultPath(vaultPath: string, log: Logger): Promise<VaultLayout> {
  await warnIfWorldWritable(path.dirname(vaultPath), log);
  const legacy = await inspectLegacy(vaultPath);
  const store = await inspectStore(storeRootFor(vaultPath), vaultPath, log);
  return { legacy, store };
}

async function inspectLegacy(vaultPath: string): Promise<VaultLayout['legacy']> {
  const stat = await lstatIfExists(vaultPath);
  if (!stat) return 'absent';
  refuseLink(stat, vaultPath, 'vault.path');
  if (!stat.isFile()) {
    throw config(
      `vault.path ${vaultPath} is ${describe(stat)}, not a vault file; rotator left it untouched. vault.path names ` +
        `the vault file (its records live beside it in ${storeRootFor(vaultPath)}): choose a path that is missing or a rotator vault`,
    );
  }
  const text = stat.size <= MAX_LEGACY_BYTES ? (await fs.readFile(vaultPath)).toString('utf8') : '';
  if (envelopeKindOf(text) !== 'document') {
    throw config(
      `vault.path ${vaultPath} exists but is not a rotator vault; rotator left it untouched (mode ` +
        `${(stat.mode & 0o777).toString(8)}): choose another vault.path, or move that file away`,
    );
  }
  return 'vault';
}

async function inspectStore(root: string, vaultPath: string, log: Logger): Promise<VaultLayout['store']> {
  const stat = await lstatIfExists(root);
  if (!stat) return 'absent';
  refuseLink(stat, root, 'the vault store');
  if (!stat.isDirectory()) {
    throw config(
      `${root} (the vault store of vault.path ${vaultPath}) is ${describe(stat)}, not a folder; rotator left it ` +
        'untouched: move it away or choose another vault.path',
    );
  }
  await warnIfWorldWritable(root, log);
  const names = await fs.readdir(root);
  if (names.length === 0) return 'empty';
  const marker = await lstatIfExists(path.join(root, MARKER_FILE));
  if (!marker?.isFile()) {
    throw config(
      `${root} (the vault store of vault.path ${vaultPath}) is a folder that is not a rotator vault store ` +
        `(no ${MARKER_FILE}); rotator left it untouched: move it away or choose another vault.path`,
    );
  }
  for (const sub of ['keys', 'locks']) {
    if (!(await lstatIfExists(path.join(root, sub)))?.isDirectory()) {
      throw new RotatorError('VAULT_CORRUPT', `vault store ${root} has no ${sub} folder; restore the vault from a backup`, {
        plugin: 'file',
      });
    }
  }
  return 'store';
}

async function warnIfWorldWritable(dir: string, log: Logger): Promise<void> {
  const stat = await lstatIfExists(dir);
  if (!stat?.isDirectory() || (stat.mode & 0o002) === 0) return;
  const mode = (stat.mode & 0o7777).toString(8);
  log.warn(
    { path: dir, mode },
    `vault folder ${dir} is writable by every user (mode ${mode}): another user could delete or replace the vault; ` +
      `run chmod o-w ${dir}, or move the vault to a private folder`,
  );
}

function refuseLink(stat: Stats, file: string, what: string): void {
  if (!stat.isSymbolicLink()) return;
  throw config(
    `${what} ${file} is a symbolic link; rotator does not follow links for its vault and left it untouched: ` +
      'set vault.path to the real location',
  );
}

function describe(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a named pipe';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isFile()) return 'a regular file';
  return 'not a regular file';
}

async function lstatIfExists(file: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function config(message: string): RotatorError {
  return new RotatorError('CONFIG', message, { plugin: 'file' });
}
