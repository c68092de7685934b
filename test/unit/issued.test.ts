import { checkIssued, effectiveExpiresAt, CLOCK_SKEW_TOLERANCE_MS } from '../../src/issued';

const NOW = Date.parse('2026-11-22T00:00:00Z');
const MIN = 600_000; // NCP: 10 min
const MAX = 12 * 3_600_000;
const at = (ms: number) => new Date(NOW + ms).toISOString();
const limits = { minLifetimeMs: MIN, maxLifetimeMs: MAX };

describe('checkIssued', () => {
  test.each<[string, string, string, string | undefined]>([
    ['a normal answer', at(0), at(3_600_000), undefined],
    ['exactly the minimum lifetime', at(0), at(MIN), undefined],
    ['exactly the maximum lifetime', at(0), at(MAX), undefined],
    ['a little skew within the tolerance', at(30_000), at(MIN), undefined],
    ['expiry in the past', at(-7_200_000), at(-3_600_000), 'expiresAt'],
    ['expiry before issue', at(0), at(-1), 'expiresAt'],
    ['5 s away (below the minimum)', at(0), at(5_000), 'expiresAt'],
    ['year 9999', at(0), '9999-12-31T00:00:00.000Z', 'expiresAt'],
    ['beyond the maximum by more than the tolerance', at(0), at(MAX + CLOCK_SKEW_TOLERANCE_MS + 1), 'expiresAt'],
    ['expiry not a date', at(0), 'tomorrow', 'expiresAt'],
    ['expiry of 1e20 (a number, not an instant)', at(0), 1e20 as unknown as string, 'expiresAt'],
    ['issue not a date', 'yesterday', at(3_600_000), 'issuedAt'],
    ['issue in the future beyond the tolerance', at(CLOCK_SKEW_TOLERANCE_MS + 60_000), at(3_600_000), 'issuedAt'],
  ])('%s', (_name, issuedAt, expiresAt, field) => {
    expect(checkIssued({ issuedAt, expiresAt }, limits, NOW)?.field).toBe(field);
  });

  test('messages say what was expected and hold no credential', () => {
    expect(checkIssued({ issuedAt: at(0), expiresAt: at(5_000) }, limits, NOW)!.message).toMatch(/minimum lifetime of 10 min/);
  });
});

describe('effectiveExpiresAt (issueEffectOnOlder: shorten)', () => {
  const shorten = { kind: 'shorten', toAtMostMs: 7 * 86_400_000 } as const;
  const value = { expiresAt: at(30 * 86_400_000) };
  test.each([
    ['no newer secret', undefined, shorten, NOW + 30 * 86_400_000],
    ['a newer secret shortens it to 7 days from then', at(86_400_000), shorten, NOW + 8 * 86_400_000],
    ['a provider that does not shorten', at(86_400_000), { kind: 'none' } as const, NOW + 30 * 86_400_000],
    ['never lengthened', at(29 * 86_400_000), shorten, NOW + 30 * 86_400_000],
  ])('%s', (_name, newer, effect, expected) => {
    expect(effectiveExpiresAt(value, newer, effect)).toBe(expected);
  });
});
