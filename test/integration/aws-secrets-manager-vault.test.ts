/**
 * The AWS Secrets Manager vault against the emulator over real loopback HTTP, through the real
 * @aws-sdk/client-secrets-manager client: the shared Vault contract, then what is specific to
 * AWS (names, tags, stages as AWS shows them, error mapping, request counts).
 */
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RotatorError } from '../../src/errors';
import { configDir, runCli } from '../support/cli';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import {
  AWS_VAULT_LIMITS,
  NO_CURRENT_VALUE,
  NO_CURRENT_VERSION_ID,
  openAwsSecretsManagerVault,
  type AwsSecretsManagerVault,
} from '../../src/vaults/aws';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';
import { describeVaultContract, sampleValue } from '../vault-contract';
import { FakeProvider } from '../support/fake-provider';
import { rotateSecret } from '../../src/rotate';
import { ownerIsDeadLocally, processOwnerId, processScope } from '../../src/owner';

const CREDENTIALS = { accessKeyId: 'AKIDCONTRACTTEST', secretAccessKey: 'contract-test-secret-key' };

function open(
  emu: SecretsManagerEmulator,
  clock: ManualClock,
  overrides: { prefix?: string; tags?: Record<string, string>; kmsKeyId?: string } = {},
) {
  return openAwsSecretsManagerVault(
    {
      region: 'eu-central-1',
      endpoint: emu.url,
      prefix: overrides.prefix ?? 'rotator/',
      tags: overrides.tags ?? {},
      ...(overrides.kmsKeyId ? { kmsKeyId: overrides.kmsKeyId } : {}),
    },
    { clock, log: silentLogger, credentials: CREDENTIALS },
  );
}

describeVaultContract('AwsSecretsManagerVault (emulator over HTTP, real SDK)', async () => {
  const clock = new ManualClock();
  const emu = await startSecretsManagerEmulator({
    clock,
    credentials: { [CREDENTIALS.accessKeyId]: CREDENTIALS.secretAccessKey },
  });
  return { vault: open(emu, clock), clock, cleanup: () => emu.close() };
});

