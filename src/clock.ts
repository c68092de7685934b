import type { Clock } from './types';

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** The wall clock. The only place outside tests that reads Date.now() for decisions. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, clampDelay(ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

/** Node timers overflow (and fire at once) above 2^31-1 ms; negative delays are meaningless. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export function clampDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) return 0;
  return Math.min(ms, MAX_TIMER_MS);
}

/**
 * A clock that moves only when told. `sleep` resolves when `advance` passes its deadline, so
 * retry and back-off paths run instantly in tests while still being ordered correctly.
 */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: { until: number; resolve: () => void }[] = [];

  constructor(start: number | string = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'string' ? Date.parse(start) : start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      // The abort listener goes when the sleep ends either way: a long-lived signal (a daemon's
      // shutdown signal) must not collect one listener per sleep.
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        reject(abortReason(signal!));
      };
      const entry = {
        until: this.current + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.sleepers.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      // A zero-length sleep still yields, like setTimeout(0).
      if (ms <= 0) this.advance(0);
    });
  }

  /** Moves time forward and wakes every sleeper whose deadline has passed. */
  advance(ms: number): void {
    this.current += ms;
    const due = this.sleepers.filter((s) => s.until <= this.current);
    this.sleepers = this.sleepers.filter((s) => s.until > this.current);
    for (const s of due) s.resolve();
  }

  set(at: number | string): void {
    const target = typeof at === 'string' ? Date.parse(at) : at;
    this.advance(target - this.current);
  }

  /** Sleeps never block in tests that only care about ordering: wake every sleeper now. */
  get pendingSleeps(): number {
    return this.sleepers.length;
  }
}

/**
 * A clock whose sleeps return at once but whose time is real-ish: now() advances by the slept
 * amount. Handy for tests of retry loops against a real HTTP emulator.
 */
export class FastForwardClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortReason(signal);
    this.offset += Math.max(0, ms);
    await new Promise((r) => setImmediate(r));
  }
}
