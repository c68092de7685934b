import { badAnswer, type Step } from './answer';

/**
 * Instants read from provider answers, strictly: what a provider returns from `issue()` is a
 * valid ISO 8601 string or a PROVIDER_BAD_ANSWER naming the field. `new Date(1e20)` would throw a
 * raw RangeError at `toISOString()`; a year-9999 expiry is a valid date but no credential lives
 * that long, and far-out values break timers and arithmetic downstream.
 */

/** Accepted instants lie in [2000-01-01, 2200-01-01): anything outside is not a real answer. */
export const EARLIEST_MS = Date.UTC(2000, 0, 1);
export const LATEST_MS = Date.UTC(2200, 0, 1);

/** ISO 8601 with date, time and zone; fractions of seconds allowed. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** Epoch ms within the accepted range, as ISO; a PROVIDER_BAD_ANSWER naming `field` otherwise. */
export function isoFromMs(ms: number | undefined, field: string, step: Step): string {
  if (ms === undefined || !Number.isFinite(ms)) throw badAnswer(step, `an unreadable ${field}`, { field });
  if (ms < EARLIEST_MS || ms >= LATEST_MS) {
    throw badAnswer(step, `a ${field} outside the years 2000-2199`, { field });
  }
  return new Date(ms).toISOString();
}

/** A strict ISO 8601 instant (`2026-01-02T03:04:05Z`) as epoch ms, or undefined. */
export function parseIsoInstant(value: unknown): number | undefined {
  if (typeof value !== 'string' || !ISO_INSTANT.test(value.trim())) return undefined;
  const ms = Date.parse(value.trim());
  return Number.isNaN(ms) ? undefined : ms;
}

/** A strict ISO 8601 field of an answer, normalized to `toISOString()` form. */
export function isoField(value: unknown, field: string, step: Step): string {
  return isoFromMs(parseIsoInstant(value), field, step);
}
