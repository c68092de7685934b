/**
 * Kill -9 the rotator right after MongoDB created a secret (the answer written, the vault not yet
 * told), and drop the connection after a create; then check the invariant: the emulator holds no
 * secret the vault does not hold (current/pending/previous), apart from a pre-existing secret
 * that never blocked a slot, which is left untouched.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../support/daemon';
import { runCli } from '../support/cli';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { FastForwardClock } from '../../src/clock';

const ORG = generateOrgId();
const PRE_EXISTING = 'e'.repeat(24);

let dir: string;
let emu: McmEmulator;
let env: NodeJS.ProcessEnv;
let clientId: string;
let victim: Daemon | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-mongo-crash-'));
  const key = generateApiKey();
  clientId = generateClientId();
  emu = await startMcmEmulator({
    apiKeys: [key],
    serviceAccounts: [{ orgId: ORG, clientId, secrets: [{ id: PRE_EXISTING, createdAtMs: Date.now() - 86_400_000 }] }],
    // The worst moment: MongoDB has created the secret and answered; the rotator dies before
    // it can write anything to the vault.
    onSecretCreated: () => {
      victim?.child.kill('SIGKILL');
    },
  });
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(
    config,
    [
      'vault: { type: file, path: vault.json }',
      'secrets:',
      '  - id: mongo-ci',
      '    provider: mongodb-cloud-manager',
      '    credentials: { publicKey: ${MCM_PUBLIC_KEY}, privateKey: ${MCM_PRIVATE_KEY} }',
      `    params: { orgId: ${ORG}, clientId: ${clientId}, secretExpiresAfterHours: 72, baseUrl: "${emu.url}/api/public/v1.0" }`,
    ].join('\n'),
  );
  env = {
    ROTATOR_CONFIG: config,
    ROTATOR_VAULT_KEY: 'f'.repeat(64),
    MCM_PUBLIC_KEY: key.publicKey,
    MCM_PRIVATE_KEY: key.privateKey,
  };
});

afterEach(async () => {
  await victim?.kill();
  victim = undefined;
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

async function vaultRefs(): Promise<string[]> {
  const refs: string[] = [];
  for (const stage of ['current', 'previous']) {
    const run = await runCli(['get', 'mongo-ci', '--stage', stage, '--field', 'providerRef'], env);
    if (run.code === 0) refs.push(run.stdout.trim());
  }
  const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { secretId: string; pendingVersion?: string }[];
  expect(status.find((s) => s.secretId === 'mongo-ci')?.pendingVersion).toBeUndefined();
  return refs;
}

const live = () => emu.secretsOf(clientId).map((s) => s.id);

test('killed right after the create answer: the next run deletes the orphan and rotates; the pre-existing secret is untouched', async () => {
  victim = new Daemon(['rotate', 'mongo-ci'], env);
  const exit = await victim.exited;
  expect(exit.signal).toBe('SIGKILL');
  victim = undefined;
  const orphan = live().find((id) => id !== PRE_EXISTING);
  expect(orphan).toBeDefined(); // created at MongoDB, unknown to the vault

  const next = await runCli(['rotate', 'mongo-ci'], env);
  expect(next.code).toBe(0);
  const refs = await vaultRefs();
  expect(live()).not.toContain(orphan);
  expect(live()).toContain(PRE_EXISTING);
  expect(
    live()
      .filter((id) => id !== PRE_EXISTING)
      .every((id) => refs.includes(id)),
  ).toBe(true);
  expect(live()).toHaveLength(2);
});

test('killed after the create answer when the slot was full: the blocking pre-existing secret went, nothing untracked stays', async () => {
  // A first rotation: the vault holds C1; the account holds {pre-existing, C1} (full).
  expect((await runCli(['rotate', 'mongo-ci'], env)).code).toBe(0);
  const [c1] = await vaultRefs();
  victim = new Daemon(['rotate', 'mongo-ci'], env);
  expect((await victim.exited).signal).toBe('SIGKILL');
  victim = undefined;
  // Making room took the pre-existing secret (unknown, oldest), never the current one.
  expect(live()).toContain(c1);
  expect(live()).not.toContain(PRE_EXISTING);

  expect((await runCli(['rotate', 'mongo-ci'], env)).code).toBe(0);
  const refs = await vaultRefs();
  expect(refs).toContain(c1);
  expect(live().every((id) => refs.includes(id))).toBe(true);
  expect(live()).toHaveLength(2);
});

test('create answered by a dropped connection: the retry recovers the orphan in the same run', async () => {
  emu.faults.push({ op: 'createSecret', kind: 'create-then-drop', times: 1 });
  const run = await runCli(['rotate', 'mongo-ci'], env, new FastForwardClock());
  expect(run.code).toBe(0);
  expect(emu.count('createSecret')).toBeGreaterThanOrEqual(2);
  const refs = await vaultRefs();
  expect(live()).toContain(PRE_EXISTING);
  expect(
    live()
      .filter((id) => id !== PRE_EXISTING)
      .every((id) => refs.includes(id)),
  ).toBe(true);
  expect(live()).toHaveLength(2);
});
