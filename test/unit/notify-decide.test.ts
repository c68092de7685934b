import { decideAlerts, humanDuration, type AlertInput, type AlertPolicy } from '../../src/notify/decide';
import type { AttemptStatus } from '../../src/types';

const H = 3_600_000;
const T = Date.parse('2026-12-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const policy: AlertPolicy = { failureThreshold: 3 };
const err = { code: 'PROVIDER_UNAVAILABLE', message: 'connect ECONNREFUSED 127.0.0.1:1' };

const failed = (n: number, at = T): AttemptStatus => ({
  lastAttemptAt: iso(at),
  lastResult: 'failed',
  consecutiveFailures: n,
  lastError: err,
  nextAttemptAt: iso(at + 60_000),
});
const ok = (at = T, distribution?: AttemptStatus['distribution']): AttemptStatus => ({
  lastAttemptAt: iso(at),
  lastResult: 'ok',
  consecutiveFailures: 0,
  lastSuccessAt: iso(at),
  ...(distribution ? { distribution } : {}),
});
/** A 12 h credential issued 6 h before T: its emergency margin (5%) starts at T + 5h 24m. */
const current = { issuedAt: T - 6 * H, expiresAt: T + 6 * H };
const margin = T + 6 * H - 0.05 * 12 * H;

const base = { secretId: 's1', provider: 'ncp-sts', current };

describe('decideAlerts: one alert per state change', () => {
  test.each<[string, Partial<AlertInput>, AlertPolicy, string[]]>([
    ['first failure: below the threshold', { after: failed(1, T + 1) }, policy, []],
    ['second failure', { before: failed(1), after: failed(2, T + 1) }, policy, []],
    ['third failure reaches the threshold', { before: failed(2), after: failed(3, T + 1) }, policy, ['failure']],
    ['fourth failure: already alerted', { before: failed(3), after: failed(4, T + 1) }, policy, []],
    ['threshold 1 alerts on the first failure', { after: failed(1, T + 1) }, { failureThreshold: 1 }, ['failure']],
    ['success after an alerted streak recovers', { before: failed(5), after: ok(T + 1) }, policy, ['recovered']],
    ['success after a short streak: nothing to recover from', { before: failed(2), after: ok(T + 1) }, policy, []],
    ['success after success', { before: ok(), after: ok(T + 1) }, policy, []],
    [
      'distribution fails after a good one',
      { before: ok(T, { at: iso(T), ok: true }), after: ok(T + 1, { at: iso(T + 1), ok: false, error: 'hook exited 1' }) },
      policy,
      ['distribution-failed'],
    ],
    [
      'distribution fails again: same state',
      {
        before: ok(T, { at: iso(T), ok: false, error: 'hook exited 1' }),
        after: ok(T + 1, { at: iso(T + 1), ok: false, error: 'hook exited 1' }),
      },
      policy,
      [],
    ],
    [
      'entering the expiry margin between two checks',
      { before: ok(), previousCheckAt: margin - 1, now: margin },
      policy,
      ['expiring'],
    ],
    ['still inside the margin at the next check', { before: ok(), previousCheckAt: margin, now: margin + 60_000 }, policy, []],
    [
      'an explicit margin replaces the emergency one',
      { before: ok(), previousCheckAt: T + 4 * H - 1, now: T + 4 * H },
      { failureThreshold: 3, expiringMarginMs: 2 * H },
      ['expiring'],
    ],
    [
      'a paused secret never attempted still gets expiring',
      { paused: true, previousCheckAt: margin - 1, now: margin },
      policy,
      ['expiring'],
    ],
    ['no current credential: never expiring', { current: undefined, now: T + 100 * H }, policy, []],
    [
      'failure and expiring together, filtered to failure by events',
      { before: failed(2, margin - 1), after: failed(3, margin), now: margin },
      { failureThreshold: 3, events: ['failure'] },
      ['failure'],
    ],
    [
      'repeat: still failing in a new repeat period',
      { before: failed(3, T + H - 1), after: failed(4, T + H) },
      { failureThreshold: 3, repeatMs: H },
      ['failure'],
    ],
    [
      'repeat: same period, no repeat',
      { before: failed(3, T + 1), after: failed(4, T + 2) },
      { failureThreshold: 3, repeatMs: H },
      [],
    ],
  ])('%s', (_name, input, p, expected) => {
    const now = input.now ?? (input.after ? Date.parse(input.after.lastAttemptAt) : T);
    const alerts = decideAlerts({ ...base, ...input, now } as AlertInput, p);
    expect(alerts.map((a) => a.event)).toEqual(expected);
  });

  test('a failure alert carries every field the webhook body needs', () => {
    const [alert] = decideAlerts({ ...base, before: failed(2), after: failed(3, T + 1), now: T + 1 }, policy);
    expect(alert).toEqual({
      event: 'failure',
      secretId: 's1',
      provider: 'ncp-sts',
      message:
        'rotation of s1 (ncp-sts) failed 3 times in a row (PROVIDER_UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:1); next attempt at 2026-12-01T00:01:00.001Z',
      consecutiveFailures: 3,
      expiresAt: '2026-12-01T06:00:00.000Z',
      error: err,
      at: '2026-12-01T00:00:00.001Z',
    });
  });

  test('an expiring alert for a paused secret says why nothing replaces it', () => {
    const [alert] = decideAlerts({ ...base, paused: true, previousCheckAt: margin - 1, now: margin }, policy);
    expect(alert!.message).toBe(
      'the current credential of s1 (ncp-sts) expires in 36m (2026-12-01T06:00:00.000Z); the secret is paused, so rotator will not replace it',
    );
  });

  test.each([
    [30_000, 'less than a minute'],
    [95 * 60_000, '1h 35m'],
    [26 * H, '1d 2h'],
  ])('humanDuration(%d) = %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});
