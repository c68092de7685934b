/**
 * An admin service account as the master credential (credentials clientId/clientSecret): a
 * rotation over loopback HTTP where every Admin API call carries a Bearer token minted once from
 * the admin pair, reused, and revoked when the process ends; the admin secret never in output.
 */
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import { resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { systemClock } from '../../src/clock';
import { RotatorError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import type { ProviderContext } from '../../src/types';
import { configDir, runCli } from '../support/cli';

const ORG = generateOrgId();
const VAULT_KEY = 'e'.repeat(64);
const ADMIN_SECRET = 'mdb_sa_sk_adminsecret0123456789abcdef';

let emu: McmEmulator;
let adminId: string;
let targetId: string;
let dir: Awaited<ReturnType<typeof configDir>> | undefined;

beforeEach(async () => {
  adminId = generateClientId();
  targetId = generateClientId();
  emu = await startMcmEmulator({
    serviceAccounts: [
      { orgId: ORG, clientId: adminId, secrets: [{ value: ADMIN_SECRET }] },
      { orgId: ORG, clientId: targetId },
    ],
  });
  resetDigestPools();
});

afterEach(async () => {
  await emu.close();
  await dir?.cleanup();
  dir = undefined;
});

const mintsBy = (clientId: string) => emu.requests.filter((r) => r.op === 'token' && r.clientId === clientId).length;

function context(): ProviderContext {
  return { secretId: 'mongo-admin', rotationId: 'rot-1', clock: systemClock, log: memoryLogger() };
}

function adminProvider(credentials: Record<string, string> = { clientId: adminId, clientSecret: ADMIN_SECRET }) {
  return mongodbCloudManager.create(
    {
      id: 'mongo-admin',
      credentials: mongodbCloudManager.credentialsSchema.parse(credentials),
      params: mongodbCloudManager.paramsSchema.parse({
        orgId: ORG,
        clientId: targetId,
        secretExpiresAfterHours: 72,
        baseUrl: `${emu.url}/api/public/v1.0`,
      }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
}

describe('mongodb-cloud-manager with an admin service account', () => {
  it('rotates over loopback with one admin token minted, reused, and revoked at exit', async () => {
    dir = await configDir(`
vault: { type: file, path: vault/vault.json }
secrets:
  - id: mongo-admin
    provider: mongodb-cloud-manager
    credentials: { clientId: ${adminId}, clientSecret: \${MCM_ADMIN_SECRET} }
    params: { orgId: ${ORG}, clientId: ${targetId}, secretExpiresAfterHours: 72, baseUrl: ${emu.url}/api/public/v1.0 }
`);
    const env = { ROTATOR_VAULT_KEY: VAULT_KEY, MCM_ADMIN_SECRET: ADMIN_SECRET };
    const run = await runCli(['rotate', 'mongo-admin', '-c', dir.file], env);
    expect(run.stderr).not.toContain(ADMIN_SECRET);
    expect(run.stdout).not.toContain(ADMIN_SECRET);
    expect(run.code).toBe(0);

    const created = emu.secretsOf(targetId);
    expect(created).toHaveLength(1);
    // Every Admin API call carried the Bearer token; one token for all of them.
    const apiCalls = emu.requests.filter((r) => r.op === 'getServiceAccount' || r.op === 'createSecret');
    expect(apiCalls.length).toBeGreaterThanOrEqual(2);
    expect(apiCalls.every((r) => r.auth === 'bearer' && r.status < 300)).toBe(true);
    expect(mintsBy(adminId)).toBe(1);
    // Revoked on shutdown: no admin token outlives the process.
    expect(emu.requests.some((r) => r.op === 'revoke' && r.clientId === adminId)).toBe(true);
    expect(emu.activeTokenCount(adminId)).toBe(0);
    // The stored value is the target account's new secret.
    const stored = created[0]!.id;
    // clientId is an id, not a secret: after the engine has registered the stored credentials,
    // a second rotation's logs still show it (Provider.publicFields), while the secret stays hidden.
    const again = await runCli(['rotate', 'mongo-admin', '-c', dir.file, '--force'], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`"clientId":"${targetId}"`);
    for (const s of emu.secretsOf(targetId)) expect(again.stderr).not.toContain(s.value);
    // (`get` runs last: it registers every credential field, clientId included; see the report.)
    const got = await runCli(['get', 'mongo-admin', '-c', dir.file, '--stage', 'previous', '--field', 'providerRef'], env);
    expect(got.stdout.trim()).toBe(stored);
  });

  it('reuses the cached token across calls; close() revokes it and the next call mints anew', async () => {
    const mongo = adminProvider();
    const first = await mongo.issue(context());
    await mongo.list!(context());
    await mongo.revoke!(first.providerRef, context());
    expect(mintsBy(adminId)).toBe(1);
    expect(emu.activeTokenCount(adminId)).toBe(1);
    await mongo.close!();
    expect(emu.activeTokenCount(adminId)).toBe(0);
    await mongo.list!(context());
    expect(mintsBy(adminId)).toBe(2);
    await mongo.close!();
    await mongo.close!(); // idempotent
    expect(emu.activeTokenCount(adminId)).toBe(0);
  });

  it('says which admin pair was refused, without its secret', async () => {
    const mongo = adminProvider({ clientId: adminId, clientSecret: 'mdb_sa_sk_wrongwrongwrong' });
    const err = (await mongo.issue(context()).catch((e: unknown) => e)) as RotatorError;
    expect(err).toBeInstanceOf(RotatorError);
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toContain(`admin service account ${adminId}`);
    expect(err.message).not.toContain('wrongwrongwrong');
    expect(emu.secretsOf(targetId)).toHaveLength(0);
  });

  it('refuses an admin clientId that is the rotated account itself', () => {
    targetId = adminId;
    expect(() => adminProvider()).toThrow(/credentials.clientId is the rotated account itself/);
  });
});

describe('credential pairs in validation', () => {
  const parse = (c: unknown) => mongodbCloudManager.credentialsSchema.safeParse(c);
  const messages = (c: unknown) => {
    const r = parse(c);
    return r.success ? [] : r.error.issues.map((i) => i.message);
  };

  it('accepts each allowed pair', () => {
    expect(parse({ publicKey: 'abcd', privateKey: 'x-y' }).success).toBe(true);
    expect(parse({ clientId: generateClientId(), clientSecret: 's' }).success).toBe(true);
    expect(parse({ clientSecret: 's' }).success).toBe(true);
    expect(parse({}).success).toBe(true);
  });

  it('explains which pair goes where when they are mixed or incomplete', () => {
    const mixed = messages({ publicKey: 'abcd', privateKey: 'x-y', clientId: generateClientId(), clientSecret: 's' });
    expect(mixed.join(' ')).toMatch(
      /cannot be combined.*publicKey \+ privateKey.*clientId \+ clientSecret \(an admin service account/,
    );
    expect(messages({ clientId: generateClientId() }).join(' ')).toMatch(/clientSecret is required with clientId/);
    expect(messages({ clientId: 'admin' }).join(' ')).toMatch(/credentials.clientId must be mdb_sa_id_/);
  });
});
