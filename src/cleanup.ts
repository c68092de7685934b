/**
 * What must be taken back at a provider, decided purely from what the provider lists and what
 * the vault knows (tested as tables in test/unit/cleanup.test.ts):
 * - orphans: secrets an interrupted rotation created but never stored (found through its
 *   recorded {@link RotationIntent});
 * - the previous secret, once its grace period after a promotion has passed.
 */
import type { ProviderSecretInfo, RotationIntent, SecretState } from './types';

/** providerRefs the vault holds for a key, in any stage: these are never orphans. */
export function refsInVault(state: SecretState): Set<string> {
  return new Set([state.current, state.pending, state.previous].flatMap((v) => (v ? [v.value.providerRef] : [])));
}

/** Whether the intent's rotation reached the vault (then nothing it issued can be lost). */
export function intentReachedVault(state: SecretState, intent: RotationIntent): boolean {
  return [state.current, state.pending, state.previous].some((v) => v?.versionId === intent.rotationId);
}

/**
 * The provider secrets that the interrupted rotation of `intent` created and the vault never
 * got: live now, absent before the intent was recorded, and unknown to the vault. Secrets that
 * predate the intent are never orphans, whoever made them.
 */
export function findOrphans(live: readonly ProviderSecretInfo[], intent: RotationIntent, state: SecretState): string[] {
  const before = new Set(intent.liveBefore);
  const known = refsInVault(state);
  return live.map((s) => s.providerRef).filter((ref) => !before.has(ref) && !known.has(ref));
}

export type PreviousRevocation =
  | { action: 'none'; why: string }
  | { action: 'wait'; at: number; providerRef: string }
  | { action: 'revoke'; providerRef: string };

/**
 * When the vault's previous credential is to be revoked: `graceMs` after the current one was
 * issued (which is when it was promoted, give or take one verification). Never when the
 * previous is the same provider secret as the current (a resumed or re-promoted value).
 * `graceMs` undefined: the provider or the operator said never.
 */
export function previousRevocation(state: SecretState, graceMs: number | undefined, now: number): PreviousRevocation {
  const previous = state.previous?.value;
  const current = state.current?.value;
  if (graceMs === undefined) return { action: 'none', why: 'no grace period: previous secrets are not revoked' };
  if (!previous || !current) return { action: 'none', why: 'there is no previous secret' };
  if (previous.providerRef === current.providerRef) return { action: 'none', why: 'the previous secret is the current one' };
  const at = Date.parse(current.issuedAt) + graceMs;
  if (!Number.isFinite(at)) return { action: 'revoke', providerRef: previous.providerRef };
  return at <= now
    ? { action: 'revoke', providerRef: previous.providerRef }
    : { action: 'wait', at, providerRef: previous.providerRef };
}
