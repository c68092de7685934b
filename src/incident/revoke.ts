/**
 * `rotator revoke <id> [--stage previous|current]`: take a leaked credential out of service.
 *
 * previous: revoked at the provider now (not after its grace period) and remembered as
 * `revokedPrevious` so the engine never revokes it again. current: a forced rotation first (so
 * consumers get a working credential), then the old current — now previous — is revoked.
 * A provider without revoke (NCP STS) cannot do this: the outcome says so and when the
 * credential expires on its own, and the command exits 1 (the credential is still live).
 */
import type { VaultValue } from '../types';
import type { Runtime } from '../runtime';
import { rotationDeps } from '../runtime';
import { rotateSecret } from '../rotate';
import { RotatorError } from '../errors';
import { providerContext, withLease, type IncidentOptions } from './shared';

export type RevokeStage = 'previous' | 'current';

export interface RevokeOutcome {
  /** What happened (or, in a dry run, would), for the operator. */
  message: string;
  /** The credential named is no longer accepted by the provider (false: still live until expiry). */
  revoked: boolean;
}

/** The sentence for a provider that cannot revoke. Pure. */
export function cannotRevoke(value: VaultValue, providerType: string): string {
  return (
    `${value.secretId}: provider ${providerType} cannot revoke a credential; ${value.providerRef} stays valid ` +
    `until it expires at ${value.expiresAt}`
  );
}

export async function revokeSecret(
  runtime: Runtime,
  secretId: string,
  stage: RevokeStage,
  options: IncidentOptions,
): Promise<RevokeOutcome> {
  const target = runtime.target(secretId);
  const { provider } = target;
  const state = await runtime.vault.read(secretId);
  const victim = stage === 'previous' ? state.previous : state.current;
  if (!victim) throw new RotatorError('NOT_FOUND', `${secretId} has no ${stage} credential in the vault; nothing to revoke`);
  const ref = victim.value.providerRef;
  if (stage === 'previous' && state.revokedPrevious === ref) {
    return { message: `${secretId}: the previous credential ${ref} was already revoked`, revoked: true };
  }
  const canRevoke = Boolean(provider.revoke);
  if (options.dryRun) {
    const first = stage === 'current' ? `would rotate ${secretId} (forced), then ` : 'would ';
    const then = canRevoke
      ? `revoke ${ref} at ${provider.type}`
      : `leave ${ref} live: ${provider.type} cannot revoke; it expires at ${victim.value.expiresAt}`;
    return { message: `${secretId}: ${first}${then}`, revoked: false };
  }
  let rotated = '';
  if (stage === 'current') {
    const result = await rotateSecret(target, rotationDeps(runtime, options.log, 'one-off'), { force: true });
    if (result.outcome !== 'rotated' && result.outcome !== 'resumed' && result.outcome !== 'superseded') {
      throw new RotatorError('LEASE_HELD', `${secretId}: could not rotate first (${result.outcome}); nothing was revoked`);
    }
    const after = await runtime.vault.read(secretId);
    if (after.current?.value.providerRef === ref) {
      throw new RotatorError('INTERNAL', `${secretId}: the rotation did not replace ${ref}; nothing was revoked`);
    }
    rotated = `rotated to ${after.current?.value.providerRef ?? 'a new credential'}, then `;
  }
  if (!provider.revoke) return { message: cannotRevoke(victim.value, provider.type), revoked: false };
  const revoke = provider.revoke.bind(provider);
  await withLease(runtime, secretId, async () => {
    await revoke(ref, providerContext(runtime, secretId, options.log, state.current?.value));
    // The old credential is now the previous stage: tell the engine it is gone.
    await runtime.vault.updateMeta?.(secretId, { revokedPrevious: ref });
  });
  target.revokedPrevious?.add(ref);
  return { message: `${secretId}: ${rotated}revoked ${ref} at ${provider.type}`, revoked: true };
}
