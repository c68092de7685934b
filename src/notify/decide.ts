/**
 * Which alerts one evaluation of one secret sends: a pure function of the secret's durable
 * attempt status before and after (src/types.ts AttemptStatus, which the daemon and `rotate
 * --if-due` run by cron both read from the vault), its current credential, and the time.
 * Delivery is elsewhere (deliver.ts); nothing here reads a clock or process memory, so a cron
 * job that starts fresh every time decides exactly as the daemon does.
 *
 * One alert per state change:
 * - `failure`     consecutive failures reach the threshold (3 → alert once, 4, 5… → nothing);
 * - `recovered`   an attempt succeeds after a streak that had reached the threshold;
 * - `distribution-failed`  the last distribution failed and the one before did not;
 * - `expiring`    the current credential entered its expiry margin since the last evaluation
 *                 (also for paused secrets, which never attempt).
 * With `repeatMs`, a condition that still holds alerts again once per repeat period. Periods are
 * aligned to the epoch (floor(t / repeatMs)) so that the previous evaluation time is all the state
 * needed: at most one repeat per period, whichever process evaluates.
 */
import type { AttemptStatus } from '../types';
import { EMERGENCY_FRACTION } from '../renewal';
import type { AlertEvent } from './schema';

export interface AlertPolicy {
  failureThreshold: number;
  /** Undefined: the emergency margin, a share of the credential's lifetime. */
  expiringMarginMs?: number;
  /** Undefined: never repeat. */
  repeatMs?: number;
  /** Events to send; undefined: all. */
  events?: readonly AlertEvent[];
}

export interface AlertSubject {
  secretId: string;
  provider: string;
  /** The current credential's times (epoch ms), when there is one. */
  current?: { issuedAt: number; expiresAt: number };
  /** A paused secret never rotates; it still alerts when it nears expiry. */
  paused?: boolean;
}

export interface AlertInput extends AlertSubject {
  /** Status as recorded before this evaluation (undefined: never attempted). */
  before?: AttemptStatus;
  /** Status now (equal to `before` for an evaluation without an attempt, e.g. a paused secret). */
  after?: AttemptStatus;
  /**
   * When alerts were last evaluated for this secret (epoch ms). Default: `before.lastAttemptAt`,
   * which is right for `rotate --if-due`; a daemon that also evaluates between attempts passes
   * the time of its previous evaluation.
   */
  previousCheckAt?: number;
  now: number;
}

/** An alert as sent, minus `host`, which the deliverer adds. Never holds secret material. */
export interface Alert {
  event: AlertEvent;
  secretId: string;
  provider: string;
  message: string;
  consecutiveFailures: number;
  /** ISO 8601, when there is a current credential. */
  expiresAt?: string;
  error?: { code: string; message: string };
  /** ISO 8601: when the evaluation happened. */
  at: string;
}

/** Whether a credential is inside its expiry margin at `t`. */
export function isExpiring(current: AlertSubject['current'], t: number, marginMs?: number): boolean {
  if (!current) return false;
  const margin = marginMs ?? (current.expiresAt - current.issuedAt) * EMERGENCY_FRACTION;
  return t >= current.expiresAt - margin;
}

export function decideAlerts(input: AlertInput, policy: AlertPolicy): Alert[] {
  const { before, after, now } = input;
  const threshold = policy.failureThreshold;
  const previous = input.previousCheckAt ?? (before ? Date.parse(before.lastAttemptAt) : undefined);
  const repeatDue =
    policy.repeatMs !== undefined &&
    previous !== undefined &&
    Math.floor(previous / policy.repeatMs) < Math.floor(now / policy.repeatMs);
  const failuresBefore = before?.consecutiveFailures ?? 0;
  const failuresAfter = after?.consecutiveFailures ?? 0;
  const attempted = after !== undefined && after.lastAttemptAt !== before?.lastAttemptAt;
  const alerts: Alert[] = [];
  const add = (event: AlertEvent, message: string, error?: Alert['error']) =>
    alerts.push({
      event,
      secretId: input.secretId,
      provider: input.provider,
      message,
      consecutiveFailures: failuresAfter,
      ...(input.current ? { expiresAt: new Date(input.current.expiresAt).toISOString() } : {}),
      ...(error ? { error } : {}),
      at: new Date(now).toISOString(),
    });

  if (failuresAfter >= threshold) {
    const crossed = failuresBefore < threshold;
    if (crossed || repeatDue) {
      const error = after?.lastError;
      add(
        'failure',
        `${crossed ? '' : 'still failing: '}rotation of ${input.secretId} (${input.provider}) failed ${failuresAfter} times in a row` +
          (error ? ` (${error.code}: ${error.message})` : '') +
          (after?.nextAttemptAt ? `; next attempt at ${after.nextAttemptAt}` : ''),
        error,
      );
    }
  } else if (attempted && after.lastResult === 'ok' && failuresBefore >= threshold) {
    add('recovered', `rotation of ${input.secretId} (${input.provider}) succeeded again after ${failuresBefore} failed attempts`);
  }

  const dist = after?.distribution;
  if (dist && !dist.ok) {
    // Failed after failed (a later value that could not be delivered either) is the same state.
    const isNew = !before?.distribution || before.distribution.ok;
    if (isNew || repeatDue) {
      add(
        'distribution-failed',
        `${isNew ? '' : 'still failing: '}the current value of ${input.secretId} is in the vault but could not be distributed` +
          (dist.error ? `: ${dist.error}` : ''),
        { code: 'DISTRIBUTION', message: dist.error ?? 'distribution failed' },
      );
    }
  }

  if (isExpiring(input.current, now, policy.expiringMarginMs)) {
    const entered = previous === undefined || !isExpiring(input.current, previous, policy.expiringMarginMs);
    if (entered || repeatDue) {
      const expiresAt = new Date(input.current!.expiresAt).toISOString();
      const left = input.current!.expiresAt - now;
      const why = input.paused
        ? 'the secret is paused, so rotator will not replace it'
        : failuresAfter > 0
          ? `rotation has failed ${failuresAfter} times in a row`
          : 'no rotation has succeeded yet';
      add(
        'expiring',
        `the current credential of ${input.secretId} (${input.provider}) ${left > 0 ? `expires in ${humanDuration(left)}` : 'has expired'} (${expiresAt}); ${why}`,
        after?.lastError,
      );
    }
  }

  return policy.events ? alerts.filter((a) => policy.events!.includes(a.event)) : alerts;
}

/** `95m` → "1h 35m"; coarse on purpose: alerts are read by people. */
export function humanDuration(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 1) return 'less than a minute';
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m && !d ? `${m}m` : ''].filter(Boolean).join(' ');
}
