/**
 * Rotation windows: a secret rotates only inside `[start, start + duration)`, where `start` is
 * any instant matched by a cron expression in a timezone. Pure functions of their inputs (the
 * instant is a parameter), so `rotator plan` is reproducible.
 *
 * Why cron-parser and not node-cron (which runs the sweep): node-cron computes next runs only
 * from the wall clock (`getNextRun()` reads `new Date()`) and has no "previous run"; a window
 * needs both, from an injected instant. cron-parser (widely used, maintained) computes either
 * way from any instant and in any IANA timezone, with the same 5- or 6-field syntax.
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import cron from 'node-cron';
import { DURATION_HINT, FormatError, parseDuration } from './duration';

export interface RotationWindow {
  /** Cron expression (5 fields, or 6 with seconds first) matching the instants a window opens. */
  start: string;
  /** How long each window stays open, in ms (> 0). */
  durationMs: number;
  /** IANA timezone the expression is read in; UTC when omitted. */
  timezone?: string;
}

function expression(window: RotationWindow, currentDate: number) {
  return CronExpressionParser.parse(window.start, { currentDate: new Date(currentDate), tz: window.timezone ?? 'UTC' });
}

/** The latest window start at or before `at`, or undefined when the expression never matched. */
export function lastWindowStart(window: RotationWindow, at: number): number | undefined {
  try {
    // prev() is strictly before currentDate: start one ms later so a start exactly at `at` counts.
    return expression(window, at + 1)
      .prev()
      .getTime();
  } catch {
    return undefined;
  }
}

/** The first window start strictly after `at`, or undefined when there is none. */
export function nextWindowStart(window: RotationWindow, at: number): number | undefined {
  try {
    return expression(window, at).next().getTime();
  } catch {
    return undefined;
  }
}

/** Whether a window is open at `at`. */
export function insideWindow(window: RotationWindow, at: number): boolean {
  const start = lastWindowStart(window, at);
  return start !== undefined && at < start + window.durationMs;
}

/**
 * The first instant at or after `at` when a window is open: `at` itself when one is open then,
 * else the next start. Undefined when no window ever opens again.
 */
export function windowOpenAt(window: RotationWindow, at: number): number | undefined {
  return insideWindow(window, at) ? at : nextWindowStart(window, at);
}

const START_HINT =
  'window.start must be a cron expression (5 fields, or 6 with seconds first), e.g. "0 2 * * *" for 02:00 every day';
const DURATION_MESSAGE = `window.duration must be a positive duration: ${DURATION_HINT}`;
const TIMEZONE_HINT = 'window.timezone must be an IANA timezone name, e.g. Asia/Seoul or UTC';

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * The `window:` block of the config (per secret or in `defaults`), for config/schema.ts:
 * `{ start: "0 2 * * *", duration: 3h, timezone: Asia/Seoul }` → {@link RotationWindow}.
 * The expression must be accepted by node-cron too, so one cron dialect is documented.
 */
export const windowSchema = z
  .object(
    {
      start: z.string({ error: START_HINT }).refine((s) => cron.validate(s) && parsesWithTz(s), { error: START_HINT }),
      duration: z.string({ error: DURATION_MESSAGE }).transform((text, ctx) => {
        try {
          const ms = parseDuration(text);
          if (ms <= 0) ctx.addIssue({ code: 'custom', message: DURATION_MESSAGE });
          return ms;
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            message: err instanceof FormatError ? `window.duration ${err.message}` : DURATION_MESSAGE,
          });
          return z.NEVER;
        }
      }),
      timezone: z.string({ error: TIMEZONE_HINT }).refine(validTimezone, { error: TIMEZONE_HINT }).optional(),
    },
    { error: 'window must be a mapping: { start: <cron>, duration: <duration>, timezone: <IANA name> }' },
  )
  .strict()
  .transform(({ start, duration, timezone }): RotationWindow => ({
    start,
    durationMs: duration,
    ...(timezone ? { timezone } : {}),
  }));

function parsesWithTz(s: string): boolean {
  try {
    CronExpressionParser.parse(s, { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
}
