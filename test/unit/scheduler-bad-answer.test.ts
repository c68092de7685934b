/**
 * Issue 10 item 2, in the daemon: an answer the engine refuses (an expiry already past, or 5 s
 * away below the provider's minimum) is a failure like any other, so `rotator run` backs off
 * instead of re-issuing a credential at every sweep (it used to issue ~10 a minute, /readyz 503).
 * The issued credential is revoked; the good current one stays current. ManualClock.
 */
import { Scheduler } from '../../src/scheduler';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { DEFAULT_BACKOFF } from '../../src/renewal';
import { MemoryVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';

const H = 3_600_000;
const once = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };

test.each([
  ['an expiry in the past', (now: number) => new Date(now - H).toISOString()],
  ['an expiry 5 s away (below the minimum lifetime)', (now: number) => new Date(now + 5_000).toISOString()],
])('%s: failed with PROVIDER_BAD_ANSWER, revoked, current kept, and backed off', async (_name, expiry) => {
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const vault = new MemoryVault(clock);
  const provider = new FakeProvider({ lifetimeMs: 3 * H, revocable: true, limits: { minLifetimeMs: 600_000 } }); // NCP's 10 min;
  const scheduler = new Scheduler({
    targets: [{ secretId: 'a', provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 } }],
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
    concurrency: 1,
    manualSweeps: true,
  });
  await scheduler.start();
  await scheduler.idle();
  const good = (await vault.read('a')).current!;
  clock.advance(2 * H + 1); // due
  provider.answerDates.push({ expiresAt: expiry(clock.now()) });
  const t = clock.now();
  expect(scheduler.sweep()).toBe(1);
  await scheduler.idle();
  expect(scheduler.snapshot()[0]).toMatchObject({
    consecutiveFailures: 1,
    lastOutcome: 'failed',
    nextAttemptAt: t + DEFAULT_BACKOFF.initialMs,
  });
  expect(provider.issued[1]!.revoked).toBe(true);
  expect((await vault.read('a')).current).toEqual(good);
  // Sweeps inside the back-off issue nothing more.
  for (let i = 0; i < 5; i++) {
    clock.advance((DEFAULT_BACKOFF.initialMs - 1) / 5);
    scheduler.sweep();
    await scheduler.idle();
  }
  expect(provider.issueCalls).toBe(2);
  await scheduler.stop(1_000);
});
