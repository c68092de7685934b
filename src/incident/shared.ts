/** What the incident commands share: the provider context and a lease around a change. */
import { randomUUID } from 'node:crypto';
import type { Logger, ProviderContext, VaultValue } from '../types';
import type { Runtime } from '../runtime';
import { RotatorError } from '../errors';

export interface IncidentOptions {
  dryRun: boolean;
  log: Logger;
}

export function providerContext(runtime: Runtime, secretId: string, log: Logger, current?: VaultValue): ProviderContext {
  return { secretId, rotationId: randomUUID(), log, clock: runtime.clock, ...(current ? { current } : {}) };
}

/**
 * Runs `body` holding the secret's lease when the vault has leases, so a daemon does not rotate
 * the secret meanwhile (the compare-and-swap in promote still decides if one does). A lease held
 * elsewhere is LEASE_HELD (exit 75: try again later).
 */
export async function withLease<T>(runtime: Runtime, secretId: string, body: () => Promise<T>): Promise<T> {
  const { vault } = runtime;
  if (!vault.acquireLease) return body();
  const lease = await vault.acquireLease(secretId, runtime.owner, 10 * 60_000);
  if (!lease) {
    throw new RotatorError('LEASE_HELD', `another rotator process holds the lease of ${secretId}; try again later`);
  }
  try {
    return await body();
  } finally {
    await lease.release();
  }
}
