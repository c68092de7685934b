/**
 * Secrets Manager requests at the protocol minimum (issue 9), counted by the emulator over real
 * loopback HTTP through the real SDK: start-up state of many secrets (readMany), calls per
 * rotation (scheduled on a daemon's warm instance, one-off on a fresh one), and the versions a
 * secret keeps when it is rotated as often as AWS allows.
 */
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { AWS_VAULT_LIMITS, openAwsSecretsManagerVault, type AwsSecretsManagerVault } from '../../src/vaults/aws';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';
import { rotateSecret } from '../../src/rotate';
import { FakeProvider } from '../support/fake-provider';
import { sampleValue as sample } from '../vault-contract';

const CREDENTIALS = { accessKeyId: 'AKIDREQUESTCOUNTS', secretAccessKey: 'request-counts-secret' };
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

let clock: ManualClock;
let emu: SecretsManagerEmulator;
const opened: AwsSecretsManagerVault[] = [];

function open(): AwsSecretsManagerVault {
  const vault = openAwsSecretsManagerVault(
    { region: 'eu-central-1', endpoint: emu.url, prefix: 'rotator/', tags: {} },
    { clock, log: silentLogger, credentials: CREDENTIALS },
  );
  opened.push(vault);
  return vault;
}

beforeEach(async () => {
  clock = new ManualClock('2026-03-01T00:00:00Z');
  emu = await startSecretsManagerEmulator({ clock, credentials: { [CREDENTIALS.accessKeyId]: CREDENTIALS.secretAccessKey } });
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((v) => v.close()));
  await emu.close();
});

/** Emulator requests by operation made while `fn` runs. */
async function counted(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = emu.counts();
  await fn();
  const after = emu.counts();
  return Object.fromEntries(
    Object.entries(after)
      .map(([op, n]) => [op, n - (before[op] ?? 0)] as const)
      .filter(([, n]) => n !== 0),
  );
}
const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

const target = (provider: FakeProvider, secretId = 'app') => ({
  secretId,
  provider,
  policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
});

