import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RotatorError } from '../errors';
import { pidAlive } from '../owner';
import type { KeyRecord, LeaseRecord } from './file-document';
import { openEnvelope, sealEnvelope } from './file-envelope';
import { sweepDeadBreakFile } from './file-lock';
import { decodeKey, encodeKey, isHashedName } from './file-names';
import {
  errnoCode,
  fsyncDirectory,
  isErrno,
  PRIVATE_DIR_MODE,
  readIfExists,
  readSmallFileIfExists,
  removeIfExists,
  replaceAtomically,
  writeVolatile,
  tempOwnerOf,
  writeNewFileDurably,
} from './fs-util';

/**
 * The per-key store on disk: one encrypted file per key, so an operation reads and writes one
 * small file whatever the number of secrets (as HashiCorp Vault's file backend and certmagic's
 * FileStorage do).
 *
 *   <vault.path>.d/                 0700, the store (vault.path is the name operators configure)
 *     rotator-store.json            marker: an envelope that proves the folder is a store and
 *                                   checks the key at open, in O(1)
 *     keys/<name>.rec               a key with versions (and its lease and meta)
 *     keys/<name>.meta              a key with a lease or meta but no version yet: kept apart so
 *                                   that `list` is one directory read that never decrypts
 *     locks/<name>.lock             the per-key write lock (src/vaults/file-lock.ts)
 *     locks/<name>.lease            the key's lease (Vault.acquireLease), plain JSON
 *
 * `<name>` is the key encoded by src/vaults/file-names.ts. Every file is 0600 and replaced with
 * temp file + fsync + rename + directory fsync. A key has at most one authoritative file: `.rec`
 * when it exists, else `.meta`. A writer moving a key between the two writes the new one first,
 * then removes the other, so a crash in between leaves the old state (`.rec` wins) or the new
 * one, never neither; readers, which take no lock, look at `.rec`, `.meta`, then `.rec` again.
 *
 * Leases live apart from the records, in plain files written in place under the key's lock and
 * never fsynced ({@link writeVolatile}): a lease keeps another live process from rotating the same
 * key at the same time; a power loss stops every holder too, so a lease lost (or left empty) by
 * one guards nothing that still runs. Keeping it out of the record spares a rotation two
 * durable record writes (take and release). A lease file holds an owner id (host, pid, random)
 * and an expiry, nothing secret. Records written before this layout may still hold a `lease`;
 * the vault honours it (src/vaults/file.ts).
 *
 * The file name shows the key (a secret id, as in the config); values and meta are inside the
 * encryption. The key is also stored inside each record and checked on read, so a
 * record renamed or copied onto another key's name is VAULT_CORRUPT, not another secret's value.
 */
export const MARKER_FILE = 'rotator-store.json';
const KEYS_DIR = 'keys';
const LOCKS_DIR = 'locks';
const RECORD = '.rec';
const META = '.meta';
const LEASE = '.lease';
/** What the marker envelope holds; checked on open. */
const MARKER_CONTENT = 'rotator per-key vault store v2';

/** The store folder that belongs to the configured `vault.path`. */
export function storeRootFor(vaultPath: string): string {
  return `${vaultPath}.d`;
}

/** A record as stored: the key's record plus the key itself. */
interface StoredRecord extends KeyRecord {
  key: string;
}

export class RecordStore {
  readonly keysDir: string;
  readonly locksDir: string;

  constructor(
    readonly root: string,
    private readonly key: Buffer,
    private readonly keySource: string,
  ) {
    this.keysDir = path.join(root, KEYS_DIR);
    this.locksDir = path.join(root, LOCKS_DIR);
  }

  lockPathOf(key: string): string {
    return path.join(this.locksDir, `${encodeKey(key)}.lock`);
  }

  /**
   * The lease on `key` as its lease file says; undefined when there is none, or when the file is
   * empty or damaged (what a crash or power loss can leave of a volatile file: its writer is gone).
   * Call under the key's lock.
   */
  async readLease(key: string): Promise<LeaseRecord | undefined> {
    const file = this.leasePathOf(key);
    let text: string | undefined;
    try {
      text = readSmallFileIfExists(file)?.toString('utf8');
    } catch (err) {
      throw unavailable(`cannot read the vault lease ${file}: ${errnoCode(err)}`, err);
    }
    if (!text) return undefined;
    try {
      const lease = JSON.parse(text) as Partial<LeaseRecord>;
      if (typeof lease.owner === 'string' && typeof lease.expiresAt === 'number') {
        return { owner: lease.owner, expiresAt: lease.expiresAt };
      }
    } catch {
      // Damaged: as if absent (see above).
    }
    return undefined;
  }

