/**
 * The scheduler behind `rotator run`. A node-cron task fires the sweep (default every minute);
 * the sweep compares the clock with each secret's next attempt time, which is kept in memory:
 * the vault is read once per secret at start (with `readMany` in chunks, or a few reads at a
 * time) and then only by the rotations themselves, never on every tick. Long waits are therefore
 * never Node timers (which overflow past 2^31-1 ms). When to wake is nextAction's `wakeAt`
 * (src/next-action.ts), at start and after every run; failures back off as the durable status
 * recorded by the rotation says, so a restarted daemon keeps backing off.
 *
 * Scheduled rotations run with `ifDue`, so a replica that finds the secret already rotated by
 * another one just learns the new expiry.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Clock, Logger, SecretState } from './types';
import {
  attemptStatusOf,
  currentCredentialOf,
  rotateSecret,
  type RotationDeps,
  type RotationResult,
  type RotationTarget,
} from './rotate';
import { nextAttemptAfterFailure, DEFAULT_BACKOFF, type BackoffPolicy, type CurrentCredential } from './renewal';
import { createLimiter } from './limit';
import { capabilitiesOf, nextAction } from './next-action';
import { describeError, RotatorError } from './errors';
import { withRetry } from './retry';

/** Start-up reads: keys per `readMany` call, or parallel `read`s when the vault has no readMany. */
export const START_READ_CHUNK = 500;
export const START_READ_CONCURRENCY = 16;

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
   * Reads each secret's state once, with bounded concurrency and memory, schedules it at
   * nextAction's `wakeAt` (now when something is due; never when paused), starts the cron task
   * and runs a first sweep right away.
   */
  async start(): Promise<void> {
    const { log, clock } = this.options;
    const ids = [...this.entries.keys()];
    for (let i = 0; i < ids.length && !this.stopping; i += START_READ_CHUNK) {
      const chunk = ids.slice(i, i + START_READ_CHUNK);
      try {
        const states = await this.readChunk(chunk);
        for (const id of chunk) this.schedule(this.entries.get(id)!, states.get(id) ?? {});
      } catch (err) {
        for (const id of chunk) {
          const entry = this.entries.get(id)!;
          entry.lastError = describeError(err);
          entry.nextAttemptAt = clock.now();
        }
      }
    }
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

  /** One chunk of start-up state: `readMany` when the vault has it, else bounded parallel reads. */
  private async readChunk(keys: string[]): Promise<Map<string, SecretState>> {
    const { vault } = this.options.rotation;
    const retry = <T>(fn: () => Promise<T>) =>
      withRetry(fn, { what: 'vault read', clock: this.options.clock, log: this.options.log, signal: this.abort.signal });
    if (vault.readMany) return retry(() => vault.readMany!(keys));
    const limiter = createLimiter(START_READ_CONCURRENCY);
    const out = new Map<string, SecretState>();
    await Promise.all(keys.map((key) => limiter.run(async () => out.set(key, await retry(() => vault.read(key))))));
    return out;
  }

  /** Schedules `entry` from the vault's state as nextAction sees it, durable status included. */
  private schedule(entry: SecretSchedule, state: SecretState): void {
    const target = this.targets.get(entry.secretId)!;
    const now = this.options.clock.now();
    entry.current = currentCredentialOf(state.current);
    const action = nextAction(state, now, target.policy, capabilitiesOf(target.provider), { mode: 'scheduled' });
    entry.nextAttemptAt = action.wakeAt ?? Number.POSITIVE_INFINITY;
    if (state.status?.lastResult === 'failed') {
      entry.consecutiveFailures = state.status.consecutiveFailures;
      if (state.status.lastError) entry.lastError = `${state.status.lastError.code}: ${state.status.lastError.message}`;
    }
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
      const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
      result = await rotateSecret(target, { backoff, ...this.options.rotation, signal: this.abort.signal }, { ifDue: true });
      this.recordResult(entry, result);
    } catch (err) {
      error = err;
      // The rotation recorded the failure durably; its back-off is the one every process sees.
      const status = attemptStatusOf(err);
      entry.consecutiveFailures = status?.consecutiveFailures ?? entry.consecutiveFailures + 1;
      entry.lastOutcome = 'failed';
      entry.lastError = describeError(err);
      entry.nextAttemptAt = status?.nextAttemptAt
        ? Date.parse(status.nextAttemptAt)
        : nextAttemptAfterFailure(
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

  private recordResult(entry: SecretSchedule, result: RotationResult): void {
    const { clock } = this.options;
    entry.lastOutcome = result.outcome;
    if (result.outcome === 'leased-elsewhere') {
      // Another replica is on it; look again later and learn the new expiry then.
      entry.nextAttemptAt = clock.now() + (this.options.leaseRecheckMs ?? 60_000);
      return;
    }
    // A distribution (output, reload hook) that exhausted its retries is a failure for readiness,
    // state words and metrics, but the vault holds a good new credential: no re-rotation, the
    // next attempt stays at wakeAt (which re-distributes).
    entry.consecutiveFailures = result.distributionError === undefined ? 0 : entry.consecutiveFailures + 1;
    entry.lastError = result.distributionError;
    if (result.current) {
      entry.current = {
        issuedAt: Date.parse(result.current.issuedAt),
        expiresAt: Date.parse(result.current.expiresAt),
        rotationId: result.current.versionId,
      };
    }
    // The rotation says when something is next due (renewal, window, previous revocation).
    const wakeAt = result.wakeAt ? Date.parse(result.wakeAt) : Number.POSITIVE_INFINITY;
    // Something still due right after a run (a lifetime shorter than the renewal window) must
    // not spin: wait at least the minimum back-off.
    const now = clock.now();
    entry.nextAttemptAt = wakeAt <= now ? now + (this.options.backoff ?? DEFAULT_BACKOFF).minMs : wakeAt;
  }
}
