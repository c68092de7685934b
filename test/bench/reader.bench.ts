/**
 * The library reader's get() throughput: cached gets (the common case: a program asking for its
 * credential on every request) and, for comparison, one file-vault read per get (what a reader
 * without a cache would cost). Run with `npm run bench`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, report } from './harness';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { openFileVault } from '../../src/vaults/file';
import { createSecretReader } from '../../src/distribute/reader';
import type { RotatorConfig } from '../../config/schema';
import type { VaultValue } from '../../src/types';
import { instrumentVault } from '../support/memory-vault';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-bench-reader-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`${report()}\n`);
});

test('reader.get(): cached vs a vault read per call', async () => {
  const path = join(dir, 'vault.json');
  const fileVault = await openFileVault({ path, clock: systemClock, log: silentLogger, env: {} });
  const now = Date.now();
  const value: VaultValue = {
    provider: 'bench',
    secretId: 's',
    credentials: { key: 'k'.repeat(40) },
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    providerRef: 'r',
    rotationId: 'r1',
  };
  await fileVault.putPending('s', value, 'r1');
  await fileVault.promote('s', 'r1', null);
  const { vault: counted, calls } = instrumentVault(fileVault);
  const config: RotatorConfig = {
    file: join(dir, 'rotator.config.yaml'),
    vault: { type: 'file', path, history: 5 },
    schedule: '* * * * *',
    concurrency: 1,
    shutdownTimeoutMs: 0,
    defaults: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 },
    secrets: [{ id: 's', provider: 'bench', credentials: {}, params: {}, outputs: [] }],
  };
  const reader = createSecretReader({ config, vault: counted });
  const cached = await bench('reader.get() (cached)', 1_000_000, () => reader.get('s'), {
    extra: () => ({ vaultReads: calls.read ?? 0 }),
  });
  await reader.close();
  const direct = await bench('file vault read() per call (no cache)', 2_000, () => fileVault.read('s'));
  await fileVault.close();
  expect(cached.ops).toBe(1_000_000);
  expect(direct.ops).toBe(2_000);
  expect(calls.read).toBe(1);
});
