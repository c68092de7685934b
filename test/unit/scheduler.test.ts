import { Scheduler } from '../../src/scheduler';
import type { RotationTarget } from '../../src/rotate';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { RotatorError } from '../../src/errors';
import { MemoryVault, instrumentVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';
import { DEFAULT_BACKOFF } from '../../src/renewal';

const H = 3_600_000;
const once = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };

function setup(
  ids: string[],
  options: { concurrency?: number; lifetimeMs?: number; provider?: ConstructorParameters<typeof FakeProvider>[0] } = {},
) {
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const inner = new MemoryVault(clock);
  const { vault, calls } = instrumentVault(inner);
  const providers = new Map<string, FakeProvider>();
  const targets: RotationTarget[] = ids.map((secretId) => {
    const provider = new FakeProvider({ lifetimeMs: options.lifetimeMs ?? 3 * H, ...options.provider });
    providers.set(secretId, provider);
    return { secretId, provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 } };
  });
  const scheduler = new Scheduler({
    targets,
    rotation: {
      vault,
      clock,
      log: silentLogger,
      owner: 'me',
      retry: { provider: once, verify: once, vaultRead: once, vaultWrite: once },
    },
    clock,
    log: silentLogger,
    schedule: '* * * * *',
    concurrency: options.concurrency ?? 4,
    manualSweeps: true,
  });
  return { clock, inner, vault, calls, providers, scheduler };
}

