/**
 * Three `rotator run` processes share one AWS Secrets Manager vault (the emulator in this
 * process, reached through the real SDK) and 50 secrets that are all due at start. The lease
 * must make exactly one replica rotate each secret: one credential version per secret, and the
 * provider issued exactly 50 keys, each of them a vault current (no orphan).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, msg } from '../support/daemon';
import { startNcpStsEmulator, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';
import { NO_CURRENT_VERSION_ID } from '../../src/vaults/aws';

const SECRETS = 50;
const REPLICAS = 3;
const AWS = { AWS_ACCESS_KEY_ID: 'AKIDREPLICAS', AWS_SECRET_ACCESS_KEY: 'replicas-secret' };

let dir: string;
let ncp: NcpStsEmulator;
let sm: SecretsManagerEmulator;
const daemons: Daemon[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-replicas-'));
  ncp = await startNcpStsEmulator();
  sm = await startSecretsManagerEmulator({ credentials: { [AWS.AWS_ACCESS_KEY_ID]: AWS.AWS_SECRET_ACCESS_KEY } });
});
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.kill()));
  await Promise.all([ncp.close(), sm.close()]);
  await rm(dir, { recursive: true, force: true });
});

const ids = Array.from({ length: SECRETS }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
/** The credential versions of a secret: every version but rotator's placeholder first version. */
const credentialVersions = (id: string) => sm.versions(`rotator/${id}`)?.filter((v) => v.versionId !== NO_CURRENT_VERSION_ID);
const currentOf = (id: string) => credentialVersions(id)?.find((v) => v.stages.includes('AWSCURRENT'));

test(`${REPLICAS} replicas, one vault, ${SECRETS} due secrets: each rotated exactly once`, async () => {
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(
    config,
    [
      `vault: { type: aws-secrets-manager, region: us-east-1, endpoint: "${sm.url}" }`,
      'schedule: "* * * * * *"',
      'concurrency: 8',
      'secrets:',
      ...ids.flatMap((id) => [
        `  - id: ${id}`,
        '    provider: ncp-sts',
        '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
        `    params: { durationSec: 3600, endpoint: "${ncp.url}" }`,
      ]),
    ].join('\n'),
  );
  const env = {
    ROTATOR_CONFIG: config,
    NCP_ACCESS_KEY: ncp.accounts[0]!.accessKey,
    NCP_SECRET_KEY: ncp.accounts[0]!.secretKey,
    ...AWS,
    // Nothing from the machine's own AWS setup.
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  for (let i = 0; i < REPLICAS; i++) daemons.push(new Daemon(['run'], env));

  const deadline = Date.now() + 20_000;
  while (ids.some((id) => !currentOf(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(ids.filter((id) => !currentOf(id))).toEqual([]);
  // A few more sweeps: a replica that would wrongly rotate again has the chance to.
  await new Promise((r) => setTimeout(r, 2_000));
  for (const d of daemons) d.child.kill('SIGTERM');
  const exits = await Promise.all(daemons.map((d) => d.exited));
  expect(exits).toEqual(daemons.map(() => ({ code: 0, signal: null })));

  const versionsPerSecret = ids.map((id) => credentialVersions(id)!.length);
  expect(versionsPerSecret).toEqual(ids.map(() => 1));
  // Besides the credential, only the placeholder each secret was created with (now AWSPREVIOUS).
  expect(ids.map((id) => sm.versions(`rotator/${id}`)!.length)).toEqual(ids.map(() => 2));
  const issued = ncp.issuedKeys().map((k) => k.accessKey);
  expect(issued).toHaveLength(SECRETS);
  const currents = new Set(ids.map((id) => JSON.parse(currentOf(id)!.secretString!).credentials.accessKey as string));
  expect(issued.filter((k) => !currents.has(k))).toEqual([]);
  // AWSPENDING is left only beside AWSCURRENT (promote is one UpdateSecretVersionStage).
  expect(
    ids.flatMap((id) =>
      sm.versions(`rotator/${id}`)!.filter((v) => v.stages.includes('AWSPENDING') && !v.stages.includes('AWSCURRENT')),
    ),
  ).toEqual([]);
  // Leases are claim tags: no lease secret, and no live claim left behind. A claim names the
  // AWSCURRENT it was made over; the holder's promotion moved AWSCURRENT, so its claim lapsed
  // without an UntagResource, and losers took theirs back.
  expect(sm.secretNames().filter((n) => n.includes('.lease/'))).toEqual([]);
  const liveClaims = ids.flatMap((id) =>
    Object.entries(sm.tags(`rotator/${id}`)!)
      .filter(([k]) => k.startsWith('rotator:lease:'))
      .map(([, v]) => JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) as { over?: string })
      .filter((claim) => claim.over === undefined || claim.over === currentOf(id)!.versionId)
      .map(() => id),
  );
  expect(liveClaims).toEqual([]);

  const promotedBy = daemons.map((d) => d.count(msg('promoted')));
  expect(promotedBy.reduce((a, b) => a + b, 0)).toBe(SECRETS);
  const leaseConflicts = daemons.reduce((n, d) => n + d.count(msg('another process holds the lease; skipping')), 0);
  const counts = sm.counts();
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const leaseVersions = ids.reduce((n, id) => n + (sm.versions(`rotator/.lease/${id}`)?.length ?? 0), 0);
  console.log(
    `replicas=${REPLICAS} secrets=${SECRETS} credentialVersions=${versionsPerSecret.reduce((a, b) => a + b, 0)} ` +
      `issued=${issued.length} orphans=0 promotedByReplica=${promotedBy.join('/')} leaseConflicts=${leaseConflicts} ` +
      `leaseVersions=${leaseVersions} smRequests=${total} (${(total / SECRETS).toFixed(1)}/secret, incl. ${REPLICAS}×${SECRETS} start-up reads) ` +
      `byOp=${JSON.stringify(counts)}`,
  );
});
