import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { providers as providerPlugins } from '../../providers';
import { STARTER_VAULTS, starterConfig, type StarterConfigOptions } from '../../src/init-template';

const SCHEMA = '/usr/local/lib/node_modules/rotator/config/rotator.schema.json';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotator-init-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the starter config as `rotator init` would, then loads it as every command does. */
function load(options: StarterConfigOptions, env: NodeJS.ProcessEnv, sandbox: boolean) {
  const file = join(dir, `${options.vault ?? 'default'}.yaml`);
  writeFileSync(file, starterConfig(options));
  return loadConfig(file, { env, sandbox });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('starterConfig', () => {
  test.each(STARTER_VAULTS)('with the %s vault, validate --sandbox accepts it with no credentials and no warnings', (vault) => {
    const config = load({ schema: SCHEMA, vault }, {}, true);
    expect(config.vault.type).toBe(vault);
    expect(config.warnings).toEqual([]);
  });

  test('the default is the embedded file vault next to the config', () => {
    const config = load({ schema: SCHEMA }, {}, true);
    expect(config.vault).toEqual(expect.objectContaining({ type: 'file', path: join(dir, '.rotator/vault.json') }));
  });

  test('holds one secret for every registered provider, so a new provider needs its starter entry', () => {
    const config = load({ schema: SCHEMA }, {}, true);
    expect(config.secrets.map((s) => s.provider).sort()).toEqual(providerPlugins.map((p) => p.type).sort());
  });

  test('master credentials come only from the environment: without sandbox, exactly their variables are missing', () => {
    expect(problemsOf(() => load({ schema: SCHEMA }, {}, false))).toEqual([
      expect.stringMatching(/^secrets\[0\]\.credentials\.accessKey: environment variable \$\{NCP_ACCESS_KEY\} is not set/),
      expect.stringMatching(/^secrets\[0\]\.credentials\.secretKey: environment variable \$\{NCP_SECRET_KEY\} is not set/),
      expect.stringMatching(/^secrets\[1\]\.credentials\.publicKey: environment variable \$\{MCM_PUBLIC_KEY\} is not set/),
      expect.stringMatching(/^secrets\[1\]\.credentials\.privateKey: environment variable \$\{MCM_PRIVATE_KEY\} is not set/),
    ]);
  });

  test('with the master credentials set it validates for real', () => {
    const env = {
      NCP_ACCESS_KEY: 'ncp-access',
      NCP_SECRET_KEY: 'ncp-secret',
      MCM_PUBLIC_KEY: 'abcdefgh',
      MCM_PRIVATE_KEY: 'private-key',
    };
    expect(problemsOf(() => load({ schema: SCHEMA, vault: 'aws-secrets-manager', region: 'us-east-1' }, env, false))).toEqual([]);
  });

  test('starts with comments and carries the schema line editors read', () => {
    const text = starterConfig({ schema: 'https://example.test/rotator.schema.json' });
    expect(text.split('\n')[0]).toMatch(/^# rotator configuration/);
    expect(text).toMatch(/^# yaml-language-server: \$schema=https:\/\/example\.test\/rotator\.schema\.json$/m);
  });

  test.each([
    [{ schema: '' }, /schema must be/],
    [{ schema: 'a\nvault: evil' }, /schema must be .* on one line/],
    [{ schema: SCHEMA, vault: 'vault' as never }, /vault must be one of file, aws-secrets-manager \(got "vault"\)/],
    [{ schema: SCHEMA, vault: 'aws-secrets-manager' as const, region: 'Frankfurt' }, /region must be an AWS region/],
  ])('refuses bad options with what to fix: %j', (options, message) => {
    expect(() => starterConfig(options)).toThrow(message);
  });
});
