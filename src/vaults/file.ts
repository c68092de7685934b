import * as path from 'node:path';
import { HeldLease } from './lease';
import { ownerIsDeadLocally } from '../owner';
import { RotatorError } from '../errors';
import type {
  Clock,
  Lease,
  Logger,
  RotationIntent,
  SecretMetaPatch,
  SecretState,
  Vault,
  VaultValue,
  VaultVersion,
} from '../types';
import {
  applyAcquireLease,
  applyDiscardPending,
  applyPromote,
  applyPutPending,
  applyUpdateMeta,
  type Applied,
  type LeaseRecord,
  stateOf,
  type VaultDocument,
} from './file-document';
import { inspectVaultPath } from './file-check';
import { resolveVaultKey } from './file-key';
import { acquireFileLock, sweepStaleLock } from './file-lock';
import { prepareStore } from './file-migrate';
import { RecordStore, storeRootFor } from './file-store';
import { ensureDirectory } from './fs-util';
import { keyIdOf } from './file-envelope';
import { rekeyStore, storeKeyId, type RekeyResult } from './file-rekey';
import { systemClock } from '../clock';

export { parseVaultKey, VAULT_KEY_ENV } from './file-key';
export { storeRootFor } from './file-store';
export { keyIdOf } from './file-envelope';
export { recordKeyIds, storeKeyId, type RekeyResult } from './file-rekey';

/** Unstaged versions kept per key by default. */
export const DEFAULT_HISTORY = 5;
/** How long a write waits for another process's lock before VAULT_UNAVAILABLE. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** A lock held longer than this is stale: one read-modify-write takes milliseconds. */
export const STALE_LOCK_MS = 30_000;
/** Keys read at once by readMany: enough to hide disk latency, few enough to bound memory and fds. */
export const READ_MANY_CONCURRENCY = 16;

