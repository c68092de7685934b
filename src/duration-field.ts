/**
 * zod fields for the durations and fractions of src/duration.ts, shared by every schema that
 * reads one (config/schema.ts, src/notify/schema.ts), so a bad value is reported the same way
 * everywhere: as an issue of its key, with file and line, never as an escaping FormatError.
 */
import { z } from 'zod';
import { DURATION_HINT, FormatError, formatDuration, parseDuration } from './duration';

/**
 * Runs a src/duration.ts parser inside a zod transform: its FormatError (a 20-digit duration, a
 * percentage above 100%) becomes an issue of this key, reported with file and line like any
 * other, instead of escaping validation. `message` replaces the parser's own when given.
 */
export function parsed<T>(ctx: z.RefinementCtx, parse: () => T, message?: string): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    ctx.addIssue({ code: 'custom', message: message ?? err.message });
    return undefined;
  }
}

/** A duration (src/duration.ts) from `minMs` to `maxMs`, in ms. */
export function durationField(minMs: number, maxMs: number) {
  const range = `from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
  const allowed = { error: `must be a duration ${range}: ${DURATION_HINT}` };
  return z
    .string(allowed)
    .regex(/^\d+(ms|s|m|h|d)$/, allowed)
    .transform((text, ctx) => {
      const ms = parsed(ctx, () => parseDuration(text));
      if (ms !== undefined && (ms < minMs || ms > maxMs)) ctx.addIssue({ code: 'custom', message: `must be ${range}` });
      return ms ?? 0;
    });
}
