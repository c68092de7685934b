/**
 * Durations and fractions as written in rotator.config.yaml.
 *
 * Durations are a non-negative integer followed by exactly one unit: `500ms`, `90s`, `15m`,
 * `24h`, `7d`. Deliberately rejected:
 * - a bare number (`10`): seconds or milliseconds? The reader cannot tell, so the file must say;
 * - a sign (`-5m`): no setting takes a negative duration;
 * - decimals (`1.5h`): write `90m`; integers keep every value an exact number of ms;
 * - compounds (`1h30m`), spaces and upper case (`15M` reads as months to some people).
 *
 * Fractions are percentages: `33%`, `12.5%`. Bare numbers (`0.33`) are rejected for the same
 * reason as bare durations: `renewBefore: 0.33` could be a fraction or a mistake for `33%`.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const PERCENT = /^(\d{1,3}(?:\.\d{1,4})?)%$/;

/** What a duration must look like, for error messages. */
export const DURATION_HINT = 'an integer with a unit: ms, s, m, h or d (e.g. 90s, 15m, 24h, 7d)';
/** What a percentage must look like, for error messages. */
export const PERCENT_HINT = 'a percentage (e.g. 33%)';

/** Thrown by the parsers; `message` says what is allowed and never echoes more than the input. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** `'15m'` → 900000. Throws {@link FormatError} for anything but `<integer><unit>`. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new FormatError(`must be a duration: ${DURATION_HINT} (got ${quote(text)})`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as Unit];
  if (!Number.isSafeInteger(ms)) throw new FormatError(`duration is too large (got ${quote(text)})`);
  return ms;
}

/**
 * `'12.5%'` → 0.125, `'0%'` → 0, `'100%'` → 1. Only the syntax is checked here; callers bound
 * the value (see {@link parseFraction}). `'33%'` is exactly the number literal `0.33`.
 */
export function parsePercent(text: string): number {
  const match = PERCENT.exec(text);
  if (!match) throw new FormatError(`must be ${PERCENT_HINT} (got ${quote(text)})`);
  const percent = Number(match[1]);
  if (percent > 100) throw new FormatError(`must be at most 100% (got ${quote(text)})`);
  // Percent has at most 4 decimals, so the fraction has at most 6: rounding there gives the
  // double nearest to the decimal written ('99.99%' → 0.9999, not 0.9998999999999999).
  return Number((percent / 100).toFixed(6));
}

/** `'33%'` → 0.33. A fraction of a whole, strictly between 0% and 100%. */
export function parseFraction(text: string): number {
  const fraction = parsePercent(text);
  if (fraction <= 0 || fraction >= 1) {
    throw new FormatError(`must be a percentage above 0% and below 100% (got ${quote(text)})`);
  }
  return fraction;
}

/**
 * Milliseconds in the largest unit that states them exactly: 5400000 → `'90m'`, 1500 →
 * `'1500ms'`. The output always parses back with {@link parseDuration} (for non-negative
 * integers), so messages can show a value the operator can paste into the file.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const whole = Math.round(ms);
  if (whole < 0) return `-${formatDuration(-whole)}`;
  if (whole === 0) return '0s';
  const units: Unit[] = ['d', 'h', 'm', 's'];
  for (const unit of units) if (whole % UNIT_MS[unit] === 0) return `${whole / UNIT_MS[unit]}${unit}`;
  return `${whole}ms`;
}

/** `0.125` → `'12.5%'`. */
export function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(4))}%`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
