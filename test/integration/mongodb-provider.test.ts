/**
 * The mongodb-cloud-manager provider against its emulator over real HTTP: issue, list, revoke,
 * verify (token minted and revoked), Atlas v2, project-level paths, self-rotation, error mapping
 * and the absence of secrets from errors and logs.
 */
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import { DigestPool, resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
  type McmEmulatorOptions,
} from '../../providers/mongodb-cloud-manager/emulator';
import { ManualClock, systemClock } from '../../src/clock';
import { RotatorError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import { secrets } from '../../src/redact';
import type { IssuedSecret, Provider, ProviderContext, VaultValue } from '../../src/types';

const ORG = generateOrgId();
const PROJECT = generateOrgId();

const emulators: McmEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
  resetDigestPools();
});

/** A fresh emulator with one service account (a fresh clientId: the token limiter is per client). */
async function setup(options: McmEmulatorOptions = {}, accountExtra: { projectIds?: string[] } = {}) {
  const clientId = generateClientId();
  const emu = await startMcmEmulator({ serviceAccounts: [{ orgId: ORG, clientId, ...accountExtra }], ...options });
  emulators.push(emu);
  return { emu, clientId };
}

function context(current?: VaultValue): ProviderContext & { log: ReturnType<typeof memoryLogger> } {
  return { secretId: 'mongo-ci', rotationId: 'rot-1', clock: systemClock, log: memoryLogger(), ...(current ? { current } : {}) };
}

function provider(
  emu: McmEmulator,
  clientId: string,
  params: Record<string, unknown> = {},
  credentials?: Record<string, string>,
): Provider {
  const api = params.api === 'atlas-v2' ? '/api/atlas/v2' : '/api/public/v1.0';
  const key = emu.apiKeys[0]!;
  return mongodbCloudManager.create(
    {
      id: 'mongo-ci',
      credentials: mongodbCloudManager.credentialsSchema.parse(
        credentials ?? { publicKey: key.publicKey, privateKey: key.privateKey },
      ),
      params: mongodbCloudManager.paramsSchema.parse({
        orgId: ORG,
        clientId,
        secretExpiresAfterHours: 72,
        baseUrl: emu.url + api,
        ...params,
      }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
}

function vaultValue(issued: IssuedSecret): VaultValue {
  return { provider: 'mongodb-cloud-manager', secretId: 'mongo-ci', rotationId: 'rot-1', ...issued };
}

async function failure(promise: Promise<unknown>): Promise<RotatorError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RotatorError);
    return err as RotatorError;
  }
  throw new Error('expected a rejection');
}

