/**
 * Secrets Manager requests per rotation with the AWS vault, by operation, over loopback HTTP with
 * the real SDK (the Secrets Manager emulator and the NCP STS emulator in this process):
 * - a long-running replica (`rotator run`): one vault instance, many rotations;
 * - a one-off `rotator rotate`: a fresh vault instance per rotation (nothing cached);
 * - the vault calls alone (read + putPending + promote, no lease) for comparison.
 * Run with `npm run bench`; the figures are printed, never asserted against a time.
 */
import { bench, report } from './harness';
import { FastForwardClock, systemClock } from '../../src/clock';
import { FakeProvider } from '../support/fake-provider';
import { silentLogger } from '../../src/log';
import { rotateSecret } from '../../src/rotate';
import { ncpSts } from '../../providers/ncp-sts';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { openAwsSecretsManagerVault, type AwsSecretsManagerVault } from '../../src/vaults/aws';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';
import type { VaultValue } from '../../src/types';

const CREDENTIALS = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' };
let sm: SecretsManagerEmulator;
let ncp: NcpStsEmulator;

beforeAll(async () => {
  sm = await startSecretsManagerEmulator({
    credentials: { [CREDENTIALS.accessKeyId]: CREDENTIALS.secretAccessKey },
    maxVersions: 100_000,
  });
  ncp = await startNcpStsEmulator({ accounts: [generateAccount()] });
});
afterAll(async () => {
  await Promise.all([sm.close(), ncp.close()]);
  process.stdout.write(`${report()}\n`);
});

const openVault = () =>
  openAwsSecretsManagerVault(
    { region: 'us-east-1', endpoint: sm.url, prefix: 'bench/', tags: {} },
    { clock: systemClock, log: silentLogger, credentials: CREDENTIALS },
  );

function target(id: string) {
  const account = ncp.accounts[0]!;
  const provider = ncpSts.create(
    {
      id,
      credentials: { accessKey: account.accessKey, secretKey: account.secretKey },
      params: { durationSec: 3600, endpoint: ncp.url },
    },
    { log: silentLogger, clock: systemClock },
  );
  return { secretId: id, provider, policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0.1 } };
}

/** Requests per rotation by operation, as `Op=n.nn` pairs, from emulator counts before/after. */
function perRotation(before: Record<string, number>, n: number): Record<string, string> {
  const after = sm.counts();
  const out: Record<string, string> = {};
  let total = 0;
  for (const op of Object.keys(after).sort()) {
    const d = after[op]! - (before[op] ?? 0);
    if (d === 0) continue;
    total += d;
    out[op] = (d / n).toFixed(2);
  }
  out.smRequestsPerRotation = (total / n).toFixed(2);
  return out;
}

test('rotateSecret, long-running replica (one vault instance): SM requests per rotation', async () => {
  const vault = openVault();
  const deps = { vault, clock: systemClock, log: silentLogger, owner: 'bench-replica' };
  const t = target('warm');
  await rotateSecret(t, deps); // first rotation creates the secrets
  const before = sm.counts();
  let n = 0;
  const r = await bench(
    'rotateSecret, AWS vault, warm instance',
    100,
    async () => {
      const res = await rotateSecret(t, deps);
      if (res.outcome !== 'rotated') throw new Error(res.outcome);
      n++;
    },
    { warmup: 0, extra: () => perRotation(before, n) },
  );
  await vault.close();
  expect(r.ops).toBe(100);
});

test('rotateSecret, one-off `rotator rotate` (fresh vault instance each time): SM requests per rotation', async () => {
  const warm = openVault();
  await rotateSecret(target('cold'), { vault: warm, clock: systemClock, log: silentLogger, owner: 'bench-setup' });
  await warm.close();
  const before = sm.counts();
  let n = 0;
  const vaults: AwsSecretsManagerVault[] = [];
  const r = await bench(
    'rotateSecret, AWS vault, fresh instance',
    50,
    async () => {
      const vault = openVault();
      vaults.push(vault);
      const res = await rotateSecret(target('cold'), { vault, clock: systemClock, log: silentLogger, owner: `bench-${n}` });
      if (res.outcome !== 'rotated') throw new Error(res.outcome);
      n++;
      await vault.close();
    },
    { warmup: 0, extra: () => perRotation(before, n) },
  );
  expect(r.ops).toBe(50);
});

test('vault calls alone: read + putPending + promote (no lease), warm instance', async () => {
  const vault = openVault();
  const value = (id: string): VaultValue => ({
    provider: 'bench',
    secretId: 'k',
    credentials: { a: 'x'.repeat(40) },
    issuedAt: '2026-01-01T00:00:00Z',
    expiresAt: '2026-01-02T00:00:00Z',
    providerRef: id,
    rotationId: id,
  });
  const id = (i: number) => `00000000-0000-4000-8000-${String(i + 1000).padStart(12, '0')}`;
  await vault.putPending('calls', value(id(-1)), id(-1));
  await vault.promote('calls', id(-1), null);
  const before = sm.counts();
  let n = 0;
  const r = await bench(
    'AWS vault read+putPending+promote',
    200,
    async (i) => {
      const current = (await vault.read('calls')).current?.versionId ?? null;
      await vault.putPending('calls', value(id(i)), id(i));
      await vault.promote('calls', id(i), current);
      n++;
    },
    { warmup: 0, extra: () => perRotation(before, n) },
  );
  await vault.close();
  expect(r.ops).toBe(200);
});

test('scheduled checks (`rotator run`, ifDue): a due rotation, and a check with nothing due', async () => {
  const vault = openVault();
  // An in-process provider (no signatures), so time can jump: each credential is due when checked.
  const clock = new FastForwardClock();
  const provider = new FakeProvider({ lifetimeMs: 3_600_000 });
  const t = {
    secretId: 'scheduled',
    provider,
    policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
  };
  const deps = { vault, clock, log: silentLogger, owner: 'bench-scheduler' };
  await rotateSecret(t, deps);
  let before = sm.counts();
  let n = 0;
  await bench(
    'scheduled rotation (due), AWS vault, warm instance',
    100,
    async () => {
      await clock.sleep(2_500_000); // past 2/3 of the lifetime
      const res = await rotateSecret(t, deps, { ifDue: true });
      if (res.outcome !== 'rotated') throw new Error(res.outcome);
      n++;
    },
    { warmup: 0, extra: () => perRotation(before, n) },
  );
  before = sm.counts();
  n = 0;
  const r = await bench(
    'scheduled check, nothing due, AWS vault',
    200,
    async () => {
      const res = await rotateSecret(t, deps, { ifDue: true });
      if (res.outcome !== 'not-due') throw new Error(res.outcome);
      n++;
    },
    { warmup: 0, extra: () => perRotation(before, n) },
  );
  await vault.close();
  expect(r.ops).toBe(200);
});