test('readMany of 50 secrets: one ListSecrets and 3 BatchGetSecretValue instead of 50 × (Describe + Get)', async () => {
  const N = 50;
  const keys = Array.from({ length: N }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
  const writer = open();
  for (const [i, key] of keys.entries()) {
    await writer.putPending(key, sample(uuid(i + 1)), uuid(i + 1));
    await writer.promote(key, uuid(i + 1), null);
  }
  await writer.updateMeta('svc-07', { revokedPrevious: 'AK-old' });

  // Each measured on a fresh instance (a daemon starting): no value is cached.
  const reader = open();
  const perKey = await counted(() => Promise.all(keys.map((k) => reader.read(k))));
  const fresh = open();
  let states = new Map();
  const many = await counted(async () => (states = await fresh.readMany([...keys, 'never-written'])));
  console.log(`start-up reads of ${N} secrets: read() each ${JSON.stringify(perKey)}; readMany ${JSON.stringify(many)}`);

  expect(perKey).toEqual({ DescribeSecret: N, GetSecretValue: N });
  expect(many).toEqual({ ListSecrets: 1, BatchGetSecretValue: Math.ceil(N / 20) });
  // Same state as read(), meta included.
  for (const key of keys) expect(states.get(key)).toEqual(await reader.read(key));
  expect(states.get('svc-07')).toMatchObject({ revokedPrevious: 'AK-old', current: { versionId: uuid(8) } });
  expect(states.get('never-written')).toEqual({});
});

test('calls per rotation: 4 scheduled (lease included, no release), 4 one-off on a warm instance, 7 on a fresh one', async () => {
  const provider = new FakeProvider();
  let n = 0;
  const deps = (vault: AwsSecretsManagerVault, owner: string) => ({
    vault,
    clock,
    log: silentLogger,
    owner,
    newRotationId: () => uuid(++n),
  });
  const daemon = open();
  await rotateSecret(target(provider), deps(daemon, 'host:1:aa'));
  clock.advance(3_600_000); // due again (FakeProvider credentials live an hour)

  // Before (aws2): scheduled = look-before-lease DescribeSecret + TagResource + DescribeSecret +
  // PutSecretValue + UpdateSecretVersionStage + UntagResource = 6.
  const scheduled = await counted(() => rotateSecret(target(provider), deps(daemon, 'host:1:aa'), { ifDue: true }));
  clock.advance(3_600_000);
  const oneOffWarm = await counted(() => rotateSecret(target(provider), deps(daemon, 'host:1:aa')));
  clock.advance(3_600_000);
  const oneOffFresh = await counted(() => rotateSecret(target(provider), deps(open(), 'host:2:bb')));
  console.log(
    `SM calls per rotation: scheduled ${total(scheduled)} ${JSON.stringify(scheduled)}; one-off warm ${total(oneOffWarm)} ` +
      `${JSON.stringify(oneOffWarm)}; one-off fresh ${total(oneOffFresh)} ${JSON.stringify(oneOffFresh)}`,
  );
  // The claim names the AWSCURRENT it was made over; the promotion moves AWSCURRENT, so the
  // claim lapses by itself and needs no UntagResource.
  expect(scheduled).toEqual({ TagResource: 1, DescribeSecret: 1, PutSecretValue: 1, UpdateSecretVersionStage: 1 });
  expect(oneOffWarm).toEqual(scheduled);
  // A fresh process (the CLI) also reads the current and previous values once each
  // (GetSecretValue; BatchGetSecretValue returns AWSCURRENT only) and, having seen no AWSCURRENT
  // before it claimed, releases its claim: 7 (the issue measured 8-9 before).
  expect(oneOffFresh).toEqual({ ...scheduled, GetSecretValue: 2, UntagResource: 1 });
  // Lapsed claims are not live: another owner takes the lease at once.
  expect(await open().acquireLease('app', 'host:3:cc', 60_000)).not.toBeNull();
});

describe('versions kept by a secret rotated as often as the vault allows', () => {
  async function rotateEvery(intervalMs: number, days: number) {
    const provider = new FakeProvider({ lifetimeMs: 2 * intervalMs });
    const vault = open();
    let n = 0;
    const deps = { vault, clock, log: silentLogger, owner: 'host:1:aa', newRotationId: () => uuid(++n) };
    let most = 0;
    let error: unknown;
    const rotations = (days * 86_400_000) / intervalMs;
    for (let i = 0; i < rotations && !error; i++) {
      await rotateSecret(target(provider), deps).catch((err: unknown) => (error = err));
      most = Math.max(most, emu.versions('rotator/app')!.length);
      clock.advance(intervalMs);
    }
    return {
      rotations: n,
      versionsPerRotation: emu.count('PutSecretValue') / n,
      most,
      error,
      hoursUntilError: error ? (n * intervalMs) / 3_600_000 : undefined,
    };
  }

  // 36 hours: past the first 24 h, where the oldest versions become deletable and the count
  // levels off. Many rotations through the engine: a generous timeout for a loaded machine.
  test('every 15 minutes (AWS_VAULT_LIMITS) for 36 hours: one version per rotation, never more than 100 kept', async () => {
    const run = await rotateEvery(AWS_VAULT_LIMITS.minRotationIntervalMs!, 1.5);
    console.log(`rotated every 15 min for 36 h: ${run.rotations} rotations, at most ${run.most} versions kept`);
    expect(run.error).toBeUndefined();
    expect(run.rotations).toBe(144);
    // Each rotation adds exactly one version (the lease and meta are tags, never versions).
    expect(run.versionsPerRotation).toBe(1);
    expect(run.most).toBeLessThanOrEqual(100);
  }, 180_000);

  test("every 10 minutes (AWS's own guidance) reaches the 100-version quota within a day", async () => {
    const run = await rotateEvery(10 * 60_000, 1);
    console.log(`rotated every 10 min: quota reached after ${run.rotations} rotations (${run.hoursUntilError} h)`);
    expect(run.error).toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    expect(run.hoursUntilError).toBeLessThan(24);
  }, 180_000);
});
