import { createHash } from 'node:crypto';
import { RotatorError } from '../errors';

/**
 * Key names ↔ file names for the per-key store (src/vaults/file-store.ts). Pure.
 *
 * Contract: every non-empty key round-trips, and no key can name a path outside its folder,
 * whatever it contains (`/`, `..`, NUL, `__proto__`, emoji).
 * - `a`–`z`, `0`–`9`, `_`, `-` stay as they are, and `.` except as the first character (so no
 *   name is `.`, `..` or hidden). Config secret ids are mostly these, so the folder stays
 *   readable for an operator.
 * - Every other byte of the key's UTF-8 is `%XX` (upper-case hex). Upper-case letters are
 *   escaped too: on a case-insensitive file system (macOS, Windows) `App` and `app` are two
 *   secrets and must not share one file.
 * - An encoding longer than {@link MAX_ENCODED} (file names are limited to 255 bytes, and temp
 *   and lock suffixes are added) is replaced by `~` and the SHA-256 of the key; the record then
 *   holds the key itself, and listing reads it from there. `~` never starts an ordinary encoding.
 *
 * Hand-written rather than `encodeURIComponent`: that keeps upper case and `.`/`..` as they are.
 */
export const MAX_ENCODED = 180;

const PLAIN = /[a-z0-9_-]/;

export function encodeKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new RotatorError('INTERNAL', 'a vault key must be a non-empty string', { plugin: 'file' });
  }
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += PLAIN.test(char) || (char === '.' && out.length > 0) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out.length > MAX_ENCODED ? hashedName(key) : out;
}

/** The name a long key is stored under. */
export function hashedName(key: string): string {
  return `~${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

export function isHashedName(name: string): boolean {
  return /^~[0-9a-f]{64}$/.test(name);
}

/**
 * The key an ordinary encoded name stands for; undefined for a hashed name or for a name this
 * module cannot have produced (a stray file an operator dropped in the folder is ignored).
 */
export function decodeKey(name: string): string | undefined {
  if (!/^([a-z0-9_-]|%[0-9A-F]{2})([a-z0-9._-]|%[0-9A-F]{2})*$/.test(name)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '%') {
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(name.charCodeAt(i));
    }
  }
  const key = Buffer.from(bytes).toString('utf8');
  // Only the canonical encoding counts: `%61` for `a`, or invalid UTF-8, is not ours.
  return encodeKey(key) === name ? key : undefined;
}
