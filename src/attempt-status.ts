/**
 * The durable per-key meta the engine keeps in the vault (SecretMeta): intents, the revoked
 * previous memo and the outcome of attempts (AttemptStatus). The status patches are pure
 * functions; `writeMeta` adapts to vaults without `updateMeta`.
 *
 * Writes, by path (so a steady-state successful rotation costs no status write):
 * - success after success: none (a success is visible from the promoted version);
 * - success after a failure, or a distribution result that changed: one `updateMeta`;
 * - failure: one `updateMeta` (the status with its back-off);
 * - revoking the previous credential: one `updateMeta` (revokedPrevious), or none when it rides
 *   on the intent write of the same run.
 */
import type { AttemptStatus, SecretMetaPatch, SecretState, Vault } from './types';
import { describeError, isRotatorError } from './errors';
import { nextAttemptAfterFailure, DEFAULT_BACKOFF, type BackoffPolicy } from './renewal';

const iso = (ms: number) => new Date(ms).toISOString();

/** Whether the vault keeps meta at all (updateMeta, or the older intent pair). */
export function vaultKeepsIntents(vault: Vault): boolean {
  return Boolean(vault.updateMeta || (vault.recordIntent && vault.clearIntent));
}

/**
 * Applies `patch` with `updateMeta`; a vault that only has recordIntent/clearIntent gets the
 * intent part, and the rest is dropped (such a vault cannot keep it: status then lives in the
 * process only, as before).
 */
export async function writeMeta(
  vault: Vault,
  key: string,
  patch: SecretMetaPatch,
  condition?: { intentRotationId: string },
): Promise<void> {
  if (vault.updateMeta) return vault.updateMeta(key, patch, condition);
  if (patch.intent) await vault.recordIntent?.(key, patch.intent);
  else if (patch.intent === null && condition) await vault.clearIntent?.(key, condition.intentRotationId);
}

/** The status after a failed attempt: one more consecutive failure, and when to try again. */
export function failureStatus(
  previous: AttemptStatus | undefined,
  err: unknown,
  now: number,
  currentExpiresAt: number | undefined,
  backoff: BackoffPolicy = DEFAULT_BACKOFF,
): AttemptStatus {
  const failures = (previous?.lastResult === 'failed' ? previous.consecutiveFailures : 0) + 1;
  const code = isRotatorError(err) ? err.code : 'INTERNAL';
  const message = isRotatorError(err) ? err.message : describeError(err);
  return {
    ...(previous?.lastSuccessAt ? { lastSuccessAt: previous.lastSuccessAt } : {}),
    ...(previous?.distribution ? { distribution: previous.distribution } : {}),
    lastAttemptAt: iso(now),
    lastResult: 'failed',
    consecutiveFailures: failures,
    lastError: { code, message },
    nextAttemptAt: iso(nextAttemptAfterFailure(now, failures, currentExpiresAt, backoff)),
  };
}

/**
 * The status after an attempt that ended with a valid current credential, or undefined when
 * nothing needs writing: the last stored result was already a success and distribution did not
 * change from ok to failed or back.
 */
export function successStatus(
  state: Pick<SecretState, 'status'>,
  now: number,
  distribution: { ok: boolean; error?: string } | undefined,
): AttemptStatus | undefined {
  const previous = state.status;
  const distributionChanged = distribution !== undefined && (distribution.ok ? previous?.distribution?.ok === false : true);
  if (previous?.lastResult !== 'failed' && !distributionChanged) return undefined;
  const dist = distribution
    ? { at: iso(now), ok: distribution.ok, ...(distribution.error ? { error: distribution.error } : {}) }
    : previous?.distribution;
  return {
    lastAttemptAt: iso(now),
    lastResult: 'ok',
    consecutiveFailures: 0,
    lastSuccessAt: iso(now),
    ...(dist ? { distribution: dist } : {}),
  };
}
