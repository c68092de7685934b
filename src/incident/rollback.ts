/**
 * `rotator rollback <id>`: make the previous credential current again, e.g. when the new one
 * breaks a consumer. Refused unless previous is still valid: not expired, not revoked by the
 * engine, and accepted by the provider right now (verify). The swap is the vault's own
 * compare-and-swap (putPending + promote against the current version read first), so a
 * rotation promoted meanwhile makes it fail with VAULT_CONFLICT and changes nothing. The
 * restored value gets a fresh rotationId (a version's id is the rotation that wrote it); its
 * credential, providerRef and expiry are unchanged. Outputs and hooks run as after a rotation.
 */
import { randomUUID } from 'node:crypto';
import type { SecretState, VaultValue } from '../types';
import type { Runtime } from '../runtime';
import { RotatorError, isRotatorError } from '../errors';
import { providerContext, withLease, type IncidentOptions } from './shared';

export interface RollbackOutcome {
  message: string;
  /** The value now current (absent in a dry run). */
  value?: VaultValue;
  distributionError?: string;
}

/** Why previous cannot be made current, or undefined when it can be tried. Pure. */
export function rollbackRefusal(state: SecretState, now: number): string | undefined {
  const previous = state.previous;
  if (!previous) return 'there is no previous credential in the vault';
  if (!state.current) return 'there is no current credential to roll back from';
  if (state.revokedPrevious === previous.value.providerRef) {
    return `the previous credential ${previous.value.providerRef} was revoked`;
  }
  if (Date.parse(previous.value.expiresAt) <= now) {
    return `the previous credential ${previous.value.providerRef} expired at ${previous.value.expiresAt}`;
  }
  return undefined;
}

export async function rollbackSecret(runtime: Runtime, secretId: string, options: IncidentOptions): Promise<RollbackOutcome> {
  const { provider } = runtime.target(secretId);
  const { vault } = runtime;
  return withLease(runtime, secretId, async () => {
    const state = await vault.read(secretId);
    const refusal = rollbackRefusal(state, runtime.clock.now());
    if (refusal) throw new RotatorError('NOT_FOUND', `${secretId}: cannot roll back: ${refusal}`);
    const previous = state.previous!.value;
    const current = state.current!;
    if (!provider.verify) {
      throw new RotatorError('VERIFY_FAILED', `${secretId}: cannot roll back: ${provider.type} cannot verify a credential`);
    }
    await provider.verify(previous, providerContext(runtime, secretId, options.log, current.value)).catch((err: unknown) => {
      throw new RotatorError(
        'VERIFY_FAILED',
        `${secretId}: cannot roll back: the provider no longer accepts the previous credential ${previous.providerRef}` +
          (isRotatorError(err) ? ` (${err.code})` : ''),
      );
    });
    const plan = `make ${previous.providerRef} current again (replacing ${current.value.providerRef})`;
    if (options.dryRun) return { message: `${secretId}: verified; would ${plan}` };
    const rotationId = randomUUID();
    const value: VaultValue = { ...previous, rotationId };
    await vault.putPending(secretId, value, rotationId);
    try {
      await vault.promote(secretId, rotationId, current.versionId);
    } catch (err) {
      await vault.discardPending(secretId, rotationId).catch(() => undefined);
      if (isRotatorError(err) && err.code === 'VAULT_CONFLICT') {
        throw new RotatorError(
          'VAULT_CONFLICT',
          `${secretId}: not rolled back: the current credential changed meanwhile (another rotation was promoted); run status and decide again`,
        );
      }
      throw err;
    }
    await runtime.audit.record({
      event: 'rolled-back',
      secretId,
      provider: previous.provider,
      providerRef: previous.providerRef,
      rotationId,
      detail: `replaced ${current.value.providerRef}`,
    });
    const distributionError = await runtime.distributor.distribute(value).then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    return {
      message: `${secretId}: rolled back: ${previous.providerRef} is current again`,
      value,
      ...(distributionError ? { distributionError } : {}),
    };
  });
}
