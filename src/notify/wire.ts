/**
 * Connects alerts to the engine without the engine knowing about them:
 * - the daemon passes `hub.onAttempt` as the scheduler's `onAttempt` and calls `hub.watch(...)`
 *   so that secrets that do not attempt (paused, or not due) still get `expiring`;
 * - `rotate --if-due` (cron) calls `hub.evaluate(...)` per secret with the vault's AttemptStatus
 *   before and after the run, then `await hub.idle()` before exiting.
 * The decision is decide.ts (pure); this file only keeps the daemon's previous view per secret
 * and fans alerts out to the targets.
 */
import type { AttemptStatus, Clock, Logger } from '../types';
import type { SecretSchedule } from '../scheduler';
import type { RotationResult } from '../rotate';
import { isRotatorError } from '../errors';
import { decideAlerts, type Alert, type AlertInput } from './decide';
import { createDeliverer, type Deliverer, type DeliveryDeps } from './deliver';
import type { NotifyTarget } from './schema';

export interface AlertHubDeps extends Omit<DeliveryDeps, 'clock'> {
  log: Logger;
  clock: Clock;
  providerOf(secretId: string): string;
  /** Paused secrets (never rotate, still alert); default none. */
  isPaused?(secretId: string): boolean;
  /** For delivery back-off only; default the system clock (a test's ManualClock never advances by itself). */
  deliveryClock?: Clock;
}

export interface AlertHub {
  /** Scheduler `onAttempt` hook. Never throws, never waits. */
  onAttempt(entry: SecretSchedule, result: RotationResult | undefined, error: unknown): void;
  /** Evaluates secrets between attempts (expiry margins); `check(scheduler.snapshot())`. */
  check(entries: SecretSchedule[]): void;
  /** Calls `check(source())` every `intervalMs` on an unref'd timer; returns the stop function. */
  watch(source: () => SecretSchedule[], intervalMs?: number): () => void;
  /** One evaluation from durable status (cron). Returns the alerts it sent. */
  evaluate(input: Omit<AlertInput, 'provider' | 'now'> & { now?: number }): Alert[];
  idle(): Promise<void>;
}

/** An error as recorded in an AttemptStatus: code and message only. */
export function errorOf(error: unknown): { code: string; message: string } {
  if (isRotatorError(error)) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'INTERNAL', message: error.message };
  return { code: 'INTERNAL', message: String(error) };
}

/**
 * The AttemptStatus a scheduler attempt amounts to (the same facts E records in the vault).
 * A `leased-elsewhere` outcome is no attempt of ours: the status stays as it was.
 */
export function statusAfterAttempt(
  before: AttemptStatus | undefined,
  entry: SecretSchedule,
  result: RotationResult | undefined,
  error: unknown,
  now: number,
): AttemptStatus | undefined {
  const at = new Date(now).toISOString();
  if (result?.outcome === 'leased-elsewhere') return before;
  if (!result) {
    return {
      ...(before?.lastSuccessAt ? { lastSuccessAt: before.lastSuccessAt } : {}),
      ...(before?.distribution ? { distribution: before.distribution } : {}),
      lastAttemptAt: at,
      lastResult: 'failed',
      consecutiveFailures: entry.consecutiveFailures,
      lastError: errorOf(error),
      nextAttemptAt: new Date(entry.nextAttemptAt).toISOString(),
    };
  }
  const distributed = result.outcome === 'rotated' || result.outcome === 'resumed' || result.distributionError !== undefined;
  return {
    lastAttemptAt: at,
    lastResult: 'ok',
    consecutiveFailures: 0,
    lastSuccessAt: at,
    nextAttemptAt: new Date(entry.nextAttemptAt).toISOString(),
    ...(distributed
      ? {
          distribution: {
            at,
            ok: result.distributionError === undefined,
            ...(result.distributionError ? { error: result.distributionError } : {}),
          },
        }
      : before?.distribution
        ? { distribution: before.distribution }
        : {}),
  };
}

export function createAlertHub(targets: readonly NotifyTarget[] | undefined, deps: AlertHubDeps): AlertHub {
  const deliverers: [NotifyTarget, Deliverer][] = (targets ?? []).map((t) => [
    t,
    createDeliverer(t, { ...deps, clock: deps.deliveryClock }),
  ]);
  /** The daemon's previous view per secret: status and when alerts were last evaluated. */
  const seen = new Map<string, { status?: AttemptStatus; checkedAt: number }>();

  function evaluate(input: Omit<AlertInput, 'provider' | 'now'> & { now?: number }): Alert[] {
    const full: AlertInput = { ...input, provider: deps.providerOf(input.secretId), now: input.now ?? deps.clock.now() };
    const sent: Alert[] = [];
    for (const [target, deliverer] of deliverers) {
      const alerts = decideAlerts(full, {
        failureThreshold: target.failureThreshold,
        expiringMarginMs: target.expiringMargin,
        repeatMs: target.repeat,
        events: target.events,
      });
      for (const alert of alerts) {
        deps.log.info({ secretId: alert.secretId, event: alert.event, notify: target.type }, 'sending alert');
        deliverer.send(alert);
      }
      sent.push(...alerts);
    }
    return sent;
  }

  const currentOf = (entry: SecretSchedule) =>
    entry.current ? { issuedAt: entry.current.issuedAt, expiresAt: entry.current.expiresAt } : undefined;

  function guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      deps.log.warn({ error: errorOf(err).message }, `alerts: ${what} failed`);
    }
  }

  const hub: AlertHub = {
    onAttempt(entry, result, error) {
      if (deliverers.length === 0) return;
      guarded('evaluation after an attempt', () => {
        const now = deps.clock.now();
        const prior = seen.get(entry.secretId);
        const after = statusAfterAttempt(prior?.status, entry, result, error, now);
        evaluate({
          secretId: entry.secretId,
          before: prior?.status,
          after,
          previousCheckAt: prior?.checkedAt,
          current: currentOf(entry),
          paused: deps.isPaused?.(entry.secretId),
          now,
        });
        seen.set(entry.secretId, { status: after, checkedAt: now });
      });
    },
    check(entries) {
      if (deliverers.length === 0) return;
      guarded('periodic evaluation', () => {
        const now = deps.clock.now();
        for (const entry of entries) {
          if (entry.running) continue;
          const prior = seen.get(entry.secretId);
          evaluate({
            secretId: entry.secretId,
            before: prior?.status,
            after: prior?.status,
            // First look at a secret: no previous check, so one already inside its margin alerts once.
            previousCheckAt: prior?.checkedAt,
            current: currentOf(entry),
            paused: deps.isPaused?.(entry.secretId),
            now,
          });
          seen.set(entry.secretId, { status: prior?.status, checkedAt: now });
        }
      });
    },
    watch(source, intervalMs = 60_000) {
      const timer = setInterval(() => hub.check(source()), intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    evaluate,
    async idle() {
      await Promise.all(deliverers.map(([, d]) => d.idle()));
    },
  };
  return hub;
}