describe('mongodb-cloud-manager against its emulator over HTTP', () => {
  it('issues, lists, verifies (token minted and revoked) and revokes idempotently', async () => {
    const { emu, clientId } = await setup();
    const ctx = context();
    const mongo = provider(emu, clientId);
    const issued = await mongo.issue(ctx);

    expect(issued.providerRef).toMatch(/^[0-9a-f]{24}$/);
    expect(issued.credentials.clientId).toBe(clientId);
    expect(issued.credentials.clientSecret).toMatch(/^mdb_sa_sk_/);
    expect(Date.parse(issued.expiresAt) - Date.parse(issued.issuedAt)).toBe(72 * 3_600_000);
    expect(emu.secretsOf(clientId)).toEqual([
      expect.objectContaining({ id: issued.providerRef, value: issued.credentials.clientSecret }),
    ]);
    expect(secrets.scrub(`x ${issued.credentials.clientSecret} y`)).toBe('x [REDACTED] y');

    expect(await mongo.list!(ctx)).toEqual([
      { providerRef: issued.providerRef, createdAt: issued.issuedAt, expiresAt: issued.expiresAt },
    ]);

    const registered = secrets.size;
    await mongo.verify!(vaultValue(issued), ctx);
    expect(emu.count('token')).toBe(1);
    expect(emu.count('revoke')).toBe(1);
    expect(emu.activeTokenCount(clientId)).toBe(0);
    expect(secrets.size).toBe(registered); // the revoked token is forgotten: verifications do not pile up

    await mongo.revoke!(issued.providerRef, ctx);
    expect(emu.secretsOf(clientId)).toEqual([]);
    await mongo.revoke!(issued.providerRef, ctx); // 404: already gone is success
    // The nonce is cached since the create: each delete is one round trip.
    expect(emu.requests.filter((r) => r.op === 'deleteSecret').map((r) => r.status)).toEqual([204, 404]);
    expect(ctx.log.text()).not.toContain(issued.credentials.clientSecret);
    expect(ctx.log.text()).not.toContain(emu.apiKeys[0]!.privateKey);
  });

  it('the GET shows masked values only, and creating shortens older secrets to 7 days', async () => {
    const clientId = generateClientId();
    const now = Date.now();
    const emu = await startMcmEmulator({
      serviceAccounts: [
        {
          orgId: ORG,
          clientId,
          secrets: [
            {
              id: 'a'.repeat(24),
              value: 'mdb_sa_sk_old0000000000',
              createdAtMs: now - 1000,
              expiresAtMs: now + 300 * 86_400_000,
            },
          ],
        },
      ],
    });
    emulators.push(emu);
    const mongo = provider(emu, clientId);
    await mongo.issue(context());
    const [older] = emu.secretsOf(clientId);
    expect(Date.parse(older!.expiresAt) - now).toBeLessThanOrEqual(7 * 86_400_000 + 5_000);
    const key = emu.apiKeys[0]!;
    // The raw account view never carries a value.
    const raw = await new DigestPool(key.publicKey, key.privateKey).request({
      method: 'GET',
      url: `${emu.url}/api/public/v1.0/orgs/${ORG}/serviceAccounts/${clientId}`,
    });
    expect(raw.text).not.toContain('mdb_sa_sk_old0000000000');
    expect(JSON.parse(raw.text).secrets[0].maskedSecretValue).toMatch(/^mdb_sa_sk_\*+0000$/);
  });

  it('refuses a third secret with an ApiError mapped to PROVIDER_REJECTED', async () => {
    const { emu, clientId } = await setup();
    const mongo = provider(emu, clientId);
    await mongo.issue(context());
    await mongo.issue(context());
    const err = await failure(mongo.issue(context()));
    expect(err.code).toBe('PROVIDER_REJECTED');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ status: 400, errorCode: 'SERVICE_ACCOUNT_MAX_SECRETS_EXCEEDED' });
  });

  it('speaks Atlas v2 with the versioned Accept header (and the emulator refuses without it)', async () => {
    const { emu, clientId } = await setup();
    const mongo = provider(emu, clientId, { api: 'atlas-v2', secretExpiresAfterHours: 8760 });
    const issued = await mongo.issue(context());
    expect(Date.parse(issued.expiresAt) - Date.parse(issued.issuedAt)).toBe(8760 * 3_600_000);
    expect(emu.requests.filter((r) => r.op === 'createSecret').every((r) => r.path.startsWith('/api/atlas/v2/'))).toBe(true);
    const key = emu.apiKeys[0]!;
    const res = await new DigestPool(key.publicKey, key.privateKey).request({
      method: 'GET',
      url: `${emu.url}/api/atlas/v2/orgs/${ORG}/serviceAccounts/${clientId}`,
      headers: { Accept: 'application/json' },
    });
    expect(res.status).toBe(406);
    expect(JSON.parse(res.text)).toMatchObject({ error: 406, errorCode: 'INVALID_VERSION_DATE' });
  });

  it('uses the project-level paths with projectId', async () => {
    const { emu, clientId } = await setup({}, { projectIds: [PROJECT] });
    const mongo = provider(emu, clientId, { projectId: PROJECT });
    const issued = await mongo.issue(context());
    expect(await mongo.list!(context())).toHaveLength(1);
    await mongo.revoke!(issued.providerRef, context());
    const paths = emu.requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.path);
    expect(paths.length).toBeGreaterThanOrEqual(3);
    expect(paths.every((p) => p.startsWith(`/api/public/v1.0/groups/${PROJECT}/serviceAccounts/${clientId}`))).toBe(true);
    // The same account is not reachable through a project it is not in.
    const other = provider(emu, clientId, { projectId: generateOrgId() });
    expect((await failure(other.list!(context()))).details).toMatchObject({
      status: 404,
      errorCode: 'SERVICE_ACCOUNT_NOT_FOUND',
    });
  });

  it('self-rotation: authenticates with a token from the current secret (bootstrap first), no API key', async () => {
    const clientId = generateClientId();
    const emu = await startMcmEmulator({
      serviceAccounts: [{ orgId: ORG, clientId, secrets: [{ value: 'mdb_sa_sk_bootstrap0001' }] }],
    });
    emulators.push(emu);
    const mongo = provider(emu, clientId, {}, { clientSecret: 'mdb_sa_sk_bootstrap0001' });
    const first = await mongo.issue(context());
    expect(emu.requests.filter((r) => r.op === 'createSecret').map((r) => r.auth)).toEqual(['bearer']);
    await mongo.verify!(vaultValue(first), context());
    // Next rotation: the vault's current secret authenticates; the bootstrap one is deleted meanwhile.
    const bootstrapId = emu.secretsOf(clientId).find((s) => s.value === 'mdb_sa_sk_bootstrap0001')!.id;
    const ctx = context(vaultValue(first));
    await mongo.revoke!(bootstrapId, ctx);
    const second = await mongo.issue(ctx);
    expect(
      emu
        .secretsOf(clientId)
        .map((s) => s.id)
        .sort(),
    ).toEqual([first.providerRef, second.providerRef].sort());
    expect(emu.requests.every((r) => r.auth !== 'digest')).toBe(true);
    // Without a current secret or a bootstrap, it says what is missing.
    const bare = provider(emu, clientId, {}, {});
    const err = await failure(bare.list!(context()));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toMatch(/needs the service account's current secret in the vault, or credentials.clientSecret/);
    // A deleted current secret is PROVIDER_AUTH with advice, never the secret itself.
    const stale = provider(emu, clientId, {}, { clientSecret: 'mdb_sa_sk_bootstrap0001' });
    const refused = await failure(stale.list!(context()));
    expect(refused.code).toBe('PROVIDER_AUTH');
    expect(refused.message).toMatch(/deleted or has expired/);
    expect(refused.message).not.toContain('mdb_sa_sk_bootstrap0001');
  });

  it('verify: a wrong secret is VERIFY_FAILED; no token stays active', async () => {
    const { emu, clientId } = await setup();
    const mongo = provider(emu, clientId);
    const issued = await mongo.issue(context());
    const wrong = { ...vaultValue(issued), credentials: { clientId, clientSecret: 'mdb_sa_sk_not-the-secret' } };
    const err = await failure(mongo.verify!(wrong, context()));
    expect(err.code).toBe('VERIFY_FAILED');
    expect(err.message).toContain('invalid_client');
    expect(err.message).not.toContain('mdb_sa_sk_not-the-secret');
    expect(emu.activeTokenCount()).toBe(0);
  });

  it('verify: a token that cannot be revoked is a warning, not a failure', async () => {
    const { emu, clientId } = await setup();
    const mongo = provider(emu, clientId);
    const issued = await mongo.issue(context());
    emu.faults.push({ op: 'revoke', status: 500, times: 1 });
    const ctx = context();
    await mongo.verify!(vaultValue(issued), ctx);
    expect(emu.activeTokenCount(clientId)).toBe(1);
    expect(ctx.log.text()).toMatch(/could not be revoked; it expires within 1 h/);
    for (const line of ctx.log.lines) expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);
  });

  it('verify: token endpoint 5xx is retryable PROVIDER_UNAVAILABLE, 429 carries Retry-After', async () => {
    const { emu, clientId } = await setup();
    const mongo = provider(emu, clientId);
    const issued = await mongo.issue(context());
    emu.faults.push({ op: 'token', status: 503, times: 1 });
    const down = await failure(mongo.verify!(vaultValue(issued), context()));
    expect(down).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    emu.faults.push({ op: 'token', status: 429, retryAfterSec: 7, times: 1 });
    const limited = await failure(mongo.verify!(vaultValue(issued), context()));
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 7000 });
  });
});

