import { REDACTED, SecretRegistry } from '../../src/redact';

const HOUR = 3_600_000;

describe('SecretRegistry forgets dead credentials', () => {
  it('stays bounded over 1,000 rotations and still scrubs current, previous and master values', () => {
    const registry = new SecretRegistry();
    registry.add('master-secret-key-value');
    let now = 0;
    // Each rotation: a 1 h credential renewed every 40 min; the previous one is kept until expiry.
    for (let i = 1; i <= 1000; i++) {
      registry.addIssued('svc', `ref-${i}`, [`issued-secret-${i}`], now + HOUR, now);
      registry.retain('svc', [`ref-${i}`, `ref-${i - 1}`], now);
      now += 40 * 60_000;
    }
    // master + current + previous (+ at most one older one not yet expired)
    expect(registry.size).toBeLessThanOrEqual(4);
    expect(registry.scrub('a issued-secret-1000 b issued-secret-999 c master-secret-key-value')).toBe(
      `a ${REDACTED} b ${REDACTED} c ${REDACTED}`,
    );
    expect(registry.has('issued-secret-1')).toBe(false);
  });

  it('keeps a credential that is no longer current until it has expired', () => {
    const registry = new SecretRegistry();
    registry.addIssued('svc', 'old', ['old-secret-value'], 10 * HOUR, 0);
    registry.addIssued('svc', 'new', ['new-secret-value'], 11 * HOUR, HOUR);
    registry.retain('svc', ['new'], HOUR);
    expect(registry.has('old-secret-value')).toBe(true); // still works at the provider
    registry.retain('svc', ['new'], 10 * HOUR);
    expect(registry.has('old-secret-value')).toBe(false);
    expect(registry.has('new-secret-value')).toBe(true);
  });

  it('keeps an expired credential while it is still current or previous', () => {
    const registry = new SecretRegistry();
    registry.addIssued('svc', 'cur', ['current-secret'], HOUR, 0);
    registry.retain('svc', ['cur'], 2 * HOUR);
    expect(registry.has('current-secret')).toBe(true);
  });

  it('never forgets master credentials, even when an issued credential shares the value', () => {
    const registry = new SecretRegistry();
    registry.add('shared-secret-value');
    registry.addIssued('svc', 'r1', ['shared-secret-value'], HOUR, 0);
    registry.retain('svc', [], 2 * HOUR);
    expect(registry.has('shared-secret-value')).toBe(true);
    expect(registry.size).toBe(1);
  });
});
