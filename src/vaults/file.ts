import { promises as fs } from 'node:fs';
import { HeldLease } from './lease';
import * as path from 'node:path';
import { ownerIsDeadLocally, pidAlive } from '../owner';
import { RotatorError } from '../errors';
import type { Clock, Lease, Logger, RotationIntent, SecretState, Vault, VaultValue, VaultVersion } from '../types';
import {
  applyAcquireLease,
  applyClearIntent,
  applyDiscardPending,
  applyPromote,
  applyPutPending,
  applyRecordIntent,
  applyReleaseLease,
  type Applied,
  emptyDocument,
  listKeys,
  parseDocument,
  serializeDocument,
  stateOf,
  type VaultDocument,
  versionsOf,
} from './file-document';
import { openEnvelope, sealEnvelope } from './file-envelope';
import { resolveVaultKey } from './file-key';
import { acquireFileLock, sweepDeadBreakFile } from './file-lock';
import { ensureDirectory, errnoCode, readIfExists, replaceAtomically, tempFileOwner, tightenMode } from './fs-util';

export { parseVaultKey, VAULT_KEY_ENV } from './file-key';

/** Unstaged versions kept per key by default. */
export const DEFAULT_HISTORY = 5;
/** How long a write waits for another process's lock before VAULT_UNAVAILABLE. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** A lock held longer than this is stale: one read-modify-write takes milliseconds. */
export const STALE_LOCK_MS = 30_000;

export interface FileVaultOptions {
  /** The vault file. Its directory is created (0700) when missing. */
  path: string;
  /** Where the key lives when ROTATOR_VAULT_KEY is not set; default `<path>.key`. */
  keyFile?: string;
  /** The key itself (32 bytes); wins over ROTATOR_VAULT_KEY and the key file. */
  key?: Buffer;
  /** Versions without a stage kept per key, oldest dropped first; default 5. */
  history?: number;
  /** Version timestamps and lease expiry. Locks use wall time (see file-lock.ts). */
  clock: Clock;
  log: Logger;
  lockTimeoutMs?: number;
  /** Where ROTATOR_VAULT_KEY is read; default process.env. */
  env?: Record<string, string | undefined>;
}

/** What a FileVault needs once its key is known. */
interface FileVaultSettings {
  path: string;
  key: Buffer;
  keySource: string;
  history: number;
  clock: Clock;
  log: Logger;
  lockTimeoutMs: number;
}

/**
 * Opens (creating when missing) an encrypted file vault: resolves the key, creates the
 * directory, tightens permissive modes, and decrypts the file once so a wrong key fails here
 * (VAULT_CORRUPT) rather than at the first rotation.
 */
export async function openFileVault(options: FileVaultOptions): Promise<FileVault> {
  const history = options.history ?? DEFAULT_HISTORY;
  if (!Number.isInteger(history) || history < 0) {
    throw new RotatorError('CONFIG', `vault history must be a whole number >= 0, got ${history}`, { plugin: 'file' });
  }
  const vaultPath = path.resolve(options.path);
  const keyFile = path.resolve(options.keyFile ?? `${vaultPath}.key`);
  const log = options.log.child({ vault: 'file' });
  await ensureDirectory(path.dirname(vaultPath));
  const { key, source } = await resolveVaultKey({
    vaultPath,
    keyFile,
    key: options.key,
    env: options.env ?? process.env,
    log,
  });
  await tightenMode(vaultPath, 'vault file', log);
  const vault = new FileVault({
    path: vaultPath,
    key,
    keySource: source,
    history,
    clock: options.clock,
    log,
    lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
  });
  await vault.list();
  return vault;
}

/**
 * A Vault in one encrypted JSON file (see src/vaults/file-envelope.ts for the format and
 * src/vaults/file-document.ts for the stage rules). Safe for several processes on one host:
 * every change is a read-modify-write under an exclusive lock file, replaced atomically;
 * reads take no lock and re-read the file every time, because a rename never exposes a partial
 * file and another process may have written since. Create it with {@link openFileVault}.
 */
export class FileVault implements Vault {
  readonly type = 'file';
  readonly path: string;
  private closed = false;
  /** Changes from this instance run one at a time so they do not poll for their own lock. */
  private tail: Promise<unknown> = Promise.resolve();
  private sweptTemps = false;

  constructor(private readonly settings: FileVaultSettings) {
    this.path = settings.path;
  }

  async read(key: string): Promise<SecretState> {
    this.assertOpen();
    return stateOf(await this.load(), key);
  }

  async putPending(key: string, value: VaultValue, rotationId: string): Promise<VaultVersion> {
    return this.change((doc) => {
      const createdAt = new Date(this.settings.clock.now()).toISOString();
      return applyPutPending(doc, key, value, rotationId, createdAt, this.settings.history);
    });
  }

