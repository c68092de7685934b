/**
 * Non-secret identifiers stay readable (issue 10 item 7): the MongoDB service account's
 * `clientId` names the account in every API path and log line, so once `get` (or the library
 * reader, or the AWS vault) has read a stored value, logs still show it, while `clientSecret`
 * stays scrubbed. The provider's descriptor declares the public fields; src/config.ts hands them
 * to the secret registry. Real CLI in-process against the emulator over loopback.
 */
import { resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmApiKey,
  type McmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { parseConfig } from '../../src/config';
import { REDACTED, SecretRegistry, secrets } from '../../src/redact';
import { runCli, configDir, oneMongoSecretYaml } from '../support/cli';

const VAULT_KEY = 'e'.repeat(64);
const ORG = generateOrgId();
let emu: McmEmulator;
let key: McmApiKey;
let dir: Awaited<ReturnType<typeof configDir>> | undefined;

beforeEach(async () => {
  key = generateApiKey();
  emu = await startMcmEmulator({ apiKeys: [key] });
  resetDigestPools();
});
afterEach(async () => {
  await emu.close();
  await dir?.cleanup();
  dir = undefined;
});

async function setup(): Promise<{ file: string; env: NodeJS.ProcessEnv; clientId: string }> {
  const clientId = generateClientId();
  emu.ensureServiceAccount({ orgId: ORG, clientId, secrets: [] });
  dir = await configDir(oneMongoSecretYaml({ orgId: ORG, clientId, url: emu.url }));
  return {
    file: dir.file,
    env: { ROTATOR_VAULT_KEY: VAULT_KEY, MCM_PUBLIC_KEY: key.publicKey, MCM_PRIVATE_KEY: key.privateKey },
    clientId,
  };
}

test('after `get` has read the stored value, rotate logs still name the clientId while every secret stays hidden', async () => {
  const { file, env, clientId } = await setup();
  expect((await runCli(['rotate', 'mongo', '-c', file], env)).code).toBe(0);

  const got = await runCli(['get', 'mongo', '-c', file, '--format', 'json'], env);
  expect(got.code).toBe(0);
  const value = JSON.parse(got.stdout) as { credentials: { clientId: string; clientSecret: string } };
  expect(value.credentials.clientId).toBe(clientId);
  // What `get` registered: the secret, not the id.
  expect(secrets.scrub(`id ${clientId} secret ${value.credentials.clientSecret}`)).toBe(`id ${clientId} secret ${REDACTED}`);

  const again = await runCli(['rotate', 'mongo', '-c', file, '--force'], env);
  expect(again.code).toBe(0);
  expect(again.stderr).toContain(`"clientId":"${clientId}"`);
  for (const s of emu.secretsOf(clientId)) expect(again.stderr).not.toContain(s.value);
});

test('loading the config declares the registered providers’ public fields; undeclared fields and providers stay secret', () => {
  const registry = new SecretRegistry();
  parseConfig('vault: { type: file, path: vault.json }\nsecrets: []\n', {
    file: 'rotator.config.yaml',
    absolute: '/nowhere/rotator.config.yaml',
    env: {},
    secretRegistry: registry,
  });
  registry.addCredentials({
    provider: 'mongodb-cloud-manager',
    credentials: { clientId: 'mdb_sa_id_0123456789', clientSecret: 'mdb_sa_sk_secret-value' },
  });
  registry.addCredentials({ provider: 'ncp-sts', credentials: { accessKey: 'ncp-access-0001', keySecret: 'ncp-secret-0001' } });
  expect(registry.scrub('mdb_sa_id_0123456789 mdb_sa_sk_secret-value ncp-access-0001 ncp-secret-0001')).toBe(
    `mdb_sa_id_0123456789 ${REDACTED} ${REDACTED} ${REDACTED}`,
  );
});
