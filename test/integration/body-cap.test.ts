/**
 * Issue 10 item 7 ("a 10 MB answer is read whole"): an otherwise valid answer padded to 10 MB is
 * refused at the 1 MiB cap, for NCP STS and MongoDB, with the cap in the message. (The older
 * "a 10 MB answer is refused at the cap" test serves a 10 MB JSON string, which is a bad answer
 * with or without the cap, so it could not fail on uncapped code.) Hostile server on loopback.
 */
import { ncpSts } from '../../providers/ncp-sts';
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import { resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import { MAX_BODY_BYTES } from '../../providers/kit';
import { systemClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import type { ProviderContext } from '../../src/types';
import { hostileServer, json, type HostileServer } from '../support/hostile-server';

const PAD = 'x'.repeat(10 * 1024 * 1024);
const ORG = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const CLIENT_ID = 'mdb_sa_id_bbbbbbbbbbbbbbbbbbbbbbbb';
let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  resetDigestPools();
});

const context = (): ProviderContext => ({ secretId: 's', rotationId: 'rot-1', clock: systemClock, log: memoryLogger() });
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

test('NCP STS: a valid credentials answer padded to 10 MB is refused at the cap', async () => {
  server = await hostileServer((_req, res) =>
    json(res, 200, {
      accessKey: 'STSKEY1',
      keySecret: 'issued-secret-value-1',
      createTime: iso(0),
      expireTime: iso(3_600_000),
      pad: PAD,
    }),
  );
  const provider = ncpSts.create(
    {
      id: 's',
      credentials: { accessKey: 'AK', secretKey: 'master-secret-1' },
      params: ncpSts.paramsSchema.parse({ endpoint: server.url }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
  await expect(provider.issue(context())).rejects.toMatchObject({
    code: 'PROVIDER_BAD_ANSWER',
    message: expect.stringContaining(`more than ${MAX_BODY_BYTES} bytes`),
  });
});

test('MongoDB: a valid create answer padded to 10 MB is refused at the cap', async () => {
  server = await hostileServer((req, res) => {
    if (req.method === 'POST')
      return json(res, 201, {
        id: 'c'.repeat(24),
        secret: 'mdb_sa_sk_padded',
        createdAt: iso(0),
        expiresAt: iso(72 * 3_600_000),
        pad: PAD,
      });
    json(res, 200, { clientId: CLIENT_ID, secrets: [] });
  });
  const provider = mongodbCloudManager.create(
    {
      id: 's',
      credentials: { publicKey: 'pubkey', privateKey: 'private-key-value-1' },
      params: mongodbCloudManager.paramsSchema.parse({
        orgId: ORG,
        clientId: CLIENT_ID,
        secretExpiresAfterHours: 72,
        baseUrl: `${server.url}/api/public/v1.0`,
      }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
  const err = (await provider.issue(context()).catch((e: unknown) => e)) as Error;
  expect(err).toMatchObject({
    code: 'PROVIDER_BAD_ANSWER',
    message: expect.stringContaining(`more than ${MAX_BODY_BYTES} bytes`),
  });
  expect(err.message).not.toContain('mdb_sa_sk_padded');
});
