import type { z } from 'zod';
import { RotatorError } from '../../src/errors';

/**
 * Reading a configured secret's credentials and params in a provider's `create`. config/ has
 * already validated them with the same schemas (with file and line); parsing again is idempotent
 * for validated specs and fills defaults for specs built by hand (tests, the library API).
 */
export function parseSpecPart<T>(plugin: string, schema: z.ZodType<T>, value: unknown, what: string, secretId: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ');
  throw new RotatorError('CONFIG', `secret ${secretId} (${plugin}) has invalid ${what}: ${problems}`, { plugin });
}

/** `${ENV}` interpolation yields strings: a zod preprocess that accepts "3600" as well as 3600. */
export function numericStringToNumber(value: unknown): unknown {
  return typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
}
