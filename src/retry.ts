import type { Clock, Logger } from './types';
import { isRetryable, isRotatorError, describeError, RotatorError } from './errors';

export interface RetryPolicy {
  /** Total attempts including the first. */
  attempts: number;
  /** Base delay; attempt n waits up to base × 2^(n-1), capped at maxDelayMs (full jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 15_000 };

/**
 * The longest a server's Retry-After is honoured: 60 s. A service asking for an hour
 * (`Retry-After: 3600`) would otherwise hold a rotation past its lease and maybe past the
 * credential's expiry; after the cap the attempt fails and the durable back-off takes over.
 */
export const RETRY_AFTER_CAP_MS = 60_000;

/**
 * Delay before retry number `attempt` (1 = the first retry). Full jitter (AWS architecture
 * blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base × 2^(attempt-1))],
 * but never below a server's Retry-After, itself capped at RETRY_AFTER_CAP_MS. `random` is
 * injected so tests are deterministic.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, RETRY_AFTER_CAP_MS));
}

export interface RetryOptions {
  policy?: RetryPolicy;
  clock: Clock;
  log?: Logger;
  signal?: AbortSignal;
  random?: () => number;
  /** What is being attempted, for log lines. */
  what: string;
  /** Override the default decision (RotatorError.retryable). */
  retryable?: (err: unknown) => boolean;
  /**
   * Epoch ms (on `clock`) no retry may wait beyond: the lease's end or the credential's emergency
   * margin. A retry whose delay would end after it is not attempted; the last error is thrown.
   */
  deadline?: number;
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, or runs out of attempts.
 * Throws the last error. Aborting the signal stops at once with ABORTED.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const random = options.random ?? Math.random;
  const canRetry = options.retryable ?? isRetryable;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new RotatorError('ABORTED', `${options.what}: stopped by shutdown`);
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !canRetry(err) || options.signal?.aborted) throw err;
      const retryAfterMs = isRotatorError(err) ? err.retryAfterMs : undefined;
      const delay = retryDelayMs(policy, attempt, random, retryAfterMs);
      if (options.deadline !== undefined && options.clock.now() + delay > options.deadline) {
        options.log?.warn(
          { attempt, of: policy.attempts, delayMs: delay, error: describeError(err) },
          `${options.what} failed; not retrying: the wait would pass the deadline`,
        );
        throw err;
      }
      options.log?.warn(
        { attempt, of: policy.attempts, delayMs: delay, error: describeError(err) },
        `${options.what} failed; retrying`,
      );
      try {
        await options.clock.sleep(delay, options.signal);
      } catch {
        throw new RotatorError('ABORTED', `${options.what}: stopped by shutdown while waiting to retry`, {
          cause: err,
        });
      }
    }
  }
}
