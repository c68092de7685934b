import { RotatorError } from '../errors';
import type { SecretMeta, SecretMetaPatch, SecretState, Stage, VaultValue, VaultVersion } from '../types';

/**
 * The decrypted content of a file vault and the pure operations on it. Every function here
 * works on one in-memory document of keys to records. The per-key store (src/vaults/file.ts)
 * loads the one record an operation touches into a one-key document, applies the operation
 * under that key's lock and writes the record back; the single-file layout of earlier versions
 * is a document of every key (read once, by the migration). Keeping the stage rules pure makes
 * them easy to read and test.
 */

/** A lease as stored: `expiresAt` in ms since the epoch, by the injected clock. */
export interface LeaseRecord {
  owner: string;
  expiresAt: number;
}

/** Everything stored for one key. `versions` are in creation order, oldest first. */
export interface KeyRecord extends SecretMeta {
  versions: VaultVersion[];
  lease?: LeaseRecord;
}

/** The meta fields of a record, in the order they are copied. */
const META_FIELDS = ['intent', 'revokedPrevious', 'status'] as const satisfies readonly (keyof SecretMeta)[];

/** Keys to records. A Map, so a key such as `__proto__` is an ordinary key. */
export type VaultDocument = Map<string, KeyRecord>;

/** The JSON shape inside the envelope. */
interface StoredDocument {
  keys: Record<string, KeyRecord>;
}

export function emptyDocument(): VaultDocument {
  return new Map();
}

/** Parses decrypted JSON; throws a plain Error when the shape is wrong (the caller wraps it). */
export function parseDocument(json: string): VaultDocument {
  const parsed = JSON.parse(json) as Partial<StoredDocument>;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.keys !== 'object' || parsed.keys === null) {
    throw new Error('the document has no "keys" object');
  }
  const doc: VaultDocument = new Map(Object.entries(parsed.keys));
  for (const [key, record] of doc) {
    if (!Array.isArray(record?.versions)) throw new Error(`key ${key} has no versions array`);
  }
  return doc;
}

export function serializeDocument(doc: VaultDocument): string {
  const stored: StoredDocument = { keys: Object.fromEntries(doc) };
  return JSON.stringify(stored);
}

/** The staged versions of `key`; a key never written is `{}`. */
export function stateOf(doc: VaultDocument, key: string): SecretState {
  const state: SecretState = {};
  const record = doc.get(key);
  for (const version of record?.versions ?? []) {
    for (const stage of version.stages) state[stage] = version;
  }
  for (const field of META_FIELDS) {
    if (record?.[field] !== undefined) (state as Record<string, unknown>)[field] = record[field];
  }
  return state;
}

/** Keys with at least one version that start with `prefix`, sorted by code unit. */
export function listKeys(doc: VaultDocument, prefix: string): string[] {
  return [...doc]
    .filter(([key, record]) => record.versions.length > 0 && key.startsWith(prefix))
    .map(([key]) => key)
    .sort();
}

/** Every stored version of `key`, oldest first. */
export function versionsOf(doc: VaultDocument, key: string): VaultVersion[] {
  return doc.get(key)?.versions ?? [];
}

/** The result of an operation: what to return and whether the document must be written. */
export interface Applied<T> {
  result: T;
  changed: boolean;
}

/**
 * Stores `value` as the pending version `rotationId`. The same id with a deep-equal value is a
 * no-op that returns the stored version (whatever its stage now); with another value it is a
 * VAULT_CONFLICT. A different pending version loses its stage and stays as history.
 */
export function applyPutPending(
  doc: VaultDocument,
  key: string,
  value: VaultValue,
  rotationId: string,
  createdAt: string,
  history: number,
): Applied<VaultVersion> {
  const record = recordFor(doc, key);
  const existing = record.versions.find((v) => v.versionId === rotationId);
  if (existing) {
    if (canonicalJson(existing.value) === canonicalJson(value)) return { result: existing, changed: false };
    throw conflict(`rotation ${rotationId} already stored a different value for ${key}; use a new rotation id`);
  }
  removeStage(record, 'pending');
  // The rotation reached the vault: its intent has served its purpose (same write, no extra cost).
  if (record.intent?.rotationId === rotationId) delete record.intent;
  const version: VaultVersion = { versionId: rotationId, value: jsonCopy(value), stages: ['pending'], createdAt };
  record.versions.push(version);
  pruneHistory(record, history);
  return { result: version, changed: true };
}

/**
 * Compare-and-swap promotion (see Vault.promote): current must be `expectedCurrent` (null: no
 * current) and pending must be `rotationId`. The old current becomes previous; the old previous
 * loses its stage. Promoting the version that is already current is a no-op.
 */
