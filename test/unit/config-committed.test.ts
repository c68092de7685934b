import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderJsonSchema } from '../../config/generate-json-schema';
import { ConfigError, loadConfig, type ConfigOptions } from '../../src/config';
import { providers } from '../../providers';
import { SecretRegistry } from '../../src/redact';

/**
 * The committed files against the real provider registry (providers/index.ts), so a provider's
 * schema change that breaks rotator.config.yaml, the examples or the editor JSON Schema fails here.
 */

const ROOT = resolve(__dirname, '../..');
const ENV = {
  NCP_ACCESS_KEY: 'any-access-key',
  NCP_SECRET_KEY: 'any-secret-key',
  NCP_ADMIN_ROLE_NRN: 'nrn:PUB:IAM::1234567:Role/admin',
  NCP_MFA_DEVICE_NRN: 'nrn:PUB:IAM::1234567:MfaDevice/ops',
  NCP_MFA_TOTP_SEED: 'JBSWY3DPEHPK3PXP',
  MCM_PUBLIC_KEY: 'abcdefgh',
  MCM_PRIVATE_KEY: 'any-private-key',
};

function load(file: string, options: ConfigOptions = {}) {
  return loadConfig(file, { cwd: ROOT, secretRegistry: new SecretRegistry(), ...options });
}

test.each([
  ['with its variables set', { env: ENV }],
  ['in sandbox mode with no environment', { env: {}, sandbox: true }],
])('rotator.config.yaml validates %s', (_name, options) => {
  const config = load('rotator.config.yaml', options);
  expect(config.secrets.map((s) => [s.id, s.provider])).toEqual([
    ['ncp-deployer', 'ncp-sts'],
    ['ncp-deployer-admin', 'ncp-sts'],
    ['mongo-ci', 'mongodb-cloud-manager'],
  ]);
  expect(config.warnings).toEqual([]);
});

test.each(['minimal.yaml', 'ncp-role.yaml', 'aws-secrets-manager.yaml'])('config/examples/%s validates', (example) => {
  const config = load(join('config/examples', example), { env: ENV });
  expect(config.secrets.length).toBeGreaterThan(0);
  expect(config.warnings).toEqual([]);
});

test('config/examples/ncp-role.yaml validates in sandbox mode, flagging placeholders the provider would reject', () => {
  const config = load('config/examples/ncp-role.yaml', { env: {}, sandbox: true });
  expect(config.warnings).toEqual([
    "config/examples/ncp-role.yaml:22:7 secrets[0].params.roleNrn: ${NCP_ADMIN_ROLE_NRN} unset: its sandbox placeholder fails the provider's check and is kept unvalidated",
    "config/examples/ncp-role.yaml:24:7 secrets[0].params.totpSeed: ${NCP_MFA_TOTP_SEED} unset: its sandbox placeholder fails the provider's check and is kept unvalidated",
  ]);
});

test('provider errors carry the file, line and key path', () => {
  const fixture = 'test/fixtures/config/duration-low.yaml';
  let error: unknown;
  try {
    load(fixture, { env: ENV });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).message).toBe(
    `${fixture}:9:7 secrets[0].params.durationSec: must be an integer from 600 to 43200 seconds (got 599)`,
  );
});

test('config/rotator.schema.json is up to date (regenerate: npm run schema)', () => {
  const committed = readFileSync(join(ROOT, 'config/rotator.schema.json'), 'utf8');
  expect(JSON.parse(committed)).toEqual(JSON.parse(renderJsonSchema(providers)));
});