  async promote(key: string, rotationId: string, expectedCurrentVersion: string | null): Promise<void> {
    return this.change((doc) => applyPromote(doc, key, rotationId, expectedCurrentVersion, this.settings.history));
  }

  async discardPending(key: string, rotationId: string): Promise<void> {
    return this.change((doc) => applyDiscardPending(doc, key, rotationId));
  }

  async recordIntent(key: string, intent: RotationIntent): Promise<void> {
    return this.change((doc) => applyRecordIntent(doc, key, intent));
  }

  async clearIntent(key: string, rotationId: string): Promise<void> {
    return this.change((doc) => applyClearIntent(doc, key, rotationId));
  }

  async list(prefix = ''): Promise<string[]> {
    this.assertOpen();
    return listKeys(await this.load(), prefix);
  }

  /** Every stored version of `key`, staged or not, oldest first (status and audits). */
  async history(key: string): Promise<VaultVersion[]> {
    this.assertOpen();
    return versionsOf(await this.load(), key);
  }

  async acquireLease(key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new RotatorError('INTERNAL', `lease ttl must be a positive number of ms, got ${ttlMs}`, { plugin: 'file' });
    }
    const held = await this.change((doc) =>
      applyAcquireLease(doc, key, owner, this.settings.clock.now(), ttlMs, ownerIsDeadLocally),
    );
    if (!held) return null;
    return new HeldLease(key, owner, held.expiresAt, () => this.change((doc) => applyReleaseLease(doc, key, owner)));
  }

  /** Waits for changes in flight; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail.catch(() => undefined);
  }

  /** Applies `operation` to the latest document under the file lock; writes when it changed. */
  private change<T>(operation: (doc: VaultDocument) => Applied<T>): Promise<T> {
    this.assertOpen();
    const run = this.tail.then(() => this.changeLocked(operation));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async changeLocked<T>(operation: (doc: VaultDocument) => Applied<T>): Promise<T> {
    const lock = await acquireFileLock(`${this.path}.lock`, {
      timeoutMs: this.settings.lockTimeoutMs,
      staleMs: STALE_LOCK_MS,
      vaultPath: this.path,
      log: this.settings.log,
    });
    try {
      await this.sweepTempFilesOnce();
      // Decrypting first means a vault we cannot read is never overwritten.
      const doc = await this.load();
      const { result, changed } = operation(doc);
      if (changed) await this.store(doc);
      return result;
    } finally {
      await lock.release();
    }
  }

  /** The current document; a missing file is an empty vault. */
  private async load(): Promise<VaultDocument> {
    let content: Buffer | undefined;
    try {
      content = await readIfExists(this.path);
    } catch (err) {
      throw unavailable(`cannot read vault ${this.path}: ${errnoCode(err)}`, err);
    }
    if (content === undefined) return emptyDocument();
    const plaintext = openEnvelope(content.toString('utf8'), this.settings.key, {
      path: this.path,
      keySource: this.settings.keySource,
    });
    try {
      return parseDocument(plaintext.toString('utf8'));
    } catch (err) {
      throw new RotatorError(
        'VAULT_CORRUPT',
        `vault ${this.path} decrypted but its content is damaged; restore it from a backup`,
        {
          plugin: 'file',
          cause: err,
        },
      );
    }
  }

  private async store(doc: VaultDocument): Promise<void> {
    const sealed = sealEnvelope(Buffer.from(serializeDocument(doc), 'utf8'), this.settings.key);
    try {
      await replaceAtomically(this.path, sealed);
    } catch (err) {
      throw unavailable(`cannot write vault ${this.path}: ${errnoCode(err)}`, err);
    }
  }

  /**
   * Removes what crashed writers left behind, once per instance, under the lock: vault temp
   * files (every writer holds the lock while its temp file exists, so any we see is garbage)
   * and the lock, break and key temp files of pids that are gone.
   */
  private async sweepTempFilesOnce(): Promise<void> {
    if (this.sweptTemps) return;
    this.sweptTemps = true;
    const dir = path.dirname(this.path);
    const base = path.basename(this.path);
    for (const name of await fs.readdir(dir)) {
      const pid = tempFileOwner(name, base);
      if (pid === undefined) continue;
      if (name.startsWith(`${base}.tmp-`) || !pidAlive(pid)) {
        await fs.rm(path.join(dir, name), { force: true });
      }
    }
    await sweepDeadBreakFile(`${this.path}.lock`);
  }

  private assertOpen(): void {
    if (this.closed) throw new RotatorError('VAULT_UNAVAILABLE', `vault ${this.path} is closed`, { plugin: 'file' });
  }
}

function unavailable(message: string, cause: unknown): RotatorError {
  return new RotatorError('VAULT_UNAVAILABLE', message, { plugin: 'file', retryable: true, cause });
}
