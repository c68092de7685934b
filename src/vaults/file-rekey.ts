import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RotatorError } from '../errors';
import type { Logger } from '../types';
import { envelopeKeyId, keyIdOf, openEnvelope, sealEnvelope } from './file-envelope';
import { acquireFileLock } from './file-lock';
import { MARKER_FILE, RecordStore, storeRootFor } from './file-store';
import { readIfExists, replaceAtomically } from './fs-util';

/**
 * Changing the key of a file vault (`rotator rekey`, issue 12), crash-safe: every record is
 * re-sealed on its own with temp file + rename under its key's lock, so a kill at any point
 * leaves each record whole under the old or the new key, and each record names the key that
 * sealed it (`kid` in its envelope, {@link keyIdOf}). The marker is replaced last: until then
 * the vault opens with the old key, and reading an already re-sealed record says which key it
 * needs. Running the rekey again with the same two keys finishes an interrupted one (records
 * already under the new key are skipped); once the marker names the new key, it is a no-op.
 *
 * Limit: a process still running with the old key fails on re-sealed records with that clear
 * error (nothing is overwritten, since every write decrypts first); stop writers, rekey, and
 * restart them with the new key. Two rekeys are serialized by the layout lock.
 */
export interface RekeyOptions {
  log: Logger;
  lockTimeoutMs: number;
  staleLockMs: number;
}

export interface RekeyResult {
  /** Records re-sealed by this run. */
  resealed: number;
  /** Records an earlier, interrupted run had already re-sealed. */
  alreadyNew: number;
}

export async function rekeyStore(vaultPath: string, oldKey: Buffer, newKey: Buffer, options: RekeyOptions): Promise<RekeyResult> {
  const root = storeRootFor(vaultPath);
  const newKid = keyIdOf(newKey);
  const result: RekeyResult = { resealed: 0, alreadyNew: 0 };
  const layoutLock = await acquireFileLock(`${vaultPath}.lock`, {
    timeoutMs: options.lockTimeoutMs,
    staleMs: options.staleLockMs,
    vaultPath,
    log: options.log,
  });
  try {
    if ((await storeKeyId(vaultPath)) === newKid) return result;
    await new RecordStore(root, oldKey, 'the old key').checkMarker();
    const keysDir = path.join(root, 'keys');
    for (const name of (await fs.readdir(keysDir)).filter((n) => n.endsWith('.rec') || n.endsWith('.meta'))) {
      const base = name.slice(0, name.lastIndexOf('.'));
      const lock = await acquireFileLock(path.join(root, 'locks', `${base}.lock`), {
        timeoutMs: options.lockTimeoutMs,
        staleMs: options.staleLockMs,
        vaultPath: `${root} (record ${base})`,
        log: options.log,
      });
      try {
        const file = path.join(keysDir, name);
        const text = (await readIfExists(file))?.toString('utf8');
        if (text === undefined) continue; // removed by a writer meanwhile
        if (envelopeKeyId(text) === newKid) {
          result.alreadyNew += 1;
          continue;
        }
        const plain = openEnvelope(text, oldKey, { path: file, keySource: 'the old key' }, 'record');
        await replaceAtomically(file, sealEnvelope(plain, newKey, 'record'));
        result.resealed += 1;
      } finally {
        await lock.release();
      }
    }
    await new RecordStore(root, newKey, 'the new key').replaceMarker();
    options.log.info(
      { vault: vaultPath, kid: newKid, resealed: result.resealed },
      `rekeyed vault ${vaultPath}: ${result.resealed + result.alreadyNew} records now use the key with id ${newKid}`,
    );
    return result;
  } finally {
    await layoutLock.release();
  }
}

/** The id of the key the store's marker names (the key the vault opens with); undefined if none. */
export async function storeKeyId(vaultPath: string): Promise<string | undefined> {
  const text = await readIfExists(path.join(storeRootFor(vaultPath), MARKER_FILE));
  return text === undefined ? undefined : envelopeKeyId(text.toString('utf8'));
}

/** How many records each key id seals (more than one id: a rekey was interrupted). */
export async function recordKeyIds(vaultPath: string): Promise<Map<string, number>> {
  const keysDir = path.join(storeRootFor(vaultPath), 'keys');
  const counts = new Map<string, number>();
  for (const name of await fs.readdir(keysDir)) {
    if (!name.endsWith('.rec') && !name.endsWith('.meta')) continue;
    const text = await readIfExists(path.join(keysDir, name));
    const kid = text === undefined ? undefined : envelopeKeyId(text.toString('utf8'));
    if (kid === undefined) {
      if (text !== undefined) throw new RotatorError('VAULT_CORRUPT', `vault record ${name} names no key`, { plugin: 'file' });
      continue;
    }
    counts.set(kid, (counts.get(kid) ?? 0) + 1);
  }
  return counts;
}
