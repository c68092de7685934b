/**
 * Pieces every provider's zod schemas use, so that their messages read the same: what was
 * given, which keys are allowed, and what a field is for.
 */
import { z } from 'zod';

/** The offending value as it should appear in a message. */
export function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** A strict object's message for unknown keys, listing the allowed ones. */
export function unknownKeysMessage(allowed: readonly string[]) {
  return (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys?.join(', ')}; allowed: ${allowed.join(', ')}` : undefined;
}

/** A required non-empty string, `name` and `what` it is for named in every message. */
export function nonEmpty(name: string, what: string) {
  return z.string({ error: `${name} must be a string (${what})` }).min(1, { error: `${name} must not be empty (${what})` });
}
