/**
 * The `vault: { type: aws-secrets-manager }` section: defaults, and CONFIG errors with file,
 * line and key for what AWS would refuse later (region, endpoint, prefix charset, tags).
 * Also: the AWS SDK is loaded only when this vault is configured.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, parseConfig } from '../../config/load';
import { SecretRegistry } from '../../src/redact';
import { fakePlugins } from '../fixtures/config/plugins';

const ROOT = resolve(__dirname, '../..');

function parse(vault: string) {
  return parseConfig(`vault: ${vault}\nsecrets: []\n`, {
    env: {},
    plugins: fakePlugins,
    secretRegistry: new SecretRegistry(),
    file: 'inline.yaml',
    absolute: join(ROOT, 'inline.yaml'),
  });
}

function problems(vault: string): string[] {
  try {
    parse(vault);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

test('defaults: prefix rotator/, no tags, no endpoint or KMS key', () => {
  expect(parse('{ type: aws-secrets-manager, region: eu-central-1 }').vault).toEqual({
    type: 'aws-secrets-manager',
    region: 'eu-central-1',
    prefix: 'rotator/',
    tags: {},
  });
});

test('every setting as written', () => {
  const vault = parse(
    '{ type: aws-secrets-manager, region: us-gov-west-1, endpoint: "http://127.0.0.1:4566", prefix: "teams/a+b=c.d@e-f_g/", kmsKeyId: alias/rotator, tags: { team: platform, "cost center": "42" } }',
  ).vault;
  expect(vault).toEqual({
    type: 'aws-secrets-manager',
    region: 'us-gov-west-1',
    endpoint: 'http://127.0.0.1:4566',
    prefix: 'teams/a+b=c.d@e-f_g/',
    kmsKeyId: 'alias/rotator',
    tags: { team: 'platform', 'cost center': '42' },
  });
});

test.each([
  ['{ type: aws-secrets-manager }', 'vault.region: is required: must be an AWS region such as us-east-1 or eu-central-1'],
  [
    '{ type: aws-secrets-manager, region: Frankfurt }',
    'vault.region: must be an AWS region such as us-east-1 or eu-central-1 (got "Frankfurt")',
  ],
  [
    '{ type: aws-secrets-manager, region: eu-central-1, endpoint: "localhost:4566" }',
    expect.stringMatching(/^vault\.endpoint: must be an http\(s\) URL/),
  ],
  [
    '{ type: aws-secrets-manager, region: eu-central-1, prefix: "my secrets/" }',
    expect.stringMatching(/^vault\.prefix: may only contain letters, digits and/),
  ],
  ['{ type: aws-secrets-manager, region: eu-central-1, tags: { "aws:owner": x } }', expect.stringMatching(/reserved/)],
  [
    '{ type: aws-secrets-manager, region: eu-central-1, tags: { team: 42 } }',
    expect.stringMatching(/tag values must be strings/),
  ],
  [
    '{ type: aws-secrets-manager, region: eu-central-1, path: vault.json }',
    expect.stringMatching(/^vault\.path: unknown key 'path'/),
  ],
])('%s is a CONFIG error', (vault, message) => {
  expect(problems(vault)).toEqual([message]);
});

// Uses dist/ (built by test/global-setup.js): a fresh process, so require.cache starts empty.
test('the SDK is not loaded by the file vault, and is by the AWS vault', () => {
  const probe = (config: string) =>
    spawnSync(
      process.execPath,
      [
        '-e',
        `const { createVault } = require('./dist/src/vaults');
         const { systemClock } = require('./dist/src/clock');
         const { silentLogger } = require('./dist/src/log');
         createVault(${config}, { clock: systemClock, log: silentLogger, env: { ROTATOR_VAULT_KEY: 'a'.repeat(64) } })
           .then(async (v) => { await v.close?.(); const loaded = Object.keys(require.cache).some((p) => p.includes('@aws-sdk/client-secrets-manager'));
             process.stdout.write(String(loaded)); });`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
  const dir = mkdtempSync(join(tmpdir(), 'rotator-sdk-probe-'));
  try {
    const file = probe(`{ type: 'file', path: ${JSON.stringify(join(dir, 'vault.json'))}, history: 5 }`);
    expect(file.stdout).toBe('false');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const aws = probe(
    `{ type: 'aws-secrets-manager', region: 'eu-central-1', endpoint: 'http://127.0.0.1:9', prefix: 'rotator/', tags: {} }`,
  );
  expect(aws.stdout).toBe('true');
});
