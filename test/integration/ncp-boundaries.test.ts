import { ncpSts } from '../../providers/ncp-sts';
import { NcpStsClient } from '../../providers/ncp-sts/client';
import { MAX_BODY_BYTES } from '../../providers/kit';
import { systemClock } from '../../src/clock';
import { RotatorError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import type { ProviderContext } from '../../src/types';
import { drip, gzipBomb, hostileServer, json, type Handler, type HostileServer } from '../support/hostile-server';

/**
 * Issue 10 at the NCP STS boundary, against a hostile server on loopback: every wait bounded,
 * every body capped, nothing from a credentials answer quoted, dates read strictly.
 */

let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(handler: Handler): Promise<string> {
  server = await hostileServer(handler);
  return server.url;
}

function context(): ProviderContext {
  return { secretId: 'ncp-deployer', rotationId: 'rot-1', clock: systemClock, log: memoryLogger() };
}

async function failure(promise: Promise<unknown>): Promise<RotatorError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RotatorError);
  return err as RotatorError;
}

function issue(url: string): Promise<unknown> {
  const provider = ncpSts.create(
    {
      id: 'ncp-deployer',
      credentials: { accessKey: 'AK', secretKey: 'master-secret-1' },
      params: ncpSts.paramsSchema.parse({ endpoint: url }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
  return provider.issue(context());
}

const VALID = { accessKey: 'STSKEY1', keySecret: 'issued-secret-value-1', createTime: '2026-01-01T00:00:00Z' };

describe('ncp-sts boundaries against a hostile server', () => {
  it('a server dripping one byte at a time cannot hold a request past its total deadline', async () => {
    const url = await serve((_req, res) => drip(res, 20));
    const client = new NcpStsClient({ endpoint: url, timeoutMs: 300 });
    const err = await failure(
      client.request({
        method: 'POST',
        path: '/api/v1/credentials',
        body: {},
        key: { accessKey: 'AK', secretKey: 'master-secret-1' },
        clock: systemClock,
        action: 'issue STS credentials',
      }),
    );
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    expect(err.message).toContain('NCP STS issue STS credentials (POST /api/v1/credentials) timed out after 0.3s');
  });

  it('a gzip bomb is cut off at the 1 MiB cap, not inflated whole', async () => {
    const url = await serve((_req, res) => gzipBomb(res));
    const err = await failure(issue(url));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_ANSWER', retryable: false });
    expect(err.message).toContain(`answered more than ${MAX_BODY_BYTES} bytes`);
  });

  it('a 10 MB answer is refused at the cap', async () => {
    const url = await serve((_req, res) => json(res, 200, ' '.repeat(10 * 1024 * 1024)));
    const err = await failure(issue(url));
    expect(err.code).toBe('PROVIDER_BAD_ANSWER');
  });

  it('a truncated credentials answer is not quoted (the keySecret stays out of the message)', async () => {
    const url = await serve((_req, res) => json(res, 200, '{"accessKey":"STSKEY1","keySecret":"truncated-live-secret-XYZ'));
    const err = await failure(issue(url));
    expect(err.code).toBe('PROVIDER_BAD_ANSWER');
    expect(err.message).not.toContain('truncated-live-secret');
    expect(JSON.stringify(err.toJSON())).not.toContain('truncated-live-secret');
  });

  it.each([
    ['1e20', 1e20],
    ['year 9999', '9999-12-31T00:00:00Z'],
    ['year 275760', '+275760-09-13T00:00:00Z'],
    ['before 2000', '1970-01-02T00:00:00Z'],
  ])('an expireTime of %s is a PROVIDER_BAD_ANSWER naming the field, not a RangeError', async (_name, expireTime) => {
    const url = await serve((_req, res) => json(res, 200, { ...VALID, expireTime }));
    const err = await failure(issue(url));
    expect(err).toMatchObject({ code: 'PROVIDER_BAD_ANSWER', retryable: false, details: { field: 'expireTime' } });
    expect(err.message).toContain('expireTime');
    expect(err.message).toContain('(POST /api/v1/credentials)');
  });

  it('a valid answer still returns ISO instants', async () => {
    const url = await serve((_req, res) => json(res, 200, { ...VALID, expireTime: '2026-01-01T01:00:00Z', useMfa: true }));
    const provider = ncpSts.create(
      {
        id: 'ncp-deployer',
        credentials: { accessKey: 'AK', secretKey: 'master-secret-1' },
        params: ncpSts.paramsSchema.parse({ endpoint: url }),
      },
      { log: memoryLogger(), clock: systemClock },
    );
    await expect(provider.issue(context())).resolves.toMatchObject({
      issuedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-01T01:00:00.000Z',
      extra: { useMfa: true },
    });
  });
});
