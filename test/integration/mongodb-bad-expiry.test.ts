/**
 * Issue 10 item 2 for MongoDB, through the engine: a create answer whose `expiresAt` is in the
 * past, before `createdAt`, or sooner than the provider's 8-hour minimum is refused with
 * PROVIDER_BAD_ANSWER naming the field; the issued secret is deleted at the server (DELETE seen
 * over loopback) and nothing is stored. The server is a hostile fake on loopback standing in for
 * the Admin API (it answers before any Digest challenge).
 */
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import { resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import { systemClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import { rotateSecret, type RotationDeps } from '../../src/rotate';
import { hostileServer, json, type HostileServer } from '../support/hostile-server';
import { MemoryVault } from '../support/memory-vault';

const ORG = 'aaaaaaaaaaaaaaaaaaaaaaaa';
const CLIENT_ID = 'mdb_sa_id_bbbbbbbbbbbbbbbbbbbbbbbb';
const SECRET_ID = 'cccccccccccccccccccccccc';
const ACCOUNT = `/api/public/v1.0/orgs/${ORG}/serviceAccounts/${CLIENT_ID}`;
const H = 3_600_000;
const once = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };

let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  resetDigestPools();
});

test.each([
  ['in the past', () => ({ createdAt: iso(-2 * H), expiresAt: iso(-H) })],
  ['before createdAt', () => ({ createdAt: iso(0), expiresAt: iso(-60_000) })],
  ['1 h away, below the 8-hour minimum', () => ({ createdAt: iso(0), expiresAt: iso(H) })],
])('an expiresAt %s: PROVIDER_BAD_ANSWER, deleted at the server, nothing stored', async (_name, dates) => {
  const seen: string[] = [];
  server = await hostileServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.method === 'POST' && req.url === `${ACCOUNT}/secrets`)
      return json(res, 201, { id: SECRET_ID, secret: 'mdb_sa_sk_bad-expiry', ...dates() });
    if (req.method === 'GET' && req.url?.startsWith(ACCOUNT)) return json(res, 200, { clientId: CLIENT_ID, secrets: [] });
    if (req.method === 'DELETE') return void res.writeHead(204).end();
    json(res, 404, {});
  });
  const log = memoryLogger();
  const provider = mongodbCloudManager.create(
    {
      id: 'mongo',
      credentials: { publicKey: 'pubkey', privateKey: 'private-key-value-1' },
      params: mongodbCloudManager.paramsSchema.parse({
        orgId: ORG,
        clientId: CLIENT_ID,
        secretExpiresAfterHours: 72,
        baseUrl: `${server.url}/api/public/v1.0`,
      }),
    },
    { log, clock: systemClock },
  );
  const vault = new MemoryVault(systemClock);
  const deps: RotationDeps = {
    vault,
    clock: systemClock,
    log,
    owner: 'test',
    retry: { provider: once, verify: once, vaultRead: once, vaultWrite: once },
  };
  const target = {
    secretId: 'mongo',
    provider,
    policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
  };
  const err = await rotateSecret(target, deps).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'PROVIDER_BAD_ANSWER' });
  expect((err as Error).message).toContain('expiresAt');
  expect((err as Error).message).not.toContain('mdb_sa_sk_bad-expiry');
  expect(seen).toContain(`DELETE ${ACCOUNT}/secrets/${SECRET_ID}`);
  const state = await vault.read('mongo');
  expect(state.current).toBeUndefined();
  expect(state.pending).toBeUndefined();
});

function iso(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString();
}