  /** Sets (or, undefined, removes) the lease on `key`, under the caller's lock on the key; not durable. */
  async writeLease(key: string, lease: LeaseRecord | undefined): Promise<void> {
    const file = this.leasePathOf(key);
    try {
      if (lease) await writeVolatile(file, JSON.stringify({ owner: lease.owner, expiresAt: lease.expiresAt }));
      else await removeIfExists(file);
    } catch (err) {
      throw unavailable(`cannot write the vault lease ${file}: ${errnoCode(err)}`, err);
    }
  }

  private leasePathOf(key: string): string {
    return path.join(this.locksDir, `${encodeKey(key)}${LEASE}`);
  }

  /** Decrypts the marker: VAULT_CORRUPT when the key is not the one that made the store. */
  async checkMarker(): Promise<void> {
    const file = path.join(this.root, MARKER_FILE);
    const text = await readIfExists(file);
    if (text === undefined) {
      throw new RotatorError('VAULT_CORRUPT', `${this.root} has no ${MARKER_FILE}: it is not a complete rotator vault store`, {
        plugin: 'file',
      });
    }
    const plain = openEnvelope(text.toString('utf8'), this.key, this.source(file), 'marker');
    if (plain.toString('utf8') !== MARKER_CONTENT) {
      throw new RotatorError('VAULT_CORRUPT', `${file} is damaged; restore the vault from a backup`, { plugin: 'file' });
    }
  }

  /**
   * Creates the store's folders and marker in `this.root`, which MUST be a fresh private folder
   * (the caller renames it into place, which is what makes the store appear atomically).
   */
  async initialize(): Promise<void> {
    await fs.mkdir(this.root, { mode: PRIVATE_DIR_MODE });
    await fs.mkdir(this.keysDir, { mode: PRIVATE_DIR_MODE });
    await fs.mkdir(this.locksDir, { mode: PRIVATE_DIR_MODE });
    await writeNewFileDurably(path.join(this.root, MARKER_FILE), sealEnvelope(Buffer.from(MARKER_CONTENT), this.key, 'marker'));
  }

  /** Replaces the marker with one sealed by this store's key (the last step of a rekey). */
  async replaceMarker(): Promise<void> {
    await replaceAtomically(path.join(this.root, MARKER_FILE), sealEnvelope(Buffer.from(MARKER_CONTENT), this.key, 'marker'));
  }

  /** For a store being built by {@link initialize}: writes one record without a temp file. */
  async writeFresh(key: string, record: KeyRecord): Promise<void> {
    await writeNewFileDurably(this.fileOf(key, record.versions.length > 0 ? RECORD : META), this.seal(key, record));
  }

  /** Makes everything {@link initialize} and {@link writeFresh} wrote durable. */
  async syncAll(): Promise<void> {
    for (const dir of [this.keysDir, this.locksDir, this.root]) await fsyncDirectory(dir);
  }

  /** The record of `key`; undefined when it has none. Takes no lock (see the class comment). */
  async read(key: string): Promise<KeyRecord | undefined> {
    const rec = this.fileOf(key, RECORD);
    const meta = this.fileOf(key, META);
    for (const file of [rec, meta, rec]) {
      const text = await this.readFile(file);
      if (text !== undefined) return this.open(key, file, text);
    }
    return undefined;
  }

