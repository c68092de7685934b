/**
 * When to rotate. Pure functions of their inputs (time is a parameter), table-tested in
 * test/unit/renewal.test.ts. The shape follows certmagic and cert-manager: renew when a third of
 * the lifetime remains, an emergency path near expiry, exponential back-off capped so that
 * retries still happen well before expiry.
 */
import { createHash } from 'node:crypto';
import type { RotationWindow } from './window';

/** How long before expiry to renew: a fraction of the lifetime or a fixed duration. */
export type RenewBefore = { kind: 'fraction'; fraction: number } | { kind: 'duration'; ms: number };

export interface RenewalPolicy {
  renewBefore: RenewBefore;
  /** Fraction (0..0.5) of the renew-before window by which renewal may come earlier. */
  jitter: number;
  /** Never rotate (still reported by status/plan and alerts); a forced one-off rotation still can. */
  paused?: boolean;
  /**
   * Scheduled rotations happen only inside this window, except the emergency path: a
   * credential that would reach its emergency margin before the next window opens is rotated
   * outside it (reason `emergency-outside-window`). One-off `rotate <id>` ignores the window.
   */
  window?: RotationWindow;
}

/** The facts about the current credential that renewal depends on. */
export interface CurrentCredential {
  issuedAt: number;
  expiresAt: number;
  /** Anything that changes on every rotation; with the secret id it seeds the jitter. */
  rotationId: string;
}

export const DEFAULT_POLICY: RenewalPolicy = { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0.1 };

/** Inside the last 1/20 of the lifetime, renew at once whatever the policy says. */
export const EMERGENCY_FRACTION = 1 / 20;

/**
 * When `credential` enters its emergency margin: its expiry less {@link EMERGENCY_FRACTION} of
 * its lifetime (none for a lifetime that is not positive). The one definition the renewal
 * decision, the plan (next-action) and the rotation's retry deadline share.
 */
export function emergencyAt(credential: { issuedAt: number; expiresAt: number }): number {
  return credential.expiresAt - Math.max(0, credential.expiresAt - credential.issuedAt) * EMERGENCY_FRACTION;
}
/**
 * A duration-based renewBefore longer than the lifetime would make every new credential due
 * the moment it is issued (a rotation loop). It is capped so that at least this fraction of the
 * lifetime is used first.
 */
export const MIN_USED_FRACTION = 0.1;

/**
 * A uniform number in [0, 1) from the secret id and the rotation that produced the credential.
 * Deterministic, so `rotator status` and the scheduler agree and a plan is reproducible, yet
 * secrets issued together spread out.
 */
export function deterministicUnit(seed: string): number {
  const digest = createHash('sha256').update(seed).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** The length of the renew-before window in ms for a credential of `lifetimeMs`. */
export function renewBeforeMs(renewBefore: RenewBefore, lifetimeMs: number): number {
  const wanted = renewBefore.kind === 'fraction' ? lifetimeMs * renewBefore.fraction : renewBefore.ms;
  return Math.max(0, Math.min(wanted, lifetimeMs * (1 - MIN_USED_FRACTION)));
}

/**
 * The instant (epoch ms) at which `current` should be renewed: expiry minus the renew-before
 * window, moved earlier by up to `jitter` of that window. Jitter only ever moves renewal
 * earlier, so the configured window is a guarantee.
 */
export function renewalTime(secretId: string, current: CurrentCredential, policy: RenewalPolicy): number {
  const lifetime = current.expiresAt - current.issuedAt;
  if (lifetime <= 0) return current.issuedAt;
  const window = renewBeforeMs(policy.renewBefore, lifetime);
  const jitter = Math.min(Math.max(policy.jitter, 0), 0.5);
  const spread = window * jitter * deterministicUnit(`${secretId}\u0000${current.rotationId}`);
  return Math.floor(current.expiresAt - window - spread);
}

export type RenewalReason = 'missing' | 'pending' | 'due' | 'emergency' | 'expired';

export type RenewalDecision = { rotate: true; reason: RenewalReason } | { rotate: false; at: number };

/**
 * Whether to rotate now, and if not, when. `pending`: a pending version left by a crashed run
 * is always resumed at once.
 */
export function decideRenewal(
  now: number,
  secretId: string,
  current: CurrentCredential | undefined,
  policy: RenewalPolicy,
  hasPending = false,
): RenewalDecision {
  if (hasPending) return { rotate: true, reason: 'pending' };
  if (!current) return { rotate: true, reason: 'missing' };
  if (now >= current.expiresAt) return { rotate: true, reason: 'expired' };
  if (now > emergencyAt(current)) return { rotate: true, reason: 'emergency' };
  const at = renewalTime(secretId, current, policy);
  return now >= at ? { rotate: true, reason: 'due' } : { rotate: false, at };
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Never wait less than this between attempts, even in an emergency. */
  minMs: number;
}

/**
 * Retry intervals after failures, like cert-manager's: initial × 2^(n−1), capped at maxMs.
 *   failures: 1     2     3     4      5      6       7+
 *   delay:    30s   1m    2m    4m     8m     16m     …  → 1h cap
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 30_000, maxMs: 3_600_000, minMs: 5_000 };

/**
 * When to try again after `failures` consecutive failures (>= 1). The delay is also capped at a
 * quarter of the time left before the current credential expires, so several more attempts
 * happen before expiry however long the exponential delay has grown; it never drops below
 * `minMs` (no hot loop against a failing provider) and is never negative.
 */
export function nextAttemptAfterFailure(
  now: number,
  failures: number,
  expiresAt: number | undefined,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const n = Math.max(1, Math.floor(failures));
  let delay = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(n - 1, 40));
  if (expiresAt !== undefined && expiresAt > now) delay = Math.min(delay, (expiresAt - now) / 4);
  return now + Math.max(policy.minMs, Math.floor(delay));
}