export interface FileVaultOptions {
  /**
   * The vault as operators configure it (`vault.path`). The records live in the folder
   * `<path>.d` beside it (see src/vaults/file-store.ts); a single-file vault found at `path`
   * (rotator before 0.2) is migrated there on open. Its directory is created (0700) when missing.
   */
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

/**
 * The paths a file vault configured at `vaultPath` owns, for checks that something else (an
 * output) never writes there: the configured path (a single-file vault before migration), the
 * store folder and everything in it, the key file, and the layout lock; temp files are named
 * `<one of these>.tmp-<pid>-<hex>`.
 */
export function fileVaultPaths(
  vaultPath: string,
  keyFile?: string,
): { file: string; store: string; keyFile: string; lock: string } {
  const file = path.resolve(vaultPath);
  return { file, store: storeRootFor(file), keyFile: path.resolve(keyFile ?? `${file}.key`), lock: `${file}.lock` };
}

/**
 * Changes the vault's key from `oldKey` to `newKey`, crash-safe (see src/vaults/file-rekey.ts);
 * a single-file vault is migrated first. Stop processes that write the vault meanwhile.
 */
export async function rekeyFileVault(
  vaultPath: string,
  oldKey: Buffer,
  newKey: Buffer,
  options: { log: Logger; lockTimeoutMs?: number },
): Promise<RekeyResult> {
  const resolved = path.resolve(vaultPath);
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if ((await storeKeyId(resolved)) !== keyIdOf(newKey)) {
    // Checks the path, migrates a single-file vault, proves oldKey opens it.
    const vault = await openFileVault({ path: resolved, key: oldKey, clock: systemClock, log: options.log, lockTimeoutMs });
    await vault.close();
  }
  return rekeyStore(resolved, oldKey, newKey, { log: options.log, lockTimeoutMs, staleLockMs: STALE_LOCK_MS });
}

/** What a FileVault needs once its store is ready. */
interface FileVaultSettings {
  path: string;
  store: RecordStore;
  history: number;
  clock: Clock;
  log: Logger;
  lockTimeoutMs: number;
}

/**
 * Opens (creating when missing) an encrypted file vault: checks what is at `path` before
 * touching anything (src/vaults/file-check.ts), resolves the key, creates the store or migrates
 * a single-file vault into it (src/vaults/file-migrate.ts), and decrypts the store's marker so a
 * wrong key fails here (VAULT_CORRUPT) rather than at the first rotation. Opening costs one
 * directory read (to sweep what crashed writers left), not one read per secret.
 */
export async function openFileVault(options: FileVaultOptions): Promise<FileVault> {
  const history = options.history ?? DEFAULT_HISTORY;
  if (!Number.isInteger(history) || history < 0) {
    throw new RotatorError('CONFIG', `vault history must be a whole number >= 0, got ${history}`, { plugin: 'file' });
  }
  const vaultPath = path.resolve(options.path);
  const keyFile = path.resolve(options.keyFile ?? `${vaultPath}.key`);
  const log = options.log.child({ vault: 'file' });
  const layout = await inspectVaultPath(vaultPath, log);
  await ensureDirectory(path.dirname(vaultPath));
  const { key, source } = await resolveVaultKey({
    vaultPath,
    keyFile,
    key: options.key,
    env: options.env ?? process.env,
    log,
    vaultExists: layout.legacy === 'vault' || layout.store === 'store',
  });
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (layout.legacy === 'vault' || layout.store !== 'store') {
    await prepareStore({ vaultPath, key, keySource: source, log, lockTimeoutMs, staleLockMs: STALE_LOCK_MS });
  }
  const store = new RecordStore(storeRootFor(vaultPath), key, source);
  await store.checkMarker();
  await store.sweepLeftovers();
  // A process killed while creating or migrating the store leaves the layout lock behind.
  await sweepStaleLock(`${vaultPath}.lock`, STALE_LOCK_MS, log);
  return new FileVault({ path: vaultPath, store, history, clock: options.clock, log, lockTimeoutMs });
}

/**
 * A Vault with one encrypted file per key (src/vaults/file-store.ts for the layout,
 * src/vaults/file-document.ts for the stage rules). Safe for several processes on one host:
 * every change is a read-modify-write of one key's record under that key's lock file, replaced
 * atomically, so writers on different keys never wait for each other; reads take no lock and
 * re-read the record every time, because a rename never exposes a partial file and another
 * process may have written since. Every operation costs the same whatever the number of keys,
 * except `list` (one directory read). Create it with {@link openFileVault}.
 */
export class FileVault implements Vault {
  readonly type = 'file';
  /** The configured vault path; the records are in {@link storePath}. */
  readonly path: string;
  readonly storePath: string;
  private closed = false;
  /** Changes from this instance run one at a time per key, so they do not poll for their own lock. */
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly settings: FileVaultSettings) {
    this.path = settings.path;
    this.storePath = settings.store.root;
  }

  async read(key: string): Promise<SecretState> {
    this.assertOpen();
    return stateOf(await this.load(key), key);
  }