describe('Scheduler', () => {
  test('a secret with no current value is rotated at start', async () => {
    const s = setup(['a', 'b']);
    await s.scheduler.start();
    await s.scheduler.idle();
    expect((await s.inner.read('a')).current).toBeDefined();
    expect((await s.inner.read('b')).current).toBeDefined();
    expect(s.scheduler.snapshot().every((e) => e.lastOutcome === 'rotated')).toBe(true);
  });

  test('a pending version left by a crash is resumed at start, not re-issued', async () => {
    const s = setup(['a']);
    const provider = s.providers.get('a')!;
    const issued = await provider.issue({ secretId: 'a', rotationId: 'r-crash', log: silentLogger, clock: s.clock });
    await s.inner.putPending('a', { provider: 'fake', secretId: 'a', rotationId: 'r-crash', ...issued }, 'r-crash');
    await s.scheduler.start();
    await s.scheduler.idle();
    expect(provider.issueCalls).toBe(1);
    expect((await s.inner.read('a')).current?.versionId).toBe('r-crash');
    expect(s.scheduler.snapshot()[0]!.lastOutcome).toBe('resumed');
  });

  test('renews at 2/3 of the lifetime, and sweeps in between read nothing from the vault', async () => {
    const s = setup(['a']);
    await s.scheduler.start();
    await s.scheduler.idle();
    const readsAfterStart = s.calls.read;
    for (let minute = 1; minute < 120; minute++) {
      s.clock.advance(60_000);
      expect(s.scheduler.sweep()).toBe(0);
    }
    expect(s.calls.read).toBe(readsAfterStart);
    s.clock.advance(60_000); // now exactly 2h after issue
    expect(s.scheduler.sweep()).toBe(1);
    await s.scheduler.idle();
    expect(s.providers.get('a')!.issueCalls).toBe(2);
  });

  test('failures back off exponentially, and succeed later', async () => {
    const s = setup(['a']);
    const provider = s.providers.get('a')!;
    provider.issueFailures = [
      new RotatorError('PROVIDER_UNAVAILABLE', '503', { retryable: true }),
      new RotatorError('PROVIDER_UNAVAILABLE', '503', { retryable: true }),
    ];
    const t0 = s.clock.now();
    await s.scheduler.start();
    await s.scheduler.idle();
    let entry = s.scheduler.snapshot()[0]!;
    expect(entry).toMatchObject({ consecutiveFailures: 1, lastOutcome: 'failed', nextAttemptAt: t0 + DEFAULT_BACKOFF.initialMs });
    s.clock.advance(DEFAULT_BACKOFF.initialMs - 1);
    expect(s.scheduler.sweep()).toBe(0);
    s.clock.advance(1);
    expect(s.scheduler.sweep()).toBe(1);
    await s.scheduler.idle();
    entry = s.scheduler.snapshot()[0]!;
    expect(entry.consecutiveFailures).toBe(2);
    expect(entry.nextAttemptAt).toBe(s.clock.now() + 2 * DEFAULT_BACKOFF.initialMs);
    s.clock.advance(2 * DEFAULT_BACKOFF.initialMs);
    s.scheduler.sweep();
    await s.scheduler.idle();
    expect(s.scheduler.snapshot()[0]).toMatchObject({ consecutiveFailures: 0, lastOutcome: 'rotated' });
  });

  test('never more rotations at once than the concurrency bound', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const s = setup(ids, { concurrency: 3 });
    let active = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    for (const p of s.providers.values()) {
      p.onIssue = async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise<void>((r) => gates.push(r));
        active--;
      };
    }
    await s.scheduler.start();
    while (s.scheduler.snapshot().some((e) => e.lastOutcome === undefined)) {
      await new Promise((r) => setImmediate(r));
      gates.shift()?.();
    }
    await s.scheduler.idle();
    expect(peak).toBe(3);
    expect(s.scheduler.snapshot().filter((e) => e.lastOutcome === 'rotated')).toHaveLength(10);
  });

  test('stop waits for the rotation in flight to finish', async () => {
    const s = setup(['a']);
    let release!: () => void;
    s.providers.get('a')!.onIssue = () => new Promise<void>((r) => (release = r));
    await s.scheduler.start();
    const stopped = s.scheduler.stop(5_000);
    setTimeout(() => release(), 20);
    expect(await stopped).toBe(true);
    expect((await s.inner.read('a')).current).toBeDefined();
    expect(s.scheduler.sweep()).toBe(0);
  });

  test('stop aborts a rotation that outlives the grace period, leaving the vault consistent', async () => {
    const s = setup(['a']);
    s.providers.get('a')!.onIssue = (ctx) =>
      new Promise<void>((_, reject) => ctx.signal?.addEventListener('abort', () => reject(ctx.signal!.reason)));
    await s.scheduler.start();
    expect(await s.scheduler.stop(50)).toBe(false);
    expect(s.scheduler.snapshot()[0]!.lastOutcome).toBe('failed');
    expect(await s.inner.read('a')).toEqual({});
  });

  test('wakes up to revoke the previous credential when its grace period ends, before the next renewal', async () => {
    const s = setup(['a'], { provider: { revocable: true, revokePreviousAfterMs: 10 * 60_000 } });
    const provider = s.providers.get('a')!;
    await s.scheduler.start();
    await s.scheduler.idle();
    // Second rotation at renewal time (2 h): the first credential becomes previous.
    s.clock.advance(2 * H);
    s.scheduler.sweep();
    await s.scheduler.idle();
    expect(provider.issued.map((x) => x.revoked)).toEqual([false, false]);
    expect(s.scheduler.snapshot()[0]!.nextAttemptAt).toBe(s.clock.now() + 10 * 60_000);
    s.clock.advance(10 * 60_000);
    s.scheduler.sweep();
    await s.scheduler.idle();
    expect(provider.issued.map((x) => x.revoked)).toEqual([true, false]);
    expect(s.scheduler.snapshot()[0]).toMatchObject({
      lastOutcome: 'not-due',
      nextAttemptAt: s.clock.now() + 2 * H - 10 * 60_000,
    });
  });

  test('an intent left by a crash is cleaned up at start even when nothing is due', async () => {
    const s = setup(['a'], { provider: { revocable: true, listable: true, limits: { maxLiveSecrets: 2 } } });
    const provider = s.providers.get('a')!;
    await s.scheduler.start();
    await s.scheduler.idle();
    await s.scheduler.stop(0);
    await s.inner.recordIntent('a', {
      rotationId: 'r-crash',
      startedAt: new Date(s.clock.now()).toISOString(),
      liveBefore: ['ref-1'],
    });
    await provider.issue({ secretId: 'a', rotationId: 'r-crash', log: silentLogger, clock: s.clock });

    const restarted = new Scheduler({
      targets: [{ secretId: 'a', provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 } }],
      rotation: { vault: s.vault, clock: s.clock, log: silentLogger, owner: 'me-again' },
      clock: s.clock,
      log: silentLogger,
      schedule: '* * * * *',
      concurrency: 1,
      manualSweeps: true,
    });
    await restarted.start();
    await restarted.idle();
    expect(provider.live(s.clock.now()).map((x) => x.ref)).toEqual(['ref-1']);
    expect(restarted.snapshot()[0]!.lastOutcome).toBe('not-due');
    expect((await s.inner.read('a')).intent).toBeUndefined();
  });
});