describe('mongodb-cloud-manager error mapping', () => {
  it('429 with Retry-After → RATE_LIMITED with retryAfterMs', async () => {
    const { emu, clientId } = await setup();
    emu.faults.push({ op: 'createSecret', status: 429, retryAfterSec: 12, times: 1 });
    const err = await failure(provider(emu, clientId).issue(context()));
    expect(err).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 12_000 });
    expect(err.details).toMatchObject({ status: 429, errorCode: 'RATE_LIMITED' });
  });

  it('503 → retryable PROVIDER_UNAVAILABLE with retryAfterMs', async () => {
    const { emu, clientId } = await setup();
    emu.faults.push({ op: 'getServiceAccount', status: 503, retryAfterSec: 3, times: 1 });
    const err = await failure(provider(emu, clientId).list!(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true, retryAfterMs: 3000 });
  });

  it('a dropped connection → retryable PROVIDER_UNAVAILABLE', async () => {
    const { emu, clientId } = await setup();
    emu.dropConnections(1, 'getServiceAccount');
    const err = await failure(provider(emu, clientId).list!(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
  });

  it('create-then-drop: the secret exists although the client saw no answer', async () => {
    const { emu, clientId } = await setup();
    emu.faults.push({ op: 'createSecret', kind: 'create-then-drop', times: 1 });
    const err = await failure(provider(emu, clientId).issue(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    expect(emu.secretsOf(clientId)).toHaveLength(1);
  });

  it('an HTML 401 page from a proxy gives status, content type and a short excerpt', async () => {
    const { emu, clientId } = await setup();
    emu.faults.push({ status: 401, html: true, times: 1 });
    const err = await failure(provider(emu, clientId).list!(context()));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toContain(
      'HTTP 401, a non-JSON body (content-type text/html; charset=utf-8, 96 bytes, starts "<html><head><title>401</title>',
    );
    expect(err.message.length).toBeLessThan(700);
  });

  it('a wrong private key → PROVIDER_AUTH naming the org and role, never the key or the Authorization header', async () => {
    const { emu, clientId } = await setup();
    const wrongKey = generateApiKey().privateKey;
    const log = memoryLogger();
    const ctx = { ...context(), log };
    const mongo = provider(emu, clientId, {}, { publicKey: emu.apiKeys[0]!.publicKey, privateKey: wrongKey });
    const err = await failure(mongo.issue(ctx));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toContain(`Organization Owner role on organization ${ORG}`);
    expect(err.details).toMatchObject({ status: 401, errorCode: 'UNAUTHORIZED' });
    const everything = [err.message, JSON.stringify(err.toJSON()), log.text()].join('\n');
    expect(everything).not.toContain(wrongKey);
    expect(everything).not.toMatch(/Digest |response="|Authorization/i);
    expect(emu.secretsOf(clientId)).toEqual([]);
  });

  it('403 → PROVIDER_FORBIDDEN; 400 VALIDATION_ERROR → PROVIDER_REJECTED with the detail', async () => {
    const { emu, clientId } = await setup();
    emu.faults.push({ op: 'createSecret', status: 403, times: 1 });
    expect((await failure(provider(emu, clientId).issue(context()))).code).toBe('PROVIDER_FORBIDDEN');
    // Only reachable past the schema by building params by hand: the emulator's own bound.
    const mongo = provider(emu, clientId, { api: 'atlas-v2', secretExpiresAfterHours: 8760 });
    (mongo as unknown as { params: { secretExpiresAfterHours: number } }).params.secretExpiresAfterHours = 9000;
    const err = await failure(mongo.issue(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_REJECTED', retryable: false });
    expect(err.message).toContain('VALIDATION_ERROR "secretExpiresAfterHours must be between 8 and 8760."');
  });
});

describe('token limits', () => {
  function basicToken(emu: McmEmulator, clientId: string, secret: string) {
    return fetch(`${emu.url}/api/oauth/token`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
  }

  it('the emulator: 10 token requests per minute per client → 429 Retry-After; 100 active tokens → 403 access_denied', async () => {
    const clock = new ManualClock(Date.now());
    const clientId = generateClientId();
    const secret = 'mdb_sa_sk_limits000000001';
    const emu = await startMcmEmulator({ clock, serviceAccounts: [{ orgId: ORG, clientId, secrets: [{ value: secret }] }] });
    emulators.push(emu);
    for (let i = 0; i < 10; i++) expect((await basicToken(emu, clientId, secret)).status).toBe(200);
    const limited = await basicToken(emu, clientId, secret);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    for (let minute = 1; minute < 10; minute++) {
      clock.advance(60_000);
      for (let i = 0; i < 10; i++) expect((await basicToken(emu, clientId, secret)).status).toBe(200);
    }
    expect(emu.activeTokenCount(clientId)).toBe(100);
    clock.advance(60_000);
    const denied = await basicToken(emu, clientId, secret);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: 'access_denied' });
    // Tokens die with their secret.
    emu.ensureServiceAccount({ orgId: ORG, clientId });
    const id = emu.secretsOf(clientId)[0]!.id;
    const key = emu.apiKeys[0]!;
    const del = await new DigestPool(key.publicKey, key.privateKey).request({
      method: 'DELETE',
      url: `${emu.url}/api/public/v1.0/orgs/${ORG}/serviceAccounts/${clientId}/secrets/${id}`,
    });
    expect(del.status).toBe(204);
    expect(emu.activeTokenCount(clientId)).toBe(0);
    expect((await basicToken(emu, clientId, secret)).status).toBe(401);
  });

  it('verify waits for a token slot (10 per minute per client) instead of failing', async () => {
    const clock = new ManualClock(Date.now());
    const { emu, clientId } = await setup({ clock });
    const mongo = provider(emu, clientId);
    const issued = await mongo.issue({ ...context(), clock });
    const ctx = { ...context(), clock };
    for (let i = 0; i < 10; i++) await mongo.verify!(vaultValue(issued), ctx);
    let done = false;
    const eleventh = mongo.verify!(vaultValue(issued), ctx).then(() => (done = true));
    // The eleventh sleeps on the injected clock (a hang here means it never waited).
    while (clock.pendingSleeps === 0) await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    expect(emu.count('token')).toBe(10); // it waits: no request that would be refused
    clock.advance(60_000);
    await eleventh;
    expect(emu.count('token')).toBe(11);
    expect(emu.requests.filter((r) => r.op === 'token').every((r) => r.status === 200)).toBe(true);
    expect(emu.activeTokenCount(clientId)).toBe(0);
  });
});

describe('emulator facts and the sandbox', () => {
  it('expired secrets stay listed and no longer mint tokens', async () => {
    const clock = new ManualClock(Date.now());
    const { emu, clientId } = await setup({ clock });
    const mongo = provider(emu, clientId, { secretExpiresAfterHours: 8 });
    const ctx = { ...context(), clock };
    const issued = await mongo.issue(ctx);
    clock.advance(9 * 3_600_000);
    expect((await mongo.list!(ctx)).map((s) => s.providerRef)).toEqual([issued.providerRef]);
    expect((await failure(mongo.verify!(vaultValue(issued), ctx))).code).toBe('VERIFY_FAILED');
  });

  it('sandbox: start + rewrite point a secret (even a self-rotating one) at the emulator, which knows its account', async () => {
    const log = memoryLogger();
    const handle = await mongodbCloudManager.sandbox!.start({ log, clock: systemClock });
    try {
      const clientId = generateClientId();
      const spec = {
        id: 'mongo-ci',
        credentials: { clientSecret: 'rotator-sandbox-placeholder-MCM_BOOTSTRAP' },
        params: mongodbCloudManager.paramsSchema.parse({
          orgId: ORG,
          clientId,
          secretExpiresAfterHours: 72,
          api: 'atlas-v2',
          projectId: PROJECT,
        }),
      };
      const rewritten = mongodbCloudManager.sandbox!.rewrite(spec, handle);
      expect(rewritten.params).toMatchObject({
        baseUrl: `${handle.url}/api/atlas/v2`,
        tokenUrl: `${handle.url}/api/oauth/token`,
        projectId: PROJECT,
      });
      expect(Object.keys(rewritten.credentials).sort()).toEqual(['privateKey', 'publicKey']);
      const mongo = mongodbCloudManager.create(rewritten, { log, clock: systemClock });
      const issued = await mongo.issue(context());
      await mongo.verify!(vaultValue(issued), context());
      expect(log.text()).not.toContain(rewritten.credentials.privateKey!);
    } finally {
      await handle.close();
    }
  });
});
