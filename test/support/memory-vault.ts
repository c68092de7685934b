/**
 * An in-memory Vault for engine tests, plus a fault-injecting wrapper. It follows the same
 * contract as the real vaults (test/vault-contract.ts runs against it too), so engine tests do
 * not depend on file I/O, and faults can be injected per method.
 */
import type {
  Lease,
  RotationIntent,
  SecretMeta,
  SecretMetaPatch,
  SecretState,
  Stage,
  Vault,
  VaultValue,
  VaultVersion,
  Clock,
} from '../../src/types';
import { RotatorError } from '../../src/errors';
import { isDeepStrictEqual } from 'node:util';

/** JSON round trip: values are JSON by contract, and it keeps jest's realm (structuredClone does not). */
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

interface Entry {
  versions: VaultVersion[];
  lease?: { owner: string; expiresAt: number };
  meta: SecretMeta;
}

export class MemoryVault implements Vault {
  readonly type = 'memory';
  readonly entries = new Map<string, Entry>();
  constructor(private readonly clock: Clock) {}

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { versions: [], meta: {} }));
    return e;
  }

  private withStage(key: string, stage: Stage): VaultVersion | undefined {
    return this.entries.get(key)?.versions.find((v) => v.stages.includes(stage));
  }

  async read(key: string): Promise<SecretState> {
    const state: SecretState = {};
    for (const stage of ['current', 'pending', 'previous'] as Stage[]) {
      const v = this.withStage(key, stage);
      if (v) state[stage] = clone(v);
    }
    const meta = this.entries.get(key)?.meta;
    if (meta) Object.assign(state, clone(meta));
    return state;
  }

  async putPending(key: string, value: VaultValue, rotationId: string): Promise<VaultVersion> {
    const e = this.entry(key);
    const existing = e.versions.find((v) => v.versionId === rotationId);
    if (existing) {
      if (!isDeepStrictEqual(existing.value, value)) {
        throw new RotatorError('VAULT_CONFLICT', `rotation ${rotationId} already stored a different value`);
      }
      return clone(existing);
    }
    for (const v of e.versions) v.stages = v.stages.filter((s) => s !== 'pending');
    if (e.meta.intent?.rotationId === rotationId) delete e.meta.intent;
    const version: VaultVersion = {
      versionId: rotationId,
      value: clone(value),
      stages: ['pending'],
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    e.versions.push(version);
    return clone(version);
  }

  async promote(key: string, rotationId: string, expectedCurrentVersion: string | null): Promise<void> {
    const current = this.withStage(key, 'current');
    if (current?.versionId === rotationId) return;
    if ((current?.versionId ?? null) !== expectedCurrentVersion) {
      throw new RotatorError('VAULT_CONFLICT', `current of ${key} moved`);
    }
    const pending = this.withStage(key, 'pending');
    if (pending?.versionId !== rotationId) throw new RotatorError('VAULT_CONFLICT', `${rotationId} is not pending`);
    for (const v of this.entry(key).versions) v.stages = v.stages.filter((s) => s !== 'previous');
    if (current) current.stages = ['previous'];
    pending.stages = ['current'];
  }

  async discardPending(key: string, rotationId: string): Promise<void> {
    const pending = this.withStage(key, 'pending');
    if (pending?.versionId === rotationId) pending.stages = pending.stages.filter((s) => s !== 'pending');
  }

  async recordIntent(key: string, intent: RotationIntent): Promise<void> {
    await this.updateMeta(key, { intent });
  }

  async clearIntent(key: string, rotationId: string): Promise<void> {
    await this.updateMeta(key, { intent: null }, { intentRotationId: rotationId });
  }

  async updateMeta(key: string, patch: SecretMetaPatch, condition?: { intentRotationId: string }): Promise<void> {
    const e = this.entry(key);
    if (condition && e.meta.intent?.rotationId !== condition.intentRotationId) return;
    const meta = e.meta as Record<string, unknown>;
    for (const [field, value] of Object.entries(patch)) {
      if (value === null) delete meta[field];
      else if (value !== undefined) meta[field] = clone(value);
    }
  }

  async readMany(keys: string[]): Promise<Map<string, SecretState>> {
    const out = new Map<string, SecretState>();
    for (const key of keys) out.set(key, await this.read(key));
    return out;
  }

  async list(prefix = ''): Promise<string[]> {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix) && this.entries.get(k)!.versions.length > 0).sort();
  }

  async acquireLease(key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const e = this.entry(key);
    const now = this.clock.now();
    if (e.lease && e.lease.owner !== owner && e.lease.expiresAt > now) return null;
    e.lease = { owner, expiresAt: now + ttlMs };
    const expiresAt = e.lease.expiresAt;
    return {
      key,
      owner,
      expiresAt,
      release: async () => {
        if (e.lease?.owner === owner) e.lease = undefined;
      },
    };
  }
}

type Method =
  | 'read'
  | 'putPending'
  | 'promote'
  | 'discardPending'
  | 'acquireLease'
  | 'recordIntent'
  | 'clearIntent'
  | 'updateMeta'
  | 'readMany';

/**
 * Wraps a vault; `before[method]` hooks run before the call and may throw (fault injection) or
 * act (e.g. a competing promotion). Counts calls per method.
 */
export function instrumentVault(inner: Vault) {
  const calls: Record<string, number> = {};
  const before: Partial<Record<Method, (...args: any[]) => Promise<void> | void>> = {};
  const wrap =
    (name: Method) =>
    async (...args: any[]) => {
      calls[name] = (calls[name] ?? 0) + 1;
      await before[name]?.(...args);
      return (inner as any)[name](...args);
    };
  const vault: Vault = {
    type: inner.type,
    read: wrap('read'),
    putPending: wrap('putPending'),
    promote: wrap('promote'),
    discardPending: wrap('discardPending'),
    list: (prefix?: string) => inner.list(prefix),
    ...(inner.acquireLease ? { acquireLease: wrap('acquireLease') } : {}),
    ...(inner.recordIntent ? { recordIntent: wrap('recordIntent') } : {}),
    ...(inner.clearIntent ? { clearIntent: wrap('clearIntent') } : {}),
    ...(inner.updateMeta ? { updateMeta: wrap('updateMeta') } : {}),
    ...(inner.readMany ? { readMany: wrap('readMany') } : {}),
  } as Vault;
  return { vault, calls, before };
}
