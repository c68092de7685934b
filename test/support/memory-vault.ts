/**
 * An in-memory Vault for engine tests, plus a fault-injecting wrapper. It follows the same
 * contract as the real vaults (test/vault-contract.ts runs against it too), so engine tests do
 * not depend on file I/O, and faults can be injected per method.
 */
import type { Lease, RotationIntent, SecretState, Stage, Vault, VaultValue, VaultVersion, Clock } from '../../src/types';
import { RotatorError } from '../../src/errors';
import { isDeepStrictEqual } from 'node:util';

/** JSON round trip: values are JSON by contract, and it keeps jest's realm (structuredClone does not). */
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

interface Entry {
  versions: VaultVersion[];
  lease?: { owner: string; expiresAt: number };
  intent?: RotationIntent;
}

export class MemoryVault implements Vault {
  readonly type = 'memory';
  readonly entries = new Map<string, Entry>();
  constructor(private readonly clock: Clock) {}

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = { versions: [] }));
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
    const intent = this.entries.get(key)?.intent;
    if (intent) state.intent = clone(intent);
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
    if (e.intent?.rotationId === rotationId) e.intent = undefined;
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
    this.entry(key).intent = clone(intent);
  }

  async clearIntent(key: string, rotationId: string): Promise<void> {
    const e = this.entries.get(key);
    if (e?.intent?.rotationId === rotationId) e.intent = undefined;
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

type Method = 'read' | 'putPending' | 'promote' | 'discardPending' | 'acquireLease' | 'recordIntent' | 'clearIntent';

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
  } as Vault;
  return { vault, calls, before };
}
