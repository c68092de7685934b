/**
 * The scheduler behind `rotator run`. A node-cron task fires the sweep (default every minute);
 * the sweep compares the clock with each secret's next attempt time, which is kept in memory:
 * the vault is read once per secret at start and then only by the rotations themselves, never
 * on every tick. Long waits are therefore never Node timers (which overflow past 2^31-1 ms).
 *
 * Scheduled rotations run with `ifDue`, so a replica that finds the secret already rotated by
 * another one just learns the new expiry.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Clock, Logger } from './types';
import { rotateSecret, currentCredentialOf, type RotationDeps, type RotationResult, type RotationTarget } from './rotate';
import { decideRenewal, nextAttemptAfterFailure, DEFAULT_BACKOFF, type BackoffPolicy, type CurrentCredential } from './renewal';
import { createLimiter } from './limit';
import { intentReachedVault, previousRevocation } from './cleanup';
import { describeError, RotatorError } from './errors';
import { withRetry } from './retry';

/** What the scheduler knows about one secret; also what `status` shows for a running daemon. */
export interface SecretSchedule {
  secretId: string;
  current?: CurrentCredential;
  /** Epoch ms of the next attempt. */
  nextAttemptAt: number;
  consecutiveFailures: number;
  running: boolean;
  lastOutcome?: RotationResult['outcome'] | 'failed';
  /** How many attempts ended in each outcome since start (metrics). */
  outcomes: Partial<Record<RotationResult['outcome'] | 'failed', number>>;
  lastError?: string;
  lastAttemptAt?: number;
}

export interface SchedulerOptions {
  targets: RotationTarget[];
  /** Everything rotateSecret needs except the signal, which the scheduler owns. */
  rotation: Omit<RotationDeps, 'signal'>;
  clock: Clock;
  log: Logger;
  /** node-cron expression for the sweep. */
  schedule: string;
  concurrency: number;
  backoff?: BackoffPolicy;
  /** After a lease conflict, look again after this long (ms). */
  leaseRecheckMs?: number;
  /** Called after every attempt (metrics, tests). */
  onAttempt?: (entry: SecretSchedule, result: RotationResult | undefined, error: unknown) => void;
  /** Tests drive sweeps by hand instead of node-cron. */
  manualSweeps?: boolean;
}

export class Scheduler {
  private readonly entries = new Map<string, SecretSchedule>();
  private readonly targets = new Map<string, RotationTarget>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly limiter;
  private readonly abort = new AbortController();
  private task?: ScheduledTask;
  private stopping = false;

  constructor(private readonly options: SchedulerOptions) {
    this.limiter = createLimiter(options.concurrency);
    for (const target of options.targets) {
      this.targets.set(target.secretId, target);
      this.entries.set(target.secretId, {
        secretId: target.secretId,
        nextAttemptAt: 0,
        consecutiveFailures: 0,
        running: false,
        outcomes: {},
      });
    }
  }

  /**
   * Reads each secret's state once, schedules it (a secret with no current value, or with a
   * pending version from an interrupted run, is due at once), starts the cron task and runs a
   * first sweep right away.
   */
  async start(): Promise<void> {
    const { log, clock } = this.options;
    await Promise.all(
      [...this.entries.values()].map(async (entry) => {
        const target = this.targets.get(entry.secretId)!;
        try {
          const state = await withRetry(() => this.options.rotation.vault.read(entry.secretId), {
            what: 'vault read',
            clock,
            log,
            signal: this.abort.signal,
          });
          entry.current = currentCredentialOf(state.current);
          const now = clock.now();
          const decision = decideRenewal(now, entry.secretId, entry.current, target.policy, Boolean(state.pending));
          entry.nextAttemptAt = decision.rotate ? now : decision.at;
          // An interrupted rotation may have left a secret at the provider: clean up at once.
          if (state.intent && !intentReachedVault(state, state.intent)) entry.nextAttemptAt = now;
          const revocation = target.provider.revoke
            ? previousRevocation(state, target.provider.revokePreviousAfterMs, now)
            : undefined;
          if (revocation?.action === 'revoke') entry.nextAttemptAt = now;
          if (revocation?.action === 'wait') entry.nextAttemptAt = Math.min(entry.nextAttemptAt, revocation.at);
        } catch (err) {
          entry.lastError = describeError(err);
          entry.nextAttemptAt = clock.now();
        }
      }),
    );
    // stop() may have been called while we read the vault: then nothing is scheduled.
    if (this.stopping) return;
    if (!this.options.manualSweeps) {
      this.task = cron.schedule(this.options.schedule, () => this.sweep(), { name: 'rotator-sweep', noOverlap: true });
    }
    log.info(
      { secrets: this.entries.size, schedule: this.options.schedule, concurrency: this.options.concurrency },
      'scheduler started',
    );
    this.sweep();
  }

