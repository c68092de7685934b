import { ManualClock } from '../../src/clock';
import { RotatorError } from '../../src/errors';
import { RETRY_AFTER_CAP_MS, retryDelayMs, withRetry, DEFAULT_RETRY } from '../../src/retry';

const rateLimited = (retryAfterMs: number) => new RotatorError('RATE_LIMITED', 'slow down', { retryable: true, retryAfterMs });

describe('Retry-After is bounded', () => {
  it('honours Retry-After below the cap and caps it at 60 s', () => {
    expect(RETRY_AFTER_CAP_MS).toBe(60_000);
    expect(retryDelayMs(DEFAULT_RETRY, 1, () => 0, 5_000)).toBe(5_000);
    expect(retryDelayMs(DEFAULT_RETRY, 1, () => 0, 3_600_000)).toBe(60_000);
  });

  it('waits the capped time, not an hour, when the server says Retry-After: 3600', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const done = withRetry(
      async () => {
        if (++calls === 1) throw rateLimited(3_600_000);
        return 'ok';
      },
      { clock, what: 'issue', random: () => 0 },
    );
    while (clock.pendingSleeps === 0) await Promise.resolve();
    clock.advance(RETRY_AFTER_CAP_MS);
    await expect(done).resolves.toBe('ok');
    expect(clock.now()).toBe(RETRY_AFTER_CAP_MS);
  });

  it('gives up with the last error instead of sleeping past the caller deadline', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const err = rateLimited(30_000);
    await expect(
      withRetry(
        async () => {
          calls++;
          throw err;
        },
        { clock, what: 'issue', random: () => 0, deadline: 10_000 },
      ),
    ).rejects.toBe(err);
    expect(calls).toBe(1);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('still retries when the wait ends before the deadline', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const done = withRetry(
      async () => {
        if (++calls === 1) throw rateLimited(5_000);
        return calls;
      },
      { clock, what: 'issue', random: () => 0, deadline: 10_000 },
    );
    while (clock.pendingSleeps === 0) await Promise.resolve();
    clock.advance(5_000);
    await expect(done).resolves.toBe(2);
  });
});