export function applyPromote(
  doc: VaultDocument,
  key: string,
  rotationId: string,
  expectedCurrent: string | null,
  history: number,
): Applied<void> {
  const record = doc.get(key);
  const target = record?.versions.find((v) => v.versionId === rotationId);
  if (target?.stages.includes('current')) return { result: undefined, changed: false };
  const state = stateOf(doc, key);
  const currentId = state.current?.versionId ?? null;
  if (currentId !== expectedCurrent) {
    throw conflict(
      `cannot promote ${rotationId} on ${key}: current is ${currentId ?? 'none'}, expected ` +
        `${expectedCurrent ?? 'none'} (another rotation promoted first)`,
    );
  }
  if (!record || !target?.stages.includes('pending')) {
    throw conflict(`cannot promote ${rotationId} on ${key}: the pending version is ${state.pending?.versionId ?? 'none'}`);
  }
  removeStage(record, 'previous');
  if (state.current) replaceStage(state.current, 'current', 'previous');
  replaceStage(target, 'pending', 'current');
  pruneHistory(record, history);
  return { result: undefined, changed: true };
}

/** Drops the version `rotationId` if it is pending; anything else (missing, current…) is left. */
export function applyDiscardPending(doc: VaultDocument, key: string, rotationId: string): Applied<void> {
  const record = doc.get(key);
  const index = record?.versions.findIndex((v) => v.versionId === rotationId && v.stages.includes('pending')) ?? -1;
  if (!record || index < 0) return { result: undefined, changed: false };
  record.versions.splice(index, 1);
  dropIfEmpty(doc, key);
  return { result: undefined, changed: true };
}

/**
 * Gives `owner` the lease on `key` until `now + ttlMs`, unless another owner holds an unexpired
 * one (result null). The same owner re-acquiring extends its lease. `isAbandoned` lets the caller
 * take over the unexpired lease of an owner known to be dead (a killed process on this host).
 */
export function applyAcquireLease(
  doc: VaultDocument,
  key: string,
  owner: string,
  now: number,
  ttlMs: number,
  isAbandoned: (holder: string) => boolean = () => false,
): Applied<LeaseRecord | null> {
  const record = recordFor(doc, key);
  const held = record.lease;
  if (held && held.owner !== owner && held.expiresAt > now && !isAbandoned(held.owner)) {
    dropIfEmpty(doc, key);
    return { result: null, changed: false };
  }
  record.lease = { owner, expiresAt: now + ttlMs };
  return { result: { ...record.lease }, changed: true };
}

/**
 * Merges `patch` into the meta of `key` (see Vault.updateMeta): a null field is removed, an
 * absent one kept. With `condition`, nothing changes unless the stored intent names
 * `condition.intentRotationId`.
 */
export function applyUpdateMeta(
  doc: VaultDocument,
  key: string,
  patch: SecretMetaPatch,
  condition?: { intentRotationId: string },
): Applied<void> {
  if (condition && doc.get(key)?.intent?.rotationId !== condition.intentRotationId) {
    return { result: undefined, changed: false };
  }
  const record = recordFor(doc, key);
  const before = canonicalJson(record);
  for (const field of META_FIELDS) {
    const value = patch[field];
    if (value === null) delete record[field];
    else if (value !== undefined) (record as unknown as Record<string, unknown>)[field] = jsonCopy(value);
  }
  const changed = canonicalJson(record) !== before;
  dropIfEmpty(doc, key);
  return { result: undefined, changed };
}

/** Removes the lease on `key` only when `owner` still holds it (expired or not). */
export function applyReleaseLease(doc: VaultDocument, key: string, owner: string): Applied<void> {
  const record = doc.get(key);
  if (record?.lease?.owner !== owner) return { result: undefined, changed: false };
  delete record.lease;
  dropIfEmpty(doc, key);
  return { result: undefined, changed: true };
}

function recordFor(doc: VaultDocument, key: string): KeyRecord {
  let record = doc.get(key);
  if (!record) {
    record = { versions: [] };
    doc.set(key, record);
  }
  return record;
}

function dropIfEmpty(doc: VaultDocument, key: string): void {
  const record = doc.get(key);
  if (record && record.versions.length === 0 && !record.lease && META_FIELDS.every((f) => record[f] === undefined)) {
    doc.delete(key);
  }
}

function removeStage(record: KeyRecord, stage: Stage): void {
  for (const version of record.versions) version.stages = version.stages.filter((s) => s !== stage);
}

function replaceStage(version: VaultVersion, from: Stage, to: Stage): void {
  version.stages = [...version.stages.filter((s) => s !== from), to];
}

/**
 * Keeps at most `history` versions without a stage, dropping the oldest first. Staged versions
 * are never dropped.
 */
function pruneHistory(record: KeyRecord, history: number): void {
  let excess = record.versions.filter((v) => v.stages.length === 0).length - history;
  record.versions = record.versions.filter((v) => v.stages.length > 0 || excess-- <= 0);
}

/** JSON with object keys sorted, so deep equality is string equality. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** What the value will look like after a round trip through the file. */
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function conflict(message: string): RotatorError {
  return new RotatorError('VAULT_CONFLICT', message, { plugin: 'file' });
}