  /** Starts every due rotation that is not already running. Returns how many it started. */
  sweep(): number {
    if (this.stopping) return 0;
    const now = this.options.clock.now();
    let started = 0;
    for (const entry of this.entries.values()) {
      if (entry.running || entry.nextAttemptAt > now) continue;
      entry.running = true;
      started++;
      // attempt() never rejects (failures are recorded); the catch keeps a bug from becoming an
      // unhandled rejection that would end the daemon.
      const run = this.limiter
        .run(() => this.attempt(entry))
        .catch((err) => this.options.log.error({ error: describeError(err) }, 'scheduler bug: attempt threw'))
        .finally(() => this.inFlight.delete(run));
      this.inFlight.add(run);
    }
    return started;
  }

  /** Resolves when every rotation started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  snapshot(): SecretSchedule[] {
    return [...this.entries.values()].map((e) => ({ ...e, outcomes: { ...e.outcomes } }));
  }

  /**
   * Stops sweeping and waits up to `graceMs` for rotations in flight to finish; then aborts
   * them (their retries and back-offs stop at once) and waits briefly for them to unwind.
   * Resolves true when everything finished within the grace period.
   */
  async stop(graceMs: number): Promise<boolean> {
    this.stopping = true;
    await this.task?.destroy();
    const finished = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref()),
    ]);
    if (!finished) {
      this.options.log.warn({ inFlight: this.inFlight.size }, 'rotations still running after the grace period; aborting them');
      this.abort.abort(new RotatorError('ABORTED', 'shutdown'));
      await Promise.race([this.idle(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    }
    return finished;
  }

  /** Forces stop at once (second signal). */
  abortNow(): void {
    this.stopping = true;
    void this.task?.destroy();
    this.abort.abort(new RotatorError('ABORTED', 'forced shutdown'));
  }

  /** Makes a start() still reading the vault schedule nothing (stop during start-up). */
  abortStart(): void {
    this.stopping = true;
    this.abort.abort(new RotatorError('ABORTED', 'stopped during start-up'));
  }

  private async attempt(entry: SecretSchedule): Promise<void> {
    const { clock, log } = this.options;
    const target = this.targets.get(entry.secretId)!;
    entry.lastAttemptAt = clock.now();
    let result: RotationResult | undefined;
    let error: unknown;
    try {
      result = await rotateSecret(target, { ...this.options.rotation, signal: this.abort.signal }, { ifDue: true });
      this.recordResult(entry, target, result);
    } catch (err) {
      error = err;
      entry.consecutiveFailures++;
      entry.lastOutcome = 'failed';
      entry.lastError = describeError(err);
      entry.nextAttemptAt = nextAttemptAfterFailure(
        clock.now(),
        entry.consecutiveFailures,
        entry.current?.expiresAt,
        this.options.backoff ?? DEFAULT_BACKOFF,
      );
      log.error(
        {
          secretId: entry.secretId,
          error: entry.lastError,
          failures: entry.consecutiveFailures,
          nextAttemptAt: new Date(entry.nextAttemptAt).toISOString(),
        },
        'rotation failed',
      );
    } finally {
      const outcome = entry.lastOutcome ?? 'failed';
      entry.outcomes[outcome] = (entry.outcomes[outcome] ?? 0) + 1;
      entry.running = false;
      try {
        this.options.onAttempt?.(entry, result, error);
      } catch (hookError) {
        log.warn({ error: describeError(hookError) }, 'onAttempt hook failed');
      }
    }
  }

  private recordResult(entry: SecretSchedule, target: RotationTarget, result: RotationResult): void {
    const { clock } = this.options;
    entry.lastOutcome = result.outcome;
    if (result.outcome === 'leased-elsewhere') {
      // Another replica is on it; look again later and learn the new expiry then.
      entry.nextAttemptAt = clock.now() + (this.options.leaseRecheckMs ?? 60_000);
      return;
    }
    entry.consecutiveFailures = 0;
    entry.lastError = result.distributionError;
    if (result.current) {
      entry.current = {
        issuedAt: Date.parse(result.current.issuedAt),
        expiresAt: Date.parse(result.current.expiresAt),
        rotationId: result.current.versionId,
      };
    }
    const decision = decideRenewal(clock.now(), entry.secretId, entry.current, target.policy);
    // A credential that is due the moment it is issued (its lifetime is shorter than the
    // renewal window) must not spin: wait at least the minimum back-off.
    entry.nextAttemptAt = decision.rotate ? clock.now() + (this.options.backoff ?? DEFAULT_BACKOFF).minMs : decision.at;
    // Revoking the previous credential after its grace period is done by the same run (it
    // returns not-due), so wake up for it too.
    if (result.previousRevokeAt) {
      entry.nextAttemptAt = Math.min(entry.nextAttemptAt, Math.max(clock.now(), Date.parse(result.previousRevokeAt)));
    }
  }
}
