/**
 * What `status` and `plan` show for one secret, from the vault's state alone (any process, with
 * or without a daemon running): nextAction's state word, steps and wake-up time, plus the
 * durable attempt status. Pure; the CLI only formats it (src/cli/output.ts).
 */
import type { SecretState } from './types';
import type { RenewalPolicy } from './renewal';
import { describeStep, nextAction, NO_CAPABILITIES, type Capabilities, type SecretWord } from './next-action';

export interface StatusRow {
  secretId: string;
  provider: string;
  state: SecretWord;
  issuedAt?: string;
  /** The current credential's expiry, after any shortening by a newer issue. */
  expiresAt?: string;
  /** When something is next due (ISO), "now", or undefined when nothing is scheduled (paused). */
  renewsAt?: string;
  /** What happens then, in words (the steps due, or why nothing is). */
  next: string;
  currentVersion?: string;
  pendingVersion?: string;
  previousVersion?: string;
  consecutiveFailures?: number;
  lastError?: { code: string; message: string };
  lastAttemptAt?: string;
  nextAttemptAt?: string;
  lastSuccessAt?: string;
  distribution?: { at: string; ok: boolean; error?: string };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The status of one secret. `caps`: what its provider can do, when the caller has it (status
 * does not create providers, so by default none: then previous revocation and make-room are not
 * shown, everything else is).
 */
export function statusRow(
  secretId: string,
  provider: string,
  state: SecretState,
  policy: RenewalPolicy,
  now: number,
  caps: Capabilities = NO_CAPABILITIES,
): StatusRow {
  const action = nextAction(state, now, policy, caps, { mode: 'scheduled' });
  const due = action.steps.length > 0;
  const status = state.status;
  const row: StatusRow = {
    secretId,
    provider,
    state: action.state,
    next: due ? action.steps.map(describeStep).join('; then ') : action.why,
  };
  if (state.current) row.issuedAt = state.current.value.issuedAt;
  if (action.expiresAt !== undefined && Number.isFinite(action.expiresAt)) row.expiresAt = iso(action.expiresAt);
  if (action.wakeAt !== undefined) row.renewsAt = due ? 'now' : iso(action.wakeAt);
  if (state.current) row.currentVersion = state.current.versionId;
  if (state.pending) row.pendingVersion = state.pending.versionId;
  if (state.previous) row.previousVersion = state.previous.versionId;
  if (status) {
    row.lastAttemptAt = status.lastAttemptAt;
    if (status.lastResult === 'failed') {
      row.consecutiveFailures = status.consecutiveFailures;
      if (status.lastError) row.lastError = status.lastError;
      if (status.nextAttemptAt) row.nextAttemptAt = status.nextAttemptAt;
    }
    if (status.distribution) row.distribution = status.distribution;
  }
  const success = [status?.lastSuccessAt, state.current?.createdAt].filter((t): t is string => Boolean(t)).sort();
  if (success.length > 0) row.lastSuccessAt = success[success.length - 1]!;
  return row;
}
