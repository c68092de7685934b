/**
 * The library reader (createSecretReader) against an in-memory vault wrapped to count and fail
 * reads, with a ManualClock: cache hits make no vault read, one read per refresh however many
 * `get`s, refresh at the renewal time and again until the rotation shows up, stale serving while
 * the vault is down, and an explicit error once the cached credential has expired.
 */
import { createSecretReader, nextRefreshAt, UNSERVABLE_READ_INTERVAL_MS } from '../../src/distribute/reader';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { RotatorError } from '../../src/errors';
import type { Logger, VaultValue } from '../../src/types';
import type { RotatorConfig } from '../../config/schema';
import { MemoryVault, instrumentVault } from '../support/memory-vault';

const T0 = Date.UTC(2026, 10, 22);
const HOUR = 3_600_000;

const config: RotatorConfig = {
  file: '/nowhere/rotator.config.yaml',
  vault: { type: 'file', path: '/nowhere/vault.json', history: 5 },
  schedule: '* * * * *',
  concurrency: 1,
  shutdownTimeoutMs: 0,
  defaults: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 },
  secrets: [{ id: 's', provider: 'fake', credentials: {}, params: {}, outputs: [] }],
};

function value(n: number, issuedAt: number, lifetimeMs = 3 * HOUR): VaultValue {
  return {
    provider: 'fake',
    secretId: 's',
    credentials: { key: `key-${n}-xxxxxxxx` },
    issuedAt: new Date(issuedAt).toISOString(),
    expiresAt: new Date(issuedAt + lifetimeMs).toISOString(),
    providerRef: `ref-${n}`,
    rotationId: `rot-${n}`,
  };
}

function logs() {
  const lines: { level: string; msg: string; obj: any }[] = [];
  const log: Logger = {
    debug: (obj, msg = '') => lines.push({ level: 'debug', msg, obj }),
    info: (obj, msg = '') => lines.push({ level: 'info', msg, obj }),
    warn: (obj, msg = '') => lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg = '') => lines.push({ level: 'error', msg, obj }),
    child: () => log,
  };
  return { log, lines };
}

