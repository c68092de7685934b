import { Scheduler } from '../../src/scheduler';
import type { RotationTarget } from '../../src/rotate';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { RotatorError } from '../../src/errors';
import { secretStateOf } from '../../src/metrics';
import { MemoryVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';

const H = 3_600_000;
const once = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };

function setup(distribution: () => Promise<void>) {
  const clock = new ManualClock('2026-11-22T00:00:00Z');
  const vault = new MemoryVault(clock);
  const provider = new FakeProvider({ lifetimeMs: 3 * H });
  const targets: RotationTarget[] = [
    { secretId: 'a', provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 } },
  ];
  const scheduler = new Scheduler({
    targets,
    rotation: {
      vault,
      clock,
      log: silentLogger,
      owner: 'me',
      retry: { provider: once, verify: once, vaultRead: once, vaultWrite: once },
      onPromoted: distribution,
    },
    clock,
    log: silentLogger,
    schedule: '* * * * *',
    concurrency: 1,
    manualSweeps: true,
  });
  return { clock, vault, provider, scheduler };
}

describe('Scheduler: a distribution that exhausted its retries', () => {
  test('counts as a failure for the state word and metrics, and does not re-rotate', async () => {
    const s = setup(() => Promise.reject(new RotatorError('DISTRIBUTION', 'reload hook failed after 3 attempts')));
    await s.scheduler.start();
    await s.scheduler.idle();
    const [entry] = s.scheduler.snapshot();
    expect(entry!.consecutiveFailures).toBe(1);
    expect(entry!.lastError).toMatch(/reload hook failed/);
    expect(secretStateOf(entry!, s.clock.now())).toBe('failing');
    // The vault keeps the new credential; the next attempt is the renewal, not an immediate re-issue.
    expect((await s.vault.read('a')).current).toBeDefined();
    expect(entry!.nextAttemptAt).toBeGreaterThanOrEqual(s.clock.now() + H);
    s.scheduler.sweep();
    await s.scheduler.idle();
    expect(s.provider.issued).toHaveLength(1);
  });

  test('a successful distribution leaves the secret ok', async () => {
    const s = setup(() => Promise.resolve());
    await s.scheduler.start();
    await s.scheduler.idle();
    const [entry] = s.scheduler.snapshot();
    expect(entry!.consecutiveFailures).toBe(0);
    expect(secretStateOf(entry!, s.clock.now())).toBe('ok');
  });
});
