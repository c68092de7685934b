import { createMetrics, instrumentProvider, instrumentVault, secretStateOf } from '../../src/metrics';
import { Scheduler, type SecretSchedule } from '../../src/scheduler';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { RotatorError } from '../../src/errors';
import { MemoryVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';

const H = 3_600_000;
const once = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };

/** A daemon in miniature: scheduler, instrumented vault and provider, metrics wired as service.ts would. */
function setup() {
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const metrics = createMetrics({ clock, version: '9.9.9', defaultMetrics: false });
  const fake = new FakeProvider({ lifetimeMs: 12 * H });
  fake.issueFailures = [new RotatorError('PROVIDER_UNAVAILABLE', 'bad gateway', { retryable: true, details: { status: 502 } })];
  const provider = instrumentProvider(fake, metrics);
  const vault = instrumentVault(new MemoryVault(clock), metrics);
  const scheduler = new Scheduler({
    targets: [{ secretId: 'api', provider, policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 } }],
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
    onAttempt: (entry, result, error) => metrics.recordAttempt(entry, result, error),
  });
  metrics.bindSource({ snapshot: () => scheduler.snapshot(), providerOf: () => 'fake' });
  return { clock, metrics, fake, scheduler };
}

test('a failed then a successful rotation shows in every family; nothing secret in the text', async () => {
  const { clock, metrics, fake, scheduler } = setup();
  await scheduler.start(); // fails with 502
  await scheduler.idle();
  let text = await metrics.render();
  expect(text).toMatch(/^rotator_build_info\{version="9\.9\.9",node="v[\d.]+"\} 1$/m);
  expect(text).toMatch(/^rotator_provider_requests_total\{provider="fake",operation="issue",code="502"\} 1$/m);
  expect(text).toMatch(/^rotator_secret_consecutive_failures\{secret="api",provider="fake"\} 1$/m);
  expect(text).toMatch(/^rotator_secret_state\{secret="api",provider="fake",state="missing"\} 1$/m);
  expect(text).not.toMatch(/^rotator_secret_last_success_timestamp_seconds\{/m);
  expect(text).not.toMatch(/^rotator_secret_expiry_timestamp_seconds\{/m);

  clock.set(scheduler.snapshot()[0]!.nextAttemptAt);
  scheduler.sweep();
  await scheduler.idle();
  text = await metrics.render();
  const seconds = Math.floor(clock.now() / 1000);
  expect(text).toMatch(/^rotator_provider_requests_total\{provider="fake",operation="issue",code="ok"\} 1$/m);
  expect(text).toMatch(/^rotator_provider_requests_total\{provider="fake",operation="verify",code="ok"\} 1$/m);
  expect(text).toMatch(/^rotator_vault_requests_total\{operation="promote",result="ok"\} 1$/m);
  expect(text).toContain(`rotator_secret_last_success_timestamp_seconds{secret="api",provider="fake"} ${seconds}`);
  expect(text).toContain(`rotator_secret_expiry_timestamp_seconds{secret="api",provider="fake"} ${seconds + 12 * 3600}`);
  expect(text).toMatch(/^rotator_secret_state\{secret="api",provider="fake",state="ok"\} 1$/m);
  expect(text).toMatch(/^rotator_secret_state\{secret="api",provider="fake",state="failing"\} 0$/m);
  expect(text).toMatch(/^rotator_rotations_total\{secret="api",provider="fake",result="failed"\} 1$/m);
  expect(text).toMatch(/^rotator_rotations_total\{secret="api",provider="fake",result="rotated"\} 1$/m);
  expect(text).toMatch(/^rotator_rotation_duration_seconds_count\{provider="fake",result="rotated"\} 1$/m);
  expect(text).toMatch(/^rotator_rotation_duration_seconds_count\{provider="fake",result="failed"\} 1$/m);
  for (const s of fake.issued) expect(text).not.toContain(s.value);
  await scheduler.stop(1000);
});

test('a distribution failure is counted; label values are escaped by prom-client', async () => {
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const metrics = createMetrics({ clock, defaultMetrics: false });
  const entry: SecretSchedule = {
    secretId: 'we"ird\\id',
    nextAttemptAt: 0,
    consecutiveFailures: 0,
    running: false,
    outcomes: {},
  };
  metrics.bindSource({ snapshot: () => [entry], providerOf: () => 'p' });
  metrics.recordAttempt(
    entry,
    { secretId: entry.secretId, outcome: 'rotated', distributionError: 'DISTRIBUTION: hook exited 1' },
    undefined,
  );
  const text = await metrics.render();
  expect(text).toContain('rotator_distribution_failures_total{secret="we\\"ird\\\\id"} 1');
  // Never scheduled: no next renewal series.
  expect(text).not.toMatch(/^rotator_secret_next_renewal_timestamp_seconds\{/m);
});

test('the vault wrapper counts errors and keeps absent optional methods absent', async () => {
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const metrics = createMetrics({ clock, defaultMetrics: false });
  const inner = new MemoryVault(clock);
  const vault = instrumentVault(inner, metrics);
  expect('readMany' in vault).toBe('readMany' in inner);
  expect((vault as { updateMeta?: unknown }).updateMeta === undefined).toBe(
    (inner as { updateMeta?: unknown }).updateMeta === undefined,
  );
  await expect(vault.promote('nope', 'r-x', null)).rejects.toThrow();
  expect(await metrics.render()).toMatch(/^rotator_vault_requests_total\{operation="promote",result="error"\} 1$/m);
});

describe('secretStateOf', () => {
  const T = 1_000 * H;
  const cur = { issuedAt: T - 10 * H, expiresAt: T + 10 * H, rotationId: 'r' };
  const e = (over: Partial<SecretSchedule>): SecretSchedule => ({
    secretId: 's',
    nextAttemptAt: 0,
    consecutiveFailures: 0,
    running: false,
    outcomes: {},
    current: cur,
    ...over,
  });
  test.each<[string, string, SecretSchedule, number, boolean]>([
    ['no credential', 'missing', e({ current: undefined }), T, false],
    ['past expiry, even when paused', 'expired', e({}), T + 10 * H, true],
    ['paused', 'paused', e({}), T, true],
    ['running', 'renewing', e({ running: true, consecutiveFailures: 2 }), T, false],
    ['failed attempts', 'failing', e({ consecutiveFailures: 2 }), T, false],
    ['inside the emergency margin (5% of 20 h = 1 h)', 'expiring', e({}), T + 9.5 * H, false],
    ['healthy', 'ok', e({}), T, false],
  ])('%s → %s', (_n, expected, entry, now, paused) => expect(secretStateOf(entry, now, paused)).toBe(expected));
});

test('providers of one type share the counting wrapper but each call reaches its own provider', async () => {
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const metrics = createMetrics({ clock, defaultMetrics: false });
  const fakes = [new FakeProvider({ lifetimeMs: H }), new FakeProvider({ lifetimeMs: H })];
  const [a, b] = fakes.map((f) => instrumentProvider(f, metrics));
  fakes[1]!.issueFailures = [new RotatorError('PROVIDER_UNAVAILABLE', 'bad gateway', { details: { status: 502 } })];
  const ctx = { clock, log: silentLogger, secretId: 's', rotationId: 'r' };
  await a!.issue(ctx);
  await expect(b!.issue(ctx)).rejects.toThrow('bad gateway');
  await b!.issue(ctx);
  expect(fakes.map((f) => f.issued.length)).toEqual([1, 1]);
  const text = await metrics.render();
  expect(text).toMatch(/^rotator_provider_requests_total\{provider="fake",operation="issue",code="ok"\} 2$/m);
  expect(text).toMatch(/^rotator_provider_requests_total\{provider="fake",operation="issue",code="502"\} 1$/m);
});
