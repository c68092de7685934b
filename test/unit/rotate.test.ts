import { rotateSecret, type RotationDeps, type RotationTarget } from '../../src/rotate';
import { RotatorError } from '../../src/errors';
import { FastForwardClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import { MemoryVault, instrumentVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';
import type { VaultValue } from '../../src/types';

const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

function setup(providerOptions: ConstructorParameters<typeof FakeProvider>[0] = {}) {
  const clock = new FastForwardClock();
  const log = memoryLogger();
  const inner = new MemoryVault(clock);
  const { vault, calls, before } = instrumentVault(inner);
  const provider = new FakeProvider(providerOptions);
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
  return { clock, log, inner, vault, calls, before, provider, target, deps };
}

/** A pending version as a crashed run would have left it: issued at the provider and stored. */
async function crashedAfterPending(s: ReturnType<typeof setup>, rotationId = 'crashed-rotation-0001') {
  const issued = await s.provider.issue({ secretId: 'svc', rotationId, log: s.log, clock: s.clock });
  const value: VaultValue = {
    provider: 'fake',
    secretId: 'svc',
    credentials: issued.credentials,
    issuedAt: issued.issuedAt,
    expiresAt: issued.expiresAt,
    providerRef: issued.providerRef,
    rotationId,
  };
  await s.inner.putPending('svc', value, rotationId);
  return value;
}

const unavailable = () => new RotatorError('VAULT_UNAVAILABLE', 'disk on fire', { retryable: true });

describe('rotateSecret: the happy path', () => {
  test('first rotation stores a verified current and no pending', async () => {
    const s = setup();
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('rotated');
    const state = await s.inner.read('svc');
    expect(state.current?.value.providerRef).toBe('ref-1');
    expect(state.current?.value.rotationId).toBe(result.rotationId);
    expect(state.pending).toBeUndefined();
    expect(s.provider.verifyCalls).toBe(1);
  });

  test('a second rotation moves the first value to previous', async () => {
    const s = setup();
    const first = await rotateSecret(s.target, s.deps);
    const second = await rotateSecret(s.target, s.deps);
    const state = await s.inner.read('svc');
    expect(state.current?.versionId).toBe(second.rotationId);
    expect(state.previous?.versionId).toBe(first.rotationId);
  });

  test('the vault value has the documented shape', async () => {
    const s = setup();
    await rotateSecret(s.target, s.deps);
    const value = (await s.inner.read('svc')).current!.value;
    expect(Object.keys(value).sort()).toEqual(
      ['credentials', 'expiresAt', 'issuedAt', 'provider', 'providerRef', 'rotationId', 'secretId'].sort(),
    );
    expect(value).toMatchObject({ provider: 'fake', secretId: 'svc', providerRef: 'ref-1' });
  });

  test('no secret value reaches the log', async () => {
    const s = setup();
    await rotateSecret(s.target, s.deps);
    await rotateSecret(s.target, s.deps);
    for (const issued of s.provider.issued) expect(s.log.text()).not.toContain(issued.value);
    expect(s.log.lines.length).toBeGreaterThan(3);
  });
});

describe('rotateSecret: --if-due and --dry-run', () => {
  test('ifDue skips a fresh credential without touching the provider', async () => {
    const s = setup();
    await rotateSecret(s.target, s.deps);
    const result = await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(result.outcome).toBe('not-due');
    expect(s.provider.issueCalls).toBe(1);
  });

  test('ifDue rotates once the renewal time has come', async () => {
    const s = setup({ lifetimeMs: 3_600_000 });
    await rotateSecret(s.target, s.deps);
    await s.clock.sleep(2_400_001);
    const result = await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(result).toMatchObject({ outcome: 'rotated', reason: 'due' });
  });

  test('dry run reports and changes nothing anywhere', async () => {
    const s = setup();
    const result = await rotateSecret(s.target, s.deps, { dryRun: true });
    expect(result.outcome).toBe('dry-run');
    expect(result.plan).toMatch(/would issue/);
    expect(s.provider.issueCalls).toBe(0);
    expect(s.calls.putPending).toBeUndefined();
    expect(s.calls.acquireLease).toBeUndefined();
  });
});

describe('rotateSecret: resuming after a crash', () => {
  test('a pending version is verified and promoted without issuing again', async () => {
    const s = setup();
    await rotateSecret(s.target, s.deps);
    const pending = await crashedAfterPending(s);
    const issuedBefore = s.provider.issueCalls;
    const result = await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(result).toMatchObject({ outcome: 'resumed', rotationId: pending.rotationId });
    expect(s.provider.issueCalls).toBe(issuedBefore);
    const state = await s.inner.read('svc');
    expect(state.current?.versionId).toBe(pending.rotationId);
    expect(state.previous?.value.providerRef).toBe('ref-1');
    expect(state.pending).toBeUndefined();
  });

  test('a pending version when there is no current yet is promoted (crash during the first rotation)', async () => {
    const s = setup();
    const pending = await crashedAfterPending(s);
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('resumed');
    expect((await s.inner.read('svc')).current?.versionId).toBe(pending.rotationId);
  });

  test('an expired pending version is discarded, revoked, and a new one issued', async () => {
    const s = setup({ revocable: true, lifetimeMs: 60_000 });
    const pending = await crashedAfterPending(s);
    await s.clock.sleep(61_000);
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('rotated');
    expect(result.rotationId).not.toBe(pending.rotationId);
    expect(s.provider.issued.find((x) => x.ref === pending.providerRef)?.revoked).toBe(true);
  });

  test('a pending version that fails verification is discarded and replaced; current untouched until then', async () => {
    const s = setup({ revocable: true });
    await rotateSecret(s.target, s.deps);
    const pending = await crashedAfterPending(s);
    s.provider.issued.find((x) => x.ref === pending.providerRef)!.revoked = true; // deleted by hand meanwhile
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('rotated');
    const state = await s.inner.read('svc');
    expect(state.current?.versionId).toBe(result.rotationId);
    expect(state.previous?.value.providerRef).toBe('ref-1');
  });
});

describe('rotateSecret: what an interrupted or failing run keeps', () => {
  const down = () => new RotatorError('PROVIDER_UNAVAILABLE', '503', { retryable: true });

  test('provider down during resume: the pending credential is kept for next time, nothing issued', async () => {
    const s = setup({ revocable: true });
    const pending = await crashedAfterPending(s);
    s.provider.verifyFailures = Array(3).fill(down());
    await expect(rotateSecret(s.target, s.deps)).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect((await s.inner.read('svc')).pending?.versionId).toBe(pending.rotationId);
    expect(s.provider.issueCalls).toBe(1);
    expect(s.provider.issued[0]!.revoked).toBe(false);
    expect((await rotateSecret(s.target, s.deps)).outcome).toBe('resumed');
  });

  test('provider down while verifying a fresh credential: it stays pending (tracked), not revoked', async () => {
    const s = setup({ revocable: true });
    s.provider.verifyFailures = Array(3).fill(down());
    await expect(rotateSecret(s.target, s.deps)).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    const state = await s.inner.read('svc');
    expect(state.pending?.value.providerRef).toBe('ref-1');
    expect(s.provider.issued[0]!.revoked).toBe(false);
  });

  test('a pending credential already due for renewal is revoked and replaced, not promoted', async () => {
    const s = setup({ revocable: true, lifetimeMs: 3_600_000 });
    const pending = await crashedAfterPending(s);
    await s.clock.sleep(2_500_000); // past 2/3 of its lifetime
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('rotated');
    expect(result.rotationId).not.toBe(pending.rotationId);
    expect(s.provider.issued[0]!.revoked).toBe(true);
  });

  test('revocation fails while discarding: the pending version is kept, so nothing live goes untracked', async () => {
    const s = setup({ revocable: true });
    s.provider.verifyFailures = Array(3).fill(new RotatorError('VERIFY_FAILED', 'rejected'));
    s.provider.revoke = async () => {
      throw new RotatorError('PROVIDER_UNAVAILABLE', 'revoke endpoint down', { retryable: false });
    };
    await expect(rotateSecret(s.target, s.deps)).rejects.toMatchObject({ code: 'VERIFY_FAILED' });
    expect((await s.inner.read('svc')).pending?.value.providerRef).toBe('ref-1');
    expect(s.log.text()).toMatch(/revoking the issued credential ref-1 failed/);
  });

  test('shutdown while the vault write is retried: the issued credential is still revoked', async () => {
    const s = setup({ revocable: true });
    const shutdown = new AbortController();
    s.before.putPending = () => {
      shutdown.abort(new RotatorError('ABORTED', 'shutdown'));
      throw unavailable();
    };
    await expect(rotateSecret(s.target, { ...s.deps, signal: shutdown.signal })).rejects.toThrow(/revoked at the provider/);
    expect(s.provider.issued[0]!.revoked).toBe(true);
  });
});

describe('rotateSecret: failures never lose the current credential', () => {
  test('verification failure: VERIFY_FAILED, current unchanged, pending discarded, issued revoked', async () => {
    const s = setup({ revocable: true });
    await rotateSecret(s.target, s.deps);
    const before = await s.inner.read('svc');
    s.provider.verifyFailures = Array(5).fill(new RotatorError('VERIFY_FAILED', 'nope', { retryable: false }));
    await expect(rotateSecret(s.target, s.deps)).rejects.toMatchObject({ code: 'VERIFY_FAILED' });
    const after = await s.inner.read('svc');
    expect(after.current).toEqual(before.current);
    expect(after.pending).toBeUndefined();
    expect(s.provider.live(s.clock.now()).map((x) => x.ref)).toEqual(['ref-1']);
  });

  test('verification is retried for propagation delay', async () => {
    const s = setup();
    s.provider.verifyFailures = [new RotatorError('VERIFY_FAILED', 'not yet', { retryable: true })];
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('rotated');
    expect(s.provider.verifyCalls).toBe(2);
  });

  test('vault cannot take the pending write: the issued credential is revoked (compensation)', async () => {
    const s = setup({ revocable: true });
    s.before.putPending = () => {
      throw unavailable();
    };
    await expect(rotateSecret(s.target, s.deps)).rejects.toThrow(/could not store.*revoked at the provider/);
    expect(s.calls.putPending).toBe(3); // retried hard (policy: 3 attempts in this test)
    expect(s.provider.live(s.clock.now())).toHaveLength(0);
    const state = await s.inner.read('svc');
    expect([state.current, state.pending, state.previous]).toEqual([undefined, undefined, undefined]);
    // The failure is recorded durably, so status and every replica back off from it.
    expect(state.status).toMatchObject({
      lastResult: 'failed',
      consecutiveFailures: 1,
      lastError: { code: 'VAULT_UNAVAILABLE' },
    });
  });

  test('a vault refusal that retrying cannot fix (access denied): compensated at once, not after back-offs', async () => {
    const s = setup({ revocable: true });
    s.before.putPending = () => {
      throw new RotatorError('VAULT_UNAVAILABLE', 'AccessDeniedException: secretsmanager:PutSecretValue', { retryable: false });
    };
    await expect(rotateSecret(s.target, s.deps)).rejects.toThrow(/could not store.*revoked at the provider/);
    expect(s.calls.putPending).toBe(1);
    expect(s.provider.live(s.clock.now())).toHaveLength(0);
  });

  test('vault write fails once, then succeeds: rotation completes', async () => {
    const s = setup();
    let failures = 1;
    s.before.putPending = () => {
      if (failures-- > 0) throw unavailable();
    };
    expect((await rotateSecret(s.target, s.deps)).outcome).toBe('rotated');
  });

  test('non-revocable provider: the error says the credential expires on its own', async () => {
    const s = setup({ revocable: false });
    s.before.putPending = () => {
      throw unavailable();
    };
    await expect(rotateSecret(s.target, s.deps)).rejects.toThrow(/cannot be revoked at fake; it expires on its own at/);
  });

  test('retryable issue errors are retried; non-retryable fail at once', async () => {
    const s = setup();
    s.provider.issueFailures = [new RotatorError('RATE_LIMITED', '429', { retryable: true })];
    expect((await rotateSecret(s.target, s.deps)).outcome).toBe('rotated');
    expect(s.provider.issueCalls).toBe(2);

    s.provider.issueFailures = [new RotatorError('PROVIDER_AUTH', '401', { retryable: false })];
    await expect(rotateSecret(s.target, s.deps)).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
    expect(s.provider.issueCalls).toBe(3);
  });

  test('a distribution failure is reported but the vault keeps the new credential', async () => {
    const s = setup();
    const result = await rotateSecret(s.target, {
      ...s.deps,
      onPromoted: async () => {
        throw new Error('hook exploded');
      },
    });
    expect(result.outcome).toBe('rotated');
    expect(result.distributionError).toMatch(/hook exploded/);
    expect((await s.inner.read('svc')).current?.versionId).toBe(result.rotationId);
  });
});

describe('rotateSecret: races between replicas', () => {
  test('another process holding the lease: skipped, nothing issued', async () => {
    const s = setup();
    await s.inner.acquireLease('svc', 'someone-else', 60_000);
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('leased-elsewhere');
    expect(s.provider.issueCalls).toBe(0);
  });

  test('the lease is released afterwards, even on failure', async () => {
    const s = setup();
    s.provider.issueFailures = [new RotatorError('PROVIDER_AUTH', '401')];
    await expect(rotateSecret(s.target, s.deps)).rejects.toBeTruthy();
    expect(await s.inner.acquireLease('svc', 'other', 1000)).not.toBeNull();
  });

  test('lost compare-and-swap: ours is discarded and revoked, theirs stands', async () => {
    const s = setup({ revocable: true });
    await rotateSecret(s.target, s.deps);
    // While we verify, a replica that does not use leases stores and promotes its own first.
    let raced = false;
    s.provider.onVerify = async (value) => {
      if (raced || value.providerRef !== 'ref-2') return;
      raced = true;
      const theirs = await crashedAfterPending(s, 'rival-rotation-00000001');
      await s.inner.promote('svc', theirs.rotationId, (await s.inner.read('svc')).current!.versionId);
    };
    // Our own pending write was replaced by the rival's, so promote of ours conflicts.
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('superseded');
    const state = await s.inner.read('svc');
    expect(state.current?.versionId).toBe('rival-rotation-00000001');
    expect(s.provider.issued.find((x) => x.ref === 'ref-2')?.revoked).toBe(true);
  });
});

describe('rotateSecret: providers with a live-secret limit', () => {
  test('two secrets unknown to the vault: the oldest is deleted to make room; never the current', async () => {
    const s = setup({ revocable: true, listable: true, limits: { maxLiveSecrets: 2 } });
    const now = s.clock.now();
    s.provider.external.push(
      { ref: 'old-a', value: 'x', createdAt: now - 2000, expiresAt: now + 1e9, revoked: false },
      { ref: 'old-b', value: 'y', createdAt: now - 1000, expiresAt: now + 1e9, revoked: false },
    );
    await rotateSecret(s.target, s.deps);
    expect(s.provider.external.map((x) => x.revoked)).toEqual([true, false]);
    await rotateSecret(s.target, s.deps); // current ref-1 + old-b live: old-b goes, not ref-1
    expect(s.provider.external[1]!.revoked).toBe(true);
    expect(s.provider.issued[0]!.revoked).toBe(false);
    // current ref-2 + previous ref-1: only the previous can go, and it is still inside its grace
    // period (no revokePreviousAfter: until it expires), so a forced rotation is refused ...
    await expect(rotateSecret(s.target, s.deps)).rejects.toMatchObject({ code: 'GRACE_PERIOD' });
    expect(s.provider.issued.map((x) => x.revoked)).toEqual([false, false]);
    // ... unless forced
    await rotateSecret(s.target, s.deps, { force: true });
    expect(s.provider.issued.map((x) => x.revoked)).toEqual([true, false, false]);
    expect(s.provider.live(s.clock.now())).toHaveLength(2);
  });
});

describe('rotateSecret: orphans of interrupted rotations (intents)', () => {
  const revocableListable = { revocable: true, listable: true, limits: { maxLiveSecrets: 2 } } as const;

  test('the intent is in the vault while issuing, and gone once the pending write lands', async () => {
    const s = setup(revocableListable);
    await rotateSecret(s.target, s.deps);
    let seen: unknown;
    s.provider.onIssue = async (ctx) => {
      seen = (await s.inner.read('svc')).intent;
      expect(ctx.rotationId).toBe((seen as { rotationId: string }).rotationId);
    };
    await rotateSecret(s.target, s.deps);
    expect(seen).toMatchObject({ liveBefore: ['ref-1'] });
    expect((await s.inner.read('svc')).intent).toBeUndefined();
  });

  test('a crash between the provider’s answer and the pending write: the next run deletes what it issued, and nothing else', async () => {
    const s = setup(revocableListable);
    await rotateSecret(s.target, s.deps);
    const now = s.clock.now();
    s.provider.external.push({ ref: 'hand-made', value: 'h', createdAt: now, expiresAt: now + 1e9, revoked: false });
    // The crashed run: intent recorded, secret issued, then the process died.
    await s.inner.recordIntent('svc', {
      rotationId: 'crashed-0001',
      startedAt: new Date(now).toISOString(),
      liveBefore: ['ref-1', 'hand-made'],
    });
    const lost = await s.provider.issue({ secretId: 'svc', rotationId: 'crashed-0001', log: s.log, clock: s.clock });
    expect(
      s.provider
        .live(now)
        .map((x) => x.ref)
        .sort(),
    ).toEqual(['hand-made', 'ref-1', lost.providerRef].sort());

    const result = await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(result).toMatchObject({ outcome: 'not-due', orphansRevoked: [lost.providerRef] });
    expect(
      s.provider
        .live(s.clock.now())
        .map((x) => x.ref)
        .sort(),
    ).toEqual(['hand-made', 'ref-1']);
    expect((await s.inner.read('svc')).intent).toBeUndefined();
    expect(JSON.stringify(s.log.lines)).toContain('deleted a secret that an interrupted rotation issued but never stored');
  });

  test('an intent whose rotation reached the vault costs nothing: nothing is listed or deleted, and the next lease holder drops it', async () => {
    const s = setup(revocableListable);
    const first = await rotateSecret(s.target, s.deps);
    await s.inner.recordIntent('svc', {
      rotationId: first.rotationId!,
      startedAt: new Date(s.clock.now()).toISOString(),
      liveBefore: [],
    });
    let listed = 0;
    const list = s.provider.list!;
    s.provider.list = async (ctx) => (listed++, list(ctx));
    const leases = s.calls.acquireLease ?? 0;
    const result = await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(result.outcome).toBe('not-due');
    expect(result.orphansRevoked).toBeUndefined();
    expect(s.calls.acquireLease ?? 0).toBe(leases); // a scheduled check with nothing to do writes nothing
    await rotateSecret(s.target, s.deps);
    expect(listed).toBe(1); // making room for the forced rotation, not orphan hunting
    expect((await s.inner.read('svc')).intent).toBeUndefined();
  });

  test('a scheduled check with nothing to do takes no lease; one with work does', async () => {
    const s = setup({ revocable: true });
    await rotateSecret(s.target, s.deps);
    const leases = s.calls.acquireLease!;
    expect((await rotateSecret(s.target, s.deps, { ifDue: true })).outcome).toBe('not-due');
    expect(s.calls.acquireLease).toBe(leases);
    await s.clock.sleep(3_000_000); // past 2/3 of the 1 h lifetime
    expect((await rotateSecret(s.target, s.deps, { ifDue: true })).outcome).toBe('rotated');
    // Taken once: a fresh lease (less than half its TTL used) is not renewed before promotion.
    expect(s.calls.acquireLease).toBe(leases + 1);
  });

  test('an issue attempt whose answer was lost: its secret is deleted before the retry, so it neither leaks nor takes the last slot', async () => {
    const s = setup(revocableListable);
    await rotateSecret(s.target, s.deps);
    let attempts = 0;
    s.provider.onIssue = async (ctx) => {
      if (++attempts > 1) return;
      const now = ctx.clock.now();
      // The provider created it, then the connection dropped before the answer arrived.
      s.provider.issued.push({ ref: 'lost-answer', value: 'l', createdAt: now, expiresAt: now + 1e9, revoked: false });
      throw new RotatorError('PROVIDER_UNAVAILABLE', 'socket hang up', { retryable: true });
    };
    const result = await rotateSecret(s.target, s.deps);
    expect(result.outcome).toBe('rotated');
    expect(s.provider.issued.find((x) => x.ref === 'lost-answer')?.revoked).toBe(true);
    const state = await s.inner.read('svc');
    expect(
      s.provider
        .live(s.clock.now())
        .map((x) => x.ref)
        .sort(),
    ).toEqual([state.current!.value.providerRef, state.previous!.value.providerRef].sort());
  });

  test('a provider that cannot list records no intent (NCP STS keys expire on their own)', async () => {
    const s = setup({ revocable: true });
    s.provider.onIssue = async () => expect((await s.inner.read('svc')).intent).toBeUndefined();
    await rotateSecret(s.target, s.deps);
    expect(s.calls.recordIntent ?? 0).toBe(0);
  });
});

describe('rotateSecret: revoking the previous credential after its grace period', () => {
  test('revoked by the first run after the grace period, once', async () => {
    const s = setup({ revocable: true, revokePreviousAfterMs: 60_000 });
    s.target.revokedPrevious = new Set();
    await rotateSecret(s.target, s.deps);
    const second = await rotateSecret(s.target, s.deps);
    const issuedAt = Date.parse(second.current!.issuedAt);
    expect(second.previousRevokeAt).toBe(new Date(issuedAt + 60_000).toISOString());
    expect(s.provider.issued[0]!.revoked).toBe(false);

    await s.clock.sleep(30_000);
    expect(await rotateSecret(s.target, s.deps, { ifDue: true })).toMatchObject({
      outcome: 'not-due',
      previousRevokeAt: second.previousRevokeAt,
    });
    expect(s.provider.issued[0]!.revoked).toBe(false);

    await s.clock.sleep(30_000);
    expect(await rotateSecret(s.target, s.deps, { ifDue: true })).toMatchObject({ outcome: 'not-due', revokedPrevious: 'ref-1' });
    expect(s.provider.issued.map((x) => x.revoked)).toEqual([true, false]);

    let revokes = 0;
    const revoke = s.provider.revoke!;
    s.provider.revoke = async (ref, ctx) => (revokes++, revoke(ref, ctx));
    const again = await rotateSecret(s.target, s.deps, { ifDue: true });
    expect(again.revokedPrevious).toBeUndefined();
    expect(revokes).toBe(0);
  });

  test('grace 0: revoked right after the promotion, in the same run', async () => {
    const s = setup({ revocable: true, revokePreviousAfterMs: 0 });
    await rotateSecret(s.target, s.deps);
    const second = await rotateSecret(s.target, s.deps);
    expect(second).toMatchObject({ outcome: 'rotated', revokedPrevious: 'ref-1' });
    expect(s.provider.issued.map((x) => x.revoked)).toEqual([true, false]);
  });

  test('never (no grace period set): the previous credential stays live', async () => {
    const s = setup({ revocable: true });
    await rotateSecret(s.target, s.deps);
    await rotateSecret(s.target, s.deps);
    await s.clock.sleep(10 * 86_400_000);
    await rotateSecret(s.target, s.deps, { ifDue: true }).catch(() => undefined);
    expect(s.provider.issued[0]!.revoked).toBe(false);
  });

  test('a failed revocation does not fail the run; it is tried again later', async () => {
    const s = setup({ revocable: true, revokePreviousAfterMs: 0 });
    await rotateSecret(s.target, s.deps);
    const revoke = s.provider.revoke!;
    s.provider.revoke = async () => {
      throw new RotatorError('PROVIDER_UNAVAILABLE', 'down', { retryable: false });
    };
    const second = await rotateSecret(s.target, s.deps);
    expect(second.outcome).toBe('rotated');
    expect(Date.parse(second.previousRevokeAt!)).toBeGreaterThan(s.clock.now());
    s.provider.revoke = revoke;
    await s.clock.sleep(5 * 60_000);
    expect(await rotateSecret(s.target, s.deps, { ifDue: true })).toMatchObject({ revokedPrevious: 'ref-1' });
  });
});

describe('rotateSecret: providers see the vault’s current value', () => {
  test('ctx.current is the current credential when issuing (self-rotating accounts authenticate with it)', async () => {
    const s = setup();
    const seen: (string | undefined)[] = [];
    s.provider.onIssue = async (ctx) => void seen.push(ctx.current?.providerRef);
    await rotateSecret(s.target, s.deps);
    await rotateSecret(s.target, s.deps);
    expect(seen).toEqual([undefined, 'ref-1']);
  });
});

describe('rotateSecret: every wait is bounded by the lease and the emergency margin (issue 10)', () => {
  /** The product's retry policies (not fastRetry): the waits under test are theirs. */
  function boundedSetup(leaseTtlMs: number) {
    const s = setup();
    const deps: RotationDeps = { ...s.deps, leaseTtlMs, random: () => 0 };
    delete deps.retry;
    return { ...s, deps };
  }
  const throttled = (retryAfterMs: number) =>
    new RotatorError('RATE_LIMITED', 'fake issue (POST /issue) failed: HTTP 429', {
      retryable: true,
      retryAfterMs,
      details: { status: 429, endpoint: '/issue' },
    });

  test('Retry-After: 3600 on issue fails the step at once, naming step, endpoint and deadline; the current credential stays', async () => {
    const s = boundedSetup(120_000);
    await rotateSecret(s.target, s.deps);
    const before = await s.inner.read('svc');
    s.provider.issueFailures = Array.from({ length: 10 }, () => throttled(3_600_000));
    const start = s.clock.now();
    const failure = await rotateSecret(s.target, s.deps).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RotatorError);
    const err = failure as RotatorError;
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.message).toMatch(
      /^issue \(\/issue\) stopped waiting: the service asked to retry after 3600 s, but only \d+ s remain/,
    );
    expect(err.details).toMatchObject({ endpoint: '/issue', stoppedWaiting: 'deadline' });
    // Old code: 4 capped 60 s waits (240 s of virtual time, past the 120 s lease) and 5 calls.
    expect(s.clock.now() - start).toBeLessThan(120_000);
    expect(s.provider.issueCalls).toBe(2);
    const after = await s.inner.read('svc');
    expect(after.current?.value).toEqual(before.current?.value);
    expect(after.pending).toBeUndefined();
    expect(after.status?.lastResult).toBe('failed');
  });

  test('retries stop before the current credential reaches its emergency margin, well inside the lease', async () => {
    const s = boundedSetup(600_000);
    await rotateSecret(s.target, s.deps);
    const current = (await s.inner.read('svc')).current!.value;
    const lifetime = Date.parse(current.expiresAt) - Date.parse(current.issuedAt);
    const emergencyAt = Date.parse(current.expiresAt) - lifetime / 20;
    // 120 s before the emergency margin; every issue answers 503 with Retry-After: 50.
    await s.clock.sleep(emergencyAt - 120_000 - s.clock.now());
    s.provider.issueFailures = Array.from(
      { length: 10 },
      () => new RotatorError('PROVIDER_UNAVAILABLE', 'fake issue failed: HTTP 503', { retryable: true, retryAfterMs: 50_000 }),
    );
    const err = (await rotateSecret(s.target, s.deps).catch((e: unknown) => e)) as RotatorError;
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(err.message).toMatch(/stopped waiting/);
    // Attempts at +0, +50, +100 s; a fourth would start at +150 s, past the margin (+120 s).
    // Old code: five attempts, the last at +200 s, with the credential inside its margin.
    expect(s.provider.issueCalls).toBe(1 + 3);
    expect(s.clock.now()).toBeLessThanOrEqual(emergencyAt);
    expect((await s.inner.read('svc')).current?.value).toEqual(current);
  });
});
