import { credentialsSchema, paramsSchema, resolveParams } from '../../providers/mongodb-cloud-manager/schema';
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';

const ORG = '5f1a2b3c4d5e6f7a8b9c0d1e';
const CLIENT = 'mdb_sa_id_65f1a2b3c4d5e6f7a8b9c0d1';
const base = { orgId: ORG, clientId: CLIENT, secretExpiresAfterHours: 72 };

function messages(schema: typeof paramsSchema | typeof credentialsSchema, input: unknown): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('mongodb-cloud-manager params', () => {
  it('fills defaults and resolves URLs from the base URL origin', () => {
    const parsed = paramsSchema.parse(base);
    expect(parsed).toEqual({ ...base, api: 'cloud-manager', revokePreviousAfter: '24h' });
    expect(resolveParams(parsed)).toEqual({
      ...base,
      api: 'cloud-manager',
      baseUrl: 'https://cloud.mongodb.com/api/public/v1.0',
      tokenUrl: 'https://cloud.mongodb.com/api/oauth/token',
      revokeUrl: 'https://cloud.mongodb.com/api/oauth/revoke',
      revokePreviousAfterMs: 86_400_000,
    });
  });

  it.each([
    [
      'atlas-v2 default base',
      { api: 'atlas-v2' },
      { baseUrl: 'https://cloud.mongodb.com/api/atlas/v2', tokenUrl: 'https://cloud.mongodb.com/api/oauth/token' },
    ],
    [
      'a base URL on another origin',
      { baseUrl: 'http://127.0.0.1:8080/api/public/v1.0/' },
      {
        baseUrl: 'http://127.0.0.1:8080/api/public/v1.0',
        tokenUrl: 'http://127.0.0.1:8080/api/oauth/token',
        revokeUrl: 'http://127.0.0.1:8080/api/oauth/revoke',
      },
    ],
    [
      'an explicit tokenUrl',
      { tokenUrl: 'https://idp.example/oauth/token' },
      { tokenUrl: 'https://idp.example/oauth/token', revokeUrl: 'https://idp.example/oauth/revoke' },
    ],
    ['revokePreviousAfter never', { revokePreviousAfter: 'never' }, { revokePreviousAfterMs: undefined }],
    ['revokePreviousAfter 1s', { revokePreviousAfter: '1s' }, { revokePreviousAfterMs: 1000 }],
    ['revokePreviousAfter 15m', { revokePreviousAfter: '15m' }, { revokePreviousAfterMs: 900_000 }],
    ['hours as a string from ${ENV}', { secretExpiresAfterHours: '8766' }, { secretExpiresAfterHours: 8766 }],
    ['atlas-v2 at its maximum', { api: 'atlas-v2', secretExpiresAfterHours: 8760 }, { secretExpiresAfterHours: 8760 }],
    ['a project', { projectId: '0123456789abcdef01234567' }, { projectId: '0123456789abcdef01234567' }],
  ])('accepts %s', (_name, input, expected) => {
    expect(resolveParams(paramsSchema.parse({ ...base, ...input }))).toMatchObject(expected);
  });

  it('a validated spec parses again to itself (create re-parses)', () => {
    const once = paramsSchema.parse({ ...base, api: 'atlas-v2', revokePreviousAfter: '1s', baseUrl: 'http://x:1/api/atlas/v2/' });
    expect(paramsSchema.parse(once)).toEqual(once);
  });

  const HOURS = 'secretExpiresAfterHours: secretExpiresAfterHours must be an integer from 8 to 8766 (8760 with api: atlas-v2)';
  it.each([
    ['7 hours', { secretExpiresAfterHours: 7 }, `${HOURS} (got 7)`],
    ['8767 hours', { secretExpiresAfterHours: 8767 }, `${HOURS} (got 8767)`],
    ['a fraction', { secretExpiresAfterHours: 72.5 }, `${HOURS} (got 72.5)`],
    [
      '8761 hours with atlas-v2',
      { api: 'atlas-v2', secretExpiresAfterHours: 8761 },
      'secretExpiresAfterHours: secretExpiresAfterHours must be at most 8760 with api: atlas-v2 (got 8761)',
    ],
    ['a bad orgId', { orgId: 'my-org' }, 'orgId: orgId must be 24 lowercase hex characters (got "my-org")'],
    [
      'a bad clientId',
      { clientId: 'mdb_sa_id_xyz' },
      'clientId: clientId must be mdb_sa_id_ followed by 24 hex characters (got "mdb_sa_id_xyz")',
    ],
    ['an unknown api', { api: 'atlas-v1' }, 'api: api must be cloud-manager or atlas-v2 (got "atlas-v1")'],
    [
      'a bad revokePreviousAfter',
      { revokePreviousAfter: '1 day' },
      'revokePreviousAfter: revokePreviousAfter must be a duration: an integer with a unit: ms, s, m, h or d (e.g. 90s, 15m, 24h, 7d) (got "1 day"); or never',
    ],
    [
      'a revokePreviousAfter over 7 days',
      { revokePreviousAfter: '8d' },
      'revokePreviousAfter: revokePreviousAfter must be from 1s to 7d, or never; or never',
    ],
    [
      'a baseUrl that is not a URL',
      { baseUrl: 'cloud.mongodb.com' },
      'baseUrl: baseUrl must be an http(s) URL such as https://cloud.mongodb.com/api/public/v1.0 (got "cloud.mongodb.com")',
    ],
    [
      'a typo in a key',
      { orgID: ORG },
      ': unknown key(s) orgID; allowed: orgId, clientId, secretExpiresAfterHours, baseUrl, api, projectId, tokenUrl, revokePreviousAfter',
    ],
  ])('rejects %s', (_name, input, expected) => {
    expect(messages(paramsSchema, { ...base, ...input })).toContain(expected);
  });

  it('requires orgId, clientId and secretExpiresAfterHours', () => {
    expect(messages(paramsSchema, {})).toEqual([
      'orgId: orgId must be a string: the organization id (24 hex characters)',
      'clientId: clientId must be a string: the service account client id (mdb_sa_id_…)',
      'secretExpiresAfterHours: secretExpiresAfterHours must be an integer from 8 to 8766 (8760 with api: atlas-v2) (got undefined)',
    ]);
  });
});

