import { base32Decode, base32Encode, isBase32, totp } from '../../src/totp';

const RFC_SEED_ASCII = '12345678901234567890';
const RFC_SEED_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('base32', () => {
  it('encodes and decodes the RFC 6238 seed', () => {
    expect(base32Encode(Buffer.from(RFC_SEED_ASCII))).toBe(RFC_SEED_BASE32);
    expect(base32Decode(RFC_SEED_BASE32).toString('ascii')).toBe(RFC_SEED_ASCII);
  });

  it.each([
    ['lower case and spaces', 'gezd gnbv gy3t qojq gezd gnbv gy3t qojq', true],
    ['padding', 'MZXW6===', true],
    ['digits 0, 1, 8, 9 are not base32', 'GEZ01', false],
    ['empty', '', false],
  ])('%s', (_name, text, valid) => {
    expect(isBase32(text)).toBe(valid);
  });

  it('rejects characters outside the alphabet', () => {
    expect(() => base32Decode('ABC!')).toThrow(/A-Z and digits 2-7/);
  });
});

describe('totp (RFC 6238 appendix B, SHA1)', () => {
  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('T = %i s → %s (8 digits)', (seconds, expected) => {
    expect(totp(RFC_SEED_BASE32, seconds * 1000, { digits: 8 })).toBe(expected);
  });

  it('defaults to 6 digits: the last six of the 8-digit value', () => {
    expect(totp(RFC_SEED_BASE32, 59_000)).toBe('287082');
    expect(totp(RFC_SEED_BASE32, 1111111109_000)).toBe('081804');
  });

  it('keeps one code for a whole 30-second step', () => {
    expect(totp(RFC_SEED_BASE32, 30_000)).toBe(totp(RFC_SEED_BASE32, 59_999));
    expect(totp(RFC_SEED_BASE32, 60_000)).not.toBe(totp(RFC_SEED_BASE32, 59_999));
  });
});
