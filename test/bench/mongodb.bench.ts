/**
 * Whole MongoDB rotations (list, create, pending write, verify = mint + revoke a token, promote,
 * and from the third on: delete to make room) against the emulator over loopback HTTP with the
 * file vault, plus the Digest cost per API request. Token requests are limited to 10 per minute
 * per client, so the rotations are spread over many service accounts (5 each). `npm run bench`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, report } from './harness';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { openFileVault } from '../../src/vaults/file';
import { rotateSecret } from '../../src/rotate';
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import { digestStats, resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-bench-mongo-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`${report()}\n`);
});

test('rotation end to end: MongoDB emulator (Digest + OAuth over HTTP) + file vault', async () => {
  const key = generateApiKey();
  const orgId = generateOrgId();
  const PER_ACCOUNT = 5;
  const COUNT = 150;
  const WARMUP = 10;
  const accounts = Array.from({ length: Math.ceil((COUNT + WARMUP) / PER_ACCOUNT) }, () => generateClientId());
  const emu = await startMcmEmulator({ apiKeys: [key], serviceAccounts: accounts.map((clientId) => ({ orgId, clientId })) });
  const vault = await openFileVault({ path: join(dir, 'v.json'), clock: systemClock, log: silentLogger, env: {} });
  resetDigestPools();
  const targets = accounts.map((clientId, i) => ({
    secretId: `mongo-${i}`,
    provider: mongodbCloudManager.create(
      {
        id: `mongo-${i}`,
        credentials: { publicKey: key.publicKey, privateKey: key.privateKey },
        params: mongodbCloudManager.paramsSchema.parse({
          orgId,
          clientId,
          secretExpiresAfterHours: 72,
          baseUrl: `${emu.url}/api/public/v1.0`,
        }),
      },
      { log: silentLogger, clock: systemClock },
    ),
    policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0.1 },
  }));
  const deps = { vault, clock: systemClock, log: silentLogger, owner: 'bench' };
  let n = 0;
  const beforeHttp = emu.count();
  const r = await bench(
    'MongoDB rotateSecret (list, create, pending, verify, promote)',
    COUNT,
    async () => {
      const target = targets[n % targets.length]!;
      n++;
      const res = await rotateSecret(target, deps);
      if (res.outcome !== 'rotated') throw new Error(res.outcome);
    },
    {
      warmup: WARMUP,
      extra: () => {
        const s = digestStats();
        return {
          httpRequestsPerRotation: ((emu.count() - beforeHttp) / n).toFixed(2),
          digestRoundTripsPerRequest: (s.roundTrips / s.requests).toFixed(3),
          digestClients: s.clients,
        };
      },
    },
  );
  await vault.close();
  await emu.close();
  expect(r.ops).toBe(COUNT);
  expect(emu.activeTokenCount()).toBe(0);
});
