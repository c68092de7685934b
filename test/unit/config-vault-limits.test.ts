/**
 * A secret that renews more often than its vault allows gets a config warning naming the secret,
 * its interval, the vault's minimum and why (issue 9 item 6). Driven through src/config.ts with
 * the real provider descriptors and the real vault limits table, so the wiring is tested too.
 */
import { join, resolve } from 'node:path';
import { parseConfig } from '../../src/config';
import { SecretRegistry } from '../../src/redact';
import { VAULT_LIMITS } from '../../src/vaults';
import { AWS_VAULT_LIMITS } from '../../src/vaults/aws';
import { renewalIntervalMs, rotationIntervalWarnings } from '../../config/vault-limits';
import { ncpStsDescriptor } from '../../providers/ncp-sts/descriptor';
import { mongodbCloudManagerDescriptor } from '../../providers/mongodb-cloud-manager/descriptor';
import type { VaultLimitsTable } from '../../config/vault-limits';
import type { ProviderDescriptor } from '../../src/types';

const ROOT = resolve(__dirname, '../..');
const ENV = {
  NCP_ACCESS_KEY: 'AKID-test-access',
  NCP_SECRET_KEY: 'test-secret-key-0001',
  MCM_ID: 'mdb_sa_id_0123456789abcdef01234567',
  MCM_SECRET: 'mdb_sa_sk_secret',
};
const AWS_VAULT = '{ type: aws-secrets-manager, region: us-east-1 }';
const FILE_VAULT = '{ type: file, path: vault.json }';

function ncp(params: string, renewBefore?: string): string {
  return [
    '  - id: app',
    '    provider: ncp-sts',
    '    credentials: { accessKey: "${NCP_ACCESS_KEY}", secretKey: "${NCP_SECRET_KEY}" }',
    ...(renewBefore === undefined ? [] : [`    renewBefore: ${renewBefore}`]),
    `    params: ${params}`,
  ].join('\n');
}

function mongo(hours: number, renewBefore?: string): string {
  return [
    '  - id: db',
    '    provider: mongodb-cloud-manager',
    '    credentials: { clientId: "${MCM_ID}", clientSecret: "${MCM_SECRET}" }',
    ...(renewBefore === undefined ? [] : [`    renewBefore: ${renewBefore}`]),
    `    params: { orgId: 0123456789abcdef01234567, clientId: mdb_sa_id_fedcba9876543210fedcba98, secretExpiresAfterHours: ${hours} }`,
  ].join('\n');
}

/** The warnings of a config with one secret (after a harmless first one, so the index shows). */
function warningsOf(vault: string, secret: string, options: { defaults?: string; vaultLimits?: VaultLimitsTable } = {}) {
  const text = [
    `vault: ${vault}`,
    `defaults: ${options.defaults ?? '{ renewBefore: 33%, jitter: 10% }'}`,
    'secrets:',
    '  - id: first',
    '    provider: ncp-sts',
    '    credentials: { accessKey: "${NCP_ACCESS_KEY}", secretKey: "${NCP_SECRET_KEY}" }',
    '    renewBefore: 1m',
    '    params: { durationSec: 43200 }',
    secret,
    '',
  ].join('\n');
  return parseConfig(text, {
    env: ENV,
    secretRegistry: new SecretRegistry(),
    file: 'inline.yaml',
    absolute: join(ROOT, 'inline.yaml'),
    ...(options.vaultLimits ? { vaultLimits: options.vaultLimits } : {}),
  }).warnings;
}

describe('provider descriptors declare the lifetime their params ask for', () => {
  test.each<[string, ProviderDescriptor, object, number, string]>([
    ['ncp-sts, durationSec given', ncpStsDescriptor, { durationSec: 900 }, 900_000, 'durationSec'],
    ['ncp-sts, durationSec defaulted by the schema (3600)', ncpStsDescriptor, {}, 3_600_000, 'durationSec'],
    [
      'mongodb, secretExpiresAfterHours',
      mongodbCloudManagerDescriptor,
      { orgId: '0123456789abcdef01234567', clientId: 'mdb_sa_id_0123456789abcdef01234567', secretExpiresAfterHours: 8 },
      8 * 3_600_000,
      'secretExpiresAfterHours',
    ],
  ])('%s', (_name, descriptor, raw, ms, param) => {
    const params = descriptor.paramsSchema.parse(raw);
    expect(descriptor.lifetime?.param).toBe(param);
    expect(descriptor.lifetime?.ms(params)).toBe(ms);
  });
});

describe('the vault limits are one table', () => {
  test('the AWS vault exposes the table entry; the file vault declares no minimum', () => {
    expect(AWS_VAULT_LIMITS).toBe(VAULT_LIMITS['aws-secrets-manager'].limits);
    expect(AWS_VAULT_LIMITS.minRotationIntervalMs).toBe(15 * 60_000);
    expect(VAULT_LIMITS.file.limits.minRotationIntervalMs).toBeUndefined();
  });
});

