/**
 * What a provider answered, checked against what it declared (ProviderLimits) before anything
 * is stored; and what issuing does to the older secrets. Pure and table-tested
 * (test/unit/issued.test.ts).
 */
import type { IssuedSecret, ProviderLimits } from './types';
import { RotatorError } from './errors';

/**
 * Clocks disagree a little (ours, the provider's, and the time the answer spent in flight): the
 * lifetime checks allow this much either way. Small next to every provider's minimum lifetime
 * (NCP: 10 min), large next to normal skew between NTP-synchronised hosts.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 120_000;

export interface IssuedProblem {
  /** The field of the answer that is wrong. */
  field: 'issuedAt' | 'expiresAt';
  /** What is wrong and what was expected; no credential value. */
  message: string;
}

/** Epoch ms of an ISO 8601 instant; NaN when it is not one (a number, garbage, a year past 275760). */
function instant(value: unknown): number {
  return typeof value === 'string' ? Date.parse(value) : NaN;
}

const iso = (ms: number) => new Date(ms).toISOString();
const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/**
 * The first problem with an answer's dates, or undefined when they are plausible: both valid
 * instants; expiry after issue; issue not in the future; expiry at least the provider's minimum
 * lifetime away and no further than its maximum (each within {@link CLOCK_SKEW_TOLERANCE_MS}).
 */
export function checkIssued(
  issued: Pick<IssuedSecret, 'issuedAt' | 'expiresAt'>,
  limits: Pick<ProviderLimits, 'minLifetimeMs' | 'maxLifetimeMs'>,
  now: number,
): IssuedProblem | undefined {
  const issuedAt = instant(issued.issuedAt);
  const expiresAt = instant(issued.expiresAt);
  const tolerance = CLOCK_SKEW_TOLERANCE_MS;
  if (!Number.isFinite(issuedAt)) return { field: 'issuedAt', message: 'issuedAt is not a valid ISO 8601 instant' };
  if (!Number.isFinite(expiresAt)) return { field: 'expiresAt', message: 'expiresAt is not a valid ISO 8601 instant' };
  if (expiresAt <= issuedAt) {
    return { field: 'expiresAt', message: `expiresAt (${iso(expiresAt)}) is not after issuedAt (${iso(issuedAt)})` };
  }
  if (issuedAt > now + tolerance) {
    return { field: 'issuedAt', message: `issuedAt (${iso(issuedAt)}) is in the future (now ${iso(now)}): check the clocks` };
  }
  if (expiresAt - now < limits.minLifetimeMs - tolerance) {
    return {
      field: 'expiresAt',
      message:
        expiresAt <= now
          ? `expiresAt (${iso(expiresAt)}) is in the past (now ${iso(now)})`
          : `expiresAt (${iso(expiresAt)}) is sooner than the provider's minimum lifetime of ${minutes(limits.minLifetimeMs)}`,
    };
  }
  if (expiresAt - Math.min(issuedAt, now) > limits.maxLifetimeMs + tolerance) {
    return {
      field: 'expiresAt',
      message: `expiresAt (${iso(expiresAt)}) is beyond the provider's maximum lifetime of ${minutes(limits.maxLifetimeMs)}`,
    };
  }
  return undefined;
}

/** The error a rotation fails with when {@link checkIssued} finds a problem. Not retried at once. */
export function badAnswerError(problem: IssuedProblem, plugin: string, fate: string): RotatorError {
  return new RotatorError(
    'PROVIDER_BAD_ANSWER',
    `${plugin} answered with an unusable ${problem.field}: ${problem.message}; ${fate}; the current credential is unchanged`,
    { plugin, retryable: false, details: { field: problem.field } },
  );
}

/**
 * When a stored credential stops working, given that the provider issued a newer one at
 * `newerIssuedAt` and shortens older secrets on issue (MongoDB: to at most 7 days from then).
 *
 * Computed where it is read rather than stored: it is a pure function of facts the vault already
 * holds (the newer version's issuedAt), so it costs no extra write, stays right for values
 * stored before this rule existed, and cannot drift from the stored expiry.
 */
export function effectiveExpiresAt(
  value: { expiresAt: string },
  newerIssuedAt: string | undefined,
  effect: ProviderLimits['issueEffectOnOlder'] | undefined,
): number {
  const own = Date.parse(value.expiresAt);
  if (effect?.kind !== 'shorten' || newerIssuedAt === undefined) return own;
  const newer = Date.parse(newerIssuedAt);
  return Number.isFinite(newer) ? Math.min(own, newer + effect.toAtMostMs) : own;
}
