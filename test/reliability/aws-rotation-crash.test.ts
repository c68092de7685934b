/**
 * Kill -9 with the AWS Secrets Manager vault (its emulator over HTTP, the real SDK in a child
 * process): a rotation killed after its pending write is finished by the next run without
 * issuing again, AWSCURRENT never moves to an unverified version, and no AWSPENDING is left.
 * The daemon restarted after the kill is not blocked by the dead process's lease.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, msg } from '../support/daemon';
import { runCli } from '../support/cli';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';

const AWS = { AWS_ACCESS_KEY_ID: 'AKIDCRASHTEST', AWS_SECRET_ACCESS_KEY: 'crash-test-secret' };
let dir: string;
let ncp: NcpStsEmulator;
let sm: SecretsManagerEmulator;
let env: NodeJS.ProcessEnv;
const daemons: Daemon[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-aws-crash-'));
  const account = generateAccount();
  ncp = await startNcpStsEmulator({ accounts: [account] });
  sm = await startSecretsManagerEmulator({ credentials: { [AWS.AWS_ACCESS_KEY_ID]: AWS.AWS_SECRET_ACCESS_KEY } });
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(
    config,
    [
      `vault: { type: aws-secrets-manager, region: us-east-1, endpoint: "${sm.url}" }`,
      'secrets:',
      '  - id: app',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
      `    params: { durationSec: 3600, endpoint: "${ncp.url}" }`,
    ].join('\n'),
  );
  env = { ROTATOR_CONFIG: config, NCP_ACCESS_KEY: account.accessKey, NCP_SECRET_KEY: account.secretKey, ...AWS };
});

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.kill()));
  await Promise.all([ncp.close(), sm.close()]);
  await rm(dir, { recursive: true, force: true });
});

function start(args: string[]): Daemon {
  const d = new Daemon(args, env);
  daemons.push(d);
  return d;
}

/** Stage labels by version id, credential secret only (the placeholder has its own id). */
const stages = () => Object.fromEntries(sm.versions('rotator/app')!.map((v) => [v.versionId, [...v.stages].sort()]));

test('killed after the pending write: the next daemon resumes it without issuing again; AWSCURRENT only ever held verified versions', async () => {
  expect((await runCli(['rotate', 'app'], env)).code).toBe(0);
  const first = JSON.parse((await runCli(['get', 'app'], env)).stdout);
  ncp.latencyMs = 400; // verification is slow enough to be killed in the middle of it
  const d = start(['rotate', 'app']);
  const storedLine = await d.waitFor(msg('stored as pending'));
  const stored = { rotationId: String(storedLine.rotationId) };
  d.child.kill('SIGKILL');
  await d.exited;

  expect(stages()[stored.rotationId]).toEqual(['AWSPENDING']); // stored, not current
  expect(stages()[first.rotationId]).toEqual(['AWSCURRENT']); // the current survived
  const issued = ncp.issuedKeys().length;

  ncp.latencyMs = 0;
  const daemon = start(['run']);
  await daemon.waitFor(msg('promoted (resumed)', 'app'), 15_000, 'resumed');
  expect(ncp.issuedKeys().length).toBe(issued); // nothing issued again
  // AWSPENDING stays beside AWSCURRENT (promote is one UpdateSecretVersionStage).
  expect([...stages()[stored.rotationId]!].sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
  expect(stages()[first.rotationId]).toEqual(['AWSPREVIOUS']);
  expect(Object.values(stages()).filter((l) => l.includes('AWSPENDING') && !l.includes('AWSCURRENT'))).toEqual([]);
});
