/**
 * Throughput of the pieces on the rotation path: the renewal decision (pure), the file vault's
 * durable writes, and whole rotations against the NCP STS emulator over loopback HTTP with the
 * file vault. Run with `npm run bench`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, report } from './harness';
import { decideRenewal } from '../../src/renewal';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { openFileVault } from '../../src/vaults/file';
import { rotateSecret } from '../../src/rotate';
import { ncpSts } from '../../providers/ncp-sts';
import { startNcpStsEmulator, generateAccount } from '../../providers/ncp-sts/emulator';
import type { VaultValue } from '../../src/types';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-bench-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`${report()}\n`);
});

test('renewal decision (pure)', async () => {
  const policy = { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0.1 };
  const current = { issuedAt: 0, expiresAt: 3_600_000, rotationId: 'r' };
  const r = await bench('decideRenewal', 200_000, (i) => decideRenewal(i, `s${i & 1023}`, current, policy));
  expect(r.ops).toBe(200_000);
});

test('file vault: putPending + promote (2 durable writes)', async () => {
  const vault = await openFileVault({ path: join(dir, 'v1.json'), clock: systemClock, log: silentLogger, env: {} });
  let current: string | null = null;
  const value = (id: string): VaultValue => ({
    provider: 'bench',
    secretId: 'k',
    credentials: { a: 'x'.repeat(40) },
    issuedAt: '2026-01-01T00:00:00Z',
    expiresAt: '2026-01-02T00:00:00Z',
    providerRef: id,
    rotationId: id,
  });
  const r = await bench('file vault putPending+promote', 300, async (i) => {
    const id = `r-${i}-${Math.random()}`;
    await vault.putPending('k', value(id), id);
    await vault.promote('k', id, current);
    current = id;
  });
  await vault.close();
  expect(r.ops).toBe(300);
});

test('rotation end to end: NCP STS emulator (HTTP) + file vault', async () => {
  const account = generateAccount();
  const emu = await startNcpStsEmulator({ accounts: [account] });
  const vault = await openFileVault({ path: join(dir, 'v2.json'), clock: systemClock, log: silentLogger, env: {} });
  const provider = ncpSts.create(
    {
      id: 'bench',
      credentials: { accessKey: account.accessKey, secretKey: account.secretKey },
      params: { durationSec: 3600, endpoint: emu.url },
    },
    { log: silentLogger, clock: systemClock },
  );
  const target = {
    secretId: 'bench',
    provider,
    policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0.1 },
  };
  const deps = { vault, clock: systemClock, log: silentLogger, owner: 'bench' };
  const before = emu.count();
  let n = 0;
  const r = await bench(
    'rotateSecret (issue, pending, verify, promote)',
    200,
    async () => {
      n++;
      const res = await rotateSecret(target, deps);
      if (res.outcome !== 'rotated') throw new Error(res.outcome);
    },
    { extra: () => ({ httpRequestsPerRotation: ((emu.count() - before) / n).toFixed(2) }) },
  );
  await vault.close();
  await emu.close();
  expect(r.extra?.httpRequestsPerRotation).toBe('2.00');
});
