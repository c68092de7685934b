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
 * Delay before retry number `attempt` (1 = the first retry). Full jitter (AWS architecture
 * blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base × 2^(attempt-1))],
 * but never below a server's Retry-After. `random` is injected so tests are deterministic.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, retryAfterMs ?? 0);
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
