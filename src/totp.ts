import { createHmac } from 'node:crypto';

/**
 * RFC 6238 time-based one-time passwords (the variant authenticator apps and NCP MFA use:
 * HMAC-SHA1, 30-second steps, 6 digits) and the RFC 4648 base32 codec their seeds are written in.
 * Time is passed in, never read here, so tests can use the RFC's vectors.
 */

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export interface TotpOptions {
  /** Number of digits, 6 by default (the RFC's appendix B vectors use 8). */
  digits?: number;
  /** Time step in seconds, 30 by default. */
  stepSec?: number;
}

/** Whether `text` is a base32 seed: RFC 4648 letters, any case, optional spaces and `=` padding. */
export function isBase32(text: string): boolean {
  const compact = normalizeBase32(text);
  return compact.length > 0 && [...compact].every((c) => BASE32_ALPHABET.includes(c));
}

/** Decodes base32 (case-insensitive; spaces and padding ignored). Throws on other characters. */
export function base32Decode(text: string): Buffer {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const c of normalizeBase32(text)) {
    const value = BASE32_ALPHABET.indexOf(c);
    if (value < 0) throw new Error('base32: only the letters A-Z and digits 2-7 are allowed');
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** Encodes bytes as unpadded upper-case base32 (how seeds are usually shown). */
export function base32Encode(data: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The one-time password for the step containing `nowMs`, zero-padded to `digits`. */
export function totp(seedBase32: string, nowMs: number, options: TotpOptions = {}): string {
  const digits = options.digits ?? 6;
  const stepSec = options.stepSec ?? 30;
  const counter = Math.floor(nowMs / 1000 / stepSec);
  return hotp(base32Decode(seedBase32), counter, digits);
}

/** RFC 4226 HOTP with dynamic truncation. */
function hotp(key: Buffer, counter: number, digits: number): string {
  const message = Buffer.alloc(8);
  // The counter exceeds 32 bits for far-future times: write it as a 64-bit big-endian integer.
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return code.toString().padStart(digits, '0');
}

function normalizeBase32(text: string): string {
  return text.replace(/[\s=]/g, '').toUpperCase();
}
