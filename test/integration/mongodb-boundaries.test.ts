import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import { httpBounds, MAX_BODY_BYTES } from '../../providers/kit';
import { systemClock } from '../../src/clock';
import { RotatorError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import type { Provider, ProviderContext, VaultValue } from '../../src/types';
import { drip, gzipBomb, hostileServer, json, type Handler, type HostileServer } from '../support/hostile-server';

/**
 * Issue 10 at the MongoDB boundary, against a hostile server on loopback standing in for both the
 * Admin API (answering before any Digest challenge) and the token endpoint.
 */

const ORG = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const CLIENT_ID = 'mdb_sa_id_bbbbbbbbbbbbbbbbbbbbbbbb';
const SECRET_ID = 'cccccccccccccccccccccccc';
const CREATE_PATH = `/api/public/v1.0/orgs/${ORG}/serviceAccounts/${CLIENT_ID}/secrets`;

let server: HostileServer | undefined;
const defaultDeadline = httpBounds.deadlineMs;
afterEach(async () => {
  httpBounds.deadlineMs = defaultDeadline;
  await server?.close();
  server = undefined;
});

async function provider(handler: Handler): Promise<Provider> {
  server = await hostileServer(handler);
  return mongodbCloudManager.create(
    {
      id: 'mongo-ci',
      credentials: { publicKey: 'pubkey', privateKey: 'private-key-value-1' },
      params: mongodbCloudManager.paramsSchema.parse({
        orgId: ORG,
        clientId: CLIENT_ID,
        secretExpiresAfterHours: 72,
        baseUrl: `${server.url}/api/public/v1.0`,
        tokenUrl: `${server.url}/api/oauth/token`,
      }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
}

function context(): ProviderContext {
  return { secretId: 'mongo-ci', rotationId: 'rot-1', clock: systemClock, log: memoryLogger() };
}

async function failure(promise: Promise<unknown>): Promise<RotatorError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RotatorError);
  return err as RotatorError;
}

function value(clientSecret: string): VaultValue {
  return {
    provider: 'mongodb-cloud-manager',
    secretId: 'mongo-ci',
    credentials: { clientId: CLIENT_ID, clientSecret },
    issuedAt: '2026-01-01T00:00:00Z',
    expiresAt: '2026-01-04T00:00:00Z',
    providerRef: SECRET_ID,
    rotationId: 'rot-1',
  };
}

const CREATED = {
  id: SECRET_ID,
  secret: 'mdb_sa_sk_issued',
  createdAt: '2026-01-01T00:00:00Z',
  expiresAt: '2026-01-04T00:00:00Z',
};

describe('mongodb boundaries against a hostile server', () => {
  it('a truncated create answer does not leak the new secret into the error', async () => {
    const mongo = await provider((_req, res) => json(res, 201, `{"id":"${SECRET_ID}","secret":"mdb_sa_sk_LIVE-truncated-value`));
    const err = await failure(mongo.issue(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_ANSWER', retryable: false });
    expect(err.message).toContain(`(POST ${CREATE_PATH})`);
    expect(err.message).not.toContain('LIVE-truncated');
    expect(JSON.stringify(err.toJSON())).not.toContain('LIVE-truncated');
  });

  it('an error answer of the create endpoint is not excerpted either', async () => {
    const mongo = await provider((_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('upstream echoed mdb_sa_sk_ECHOED-secret-value');
    });
    const err = await failure(mongo.issue(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    expect(err.message).not.toContain('ECHOED');
  });

  it('a truncated token answer does not leak the bearer token', async () => {
    const mongo = await provider((_req, res) => json(res, 200, '{"access_token":"eyLEAKED-bearer-token-value'));
    const err = await failure(mongo.verify!(value('mdb_sa_sk_candidate'), context()));
    expect(err.code).toBe('PROVIDER_BAD_ANSWER');
    expect(err.message).toContain('token request for');
    expect(err.message).toContain('(POST /api/oauth/token)');
    expect(err.message).not.toContain('eyLEAKED');
  });

  it('a stalled token body times out naming the step and endpoint', async () => {
    httpBounds.deadlineMs = 300;
    const mongo = await provider((_req, res) => drip(res, 20));
    const err = await failure(mongo.verify!(value('mdb_sa_sk_candidate'), context()));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    expect(err.message).toContain(`MongoDB token request for ${CLIENT_ID} (POST /api/oauth/token) timed out after 0.3s`);
  });

  it('a dripping Admin API answer cannot hold a request past its total deadline', async () => {
    httpBounds.deadlineMs = 300;
    const mongo = await provider((_req, res) => drip(res, 20));
    const err = await failure(mongo.list!(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    expect(err.message).toMatch(/\(GET \/api\/public\/v1\.0\/orgs\/a+\/serviceAccounts\/mdb_sa_id_b+\) timed out after 0\.3s/);
  });

  it('a gzip bomb is cut off at the 1 MiB cap', async () => {
    const mongo = await provider((_req, res) => gzipBomb(res));
    const err = await failure(mongo.list!(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_ANSWER', retryable: false });
    expect(err.message).toContain(`more than ${MAX_BODY_BYTES} bytes`);
  });

  it.each([
    ['year 9999', '9999-01-01T00:00:00Z'],
    ['an epoch number', 1e20],
    ['a loose date', 'Jan 4 2026'],
  ])('an expiresAt of %s is a PROVIDER_BAD_ANSWER naming the field', async (_name, expiresAt) => {
    const mongo = await provider((_req, res) => json(res, 201, { ...CREATED, expiresAt }));
    const err = await failure(mongo.issue(context()));
    expect(err.code).toBe('PROVIDER_BAD_ANSWER');
    expect(err.message).toContain('expiresAt');
    expect(err.message).not.toContain('mdb_sa_sk_issued');
  });
});
