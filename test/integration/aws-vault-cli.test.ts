/**
 * The CLI with the AWS Secrets Manager vault on the project's emulator (real SDK, real HTTP):
 * an interrupted rotation resumes without issuing again; throttling is retried; MongoDB's
 * rotation intents (tags) let the next run delete an orphan; `rotator sandbox` serves the
 * Secrets Manager emulator and says how to reach it.
 */
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { FastForwardClock, systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { openAwsSecretsManagerVault } from '../../src/vaults/aws';
import { resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { startNcpStsEmulator, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';
import { configDir, runCli } from '../support/cli';
import { createSecretReader } from '../../src/distribute/reader';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Daemon } from '../support/daemon';

const AWS = { AWS_ACCESS_KEY_ID: 'AKIDCLITEST', AWS_SECRET_ACCESS_KEY: 'cli-test-secret' };

describe('rotate with the AWS vault', () => {
  let ncp: NcpStsEmulator;
  let sm: SecretsManagerEmulator;
  let dir: Awaited<ReturnType<typeof configDir>>;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    ncp = await startNcpStsEmulator();
    sm = await startSecretsManagerEmulator({ credentials: { [AWS.AWS_ACCESS_KEY_ID]: AWS.AWS_SECRET_ACCESS_KEY } });
    dir = await configDir(`
vault: { type: aws-secrets-manager, region: us-east-1, endpoint: "${sm.url}" }
secrets:
  - id: app
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 900, endpoint: "${ncp.url}" }
`);
    env = {
      ROTATOR_CONFIG: dir.file,
      NCP_ACCESS_KEY: ncp.accounts[0]!.accessKey,
      NCP_SECRET_KEY: ncp.accounts[0]!.secretKey,
      ...AWS,
    };
  });
  afterEach(async () => {
    await Promise.all([ncp.close(), sm.close(), dir.cleanup()]);
  });

  const stages = () => Object.fromEntries(sm.versions('rotator/app')!.map((v) => [v.versionId, v.stages]));

  test('a rotation interrupted after the pending write completes on the next run without issuing again', async () => {
    await runCli(['rotate', 'app'], env);
    expect(ncp.issuedKeys()).toHaveLength(1);
    // Every promote call is refused until the engine's retries run out (sleeps fast-forwarded):
    // the run fails with the new credential stored as pending.
    sm.faults.push({ status: 400, type: 'AccessDeniedException', times: 100, operation: 'UpdateSecretVersionStage' });
    const interrupted = await runCli(['rotate', 'app'], env, new FastForwardClock());
    sm.faults.length = 0;
    expect(interrupted.code).toBe(1);
    expect(interrupted.stderr).toContain('secretsmanager:UpdateSecretVersionStage');
    expect(ncp.issuedKeys()).toHaveLength(2);
    const pending = Object.entries(stages()).find(([, s]) => s.includes('AWSPENDING'))?.[0];
    expect(pending).toBeDefined();

    const resumed = await runCli(['rotate', 'app'], env);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('app: resumed an interrupted rotation and promoted it');
    expect(ncp.issuedKeys()).toHaveLength(2); // nothing issued again
    // AWSPENDING stays beside AWSCURRENT (promote is one UpdateSecretVersionStage).
    expect([...stages()[pending!]!].sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect(Object.values(stages()).filter((l) => l.includes('AWSPENDING') && !l.includes('AWSCURRENT'))).toEqual([]);
    const current = JSON.parse((await runCli(['get', 'app'], env)).stdout);
    expect(current.credentials.accessKey).toBe(ncp.issuedKeys()[1]!.accessKey);
  });

  test('status reads the AWS vault; a throttled vault is retried by the engine', async () => {
    sm.faults.push({ status: 400, times: 2, operation: 'PutSecretValue' });
    const rotate = await runCli(['rotate', 'app'], env);
    expect(rotate.code).toBe(0);
    expect(sm.requests.filter((r) => r.error === 'ThrottlingException')).toHaveLength(2);
    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout);
    expect(status[0]).toMatchObject({ secretId: 'app', state: expect.not.stringMatching(/missing/) });
  });
  test('distribution reads the AWS vault: the library reader (one vault read for many gets) and a file output', async () => {
    const out = join(dir.dir, 'out', 'app.env');
    await writeFile(
      dir.file,
      (await readFile(dir.file, 'utf8')) + `    outputs: [ { type: file, path: ${JSON.stringify(out)}, format: env } ]\n`,
    );
    expect((await runCli(['rotate', 'app'], env)).code).toBe(0);
    const issued = ncp.issuedKeys()[0]!;
    expect(await readFile(out, 'utf8')).toContain(`NCLOUD_ACCESS_KEY=${issued.accessKey}`);
    expect((await stat(out)).mode & 0o777).toBe(0o600);

    const reader = createSecretReader({ config: dir.file, env });
    try {
      const before = sm.counts();
      const values = await Promise.all(Array.from({ length: 1000 }, () => reader.get('app')));
      expect(new Set(values.map((v) => v.credentials.accessKey))).toEqual(new Set([issued.accessKey]));
      expect(reader.stats()).toMatchObject({ refreshes: 1, gets: 1000 });
      const after = sm.counts();
      const smRequests = Object.keys(after).reduce((n, op) => n + (after[op]! - (before[op] ?? 0)), 0);
      // One vault read: DescribeSecret plus the staged values it names, never one per get.
      expect(smRequests).toBeLessThanOrEqual(3);
    } finally {
      await reader.close();
    }
  });
});

