import { formatDuration, formatPercent, FormatError, parseDuration, parseFraction, parsePercent } from '../../src/duration';

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['0s', 0],
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['0600s', 600_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each([
    ['10', 'no unit: seconds or milliseconds?'],
    ['-5m', 'negative'],
    ['+5m', 'signed'],
    ['1.5h', 'decimal'],
    ['1h30m', 'compound'],
    ['15 m', 'space'],
    ['15M', 'upper case'],
    ['15min', 'unknown unit'],
    ['', 'empty'],
    ['m', 'no number'],
    ['99999999999999999999d', 'beyond a safe integer'],
  ])('rejects %j (%s)', (text) => {
    expect(() => parseDuration(text)).toThrow(FormatError);
  });

  test('the message says what is allowed and what was given', () => {
    expect(() => parseDuration('1.5h')).toThrow(
      'must be a duration: an integer with a unit: ms, s, m, h or d (e.g. 90s, 15m, 24h, 7d) (got "1.5h")',
    );
  });
});

describe('parsePercent and parseFraction', () => {
  test.each([
    ['33%', 0.33],
    ['12.5%', 0.125],
    ['1%', 0.01],
    ['99.99%', 0.9999],
  ])('%s → %d', (text, fraction) => {
    expect(parseFraction(text)).toBe(fraction);
    expect(parsePercent(text)).toBe(fraction);
  });

  test.each([
    ['0%', 0],
    ['100%', 1],
  ])('parsePercent allows the bounds: %s → %d', (text, fraction) => {
    expect(parsePercent(text)).toBe(fraction);
  });

  test.each(['0%', '100%', '0.0%'])('parseFraction rejects %j: strictly between 0%% and 100%%', (text) => {
    expect(() => parseFraction(text)).toThrow('above 0% and below 100%');
  });

  test.each(['33', '0.33', '-5%', '101%', '33 %', '%', '1e2%', '33.33333%'])('rejects %j', (text) => {
    expect(() => parsePercent(text)).toThrow(FormatError);
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0s'],
    [1, '1ms'],
    [1_500, '1500ms'],
    [90_000, '90s'],
    [5_400_000, '90m'],
    [3_600_000, '1h'],
    [3_601_000, '3601s'],
    [604_800_000, '7d'],
    [-60_000, '-1m'],
    [1.4, '1ms'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test.each([0, 1, 999, 1_000, 61_000, 3_600_000, 86_400_000 * 3 + 1])('round-trips %d through parseDuration', (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  test('formatPercent', () => {
    expect(formatPercent(0.33)).toBe('33%');
    expect(formatPercent(0.125)).toBe('12.5%');
  });
});
