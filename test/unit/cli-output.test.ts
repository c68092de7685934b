import { formatTable, pickField, relative } from '../../src/cli/output';
import { statusRow } from '../../src/status';
import { envEntries, fallbackEnvName, formatEnv } from '../../src/distribute/env';
import type { SecretState, VaultValue, VaultVersion } from '../../src/types';

const value: VaultValue = {
  provider: 'ncp-sts',
  secretId: 'ncp-deployer',
  credentials: { accessKey: 'AK1', keySecret: "it's $ecret" },
  issuedAt: '2026-11-22T00:00:00.000Z',
  expiresAt: '2026-11-22T03:00:00.000Z',
  providerRef: 'AK1',
  rotationId: 'r1',
};
const version = (v: VaultValue): VaultVersion => ({
  versionId: v.rotationId,
  value: v,
  stages: ['current'],
  createdAt: v.issuedAt,
});
const policy = { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 };
const T0 = Date.parse('2026-11-22T00:00:00Z');

describe('CLI output', () => {
  test.each([
    [2 * 3600_000 + 5 * 60_000, 'in 2h 5m'],
    [-3 * 60_000, '3m ago'],
    [90_000, 'in 1m 30s'],
    [3 * 86_400_000 + 3600_000 + 1, 'in 3d 1h'],
    [0, 'in 0s'],
  ])('relative(%p) = %p', (ms, text) => {
    expect(relative(ms)).toBe(text);
  });

  test.each([
    ['ncp-deployer', 'accessKey', 'ROTATOR_NCP_DEPLOYER_ACCESS_KEY'],
    ['mongo.ci', 'clientSecret', 'ROTATOR_MONGO_CI_CLIENT_SECRET'],
  ])('fallbackEnvName(%p, %p)', (id, field, name) => {
    expect(fallbackEnvName(id, field)).toBe(name);
  });

  test('env output uses the plugin names, falls back otherwise, and quotes for the shell', () => {
    expect(formatEnv(envEntries(value, { accessKey: 'NCLOUD_ACCESS_KEY' }))).toBe(
      `NCLOUD_ACCESS_KEY=AK1\nROTATOR_NCP_DEPLOYER_KEY_SECRET='it'\\''s $ecret'`,
    );
  });

  test.each([
    ['credentials.accessKey', 'AK1'],
    ['accessKey', 'AK1'],
    ['expiresAt', '2026-11-22T03:00:00.000Z'],
    ['credentials', value.credentials],
    ['nope.deeper', undefined],
  ])('pickField(%p)', (path, expected) => {
    expect(pickField(value, path)).toEqual(expected);
  });

  test.each([
    ['ok', 'ok', { current: version(value) }, T0 + 3600_000, '2026-11-22T02:00:00.000Z'],
    ['due', 'renewing', { current: version(value) }, T0 + 2 * 3600_000, 'now'],
    ['within the emergency margin', 'expiring', { current: version(value) }, T0 + 3 * 3600_000 - 60_000, 'now'],
    ['expired', 'expired', { current: version(value) }, T0 + 3 * 3600_000, 'now'],
    ['missing', 'missing', {}, T0, 'now'],
    ['pending', 'renewing', { current: version(value), pending: version({ ...value, rotationId: 'r2' }) }, T0, 'now'],
    ['paused', 'paused', { current: version(value) }, T0 + 2 * 3600_000, undefined, { paused: true }],
    [
      'failing, backing off',
      'failing',
      {
        current: version(value),
        status: {
          lastAttemptAt: '2026-11-22T02:00:00.000Z',
          lastResult: 'failed',
          consecutiveFailures: 3,
          nextAttemptAt: '2026-11-22T02:10:00.000Z',
        },
      },
      T0 + 2 * 3600_000 + 60_000,
      '2026-11-22T02:10:00.000Z',
    ],
  ] as const)('statusRow: %s', (_name, state, secretState, now, ...rest: unknown[]) => {
    // rest: [renewsAt, policy overrides?] (a rest parameter, so jest does not take it for `done`)
    const [renewsAt, extra] = rest as [string | undefined, { paused?: boolean } | undefined];
    const row = statusRow('s', 'ncp-sts', secretState as SecretState, { ...policy, ...extra }, now);
    expect(row).toMatchObject({ state });
    expect(row.renewsAt).toBe(renewsAt);
  });

  test('formatTable aligns columns', () => {
    expect(
      formatTable(
        ['A', 'BB'],
        [
          ['xxx', 'y'],
          ['z', 'wwww'],
        ],
      ),
    ).toBe('A    BB\nxxx  y\nz    wwww');
  });
});