test('rotator sandbox serves the Secrets Manager emulator and prints the environment to reach it', async () => {
  const dir = await configDir('secrets: []\n');
  const d = new Daemon(['sandbox', '-c', dir.file], {});
  try {
    // Waits for the line (or the process's exit), however long start-up takes on a loaded machine.
    await new Promise<void>((resolve) => {
      const check = () => {
        if (/AWS_ENDPOINT_URL_SECRETS_MANAGER=\S+/.test(d.stdout) || d.child.exitCode !== null) {
          d.child.stdout!.off('data', check);
          d.child.off('exit', check);
          resolve();
        }
      };
      d.child.stdout!.on('data', check);
      d.child.on('exit', check);
      check();
    });
    const line =
      /AWS_ENDPOINT_URL_SECRETS_MANAGER=(\S+) AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) AWS_REGION=(\S+)/.exec(
        d.stdout,
      );
    expect(line).not.toBeNull();
    const [, endpoint, keyId, secret, region] = line!;
    // Any SDK client configured from that line works against it.
    const client = new SecretsManagerClient({
      endpoint,
      region,
      credentials: { accessKeyId: keyId!, secretAccessKey: secret! },
      maxAttempts: 1,
    });
    await client.send(new CreateSecretCommand({ Name: 'probe', SecretString: 'hello' }));
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'probe' }))).SecretString).toBe('hello');
    client.destroy();
  } finally {
    await d.kill();
    await dir.cleanup();
  }
});

describe('MongoDB secrets in the AWS vault: rotation intents', () => {
  test('an intent left by a rotation that died after issuing makes the next run delete the orphan', async () => {
    resetDigestPools();
    const key = generateApiKey();
    const org = generateOrgId();
    const clientId = generateClientId();
    const mcm = await startMcmEmulator({ apiKeys: [key] });
    const sm = await startSecretsManagerEmulator({ credentials: { [AWS.AWS_ACCESS_KEY_ID]: AWS.AWS_SECRET_ACCESS_KEY } });
    mcm.ensureServiceAccount({ orgId: org, clientId });
    const dir = await configDir(`
vault: { type: aws-secrets-manager, region: us-east-1, endpoint: "${sm.url}" }
secrets:
  - id: mongo-ci
    provider: mongodb-cloud-manager
    credentials: { publicKey: \${MCM_PUBLIC_KEY}, privateKey: \${MCM_PRIVATE_KEY} }
    params: { orgId: ${org}, clientId: ${clientId}, secretExpiresAfterHours: 72, baseUrl: ${mcm.url}/api/public/v1.0 }
`);
    const env = { ROTATOR_CONFIG: dir.file, MCM_PUBLIC_KEY: key.publicKey, MCM_PRIVATE_KEY: key.privateKey, ...AWS };
    try {
      expect((await runCli(['rotate', 'mongo-ci'], env)).code).toBe(0);
      const current = (await runCli(['get', 'mongo-ci', '--field', 'providerRef'], env)).stdout.trim();
      // What a rotation killed between the provider's answer and the pending write leaves:
      // its intent in the vault and a live secret the vault never got.
      const vault = openAwsSecretsManagerVault(
        { region: 'us-east-1', endpoint: sm.url, prefix: 'rotator/', tags: {} },
        {
          clock: systemClock,
          log: silentLogger,
          credentials: { accessKeyId: AWS.AWS_ACCESS_KEY_ID, secretAccessKey: AWS.AWS_SECRET_ACCESS_KEY },
        },
      );
      const lost = '00000000-0000-4000-8000-00000000dead';
      await vault.updateMeta('mongo-ci', {
        intent: { rotationId: lost, startedAt: new Date().toISOString(), liveBefore: [current] },
      });
      mcm.ensureServiceAccount({ orgId: org, clientId, secrets: [{ id: 'e'.repeat(24) }] });
      expect((await vault.read('mongo-ci')).intent?.rotationId).toBe(lost);
      await vault.close();

      const next = await runCli(['rotate', 'mongo-ci'], env);
      expect(next.code).toBe(0);
      const live = mcm.secretsOf(clientId).map((s) => s.id);
      expect(live).not.toContain('e'.repeat(24));
      expect(live).toContain(current);
      expect(live).toHaveLength(2);
      // Deleted as the interrupted rotation's orphan (not merely to make room), and logged so.
      const recovered = next.stderr
        .split('\n')
        .filter((l) => l.includes('deleted a secret that an interrupted rotation issued but never stored'));
      expect(recovered).toHaveLength(1);
      expect(recovered[0]).toContain('e'.repeat(24));
      expect(recovered[0]).toContain(lost);
      // The tags now hold the new rotation's own intent, not reported since it reached the vault.
      const after = openAwsSecretsManagerVault(
        { region: 'us-east-1', endpoint: sm.url, prefix: 'rotator/', tags: {} },
        {
          clock: systemClock,
          log: silentLogger,
          credentials: { accessKeyId: AWS.AWS_ACCESS_KEY_ID, secretAccessKey: AWS.AWS_SECRET_ACCESS_KEY },
        },
      );
      expect((await after.read('mongo-ci')).intent).toBeUndefined();
      await after.close();
    } finally {
      await Promise.all([mcm.close(), sm.close(), dir.cleanup()]);
    }
  });
});
