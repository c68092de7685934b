import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RotatorError } from '../errors';
import { pidAlive } from '../owner';
import type { Logger } from '../types';
import { inspectVaultPath } from './file-check';
import { canonicalJson, type KeyRecord, parseDocument, type VaultDocument } from './file-document';
import { openEnvelope } from './file-envelope';
import { acquireFileLock } from './file-lock';
import { RecordStore, storeRootFor } from './file-store';
import { fsyncDirectory, tempFileOwner, tempPathFor } from './fs-util';

/**
 * Creates the per-key store, or migrates the single-file vault of earlier versions into it, under
 * the vault's old lock file (`<vault.path>.lock`, the one older rotator processes take to write
 * the single file, so none of them writes it meanwhile).
 *
 * Crash safety (a kill at any point leaves the old or the new layout readable, never neither):
 * 1. the whole store is built in a private temp folder beside it, every file fsynced;
 * 2. one rename makes it appear at `<vault.path>.d` (directory fsynced): before this, only the old
 *    file exists and a later open starts over (removing the temp folder);
 * 3. every key is read back from the store and compared with the old document;
 * 4. only then is the old file removed. A kill between 2 and 4 leaves both, and nothing writes to
 *    the store before step 4 completes (opening waits for it), so the next open repeats 3 and 4.
 * If both exist and differ (someone restored an old vault file over a migrated one), nothing is
 * touched and the error says what to do.
 */
export interface PrepareOptions {
  vaultPath: string;
  key: Buffer;
  keySource: string;
  log: Logger;
  lockTimeoutMs: number;
  staleLockMs: number;
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

export async function prepareStore(options: PrepareOptions): Promise<void> {
  const { vaultPath } = options;
  const lock = await acquireFileLock(`${vaultPath}.lock`, {
    timeoutMs: options.lockTimeoutMs,
    staleMs: options.staleLockMs,
    vaultPath,
    log: options.log,
  });
  try {
    // Another process may have created or migrated it while we waited (warnings were given).
    const layout = await inspectVaultPath(vaultPath, quiet);
    await sweepLayoutTemps(vaultPath);
    if (layout.legacy === 'absent') {
      if (layout.store !== 'store') await buildStore(options, new Map());
      return;
    }
    const doc = await readLegacy(options);
    if (layout.store !== 'store') await buildStore(options, doc);
    await verify(options, doc, layout.store === 'store');
    await fs.unlink(vaultPath);
    await fsyncDirectory(path.dirname(vaultPath));
    options.log.info(
      { vault: vaultPath, store: storeRootFor(vaultPath), keys: doc.size },
      `migrated the vault ${vaultPath} to one file per secret in ${storeRootFor(vaultPath)} (${doc.size} keys); removed the old file`,
    );
  } finally {
    await lock.release();
  }
}

async function readLegacy(options: PrepareOptions): Promise<VaultDocument> {
  const text = await fs.readFile(options.vaultPath, 'utf8');
  const plain = openEnvelope(text, options.key, { path: options.vaultPath, keySource: options.keySource });
  try {
    return parseDocument(plain.toString('utf8'));
  } catch (err) {
    throw new RotatorError(
      'VAULT_CORRUPT',
      `vault ${options.vaultPath} decrypted but its content is damaged; restore it from a backup`,
      { plugin: 'file', cause: err },
    );
  }
}

/** Builds the store holding `doc` in a temp folder and renames it into place. */
async function buildStore(options: PrepareOptions, doc: VaultDocument): Promise<void> {
  const root = storeRootFor(options.vaultPath);
  const staging = tempPathFor(root);
  const store = new RecordStore(staging, options.key, options.keySource);
  await store.initialize();
  for (const [key, record] of doc) {
    if (!isEmpty(record)) await store.writeFresh(key, record);
  }
  await store.syncAll();
  // Replaces an empty folder an operator made (rename(2) allows that); never a non-empty one.
  await fs.rename(staging, root);
  await fsyncDirectory(path.dirname(root));
}

/** Every key of `doc` reads back from the store exactly as it was. */
async function verify(options: PrepareOptions, doc: VaultDocument, storeWasThere: boolean): Promise<void> {
  const root = storeRootFor(options.vaultPath);
  const store = new RecordStore(root, options.key, options.keySource);
  await store.checkMarker();
  const expectedKeys = [...doc].filter(([, r]) => r.versions.length > 0).map(([k]) => k);
  const mismatch = async (): Promise<string | undefined> => {
    for (const [key, record] of doc) {
      const stored = await store.read(key);
      const expected = isEmpty(record) ? undefined : record;
      if (canonicalJson(stored) !== canonicalJson(expected)) return key;
    }
    const listed = await store.list('');
    if (canonicalJson(listed) !== canonicalJson(expectedKeys.sort())) return '(the list of keys)';
    return undefined;
  };
  const differs = await mismatch();
  if (differs === undefined) return;
  if (storeWasThere) {
    throw new RotatorError(
      'VAULT_CORRUPT',
      `both the single-file vault ${options.vaultPath} and the per-key store ${root} exist and differ (key ${differs}); ` +
        `rotator left both untouched. The store is the newer: if ${options.vaultPath} is an old backup, move it away`,
      { plugin: 'file' },
    );
  }
  throw new RotatorError(
    'VAULT_CORRUPT',
    `migrating ${options.vaultPath} to ${root}: key ${differs} did not read back as written; the old file is kept. ` +
      `Check the disk, remove ${root} and open the vault again`,
    { plugin: 'file' },
  );
}

/**
 * Removes what crashed layout changes left beside `vault.path`: temp files of the single file
 * and temp store folders (their writers held the lock we hold now), and other temp files (lock,
 * key) of processes that are gone.
 */
async function sweepLayoutTemps(vaultPath: string): Promise<void> {
  const dir = path.dirname(vaultPath);
  const base = path.basename(vaultPath);
  for (const name of await fs.readdir(dir)) {
    const pid = tempFileOwner(name, base);
    if (pid === undefined) continue;
    const ours = name.startsWith(`${base}.tmp-`) || name.startsWith(`${base}.d.tmp-`);
    if (ours || !pidAlive(pid)) await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }
}

function isEmpty(record: KeyRecord): boolean {
  return canonicalJson({ ...record, versions: undefined }) === '{}' && record.versions.length === 0;
}
