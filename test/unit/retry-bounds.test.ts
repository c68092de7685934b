import { ManualClock } from '../../src/clock';
import { RotatorError } from '../../src/errors';
import { RETRY_AFTER_CAP_MS, retryDelayMs, withRetry, DEFAULT_RETRY } from '../../src/retry';
import { LEASE_SAFETY_FRACTION, rotationDeadline } from '../../src/rotate';

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

  it('fails at once, naming the step, endpoint and why, instead of sleeping past the caller deadline', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const err = new RotatorError('RATE_LIMITED', 'slow down', {
      retryable: true,
      retryAfterMs: 30_000,
      details: { endpoint: '/api/v1/credentials' },
    });
    const failure = await withRetry(
      async () => {
        calls++;
        throw err;
      },
      { clock, what: 'issue', random: () => 0, deadline: 10_000 },
    ).catch((e: unknown) => e as RotatorError);
    expect(failure.code).toBe('RATE_LIMITED');
    expect(failure.cause).toBe(err);
    expect(failure.message).toBe(
      'issue (/api/v1/credentials) stopped waiting: the service asked to retry after 30 s, but only 10 s remain before the deadline ' +
        "(the rotation's lease, or the current credential's emergency margin). Last error: RATE_LIMITED: slow down",
    );
    expect(calls).toBe(1);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('an uncapped Retry-After past the deadline stops at once, though the capped wait would fit', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const failure = await withRetry(
      async () => {
        calls++;
        throw rateLimited(3_600_000);
      },
      { clock, what: 'issue', random: () => 0, deadline: RETRY_AFTER_CAP_MS * 5 },
    ).catch((e: unknown) => e as RotatorError);
    expect(failure.message).toMatch(/^issue stopped waiting: the service asked to retry after 3600 s, but only 300 s remain/);
    expect(calls).toBe(1);
    expect(clock.now()).toBe(0);
  });

  it('a backoff wait past the deadline stops too, with its own reason', async () => {
    const clock = new ManualClock(0);
    const failure = await withRetry(
      async () => {
        throw new RotatorError('PROVIDER_UNAVAILABLE', 'HTTP 503', { retryable: true });
      },
      {
        clock,
        what: 'verify',
        random: () => 1,
        policy: { attempts: 5, baseDelayMs: 2_000, maxDelayMs: 10_000 },
        deadline: 1_000,
      },
    ).catch((e: unknown) => e as RotatorError);
    expect(failure.message).toMatch(/^verify stopped waiting: the next retry would wait 2 s, but only 1 s remain/);
    expect(failure.retryable).toBe(true);
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

describe('rotationDeadline: the earlier of the lease (less its margin) and the emergency margin', () => {
  const lease = { from: 1_000_000, ttlMs: 600_000 };
  const leaseEnd = 1_000_000 + 600_000 * (1 - LEASE_SAFETY_FRACTION);
  const hour = 3_600_000;
  // A credential issued at 0, expiring at 1 h: its emergency margin starts at 57 min.
  const credential = (now: number) => ({ issuedAt: 0, expiresAt: hour, now });
  it.each([
    ['no current credential: the lease alone', undefined, leaseEnd],
    ['a young credential: the lease ends first', credential(1_000_000), leaseEnd],
    ['near the margin: the margin ends first', { ...credential(1_000_000), expiresAt: 1_400_000 }, 1_400_000 - 1_400_000 / 20],
    [
      'already inside the margin: bounded by its expiry, so an emergency rotation still retries',
      { issuedAt: 0, expiresAt: 1_500_000, now: 1_450_000 },
      1_500_000,
    ],
    ['expired: the lease alone', credential(hour + 1), leaseEnd],
    ['unparsable dates: the lease alone', { issuedAt: NaN, expiresAt: NaN, now: 0 }, leaseEnd],
  ])('%s', (_name, cred, expected) => {
    expect(rotationDeadline(lease, cred)).toBe(expected);
  });
});
