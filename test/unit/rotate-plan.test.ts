/**
 * The dry run and the real run ask the same decision (nextAction): what the dry run lists is
 * exactly what the real run then does at the provider. Also: durable status, bad answers.
 */
import { rotateSecret, type RotationDeps, type RotationTarget } from '../../src/rotate';
import type { Step } from '../../src/next-action';
import { FastForwardClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import { RotatorError } from '../../src/errors';
import { MemoryVault, instrumentVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';

const H = 3_600_000;
const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

function setup(providerOptions: ConstructorParameters<typeof FakeProvider>[0] = {}) {
  const clock = new FastForwardClock();
  const log = memoryLogger();
  const inner = new MemoryVault(clock);
  const { vault, calls } = instrumentVault(inner);
  const provider = new FakeProvider({ lifetimeMs: 3 * H, ...providerOptions });
  const target: RotationTarget = {
    secretId: 'svc',
    provider,
    policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 },
  };
  const deps: RotationDeps = {
    vault,
    clock,
    log,
    owner: 'test-owner',
    retry: { provider: fastRetry, verify: fastRetry, vaultWrite: fastRetry, vaultRead: fastRetry },
  };
  return { clock, log, inner, vault, calls, provider, target, deps };
}

/** The provider-side side effects a list of steps stands for, in the FakeProvider's words. */
function effectsOf(steps: Step[]): string[] {
  return steps.flatMap((s): string[] => {
    switch (s.kind) {
      case 'clean-orphans':
        return (s.providerRefs ?? []).map((r) => `revoke ${r}`);
      case 'revoke-previous':
      case 'discard-pending':
        return [`revoke ${s.providerRef}`];
      case 'make-room':
        return [`revoke ${s.providerRef ?? '?'}`];
      case 'issue':
        return ['issue'];
      case 'resume':
        return [];
    }
  });
}

const performed = (effects: string[]) => effects.map((e) => (e.startsWith('issue ') ? 'issue' : e));

const mongoLike = { revocable: true, listable: true, limits: { maxLiveSecrets: 2 }, revokePreviousAfterMs: H } as const;

describe('dry run = real run', () => {
  test.each([
    ['scheduled (--if-due)', { ifDue: true }],
    ['one-off', {}],
  ])('%s: previous past grace, an orphan of an interrupted rotation, a slot to free, a renewal due', async (_name, options) => {
    const s = setup(mongoLike);
    await rotateSecret(s.target, s.deps); // ref-1
    await s.clock.sleep(2 * H + 1);
    await rotateSecret(s.target, s.deps); // ref-2 current, ref-1 previous (grace 1 h)
    await s.clock.sleep(2 * H + 1); // grace over, ref-2 due
    // An interrupted rotation: intent recorded, secret issued, never stored.
    const now = s.clock.now();
    await s.inner.updateMeta('svc', {
      intent: { rotationId: 'lost', startedAt: new Date(now).toISOString(), liveBefore: ['ref-1', 'ref-2', 'old-x'] },
    });
    s.provider.external.push(
      { ref: 'old-x', value: 'x', createdAt: now - 10 * H, expiresAt: now + 10 * H, revoked: false },
      { ref: 'orphan-y', value: 'y', createdAt: now, expiresAt: now + 10 * H, revoked: false },
    );
    s.provider.effects.length = 0;

    const dry = await rotateSecret(s.target, s.deps, { ...options, dryRun: true });
    expect(s.provider.effects).toEqual([]); // the dry run changed nothing
    expect(dry.plan).toMatch(/orphan-y/);
    expect(dry.plan).toMatch(/old-x/);

    const real = await rotateSecret(s.target, s.deps, options);
    expect(real.outcome).toBe('rotated');
    expect(performed(s.provider.effects)).toEqual(effectsOf(dry.steps!));
    expect(effectsOf(dry.steps!)).toEqual(['revoke orphan-y', 'revoke ref-1', 'revoke old-x', 'issue']);
    expect(real.steps!.map((x) => x.kind)).toEqual(dry.steps!.map((x) => x.kind));
  });

  test('--if-due --dry-run says the previous is due for revocation when only that is due (was: "not due")', async () => {
    const s = setup(mongoLike);
    await rotateSecret(s.target, s.deps);
    await rotateSecret(s.target, s.deps, { force: true });
    await s.clock.sleep(H + 1); // grace over, current not due
    s.provider.effects.length = 0;
    const dry = await rotateSecret(s.target, s.deps, { ifDue: true, dryRun: true });
    expect(dry.plan).toMatch(/revoke the previous credential ref-1/);
    const real = await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(real).toMatchObject({ outcome: 'not-due', revokedPrevious: 'ref-1' });
    expect(performed(s.provider.effects)).toEqual(effectsOf(dry.steps!));
  });

  test('a forced dry run says which secret making room would delete, and refuses inside the grace period', async () => {
    const s = setup({ ...mongoLike, revokePreviousAfterMs: 2 * H });
    await rotateSecret(s.target, s.deps);
    await rotateSecret(s.target, s.deps);
    const dry = await rotateSecret(s.target, s.deps, { dryRun: true });
    expect(dry.plan).toMatch(/would refuse: .*ref-1.*grace period/);
    const forced = await rotateSecret(s.target, s.deps, { dryRun: true, force: true });
    expect(forced.plan).toMatch(/delete ref-1 at the provider to make room/);
    s.provider.effects.length = 0;
    await rotateSecret(s.target, s.deps, { force: true });
    expect(performed(s.provider.effects)).toEqual(effectsOf(forced.steps!));
  });
});

describe('durable state', () => {
  test('the revoked previous is remembered in the vault: a new process does not revoke it again', async () => {
    const s = setup(mongoLike);
    await rotateSecret(s.target, s.deps);
    await rotateSecret(s.target, s.deps, { force: true });
    await s.clock.sleep(H + 1);
    await rotateSecret(s.target, s.deps, { ifDue: true });
    expect((await s.inner.read('svc')).revokedPrevious).toBe('ref-1');
    s.provider.effects.length = 0;
    const fresh = { ...s.target, revokedPrevious: new Set<string>() }; // a new process
    const again = await rotateSecret(fresh, s.deps, { ifDue: true });
    expect(again.outcome).toBe('not-due');
    expect(s.provider.effects).toEqual([]);
  });

  test('a failure is recorded with a back-off; recovery clears it; a steady success writes no status', async () => {
    const s = setup();
    await rotateSecret(s.target, s.deps);
    expect(s.calls.updateMeta).toBeUndefined(); // success after success: no meta write
    await s.clock.sleep(2 * H + 1); // due
    s.provider.issueFailures.push(new RotatorError('PROVIDER_AUTH', 'master key rejected'));
    await expect(rotateSecret(s.target, s.deps, { ifDue: true })).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
    const failed = (await s.inner.read('svc')).status!;
    expect(failed).toMatchObject({ lastResult: 'failed', consecutiveFailures: 1, lastError: { code: 'PROVIDER_AUTH' } });
    expect(Date.parse(failed.nextAttemptAt!)).toBeGreaterThan(s.clock.now());
    // A scheduled check honours the back-off, in any process.
    const waiting = await rotateSecret(s.target, s.deps, { ifDue: true, dryRun: true });
    expect(waiting.plan).toMatch(/backing off/);
    const writes = s.calls.updateMeta!;
    await rotateSecret(s.target, s.deps); // recovers
    expect((await s.inner.read('svc')).status).toMatchObject({ lastResult: 'ok', consecutiveFailures: 0 });
    expect(s.calls.updateMeta).toBe(writes + 1);
    await rotateSecret(s.target, s.deps);
    expect(s.calls.updateMeta).toBe(writes + 1);
  });

  test('a distribution failure is recorded, and its recovery', async () => {
    const s = setup();
    let fail = true;
    s.deps.onPromoted = async () => {
      if (fail) throw new RotatorError('DISTRIBUTION', 'hook exited 1');
    };
    const result = await rotateSecret(s.target, s.deps);
    expect(result.distributionError).toMatch(/hook exited 1/);
    expect((await s.inner.read('svc')).status?.distribution).toMatchObject({ ok: false });
    fail = false;
    await rotateSecret(s.target, s.deps);
    expect((await s.inner.read('svc')).status?.distribution).toMatchObject({ ok: true });
  });
});

describe('answers are checked before anything is stored', () => {
  test.each([
    ['an expiry in the past', { expiresAt: '2000-01-01T00:00:00.000Z' }, 'expiresAt'],
    ['an expiry that is not a date', { expiresAt: 'soon' }, 'expiresAt'],
    ['an expiry beyond the maximum lifetime', { expiresAt: '9999-12-31T00:00:00.000Z' }, 'expiresAt'],
  ])('%s: revoked, current kept, PROVIDER_BAD_ANSWER naming the field', async (_name, dates, field) => {
    const s = setup({ revocable: true });
    await rotateSecret(s.target, s.deps);
    const before = (await s.inner.read('svc')).current;
    s.provider.answerDates.push(dates);
    const err = await rotateSecret(s.target, s.deps).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_ANSWER', retryable: false });
    expect((err as Error).message).toContain(field);
    expect((err as Error).message).toMatch(/revoked at the provider/);
    const after = await s.inner.read('svc');
    expect(after.current).toEqual(before);
    expect(after.pending).toBeUndefined();
    expect(s.provider.issued[1]!.revoked).toBe(true);
    expect(after.status).toMatchObject({ lastResult: 'failed', lastError: { code: 'PROVIDER_BAD_ANSWER' } });
  });
});

describe('writes per rotation', () => {
  test('a steady-state rotation: lease, pending, promote; no intent, status or lease renewal', async () => {
    const s = setup();
    await rotateSecret(s.target, s.deps);
    for (const k of Object.keys(s.calls)) delete s.calls[k];
    await s.clock.sleep(2 * H + 1);
    await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(s.calls).toEqual({ read: 2, acquireLease: 1, putPending: 1, promote: 1 });
  });

  test('a lease more than half used is renewed before promotion', async () => {
    const s = setup();
    s.deps.leaseTtlMs = 60_000;
    s.provider.onVerify = async () => s.clock.sleep(40_000);
    await rotateSecret(s.target, s.deps);
    expect(s.calls.acquireLease).toBe(2);
  });
});