  /** Reads `keys` with at most {@link READ_MANY_CONCURRENCY} reads in flight. */
  async readMany(keys: string[]): Promise<Map<string, SecretState>> {
    this.assertOpen();
    const states = new Map<string, SecretState>();
    const queue = [...new Set(keys)];
    const worker = async () => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) states.set(key, await this.read(key));
    };
    await Promise.all(Array.from({ length: Math.min(READ_MANY_CONCURRENCY, queue.length) }, worker));
    return new Map(keys.map((key) => [key, states.get(key)!]));
  }

  async putPending(key: string, value: VaultValue, rotationId: string): Promise<VaultVersion> {
    return this.change(key, (doc) => {
      const createdAt = new Date(this.settings.clock.now()).toISOString();
      return applyPutPending(doc, key, value, rotationId, createdAt, this.settings.history);
    });
  }

  async promote(key: string, rotationId: string, expectedCurrentVersion: string | null): Promise<void> {
    return this.change(key, (doc) => applyPromote(doc, key, rotationId, expectedCurrentVersion, this.settings.history));
  }

  async discardPending(key: string, rotationId: string): Promise<void> {
    return this.change(key, (doc) => applyDiscardPending(doc, key, rotationId));
  }

  async updateMeta(key: string, patch: SecretMetaPatch, condition?: { intentRotationId: string }): Promise<void> {
    return this.change(key, (doc) => applyUpdateMeta(doc, key, patch, condition));
  }

  /** Kept until the engine calls updateMeta only. */
  async recordIntent(key: string, intent: RotationIntent): Promise<void> {
    return this.updateMeta(key, { intent });
  }

  /** Kept until the engine calls updateMeta only. */
  async clearIntent(key: string, rotationId: string): Promise<void> {
    return this.updateMeta(key, { intent: null }, { intentRotationId: rotationId });
  }

  async list(prefix = ''): Promise<string[]> {
    this.assertOpen();
    return this.settings.store.list(prefix);
  }

  /** Every stored version of `key`, staged or not, oldest first (status and audits). */
  async history(key: string): Promise<VaultVersion[]> {
    this.assertOpen();
    return (await this.load(key)).get(key)?.versions ?? [];
  }

  /**
   * Takes the lease of `key` for `owner` (see Vault.acquireLease). The lease lives in its own
   * volatile file (src/vaults/file-store.ts), so taking and releasing it costs no durable record
   * write. The record is still read (and must decrypt) under the key's lock: a `lease` inside it,
   * written by an earlier version or carried over by the migration, is honoured like the file's.
   */
  async acquireLease(key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new RotatorError('INTERNAL', `lease ttl must be a positive number of ms, got ${ttlMs}`, { plugin: 'file' });
    }
    const { store } = this.settings;
    const held = await this.locked(key, async () => {
      const now = this.settings.clock.now();
      const legacy = (await this.load(key)).get(key)?.lease;
      const stored = await store.readLease(key);
      for (const holder of [legacy, stored]) {
        if (holder && !applyAcquireLease(leaseDoc(key, holder), key, owner, now, ttlMs, ownerIsDeadLocally).result) return null;
      }
      const lease = { owner, expiresAt: now + ttlMs };
      await store.writeLease(key, lease);
      return lease;
    });
    if (!held) return null;
    return new HeldLease(key, owner, held.expiresAt, () => this.releaseLease(key, owner));
  }

  /**
   * Removes `owner`'s lease on `key`, if it still holds it (an expired lease may have passed on).
   * Only the lease file: a lease inside a record was written by another (older) process, never
   * by an owner of this one.
   */
  private async releaseLease(key: string, owner: string): Promise<void> {
    const { store } = this.settings;
    await this.locked(key, async () => {
      if ((await store.readLease(key))?.owner === owner) await store.writeLease(key, undefined);
    });
  }

  /** Waits for changes in flight; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.tails.values()].map((t) => t.catch(() => undefined)));
  }

  /** Applies `operation` to the latest record of `key` under its lock; writes when it changed. */
  private change<T>(key: string, operation: (doc: VaultDocument) => Applied<T>): Promise<T> {
    return this.locked(key, async () => {
      // Decrypting first means a record we cannot read is never overwritten.
      const doc = await this.load(key);
      const { result, changed } = operation(doc);
      if (changed) await this.settings.store.write(key, doc.get(key));
      return result;
    });
  }

  /**
   * Runs `task` under the lock of `key`: one at a time per key within this instance (so they do
   * not poll for their own lock), and under the key's lock file against other processes.
   */
  private locked<T>(key: string, task: () => Promise<T>): Promise<T> {
    this.assertOpen();
    const run = (this.tails.get(key) ?? Promise.resolve()).then(() => this.underLockFile(key, task));
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  private async underLockFile<T>(key: string, task: () => Promise<T>): Promise<T> {
    const lock = await acquireFileLock(this.settings.store.lockPathOf(key), {
      timeoutMs: this.settings.lockTimeoutMs,
      staleMs: STALE_LOCK_MS,
      vaultPath: `${this.storePath} (key ${key})`,
      log: this.settings.log,
    });
    try {
      return await task();
    } finally {
      await lock.release();
    }
  }

  /** The record of `key` as a one-key document (empty when the key has nothing). */
  private async load(key: string): Promise<VaultDocument> {
    const record = await this.settings.store.read(key);
    return new Map(record ? [[key, record]] : []);
  }

  private assertOpen(): void {
    if (this.closed) throw new RotatorError('VAULT_UNAVAILABLE', `vault ${this.path} is closed`, { plugin: 'file' });
  }
}

/** A one-key document holding only `lease`, to judge it with the pure lease rules. */
function leaseDoc(key: string, lease: LeaseRecord): VaultDocument {
  return new Map([[key, { versions: [], lease }]]);
}