  /**
   * Writes `record` as the state of `key` (undefined: the key has nothing left), under the
   * caller's lock on the key. Resolves once durable.
   */
  async write(key: string, record: KeyRecord | undefined): Promise<void> {
    const rec = this.fileOf(key, RECORD);
    const meta = this.fileOf(key, META);
    try {
      let stale: string[];
      if (record && record.versions.length > 0) {
        await replaceAtomically(rec, this.seal(key, record));
        stale = [meta];
      } else if (record) {
        await replaceAtomically(meta, this.seal(key, record));
        stale = [rec];
      } else {
        stale = [rec, meta];
      }
      let removed = false;
      // Usually there is nothing to remove: a synchronous stat costs far less than a failed unlink.
      for (const file of stale) if (existsSync(file)) removed = (await removeIfExists(file)) || removed;
      // A removal that a power loss could undo would bring back an older state of the key.
      if (removed) await fsyncDirectory(this.keysDir);
    } catch (err) {
      if (err instanceof RotatorError) throw err;
      throw unavailable(`cannot write the vault record of ${key} in ${this.keysDir}: ${errnoCode(err)}`, err);
    }
  }

  /** Keys with at least one version, starting with `prefix`, sorted by code unit. */
  async list(prefix: string): Promise<string[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.keysDir);
    } catch (err) {
      throw unavailable(`cannot list the vault store ${this.keysDir}: ${errnoCode(err)}`, err);
    }
    const keys: string[] = [];
    for (const name of names) {
      if (!name.endsWith(RECORD)) continue;
      const base = name.slice(0, -RECORD.length);
      const key = isHashedName(base) ? await this.keyInside(path.join(this.keysDir, name)) : decodeKey(base);
      if (key !== undefined && key.startsWith(prefix)) keys.push(key);
    }
    return keys.sort();
  }

  /**
   * Removes temp files and lock break files left by processes that are gone. A temp file of a
   * live process may be in use; one of a reused pid stays until a later sweep, harmlessly.
   */
  async sweepLeftovers(): Promise<void> {
    for (const dir of [this.keysDir, this.locksDir]) {
      for (const name of await fs.readdir(dir)) {
        const pid = tempOwnerOf(name);
        if (pid !== undefined && !pidAlive(pid)) await fs.rm(path.join(dir, name), { force: true });
        if (name.endsWith('.lock.break')) await sweepDeadBreakFile(path.join(dir, name.slice(0, -'.break'.length)));
      }
    }
  }

  private fileOf(key: string, suffix: string): string {
    return path.join(this.keysDir, `${encodeKey(key)}${suffix}`);
  }

  private seal(key: string, record: KeyRecord): string {
    const stored: StoredRecord = { key, ...record };
    return sealEnvelope(Buffer.from(JSON.stringify(stored), 'utf8'), this.key, 'record');
  }

  private async readFile(file: string): Promise<string | undefined> {
    try {
      return readSmallFileIfExists(file)?.toString('utf8');
    } catch (err) {
      throw unavailable(`cannot read the vault record ${file}: ${errnoCode(err)}`, err);
    }
  }

  private open(key: string, file: string, text: string): KeyRecord {
    const stored = this.parse(file, text);
    if (stored.key !== key) {
      throw new RotatorError(
        'VAULT_CORRUPT',
        `vault record ${file} holds another key than its name says (it was renamed or copied); restore it from a backup`,
        { plugin: 'file' },
      );
    }
    const { key: _key, ...record } = stored;
    void _key;
    return record;
  }

  private parse(file: string, text: string): StoredRecord {
    const plain = openEnvelope(text, this.key, this.source(file), 'record');
    try {
      const stored = JSON.parse(plain.toString('utf8')) as StoredRecord;
      if (typeof stored.key !== 'string' || !Array.isArray(stored.versions)) throw new Error('no key or versions');
      return stored;
    } catch (err) {
      throw new RotatorError(
        'VAULT_CORRUPT',
        `vault record ${file} decrypted but its content is damaged; restore it from a backup`,
        {
          plugin: 'file',
          cause: err,
        },
      );
    }
  }

  /** The key stored in a record whose name is a hash (a long key); undefined if it vanished. */
  private async keyInside(file: string): Promise<string | undefined> {
    const text = await this.readFile(file);
    return text === undefined ? undefined : this.parse(file, text).key;
  }

  private source(file: string) {
    return { path: file, keySource: this.keySource };
  }
}

export function unavailable(message: string, cause?: unknown): RotatorError {
  return new RotatorError('VAULT_UNAVAILABLE', message, { plugin: 'file', retryable: true, cause });
}

/** Whether `err` is a missing file or folder. */
export function isMissing(err: unknown): boolean {
  return isErrno(err, 'ENOENT');
}
