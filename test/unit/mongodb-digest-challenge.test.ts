import { normalizeChallenge, parseChallenge, DigestChallengeError } from '../../providers/mongodb-cloud-manager/digest';
import { TokenLimiter, tokenSlotDelayMs } from '../../providers/mongodb-cloud-manager/oauth';
import { ManualClock } from '../../src/clock';

describe('Digest challenge parsing', () => {
  it.each([
    [
      'the documented challenge',
      'Digest realm="MMS Public API", domain="", nonce="abc123", algorithm=MD5, qop="auth", stale=false',
      { realm: 'MMS Public API', nonce: 'abc123', algorithm: 'MD5', qop: 'auth', stale: false },
    ],
    [
      'the documentation typo op="auth"',
      'Digest realm="MMS Public API", domain="", nonce="abc123", algorithm=MD5, op="auth", stale=false',
      { nonce: 'abc123', qop: 'auth' },
    ],
    [
      'unquoted values',
      'Digest realm=MMS, nonce=n0, qop=auth, stale=TRUE',
      { realm: 'MMS', nonce: 'n0', qop: 'auth', stale: true },
    ],
    ['a qop list', 'Digest realm="r", nonce="n", qop="auth-int,auth"', { qop: 'auth' }],
    ['no algorithm (MD5 by default)', 'Digest realm="r", nonce="n", qop="auth"', { algorithm: 'MD5' }],
    ['an opaque', 'Digest realm="r", nonce="n", opaque="o p", qop="auth"', { opaque: 'o p' }],
    ['stale=true', 'Digest realm="r", nonce="n", qop="auth", stale=true', { stale: true }],
    ['lower-case scheme and spaces around =', 'digest realm = "r" , nonce = "n"', { realm: 'r', nonce: 'n', qop: undefined }],
  ])('reads %s', (_name, header, expected) => {
    expect(parseChallenge(header)).toMatchObject(expected);
  });

  it.each([
    ['no header', undefined],
    ['Basic', 'Basic realm="x"'],
    ['no nonce', 'Digest realm="r", qop="auth"'],
  ])('refuses %s', (_name, header) => {
    expect(parseChallenge(header)).toBeUndefined();
    expect(normalizeChallenge(header)).toBe('');
  });

  it('writes the canonical form digest-fetch parses', () => {
    expect(
      normalizeChallenge('Digest realm="MMS Public API", domain="", nonce="n1", algorithm=MD5, op="auth", stale=false'),
    ).toBe('Digest realm="MMS Public API", nonce="n1", qop="auth"');
  });

  it('refuses algorithms other than MD5 with a clear error', () => {
    expect(() => normalizeChallenge('Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth"')).toThrow(
      new DigestChallengeError('the server asked for Digest algorithm SHA-256; only MD5 is supported'),
    );
  });
});

describe('token request limiter (10 per 60 s, sliding)', () => {
  const t0 = 1_000_000;
  it.each([
    ['empty', [], t0, 0],
    ['9 recent', Array.from({ length: 9 }, (_, i) => t0 - i * 1000), t0, 0],
    ['10 recent: wait for the oldest to leave', Array.from({ length: 10 }, (_, i) => t0 - 50_000 + i * 1000), t0, 10_000],
    ['10 of which one is out of the window', [t0 - 60_000, ...Array.from({ length: 9 }, (_, i) => t0 - i)], t0, 0],
    ['12 recent (more than the limit)', Array.from({ length: 12 }, (_, i) => t0 - 59_000 + i * 1000), t0, 3000],
  ])('%s', (_name, recent, now, delay) => {
    expect(tokenSlotDelayMs(recent, now)).toBe(delay);
  });

  it('waits on the injected clock instead of failing, per (token URL, clientId)', async () => {
    const clock = new ManualClock(t0);
    const limiter = new TokenLimiter(10, 60_000);
    for (let i = 0; i < 10; i++) await limiter.acquire('u', 'c1', clock);
    let granted = false;
    const eleventh = limiter.acquire('u', 'c1', clock).then(() => (granted = true));
    await limiter.acquire('u', 'c2', clock); // another client is not held up
    await Promise.resolve();
    expect(granted).toBe(false);
    clock.advance(59_999);
    await Promise.resolve();
    expect(granted).toBe(false);
    clock.advance(1);
    await eleventh;
    expect(granted).toBe(true);
    expect(limiter.count('u', 'c1', clock.now())).toBe(1);
  });

  it('gives up with ABORTED when the signal aborts while waiting', async () => {
    const clock = new ManualClock(t0);
    const limiter = new TokenLimiter(1, 60_000);
    await limiter.acquire('u', 'c', clock);
    const controller = new AbortController();
    const waiting = limiter.acquire('u', 'c', clock, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
