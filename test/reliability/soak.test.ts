import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastForwardClock } from '../../src/clock';
import type { RotatorError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import { DEFAULT_RETRY_POLICIES, rotateSecret } from '../../src/rotate';
import { openFileVault } from '../../src/vaults/file';
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { soak, soakLine } from './soak';

/**
 * CI runs a short soak; `npm run soak` the long one (SOAK_ROTATIONS=1000). Not a timing test:
 * the jest timeout below only stops a hung run.
 */
const rotations = Number(process.env.SOAK_ROTATIONS ?? 100);
const mostAttempts = Math.max(...Object.values(DEFAULT_RETRY_POLICIES).map((p) => p.attempts));

test(`fault soak: ${rotations} rotations over NCP STS and MongoDB × file vault and Secrets Manager, ~15% with injected 429/5xx/drops on providers and vaults, lose, orphan and leak nothing`, async () => {
  const figures = await soak({ rotations, secrets: 20, faultRate: 0.15, seed: Number(process.env.SOAK_SEED ?? 1) });
  process.stdout.write(`fault soak: ${soakLine(figures)}\n`);
  expect(figures.rotations).toBe(rotations);
  expect(figures.faultsInjected).toBeGreaterThan(rotations * 0.1);
  expect(figures.providerFaults).toBeGreaterThan(0);
  expect(figures.vaultFaults).toBeGreaterThan(0);
  expect(figures.faultsHit).toBeGreaterThan(rotations * 0.05); // most faults land on a call the rotation makes
  expect({ lost: figures.lost, orphaned: figures.orphaned, leaked: figures.leaked }).toEqual({ lost: 0, orphaned: 0, leaked: 0 });
  // Retries are bounded: no step tried more often than its policy allows, and no rotation
  // issued more often than the provider policy's attempts (each attempt issues at most once).
  expect(figures.attemptsOverPolicy).toBe(0);
  expect(figures.maxAttempts).toBeGreaterThan(1); // faults did make steps retry
  expect(figures.maxAttempts).toBeLessThanOrEqual(mostAttempts);
  expect(figures.maxIssueRequests).toBeLessThanOrEqual(DEFAULT_RETRY_POLICIES.provider.attempts);
}, 600_000);

test('over HTTP: MongoDB answering 429 with Retry-After: 3600 stops the rotation at once, naming step and endpoint; the current credential stays', async () => {
  const clock = new FastForwardClock();
  const log = memoryLogger();
  const key = generateApiKey();
  const orgId = generateOrgId();
  const clientId = generateClientId();
  const emu = await startMcmEmulator({ clock, apiKeys: [key], serviceAccounts: [{ orgId, clientId }] });
  const dir = await mkdtemp(join(tmpdir(), 'rotator-retry-after-'));
  try {
    const vault = await openFileVault({ path: join(dir, 'vault.json'), key: Buffer.alloc(32, 3), clock, log });
    const target = {
      secretId: 'mongo',
      policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
      provider: mongodbCloudManager.create(
        {
          id: 'mongo',
          credentials: mongodbCloudManager.credentialsSchema.parse({ publicKey: key.publicKey, privateKey: key.privateKey }),
          params: mongodbCloudManager.paramsSchema.parse({
            orgId,
            clientId,
            secretExpiresAfterHours: 72,
            baseUrl: `${emu.url}/api/public/v1.0`,
          }),
        },
        { log, clock },
      ),
    };
    const deps = { vault, clock, log, owner: 'retry-after-test' };
    await rotateSecret(target, deps);
    const before = (await vault.read('mongo')).current?.value.rotationId;
    emu.faults.push({ op: 'createSecret', status: 429, retryAfterSec: 3600, times: 10 });
    const start = clock.now();
    const err = (await rotateSecret(target, deps, { force: true }).catch((e: unknown) => e)) as RotatorError;
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.message).toMatch(
      /^issue \(\S*serviceAccounts\S*secrets\) stopped waiting: the service asked to retry after 3600 s/,
    );
    // Old code: four capped 60 s waits and five create requests.
    expect(clock.now() - start).toBeLessThan(60_000);
    expect(emu.count('createSecret')).toBe(2);
    const after = await vault.read('mongo');
    expect(after.current?.value.rotationId).toBe(before);
    expect(after.pending).toBeUndefined();
  } finally {
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