describe('mongodb-cloud-manager credentials (two auth modes)', () => {
  it.each([
    ['an API key pair', { publicKey: 'abcdefgh', privateKey: 'p-r-i-v' }],
    ['self-rotation with a bootstrap secret', { clientSecret: 'mdb_sa_sk_x' }],
    ['self-rotation from the vault alone', {}],
  ])('accepts %s', (_name, input) => {
    expect(credentialsSchema.parse(input)).toEqual(input);
  });

  it.each([
    ['publicKey alone', { publicKey: 'abcdefgh' }, 'privateKey: privateKey is required with publicKey (the API key pair)'],
    ['privateKey alone', { privateKey: 'p' }, 'publicKey: publicKey is required with privateKey (the API key pair)'],
    [
      'both modes at once',
      { publicKey: 'a', privateKey: 'b', clientSecret: 'c' },
      'clientSecret: publicKey/privateKey and clientId/clientSecret cannot be combined: set one of: publicKey + privateKey (a programmatic API key, HTTP Digest); clientId + clientSecret (an admin service account, OAuth, Cloud Manager and Atlas v2 alike); clientSecret alone (self-rotation bootstrap); or nothing (self-rotation from the vault)',
    ],
    [
      'an empty privateKey',
      { publicKey: 'a', privateKey: '' },
      'privateKey: privateKey must not be empty (the private part of the programmatic API key)',
    ],
    ['an unknown key', { apiKey: 'x' }, ': unknown key(s) apiKey; allowed: publicKey, privateKey, clientId, clientSecret'],
  ])('rejects %s', (_name, input, expected) => {
    expect(messages(credentialsSchema, input)).toContain(expected);
  });
});

describe('mongodb-cloud-manager plugin facts', () => {
  it('limits and revokePreviousAfterMs follow the params', () => {
    const make = (params: object) =>
      mongodbCloudManager.create(
        { id: 'm', credentials: { publicKey: 'abcdefgh', privateKey: 'private-key-1' }, params: { ...base, ...params } as never },
        { log: undefined as never, clock: undefined as never },
      );
    const cm = make({});
    expect(cm.limits).toEqual({
      minLifetimeMs: 8 * 3_600_000,
      maxLifetimeMs: 8766 * 3_600_000,
      maxLiveSecrets: 2,
      issueEffectOnOlder: { kind: 'shorten', toAtMostMs: 7 * 86_400_000 },
      expiresOnItsOwn: true,
    });
    expect(cm.revokePreviousAfterMs).toBe(86_400_000);
    expect(make({ api: 'atlas-v2' }).limits.maxLifetimeMs).toBe(8760 * 3_600_000);
    expect(make({ revokePreviousAfter: 'never' }).revokePreviousAfterMs).toBeUndefined();
  });

  it.each([
    ['Cloud Manager default', {}, `https://cloud.mongodb.com ${base.clientId}`],
    ['Atlas v2 is the same installation', { api: 'atlas-v2' }, `https://cloud.mongodb.com ${base.clientId}`],
    [
      'another installation (Ops Manager, a test server)',
      { baseUrl: 'https://ops.example.com:8443/api/public/v1.0' },
      `https://ops.example.com:8443 ${base.clientId}`,
    ],
    [
      'another service account',
      { clientId: 'mdb_sa_id_aaaaaaaaaaaaaaaaaaaaaaaa' },
      'https://cloud.mongodb.com mdb_sa_id_aaaaaaaaaaaaaaaaaaaaaaaa',
    ],
  ])('the account two secrets must not share: %s', (_title, params, expected) => {
    expect(mongodbCloudManager.accountOf!({ ...base, ...params } as never)).toBe(expected);
  });

  it('names the Atlas CLI service-account variables', () => {
    expect(mongodbCloudManager.envNames).toEqual({
      clientId: 'MONGODB_ATLAS_CLIENT_ID',
      clientSecret: 'MONGODB_ATLAS_CLIENT_SECRET',
    });
  });
});
