import { insideWindow, nextWindowStart, windowOpenAt, windowSchema } from '../../src/window';

const at = (s: string) => Date.parse(s);
// 02:00 in Seoul (UTC+9) is 17:00 UTC the day before; open for 3 h.
const seoul = { start: '0 2 * * *', durationMs: 3 * 3_600_000, timezone: 'Asia/Seoul' };

describe('rotation windows', () => {
  test.each([
    ['2026-11-22T16:59:59Z', false],
    ['2026-11-22T17:00:00Z', true],
    ['2026-11-22T19:59:59Z', true],
    ['2026-11-22T20:00:00Z', false],
  ])('inside at %s: %p', (when, inside) => {
    expect(insideWindow(seoul, at(when))).toBe(inside);
  });

  test('the next start is computed in the timezone, from the given instant only', () => {
    expect(nextWindowStart(seoul, at('2026-11-22T00:00:00Z'))).toBe(at('2026-11-22T17:00:00Z'));
    expect(windowOpenAt(seoul, at('2026-11-22T18:00:00Z'))).toBe(at('2026-11-22T18:00:00Z'));
    expect(windowOpenAt(seoul, at('2026-11-22T21:00:00Z'))).toBe(at('2026-11-23T17:00:00Z'));
  });

  test('the config block: parsed, and bad values say what to fix', () => {
    expect(windowSchema.parse({ start: '0 2 * * *', duration: '3h', timezone: 'Asia/Seoul' })).toEqual(seoul);
    const bad = (input: unknown) =>
      windowSchema
        .safeParse(input)
        .error?.issues.map((i) => i.message)
        .join('; ');
    expect(bad({ start: 'at two', duration: '3h' })).toMatch(/window.start must be a cron expression/);
    expect(bad({ start: '0 2 * * *', duration: '3 hours' })).toMatch(/window.duration/);
    expect(bad({ start: '0 2 * * *', duration: '0s' })).toMatch(/positive duration/);
    expect(bad({ start: '0 2 * * *', duration: '3h', timezone: 'Mars/Olympus' })).toMatch(/IANA timezone/);
    expect(bad({ start: '0 2 * * *', duration: '3h', zone: 'UTC' })).toBeDefined();
  });
});