/** Lets promise chains and the background loop run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

let clock: ManualClock;
let memory: MemoryVault;
let current: string | null;

async function promote(v: VaultValue): Promise<void> {
  await memory.putPending('s', v, v.rotationId);
  await memory.promote('s', v.rotationId, current);
  current = v.rotationId;
}

beforeEach(() => {
  clock = new ManualClock(T0);
  memory = new MemoryVault(clock);
  current = null;
});

test('10,000 gets: one vault read per refresh, refreshes at maxAge and at the renewal time', async () => {
  await promote(value(1, T0));
  const { vault, calls } = instrumentVault(memory);
  const reader = createSecretReader({ config, clock, vault, maxAgeMs: 10 * 60_000 });
  // 1,000 concurrent gets on a cold cache share one read.
  const first = await Promise.all(Array.from({ length: 1_000 }, () => reader.get('s')));
  expect(new Set(first.map((v) => v.rotationId))).toEqual(new Set(['rot-1']));
  expect(calls.read).toBe(1);
  // 12 refresh periods of 10 minutes (renewal of a 3 h credential at 2 h = the 12th), 9,000 more gets over them.
  for (let cycle = 1; cycle <= 12; cycle++) {
    for (let i = 0; i < 750; i++) await reader.get('s');
    clock.advance(10 * 60_000);
    await settle();
  }
  const stats = reader.stats();
  expect(stats.gets).toBe(10_000);
  expect(calls.read).toBe(stats.refreshes);
  expect(stats.refreshes).toBe(13);
  console.log(`reader: ${stats.gets} gets, ${stats.refreshes} refreshes, ${calls.read} vault reads (1 read per refresh)`);
  // The renewal time has passed and no rotation showed up: re-read every retryMs (30 s).
  clock.advance(30_000);
  await settle();
  expect(calls.read).toBe(14);
  await promote(value(2, clock.now()));
  clock.advance(30_000);
  await settle();
  expect((await reader.get('s')).rotationId).toBe('rot-2');
  expect(calls.read).toBe(reader.stats().refreshes);
  await reader.close();
  expect(clock.pendingSleeps).toBe(0);
});

test('the next refresh: the renewal time, capped by maxAge; after it, retryMs', () => {
  const v = value(1, T0); // renews at T0 + 2h (1/3 of 3h left, jitter 0)
  const secret = config.secrets[0]!;
  expect(nextRefreshAt(v, secret, config, T0, 5 * 60_000, 30_000)).toBe(T0 + 5 * 60_000);
  expect(nextRefreshAt(v, secret, config, T0 + 2 * HOUR - 60_000, 5 * 60_000, 30_000)).toBe(T0 + 2 * HOUR);
  expect(nextRefreshAt(v, secret, config, T0 + 2 * HOUR, 5 * 60_000, 30_000)).toBe(T0 + 2 * HOUR + 30_000);
});

test('concurrent gets during a slow refresh share one vault read', async () => {
  await promote(value(1, T0));
  const { vault, calls, before } = instrumentVault(memory);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  before.read = () => gate;
  const reader = createSecretReader({ config, clock, vault });
  const all = Promise.all(Array.from({ length: 100 }, () => reader.get('s')));
  await settle();
  expect(calls.read).toBe(1);
  release();
  expect((await all).every((v) => v.rotationId === 'rot-1')).toBe(true);
  expect(calls.read).toBe(1);
  await reader.close();
});

test('vault down: the cached credential is served with a warning until it expires, then an explicit error', async () => {
  await promote(value(1, T0, HOUR));
  const { vault, calls, before } = instrumentVault(memory);
  const { log, lines } = logs();
  const reader = createSecretReader({ config, clock, vault, log });
  expect((await reader.get('s')).rotationId).toBe('rot-1');
  before.read = () => {
    throw new RotatorError('VAULT_UNAVAILABLE', 'connection refused', { retryable: true });
  };
  clock.advance(50 * 60_000); // past the renewal time (40 min), before expiry (60 min)
  await settle();
  const readsWhileDown = calls.read;
  expect(readsWhileDown).toBeGreaterThan(1);
  expect((await reader.get('s')).rotationId).toBe('rot-1');
  const warning = lines.find((l) => l.level === 'warn' && /serving the cached credential/.test(l.msg));
  expect(warning?.obj).toMatchObject({ secretId: 's', expiresAt: value(1, T0, HOUR).expiresAt });
  expect(JSON.stringify(lines)).not.toContain('key-1-');

  clock.advance(10 * 60_000); // now expired
  await settle();
  const failure = reader.get('s');
  await expect(failure).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
  await expect(failure).rejects.toThrow(
    /cannot read secret 's' from the vault \(VAULT_UNAVAILABLE: connection refused\) and the cached credential expired at 2026-11-22T01:00:00\.000Z/,
  );

  // While nothing valid can be served, a program calling get in a loop does not hammer the vault.
  const readsBeforeLoop = calls.read;
  for (let i = 0; i < 1000; i++) await expect(reader.get('s')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
  expect(calls.read! - readsBeforeLoop!).toBeLessThanOrEqual(1);

  before.read = undefined; // the vault is back, with a rotated credential
  await promote(value(2, clock.now(), HOUR));
  clock.advance(UNSERVABLE_READ_INTERVAL_MS); // noticed within a second
  expect((await reader.get('s')).rotationId).toBe('rot-2');
  await reader.close();
});

test('the vault readable but its credential expired (rotator down): an EXPIRED error, and the vault is not read at every get', async () => {
  await promote(value(1, T0, HOUR));
  const { vault, calls } = instrumentVault(memory);
  const reader = createSecretReader({ config, clock, vault, log: silentLogger });
  expect((await reader.get('s')).rotationId).toBe('rot-1');
  clock.advance(HOUR);
  await settle();
  const reads = calls.read;
  for (let i = 0; i < 1000; i++) {
    await expect(reader.get('s')).rejects.toMatchObject({
      code: 'EXPIRED',
      message: expect.stringMatching(/expired at 2026-11-22T01:00:00\.000Z/),
    });
  }
  expect(calls.read! - reads!).toBeLessThanOrEqual(1);
  await promote(value(2, clock.now(), HOUR));
  clock.advance(UNSERVABLE_READ_INTERVAL_MS);
  expect((await reader.get('s')).rotationId).toBe('rot-2');
  await reader.close();
});

test('nothing cached and the vault down: rejects; an unknown id or a closed reader says so', async () => {
  const { vault, before } = instrumentVault(memory);
  before.read = () => {
    throw new RotatorError('VAULT_UNAVAILABLE', 'down');
  };
  const reader = createSecretReader({ config, clock, vault });
  await expect(reader.get('s')).rejects.toThrow(/cannot read secret 's' from the vault .* and no credential is cached/);
  await expect(reader.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  await reader.close();
  await expect(reader.get('s')).rejects.toThrow(/closed/);
});

test('a secret never rotated: NOT_FOUND says how to fix it', async () => {
  const reader = createSecretReader({ config, clock, vault: memory });
  await expect(reader.get('s')).rejects.toThrow(/'s' has no current version in the vault yet \(run `rotator rotate s`\)/);
  await reader.close();
});