describe('validate warns when a secret renews faster than its vault allows', () => {
  type Row = [name: string, vault: string, secret: string, expected: RegExp | null, options?: Parameters<typeof warningsOf>[2]];
  const rows: Row[] = [
    // fraction renewBefore (defaults: 33%)
    ['aws, 15m lifetime, 33% → 603s', AWS_VAULT, ncp('{ durationSec: 900 }'), /'app' renews every 603s/],
    ['aws, 30m lifetime, 50% → exactly 15m: at the limit', AWS_VAULT, ncp('{ durationSec: 1800 }', '50%'), null],
    ['aws, 30m lifetime, 51% → 882s: below', AWS_VAULT, ncp('{ durationSec: 1800 }', '51%'), /'app' renews every 882s/],
    ['aws, 30m lifetime, 49% → 918s: above', AWS_VAULT, ncp('{ durationSec: 1800 }', '49%'), null],
    ['aws, default durationSec (1h), 33% → 40m12s', AWS_VAULT, ncp('{}'), null],
    // duration renewBefore
    ['aws, 20m lifetime, 5m → exactly 15m: at the limit', AWS_VAULT, ncp('{ durationSec: 1200 }', '5m'), null],
    ['aws, 20m lifetime, 301s → 899s: below', AWS_VAULT, ncp('{ durationSec: 1200 }', '301s'), /'app' renews every 899s/],
    ['aws, 20m lifetime, 4m → 16m: above', AWS_VAULT, ncp('{ durationSec: 1200 }', '4m'), null],
    [
      'aws, default durationSec (1h), 46m → 14m: below',
      AWS_VAULT,
      ncp('{}', '46m'),
      /'app' renews every 14m \(durationSec gives a 1h lifetime/,
    ],
    [
      'aws, defaults.renewBefore (6m) applies when the secret sets none → 14m',
      AWS_VAULT,
      ncp('{ durationSec: 1200 }'),
      /'app' renews every 14m \(durationSec gives a 20m lifetime, renewBefore takes 6m\)/,
      { defaults: '{ renewBefore: 6m }' },
    ],
    // the file vault has no minimum
    ['file, 10m lifetime, 50% → 5m: no minimum', FILE_VAULT, ncp('{ durationSec: 600 }', '50%'), null],
    ['file, 15m lifetime, 33%', FILE_VAULT, ncp('{ durationSec: 900 }'), null],
    // MongoDB: the schema's 8 h floor and renewBefore's 90 % cap keep it at 48m or more
    ['aws, mongodb 8h, 99% (capped at 90%) → 48m', AWS_VAULT, mongo(8, '99%'), null],
    [
      'a vault with a 1h minimum, mongodb 8h, 450m (capped at 7h12m) → 48m',
      AWS_VAULT,
      mongo(8, '450m'),
      /'db' renews every 48m \(secretExpiresAfterHours gives a 8h lifetime, renewBefore takes 432m\), below the aws-secrets-manager vault's 1h minimum; raise secretExpiresAfterHours or lower renewBefore$/,
      { vaultLimits: { 'aws-secrets-manager': { limits: { minRotationIntervalMs: 3_600_000 } } } },
    ],
  ];

  // A rest parameter: with five named ones, jest would take the fifth as `done` for 4-item rows.
  test.each(rows)('%s', (...[, vault, secret, expected, options]: Row) => {
    const warnings = warningsOf(vault, secret, options);
    if (expected === null) expect(warnings).toEqual([]);
    else {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(expected);
    }
  });

  test('the warning names file:line of the secret, its interval, the minimum, why and what to change', () => {
    const [warning] = warningsOf(AWS_VAULT, ncp('{ durationSec: 1200 }', '6m'));
    expect(warning).toBe(
      "inline.yaml:9:5 secrets[1]: 'app' renews every 14m (durationSec gives a 20m lifetime, renewBefore takes 6m), " +
        "below the aws-secrets-manager vault's 15m minimum: every rotation writes a Secrets Manager version, " +
        'AWS keeps versions younger than 24h and allows about 100 per secret; raise durationSec or lower renewBefore',
    );
  });
});

describe('rotationIntervalWarnings (pure)', () => {
  const secret = { id: 's', provider: 'ncp-sts', credentials: {}, params: { durationSec: 900 }, outputs: [] };
  const defaults = { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0.1 };

  test('the interval is the lifetime minus the capped renew-before window', () => {
    expect(renewalIntervalMs(900_000, { kind: 'fraction', fraction: 1 / 3 })).toBe(600_000);
    expect(renewalIntervalMs(900_000, { kind: 'duration', ms: 890_000 })).toBe(90_000);
  });

  test('no table entry for the vault, or a provider without a lifetime: no warning', () => {
    const config = { vault: { type: 'file', path: '/v', keyFile: '/k', history: 2 } as const, defaults, secrets: [secret] };
    expect(rotationIntervalWarnings(config, [ncpStsDescriptor], {})).toEqual([]);
    const aws = { ...config, vault: { type: 'aws-secrets-manager' as const, region: 'us-east-1', prefix: 'rotator/', tags: {} } };
    expect(rotationIntervalWarnings(aws, [{ ...ncpStsDescriptor, lifetime: undefined }], VAULT_LIMITS)).toEqual([]);
    expect(rotationIntervalWarnings(aws, [ncpStsDescriptor], VAULT_LIMITS)).toEqual([
      { index: 0, message: expect.stringContaining("'s' renews every 10m") },
    ]);
  });
});
