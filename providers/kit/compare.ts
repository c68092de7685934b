import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two secrets (signatures, keys, tokens) in time that depends on neither value nor on
 * where they differ: both sides are hashed first, so not even their lengths leak through timing.
 * The emulators use it to check what clients send; node:crypto has no string variant.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right) && a.length === b.length;
}
