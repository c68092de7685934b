import {
  decideRenewal,
  deterministicUnit,
  nextAttemptAfterFailure,
  renewalTime,
  renewBeforeMs,
  DEFAULT_BACKOFF,
  type RenewalPolicy,
} from '../../src/renewal';

const H = 3_600_000;
const M = 60_000;
const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);
const noJitter = (renewBefore: RenewalPolicy['renewBefore']): RenewalPolicy => ({ renewBefore, jitter: 0 });
const third: RenewalPolicy['renewBefore'] = { kind: 'fraction', fraction: 1 / 3 };
const cred = (lifetimeMs: number, rotationId = 'r1') => ({ issuedAt: T0, expiresAt: T0 + lifetimeMs, rotationId });

describe('renewBeforeMs', () => {
  test.each([
    ['a third of 3h', third, 3 * H, 1 * H],
    ['40m of 2h', { kind: 'duration', ms: 40 * M } as const, 2 * H, 40 * M],
    ['a duration longer than the lifetime is capped at 90% of it', { kind: 'duration', ms: 5 * H } as const, 1 * H, 0.9 * H],
    ['a fraction of 95% is capped at 90%', { kind: 'fraction', fraction: 0.95 } as const, 10 * H, 9 * H],
    ['zero lifetime', third, 0, 0],
  ])('%s', (_name, renewBefore, lifetime, expected) => {
    expect(renewBeforeMs(renewBefore, lifetime)).toBeCloseTo(expected, 0);
  });
});

describe('renewalTime', () => {
  test.each([
    ['default: at 2/3 of a 3h lifetime', cred(3 * H), noJitter(third), T0 + 2 * H],
    ['duration: 40m before a 2h expiry', cred(2 * H), noJitter({ kind: 'duration', ms: 40 * M }), T0 + 80 * M],
    ['12h NCP maximum at 2/3', cred(12 * H), noJitter(third), T0 + 8 * H],
    [
      'an inverted credential (expires before issued) is due at issue',
      { issuedAt: T0, expiresAt: T0 - 1, rotationId: 'r' },
      noJitter(third),
      T0,
    ],
  ])('%s', (_name, current, policy, expected) => {
    expect(renewalTime('s1', current, policy)).toBe(expected);
  });

  test('jitter only moves renewal earlier, by at most jitter × window', () => {
    const policy: RenewalPolicy = { renewBefore: third, jitter: 0.1 };
    const base = T0 + 2 * H;
    for (let i = 0; i < 200; i++) {
      const at = renewalTime(`secret-${i}`, cred(3 * H, `r${i}`), policy);
      expect(at).toBeLessThanOrEqual(base);
      expect(at).toBeGreaterThanOrEqual(base - 0.1 * H);
    }
  });

  test('jitter is deterministic for one secret and rotation, and spreads across secrets', () => {
    const policy: RenewalPolicy = { renewBefore: third, jitter: 0.1 };
    const a = renewalTime('a', cred(3 * H), policy);
    expect(renewalTime('a', cred(3 * H), policy)).toBe(a);
    const distinct = new Set(Array.from({ length: 50 }, (_, i) => renewalTime(`s${i}`, cred(3 * H), policy)));
    expect(distinct.size).toBeGreaterThan(45);
  });

  test('jitter above 50% is clamped', () => {
    const at = renewalTime('x', cred(3 * H), { renewBefore: third, jitter: 5 });
    expect(at).toBeGreaterThanOrEqual(T0 + 2 * H - 0.5 * H);
  });

  test('deterministicUnit stays in [0, 1)', () => {
    for (let i = 0; i < 1000; i++) {
      const u = deterministicUnit(String(i));
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });
});

describe('decideRenewal', () => {
  const policy = noJitter(third);
  test.each([
    ['no current credential', T0, undefined, false, { rotate: true, reason: 'missing' }],
    ['a pending version from a crashed run wins over everything', T0, cred(3 * H), true, { rotate: true, reason: 'pending' }],
    ['fresh', T0 + 1 * H, cred(3 * H), false, { rotate: false, at: T0 + 2 * H }],
    ['one ms before due', T0 + 2 * H - 1, cred(3 * H), false, { rotate: false, at: T0 + 2 * H }],
    ['exactly due', T0 + 2 * H, cred(3 * H), false, { rotate: true, reason: 'due' }],
    ['emergency: under 1/20 of the lifetime left', T0 + 3 * H - 8 * M, cred(3 * H), false, { rotate: true, reason: 'emergency' }],
    ['expired', T0 + 3 * H, cred(3 * H), false, { rotate: true, reason: 'expired' }],
  ])('%s', (_name, now, current, pending, expected) => {
    expect(decideRenewal(now, 's1', current, policy, pending)).toEqual(expected);
  });

  test('emergency applies even when the policy would wait (renewBefore tiny)', () => {
    const tiny = noJitter({ kind: 'duration', ms: 1000 });
    expect(decideRenewal(T0 + 3 * H - 5 * M, 's', cred(3 * H), tiny)).toEqual({ rotate: true, reason: 'emergency' });
    expect(decideRenewal(T0 + 2 * H, 's', cred(3 * H), tiny)).toEqual({ rotate: false, at: T0 + 3 * H - 1000 });
  });
});

describe('nextAttemptAfterFailure', () => {
  const farFuture = T0 + 1000 * H;
  test.each([
    ['1st failure: initial delay', 1, farFuture, 30_000],
    ['2nd: doubled', 2, farFuture, 60_000],
    ['5th', 5, farFuture, 8 * M],
    ['capped at maxMs', 20, farFuture, H],
    ['huge counts do not overflow', 10_000, farFuture, H],
    ['capped at a quarter of the time left', 20, T0 + 40 * M, 10 * M],
    ['never below minMs near expiry', 20, T0 + 4_000, DEFAULT_BACKOFF.minMs],
    ['already expired: plain backoff', 3, T0 - 1, 2 * M],
    ['no credential at all: plain backoff', 2, undefined, 60_000],
    ['zero failures are treated as one', 0, farFuture, 30_000],
  ])('%s', (_name, failures, expiresAt, delay) => {
    expect(nextAttemptAfterFailure(T0, failures, expiresAt)).toBe(T0 + delay);
  });

  test('delays never decrease as failures grow (with expiry far away)', () => {
    let last = 0;
    for (let n = 1; n < 50; n++) {
      const at = nextAttemptAfterFailure(T0, n, farFuture);
      expect(at).toBeGreaterThanOrEqual(last);
      last = at;
    }
  });
});