describe('AwsSecretsManagerVault on AWS terms', () => {
  let clock: ManualClock;
  let emu: SecretsManagerEmulator;
  let vault: AwsSecretsManagerVault;
  beforeEach(async () => {
    clock = new ManualClock();
    emu = await startSecretsManagerEmulator({ clock, credentials: { [CREDENTIALS.accessKeyId]: CREDENTIALS.secretAccessKey } });
    vault = open(emu, clock, { tags: { team: 'platform' }, kmsKeyId: 'alias/rotator' });
  });
  afterEach(async () => {
    await vault.close();
    await emu.close();
  });

  async function rotate(key: string, id: string): Promise<void> {
    const current = (await vault.read(key)).current?.versionId ?? null;
    await vault.putPending(key, sampleValue(id), id);
    await vault.promote(key, id, current);
  }
  const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

  test('one secret per key named <prefix><key>, tagged as managed, the value is the JSON VaultValue', async () => {
    await rotate('app', uuid(1));
    expect(emu.secretNames()).toEqual(['rotator/app']);
    expect(emu.tags('rotator/app')).toEqual({ 'rotator:managed': 'true', 'rotator:provider': 'test', team: 'platform' });
    const [placeholder, version] = emu.versions('rotator/app')!;
    // The secret was created with the placeholder as its first version (AWS makes the first
    // version AWSCURRENT); the first promotion moved AWSCURRENT off it.
    expect(placeholder).toMatchObject({
      versionId: NO_CURRENT_VERSION_ID,
      stages: ['AWSPREVIOUS'],
      secretString: NO_CURRENT_VALUE,
    });
    // AWSPENDING stays on the promoted version (one UpdateSecretVersionStage per promotion).
    expect(version).toMatchObject({ versionId: uuid(1), stages: ['AWSPENDING', 'AWSCURRENT'] });
    expect(JSON.parse(version!.secretString!)).toEqual(sampleValue(uuid(1)));
  });

  test('AWS stages: AWSCURRENT on the new version, AWSPREVIOUS on the old one, AWSPENDING only beside AWSCURRENT', async () => {
    await rotate('app', uuid(1));
    await rotate('app', uuid(2));
    await rotate('app', uuid(3));
    const staged = Object.fromEntries(emu.versions('rotator/app')!.map((v) => [v.versionId, v.stages]));
    expect(staged).toEqual({
      [NO_CURRENT_VERSION_ID]: [],
      [uuid(1)]: [],
      [uuid(2)]: ['AWSPREVIOUS'],
      [uuid(3)]: ['AWSPENDING', 'AWSCURRENT'],
    });
    const state = await open(emu, clock).read('app');
    expect(state.current?.versionId).toBe(uuid(3));
    expect(state.pending).toBeUndefined(); // a version carrying both labels is read as current only
  });

  test('a pending version left by an interrupted run is read as pending (the engine resumes it)', async () => {
    await rotate('app', uuid(1));
    await vault.putPending('app', sampleValue(uuid(2)), uuid(2));
    const other = open(emu, clock);
    const state = await other.read('app');
    expect(state.pending?.versionId).toBe(uuid(2));
    expect(state.pending?.value).toEqual(sampleValue(uuid(2)));
    await other.promote('app', uuid(2), uuid(1));
    expect((await vault.read('app')).current?.versionId).toBe(uuid(2));
    await other.close();
  });

  test('request counts on the hot path: warm instance, read + putPending + promote', async () => {
    await rotate('app', uuid(1));
    const before = vault.requestCounts();
    await rotate('app', uuid(2));
    const after = vault.requestCounts();
    const delta = Object.fromEntries(
      Object.entries(after)
        .map(([op, n]) => [op, n - (before[op] ?? 0)])
        .filter(([, n]) => n !== 0),
    );
    // DescribeSecret (values are cached), PutSecretValue, 1 UpdateSecretVersionStage (the CAS).
    expect(delta).toEqual({ DescribeSecret: 1, PutSecretValue: 1, UpdateSecretVersionStage: 1 });
  });

  test('the engine on a warm instance: 4 requests per rotation, by operation, and no version for the lease', async () => {
    const provider = new FakeProvider();
    const target = {
      secretId: 'app',
      provider,
      policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
    };
    let n = 0;
    const deps = { vault, clock, log: silentLogger, owner: 'host:1:aa', newRotationId: () => uuid(++n) };
    await rotateSecret(target, deps);
    const before = vault.requestCounts();
    await rotateSecret(target, deps);
    const after = vault.requestCounts();
    const delta = Object.fromEntries(
      Object.entries(after)
        .map(([op, k]) => [op, k - (before[op] ?? 0)])
        .filter(([, k]) => k !== 0),
    );
    // Before (lease as a version chain of a companion secret, two UpdateSecretVersionStage):
    // { DescribeSecret: 1, PutSecretValue: 3, UpdateSecretVersionStage: 2 } = 6.
    // Now: lease claim (TagResource) + its check (DescribeSecret, reused as the read under the
    // lease; values cached), putPending (1 Put), lease renewal (none: 90% of the ttl left),
    // promote (1 Update: the AWSCURRENT CAS) = 4; no release: the claim names the AWSCURRENT it
    // was made over, and the promotion moved AWSCURRENT (aws2: UntagResource, 5).
    console.log(`SM requests per one-off rotation (warm instance): ${JSON.stringify(delta)}`);
    expect(delta).toEqual({
      TagResource: 1,
      DescribeSecret: 1,
      PutSecretValue: 1,
      UpdateSecretVersionStage: 1,
    });
    // The lease wrote no version: one per rotation (plus the placeholder), and no lease secret.
    expect(emu.versions('rotator/app')).toHaveLength(3);
    expect(emu.secretNames()).toEqual(['rotator/app']);
  });

  describe('the first credential is never current before it is verified (AWS makes a first version AWSCURRENT)', () => {
    const sdk = () =>
      new SecretsManagerClient({ region: 'eu-central-1', endpoint: emu.url, credentials: CREDENTIALS, maxAttempts: 1 });
    const target = (provider: FakeProvider) => ({
      secretId: 'app',
      provider,
      policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
    });

    async function failedFirstRotation(): Promise<{ provider: FakeProvider; seenByConsumers: unknown[] }> {
      const provider = new FakeProvider({ revocable: true });
      const consumer = open(emu, clock);
      const client = sdk();
      const seenByConsumers: unknown[] = [];
      // While the new credential is being verified: what a rotator reader and an AWS reader see.
      provider.onVerify = async () => {
        seenByConsumers.push((await consumer.read('app')).current ?? 'no current');
        seenByConsumers.push((await client.send(new GetSecretValueCommand({ SecretId: 'rotator/app' }))).SecretString);
      };
      provider.verifyFailures = [new RotatorError('VERIFY_FAILED', 'rejected by the test', { retryable: false })];
      const deps = { vault, clock, log: silentLogger, owner: 'host:1:aa', newRotationId: () => uuid(1) };
      const failed = await rotateSecret(target(provider), deps).then(
        (r) => r,
        (e: unknown) => e,
      );
      expect(failed).toMatchObject({ code: 'VERIFY_FAILED' });
      provider.onVerify = undefined;
      await consumer.close();
      client.destroy();
      return { provider, seenByConsumers };
    }

    test('a failed verification leaves no current: read, `rotator get`, the aws reader, and --if-due says due', async () => {
      const { provider, seenByConsumers } = await failedFirstRotation();
      expect(seenByConsumers).toEqual(['no current', NO_CURRENT_VALUE]);
      expect(provider.issued[0]!.revoked).toBe(true);

      const state = await open(emu, clock).read('app');
      // No version at all; only the failure, recorded durably (meta tags) for every process's back-off.
      expect(state).toEqual({ status: expect.objectContaining({ lastResult: 'failed', consecutiveFailures: 1 }) });
      expect(await vault.list()).toEqual([]);

      const dir = await configDir(`
vault: { type: aws-secrets-manager, region: eu-central-1, endpoint: "${emu.url}" }
secrets:
  - id: app
    provider: ncp-sts
    credentials: { accessKey: unused, secretKey: unused }
`);
      try {
        const got = await runCli(['get', 'app'], {
          ROTATOR_CONFIG: dir.file,
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        });
        expect(got.code).not.toBe(0);
        expect(got.stderr).toContain('no current version');
        expect(got.stdout).toBe('');
      } finally {
        await dir.cleanup();
      }

      // The next --if-due run after the recorded back-off rotates (there is no current), and the
      // verified credential becomes current.
      clock.advance(30_000);
      let n = 1;
      const deps = { vault, clock, log: silentLogger, owner: 'host:1:aa', newRotationId: () => uuid(++n) };
      expect(await rotateSecret(target(provider), deps, { ifDue: true })).toMatchObject({ outcome: 'rotated' });
      const after = await vault.read('app');
      expect(after.current?.value.providerRef).toBe(provider.issued[1]!.ref);
      expect(after.previous).toBeUndefined(); // AWSPREVIOUS is on the placeholder: not reported
      expect(Object.keys(after).sort()).toEqual(['current', 'status']);
      expect(after.status).toMatchObject({ lastResult: 'ok', consecutiveFailures: 0 });
    });

    test('a secret created by an older rotator (no version at all) gets the placeholder before its first credential', async () => {
      const client = sdk();
      await client.send(new CreateSecretCommand({ Name: 'rotator/app', Tags: [{ Key: 'rotator:managed', Value: 'true' }] }));
      const { seenByConsumers } = await failedFirstRotation().finally(() => client.destroy());
      expect(seenByConsumers).toEqual(['no current', NO_CURRENT_VALUE]);
      expect(await vault.read('app')).toEqual({ status: expect.objectContaining({ lastResult: 'failed' }) });
      await rotate('app', uuid(7));
      expect((await vault.read('app')).current?.versionId).toBe(uuid(7));
      expect((await open(emu, clock).read('app')).previous).toBeUndefined();
    });

    test('the same on a fresh instance that writes without reading first', async () => {
      const client = sdk();
      await client.send(new CreateSecretCommand({ Name: 'rotator/app', Tags: [{ Key: 'rotator:managed', Value: 'true' }] }));
      client.destroy();
      const cold = open(emu, clock);
      await cold.putPending('app', sampleValue(uuid(3)), uuid(3));
      expect(await open(emu, clock).read('app')).toEqual({ pending: expect.objectContaining({ versionId: uuid(3) }) });
      await cold.promote('app', uuid(3), null);
      expect((await vault.read('app')).current?.versionId).toBe(uuid(3));
      await cold.close();
    });

    test('promote(null) is still a compare-and-swap: refused once a real credential is current', async () => {
      await vault.putPending('app', sampleValue(uuid(1)), uuid(1));
      const other = open(emu, clock);
      await other.read('app');
      await vault.promote('app', uuid(1), null);
      await other.putPending('app', sampleValue(uuid(2)), uuid(2));
      await expect(other.promote('app', uuid(2), null)).rejects.toMatchObject({ code: 'VAULT_CONFLICT' });
      expect((await vault.read('app')).current?.versionId).toBe(uuid(1));
      await other.close();
    });
  });

  test('promote is one request; AWSPENDING left beside AWSCURRENT is read as current only and moved by the next putPending', async () => {
    await rotate('app', uuid(1));
    await vault.putPending('app', sampleValue(uuid(2)), uuid(2));
    const before = emu.count('UpdateSecretVersionStage');
    await vault.promote('app', uuid(2), uuid(1));
    expect(emu.count('UpdateSecretVersionStage') - before).toBe(1);
    const other = open(emu, clock);
    const state = await other.read('app');
    expect(state.current?.versionId).toBe(uuid(2));
    expect(state.previous?.versionId).toBe(uuid(1));
    expect(state.pending).toBeUndefined();
    // Promoting again (a retry) resolves; discarding it does not touch AWSCURRENT.
    await other.promote('app', uuid(2), uuid(1));
    await other.discardPending('app', uuid(2));
    expect((await other.read('app')).current?.versionId).toBe(uuid(2));
    // The next rotation moves AWSPENDING to its own version and completes normally.
    await other.putPending('app', sampleValue(uuid(3)), uuid(3));
    expect((await vault.read('app')).pending?.versionId).toBe(uuid(3));
    await vault.promote('app', uuid(3), uuid(2));
    const staged = Object.fromEntries(
      emu
        .versions('rotator/app')!
        .filter((v) => v.stages.length > 0)
        .map((v) => [v.versionId, v.stages]),
    );
    expect(staged).toEqual({ [uuid(2)]: ['AWSPREVIOUS'], [uuid(3)]: ['AWSPENDING', 'AWSCURRENT'] });
    await other.close();
  });

  describe('leases across vault instances (separate processes in production)', () => {
    const owner = (n: number) => `replica-${n}`;

    test('ten instances racing for one lease: never more than one holds it, and the lease costs no secret version', async () => {
      await rotate('app', uuid(1));
      const versions = emu.versions('rotator/app')!.length;
      const vaults = Array.from({ length: 10 }, () => open(emu, clock));
      const leases = await Promise.all(vaults.map((v, i) => v.acquireLease('app', owner(i), 60_000)));
      // Safety: never two. Liveness: racers are ranked, so one of them always holds.
      expect(leases.filter((l) => l !== null)).toHaveLength(1);
      expect(emu.versions('rotator/app')!.length).toBe(versions);
      expect(emu.secretNames()).toEqual(['rotator/app']);
      await Promise.all(leases.map((l) => l?.release()));
      // Released: no claim tag is left behind.
      expect(Object.keys(emu.tags('rotator/app')!).filter((k) => k.startsWith('rotator:lease:'))).toEqual([]);
      await Promise.all(vaults.map((v) => v.close()));
    });

    test('racing replicas never all back off: on every key exactly one of them takes the lease', async () => {
      // Before claims were ranked, racers that saw each other all withdrew and retried after a
      // random pause; when every round collided, nobody held the lease and each replica looked
      // again only a minute later (the aws-replicas test's unrotated secret).
      const keys = Array.from({ length: 12 }, (_, i) => `race-${i}`);
      const vaults = Array.from({ length: 4 }, () => open(emu, clock));
      // A remote service: a claim round takes longer than the random pause between rounds.
      emu.latencyMs = 100;
      const holders = await Promise.all(
        keys.map(async (key) => {
          const leases = await Promise.all(vaults.map((v, i) => v.acquireLease(key, owner(i), 60_000)));
          const held = leases.filter((l) => l !== null);
          await Promise.all(held.map((l) => l!.release()));
          return held.length;
        }),
      );
      expect(holders).toEqual(keys.map(() => 1));
      // Losers took their claims back and the holder released: no claim is left on any key.
      expect(keys.flatMap((k) => Object.keys(emu.tags(`rotator/${k}`)!).filter((t) => t.startsWith('rotator:lease:')))).toEqual(
        [],
      );
      await Promise.all(vaults.map((v) => v.close()));
    });

    test('a stale view of the chain never wins: release, take-over and re-acquire with out-of-date caches', async () => {
      const a = open(emu, clock);
      const b = open(emu, clock);
      const held = await a.acquireLease('app', owner(1), 60_000);
      expect(await b.acquireLease('app', owner(2), 60_000)).toBeNull();
      await held!.release();
      // b still believes a holds it; its write conflicts, it reads the head (released) and wins.
      const mine = await b.acquireLease('app', owner(2), 60_000);
      expect(mine).toMatchObject({ owner: owner(2) });
      // a believes its release is the head: its write conflicts, and b's lease stands.
      expect(await a.acquireLease('app', owner(1), 60_000)).toBeNull();
      await held!.release(); // idempotent, and does not touch b's lease
      expect(await open(emu, clock).acquireLease('app', owner(3), 60_000)).toBeNull();
      clock.advance(60_000);
      expect(await a.acquireLease('app', owner(1), 60_000)).toMatchObject({ owner: owner(1) });
      await Promise.all([a.close(), b.close()]);
    });

    test('the unexpired lease of an owner that is dead on this host is taken over', async () => {
      const dead = `${processScope()}:${2 ** 22 + 12345}:abcdef`;
      expect(ownerIsDeadLocally(dead)).toBe(true);
      const other = open(emu, clock);
      await other.acquireLease('app', dead, 600_000);
      expect(await vault.acquireLease('app', processOwnerId(), 600_000)).not.toBeNull();
      await other.close();
    });
  });

  test('throttling, 5xx and dropped connections are retryable VAULT_UNAVAILABLE; nothing secret in the message', async () => {
    await rotate('app', uuid(1));
    emu.faults.push({ status: 400, times: 1, operation: 'DescribeSecret' });
    await expect(vault.read('app')).rejects.toMatchObject({
      code: 'VAULT_UNAVAILABLE',
      retryable: true,
      message: expect.stringContaining('ThrottlingException'),
    });
    emu.faults.push({ status: 500, times: 1 });
    await expect(vault.read('app')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE', retryable: true });
    emu.dropConnections(1);
    const dropped = await vault
      .putPending('app', sampleValue(uuid(2), 'CANARY-secret-value-123'), uuid(2))
      .catch((e: Error) => e);
    expect(dropped).toMatchObject({ code: 'VAULT_UNAVAILABLE', retryable: true });
    expect(String((dropped as Error).message)).not.toContain('CANARY');
    // The retry of the same write is the idempotent no-op or the first write.
    await expect(vault.putPending('app', sampleValue(uuid(2), 'CANARY-secret-value-123'), uuid(2))).resolves.toMatchObject({
      stages: ['pending'],
    });
  });

  test('wrong credentials: a clear, non-retryable error naming the IAM actions', async () => {
    const bad = openAwsSecretsManagerVault(
      { region: 'eu-central-1', endpoint: emu.url, prefix: 'rotator/', tags: {} },
      { clock, log: silentLogger, credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'nope' } },
    );
    await expect(bad.read('app')).rejects.toMatchObject({
      code: 'VAULT_UNAVAILABLE',
      retryable: false,
      message: expect.stringContaining('secretsmanager:PutSecretValue'),
    });
    await bad.close();
  });

  test('an existing secret that rotator does not manage is refused, never overwritten', async () => {
    const client = new SecretsManagerClient({
      region: 'eu-central-1',
      endpoint: emu.url,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    await client.send(new CreateSecretCommand({ Name: 'rotator/handmade', SecretString: '{"not":"ours"}' }));
    client.destroy();
    await expect(vault.read('handmade')).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('not managed by rotator'),
    });
    expect(await vault.list()).toEqual([]);
  });

  test('intents are tags (updateMeta), returned by read, hidden once their rotation stored a version, cleared by rotation id', async () => {
    const intent = { rotationId: uuid(5), startedAt: new Date(clock.now()).toISOString(), liveBefore: ['a1b2c3', 'd4e5f6'] };
    await vault.updateMeta('app', { intent });
    expect((await vault.read('app')).intent).toEqual(intent);
    expect(await vault.list()).toEqual([]);
    await vault.updateMeta('app', { intent: null }, { intentRotationId: uuid(6) });
    expect((await vault.read('app')).intent).toEqual(intent);
    await vault.putPending('app', sampleValue(uuid(5)), uuid(5));
    expect((await vault.read('app')).intent).toBeUndefined();
    await vault.updateMeta('app', { intent: null }, { intentRotationId: uuid(5) });
    expect(Object.keys(emu.tags('rotator/app')!).filter((k) => k.startsWith('rotator:intent'))).toEqual([]);
  });

  test('list pages through ListSecrets (NextToken) and keeps only managed keys under the prefix', async () => {
    for (let i = 0; i < 105; i++) await vault.putPending(`k${String(i).padStart(3, '0')}`, sampleValue(uuid(i + 1)), uuid(i + 1));
    const keys = await vault.list();
    expect(keys).toHaveLength(105);
    expect(vault.requestCounts().ListSecrets).toBe(2);
    expect(await vault.list('k10')).toEqual(['k100', 'k101', 'k102', 'k103', 'k104']);
  });
});

test('the vault declares its limits as data: at most one rotation per secret per 15 minutes (the 100-version quota over 24 h)', async () => {
  const emu = await startSecretsManagerEmulator({ credentials: { [CREDENTIALS.accessKeyId]: CREDENTIALS.secretAccessKey } });
  const vault = open(emu, new ManualClock('2026-03-01T00:00:00Z'));
  try {
    expect(vault.limits).toEqual({ minRotationIntervalMs: 900_000 });
    expect(AWS_VAULT_LIMITS.minRotationIntervalMs).toBe(900_000);
  } finally {
    await vault.close();
    await emu.close();
  }
});