describe('Scheduler: start-up and durable status', () => {
  test('start reads state in readMany chunks of 500, never one read per secret', async () => {
    const ids = Array.from({ length: 1_100 }, (_, i) => `s${i}`);
    const s = setup(ids, { concurrency: 8 });
    const chunks: number[] = [];
    const readMany = s.inner.readMany.bind(s.inner);
    s.vault.readMany = async (keys) => {
      chunks.push(keys.length);
      return readMany(keys);
    };
    await s.scheduler.start();
    expect(chunks).toEqual([500, 500, 100]);
    await s.scheduler.idle();
  });

  test('without readMany, start reads at most 16 keys at a time', async () => {
    const ids = Array.from({ length: 64 }, (_, i) => `s${i}`);
    const s = setup(ids);
    delete (s.vault as { readMany?: unknown }).readMany;
    let inFlight = 0;
    let peak = 0;
    const read = s.vault.read.bind(s.vault);
    s.vault.read = async (key) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return read(key);
    };
    await s.scheduler.start();
    await s.scheduler.stop(0);
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(16);
  });

  test('a restarted daemon keeps backing off from the failure recorded in the vault', async () => {
    const s = setup(['a']);
    const provider = s.providers.get('a')!;
    provider.issueFailures.push(new RotatorError('PROVIDER_UNAVAILABLE', 'down', { retryable: true }));
    await s.scheduler.start();
    await s.scheduler.idle();
    const status = (await s.inner.read('a')).status!;
    expect(status).toMatchObject({ lastResult: 'failed', consecutiveFailures: 1 });
    const next = Date.parse(status.nextAttemptAt!);
    expect(s.scheduler.snapshot()[0]!.nextAttemptAt).toBe(next);
    const restarted = new Scheduler({
      targets: [{ secretId: 'a', provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 } }],
      rotation: { vault: s.vault, clock: s.clock, log: silentLogger, owner: 'me-again' },
      clock: s.clock,
      log: silentLogger,
      schedule: '* * * * *',
      concurrency: 1,
      manualSweeps: true,
    });
    await restarted.start();
    expect(restarted.snapshot()[0]).toMatchObject({ nextAttemptAt: next, consecutiveFailures: 1, running: false });
    expect(provider.issueCalls).toBe(1);
    s.clock.advance(next - s.clock.now());
    expect(restarted.sweep()).toBe(1);
    await restarted.idle();
    expect((await s.inner.read('a')).status).toMatchObject({ lastResult: 'ok', consecutiveFailures: 0 });
  });

  test('a paused secret is never rotated', async () => {
    const s = setup([]);
    const provider = new FakeProvider({ lifetimeMs: 3 * H });
    const paused = new Scheduler({
      targets: [
        { secretId: 'p', provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0, paused: true } },
      ],
      rotation: { vault: s.vault, clock: s.clock, log: silentLogger, owner: 'me' },
      clock: s.clock,
      log: silentLogger,
      schedule: '* * * * *',
      concurrency: 1,
      manualSweeps: true,
    });
    await paused.start();
    s.clock.advance(30 * 24 * H);
    expect(paused.sweep()).toBe(0);
    expect(provider.issueCalls).toBe(0);
  });
});
