import { execFileSync } from 'node:child_process';
import {
  dotenvQuote,
  formatDotenv,
  formatShell,
  mergeEnvEntries,
  metadataEnv,
  secretEnvEntries,
  shellQuote,
} from '../../src/distribute/env';
import { exitCodeOf, nextPollDelay } from '../../src/distribute/exec';
import type { VaultValue } from '../../src/types';

const value: VaultValue = {
  provider: 'ncp-sts',
  secretId: 'ncp-deployer',
  credentials: { accessKey: 'AK1', keySecret: 'SK1' },
  issuedAt: '2026-11-22T00:00:00.000Z',
  expiresAt: '2026-11-22T03:00:00.000Z',
  providerRef: 'AK1',
  rotationId: 'r1',
};
const NCP = { accessKey: 'NCLOUD_ACCESS_KEY', keySecret: 'NCLOUD_SECRET_KEY' };

/** Awkward values: quotes, shell syntax, newlines, backslashes, unicode, empty. */
const NASTY = [
  'plain',
  "it's",
  `"double" and 'single'`,
  '$(touch /tmp/pwned) `id` ${HOME} $HOME',
  'line1\nline2',
  'back\\slash\\',
  'semi;colon && pipe | amp & hash # star *',
  'ünïcødé ✓',
  '',
  "'",
  "''\\''",
];

describe('environment names', () => {
  test.each([
    [
      'provider names',
      undefined,
      [
        ['NCLOUD_ACCESS_KEY', 'AK1'],
        ['NCLOUD_SECRET_KEY', 'SK1'],
      ],
    ],
    [
      'a per-secret override wins',
      { accessKey: 'AWS_ACCESS_KEY_ID' },
      [
        ['AWS_ACCESS_KEY_ID', 'AK1'],
        ['NCLOUD_SECRET_KEY', 'SK1'],
      ],
    ],
    [
      'overrides for every field',
      { accessKey: 'A', keySecret: 'B' },
      [
        ['A', 'AK1'],
        ['B', 'SK1'],
      ],
    ],
  ])('%s', (_name, overrides, expected) => {
    expect(secretEnvEntries(value, NCP, overrides)).toEqual(expected);
  });

  test('no provider names: ROTATOR_<ID>_<FIELD>', () => {
    expect(secretEnvEntries(value, undefined, undefined)).toEqual([
      ['ROTATOR_NCP_DEPLOYER_ACCESS_KEY', 'AK1'],
      ['ROTATOR_NCP_DEPLOYER_KEY_SECRET', 'SK1'],
    ]);
  });

  test('metadata for hooks names the secret and its expiry', () => {
    expect(Object.fromEntries(metadataEnv(value))).toMatchObject({
      ROTATOR_SECRET_ID: 'ncp-deployer',
      ROTATOR_EXPIRES_AT: value.expiresAt,
    });
  });

  test('secrets that would set the same variable are refused, naming both', () => {
    const a = { secretId: 'a', entries: [['NCLOUD_ACCESS_KEY', '1']] as [string, string][] };
    const b = {
      secretId: 'b',
      entries: [
        ['X', '2'],
        ['NCLOUD_ACCESS_KEY', '3'],
      ] as [string, string][],
    };
    expect(() => mergeEnvEntries([a, b])).toThrow(/'a' and 'b' both set NCLOUD_ACCESS_KEY/);
    expect(mergeEnvEntries([a, { secretId: 'b', entries: [['X', '2']] }])).toEqual([
      ['NCLOUD_ACCESS_KEY', '1'],
      ['X', '2'],
    ]);
  });
});

describe('shell format', () => {
  test.each([
    ['abc', `'abc'`],
    ["it's", `'it'\\''s'`],
    ['', `''`],
    ['$x `y`', `'$x \`y\`'`],
  ])('shellQuote(%j) = %s', (input, quoted) => {
    expect(shellQuote(input)).toBe(quoted);
  });

  test('eval in sh gives back every value byte for byte, and runs nothing', () => {
    const entries = NASTY.map((v, i): [string, string] => [`V${i}`, v]);
    const script = `${formatShell(entries)}\nnode -e 'process.stdout.write(JSON.stringify(Object.keys(process.env).filter(k=>/^V\\d+$/.test(k)).sort((a,b)=>a.slice(1)-b.slice(1)).map(k=>process.env[k])))'`;
    const out = execFileSync('/bin/sh', ['-c', `eval "$(cat)"`], { input: script, env: { PATH: process.env.PATH } }).toString();
    expect(JSON.parse(out)).toEqual(NASTY);
  });

  test('a bad variable name is a bug, never printed as is', () => {
    expect(() => formatShell([['A;rm', 'x']])).toThrow(/invalid environment variable name/);
  });
});

describe('dotenv format', () => {
  test.each([
    ['abc', `'abc'`],
    ['a "b" $c #d', `'a "b" $c #d'`],
    ["it's", `"it's"`],
    ['l1\nl2', `"l1\\nl2"`],
    [`q'"\\`, `"q'\\"\\\\"`],
  ])('dotenvQuote(%j) = %s', (input, quoted) => {
    expect(dotenvQuote(input)).toBe(quoted);
  });

  test('NAME=value lines', () => {
    expect(
      formatDotenv([
        ['A', 'x y'],
        ['B', "o'k"],
      ]),
    ).toBe(`A='x y'\nB="o'k"`);
  });
});

describe('exec --watch polling', () => {
  test.each([
    ['no renewal known: the interval', 1_000, undefined, 30_000],
    ['renewal far away: the interval', 1_000, 1_000_000, 30_000],
    ['renewal before the next poll: just after it', 1_000, 11_000, 15_000],
    ['renewal just passed: still its settle time', 20_000, 16_000, 1_000],
    ['renewal long passed: the interval', 100_000, 16_000, 30_000],
  ])('%s', (_name, now, renewsAt, delay) => {
    expect(nextPollDelay(now, 30_000, renewsAt)).toBe(delay);
  });

  test.each([
    [0, null, 0],
    [7, null, 7],
    [null, 'SIGTERM', 143],
    [null, 'SIGKILL', 137],
    [null, 'SIGINT', 130],
  ] as const)('exitCodeOf(%p, %p) = %p', (code, signal, expected) => {
    expect(exitCodeOf(code, signal)).toBe(expected);
  });
});
