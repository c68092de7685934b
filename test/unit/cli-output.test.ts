import { parse as parseYaml } from 'yaml';
import {
  clip,
  formatData,
  formatStatusDetail,
  formatStatusTable,
  formatStatusWide,
  formatTable,
  needsAttention,
  nextShort,
  outputFormat,
  pickField,
  relative,
  timeLeft,
  type StatusRow,
} from '../../src/cli/output';
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

  const failing: StatusRow = {
    secretId: 'ncp-deployer-with-a-rather-long-identifier-for-the-payments-team',
    provider: 'ncp-sts',
    state: 'failing',
    expiresAt: '2026-11-22T03:00:00.000Z',
    renewsAt: '2026-11-22T02:10:00.000Z',
    next: 'nothing due before 2026-11-22T02:10:00.000Z (backing off after 3 failures)',
    currentVersion: 'r1',
    consecutiveFailures: 3,
    lastError: { code: 'PROVIDER_UNREACHABLE', message: 'connect ECONNREFUSED 127.0.0.1:9 after 3 tries over 40s' },
    nextAttemptAt: '2026-11-22T02:10:00.000Z',
  };
  const NOW = T0 + 2 * 3600_000 + 60_000;
  const rows: StatusRow[] = [
    failing,
    { secretId: 'admin', provider: 'ncp-sts', state: 'missing', renewsAt: 'now', next: 'issue a new credential' },
    {
      secretId: 'paused-one',
      provider: 'mongodb-atlas',
      state: 'paused',
      expiresAt: value.expiresAt,
      next: 'paused',
      currentVersion: 'r1',
    },
    {
      secretId: 'ok-one',
      provider: 'ncp-sts',
      state: 'ok',
      expiresAt: value.expiresAt,
      renewsAt: '2026-11-22T02:45:30.000Z',
      next: '…',
      currentVersion: 'r1',
    },
  ];

  test('status fits 80 columns: id, state word, time left and next action in human units', () => {
    const table = formatStatusTable(rows, NOW);
    for (const line of table.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^SECRET\s+STATE\s+LEFT\s+NEXT\s+LAST ERROR/);
    expect(lines[1]).toMatch(/^ncp-deployer-with-a-rather-…\s+failing\s+59m\s+retry in 9m\s+3× PROVIDER_UNRE/);
    expect(lines[2]).toMatch(/^admin\s+missing\s+-\s+issue now\s*$/);
    expect(lines[3]).toMatch(/^paused-one\s+paused\s+59m\s+never \(paused\)\s*$/);
    expect(lines[4]).toMatch(/^ok-one\s+ok\s+59m\s+renew in 44m 30s\s*$/);
  });

  test('status clips at the width it is given, not at the data', () => {
    for (const line of formatStatusTable(rows, NOW, 60).split('\n')) expect(line.length).toBeLessThanOrEqual(60);
    expect(clip('abcdef', 4)).toBe('abc…');
    expect(clip('abc', 4)).toBe('abc');
  });

  test('-o wide shows the full id, provider, ISO times, failures and the error message', () => {
    const wide = formatStatusWide(rows, NOW).split('\n');
    expect(wide[0]).toMatch(/^SECRET\s+PROVIDER\s+STATE\s+EXPIRES\s+LEFT\s+NEXT\s+AT\s+FAILURES\s+LAST ERROR\s+DISTRIBUTED$/);
    expect(wide[1]).toContain(failing.secretId);
    expect(wide[1]).toContain('2026-11-22T02:10:00.000Z');
    expect(wide[1]).toContain('PROVIDER_UNREACHABLE: connect ECONNREFUSED');
  });

  test.each([
    [{}, 'table'],
    [{ output: 'wide' as const }, 'wide'],
    [{ output: 'yaml' as const }, 'yaml'],
    [{ json: true, output: 'yaml' as const }, 'json'],
  ])('outputFormat(%j) = %s', (opts, format) => {
    expect(outputFormat(opts)).toBe(format);
  });

  test('json and yaml carry the same data; tables are formatted by the caller', () => {
    expect(JSON.parse(formatData('json', rows)!)).toEqual(rows);
    expect(parseYaml(formatData('yaml', rows)!)).toEqual(rows);
    expect(formatData('table', rows)).toBeUndefined();
    expect(formatData('wide', rows)).toBeUndefined();
  });

  test('needs attention: failing, expiring, expired, missing; not ok, renewing, paused', () => {
    const word = (state: StatusRow['state']) => needsAttention({ ...failing, state });
    expect(['failing', 'expiring', 'expired', 'missing'].map((s) => word(s as StatusRow['state']))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['ok', 'renewing', 'paused'].map((s) => word(s as StatusRow['state']))).toEqual([false, false, false]);
  });

  test('timeLeft and nextShort', () => {
    expect(timeLeft(failing, Date.parse(failing.expiresAt!) + 1)).toBe('expired');
    expect(timeLeft(rows[1]!, NOW)).toBe('-');
    expect(nextShort({ ...rows[3]!, renewsAt: 'now', state: 'renewing' }, NOW)).toBe('renew now');
    expect(nextShort({ ...rows[3]!, renewsAt: undefined }, NOW)).toBe('never');
  });

  test('status <id> in detail: versions, last error, window, next attempt, distribution and outputs', () => {
    const text = formatStatusDetail(
      {
        ...failing,
        previousVersion: 'r0',
        distribution: { at: '2026-11-22T01:00:00.000Z', ok: false, error: 'reload command exited 3' },
        window: "opens at '0 2 * * *' (Asia/Seoul), stays open 3h",
        outputs: ['file /etc/app/ncp.env (env)', 'command systemctl reload app'],
      },
      NOW,
    );
    expect(text).toContain('state:        failing');
    expect(text).toContain('versions:     current r1, previous r0');
    expect(text).toContain('failures:     3');
    expect(text).toContain('last error:   PROVIDER_UNREACHABLE: connect ECONNREFUSED');
    expect(text).toContain('next attempt: 2026-11-22T02:10:00.000Z (in 9m)');
    expect(text).toContain("window:       opens at '0 2 * * *' (Asia/Seoul), stays open 3h");
    expect(text).toContain('distribution: failed: reload command exited 3 at 2026-11-22T01:00:00.000Z');
    expect(text).toMatch(/outputs: {6}file \/etc\/app\/ncp.env \(env\)\n\s+command systemctl reload app/);
  });

  describe('plan rows follow nextAction: windows, pause and the emergency path', () => {
    // A 24 h credential issued at T0, due at 16:00 (renewBefore 1/3, no jitter).
    const day = { ...value, expiresAt: '2026-11-23T00:00:00.000Z' };
    const window = { start: '0 20 * * *', durationMs: 3600_000 };
    const row = (now: number, extra: object) =>
      statusRow('s', 'ncp-sts', { current: version(day) }, { ...policy, ...extra }, now);

    test('due outside the window: renews when the window opens', () => {
      expect(row(T0 + 17 * 3600_000, { window }).renewsAt).toBe('2026-11-22T20:00:00.000Z');
      expect(row(T0 + 20 * 3600_000 + 60_000, { window }).renewsAt).toBe('now');
    });

    test('a window that opens past the emergency margin: rotates now, outside it', () => {
      const late = { start: '30 23 * * *', durationMs: 3600_000 };
      const r = row(T0 + 17 * 3600_000, { window: late });
      expect(r.renewsAt).toBe('now');
      expect(r.next).toMatch(/opens too close to expiry/);
    });

    test('paused: never, whatever is due', () => {
      const paused = row(T0 + 23 * 3600_000, { paused: true });
      expect(paused.state).toBe('paused');
      expect(paused.renewsAt).toBeUndefined();
      expect(nextShort(paused, T0)).toBe('never (paused)');
    });
  });
});
