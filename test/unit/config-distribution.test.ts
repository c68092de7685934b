/**
 * The config keys distribution adds: `env:` (credential field → variable name) and template
 * placeholders, checked against the provider's credential fields, with file:line key errors.
 */
import { join, resolve } from 'node:path';
import { ConfigError, formatProblem, parseConfig } from '../../config/load';
import { SecretRegistry } from '../../src/redact';
import { ncpSts } from '../../providers/ncp-sts';

const ROOT = resolve(__dirname, '../..');
const ENV = { NCP_ACCESS_KEY: 'AKID-test-access', NCP_SECRET_KEY: 'test-secret-key-0001' };

function parse(extra: string) {
  const text = `secrets:
  - id: dep
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
${extra}`;
  return parseConfig(text, {
    env: ENV,
    plugins: [ncpSts],
    secretRegistry: new SecretRegistry(),
    file: 'inline.yaml',
    absolute: join(ROOT, 'inline.yaml'),
  });
}

function problems(extra: string): string[] {
  try {
    parse(extra);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('env:', () => {
  test('maps credential fields to variable names', () => {
    const config = parse('    env: { accessKey: AWS_ACCESS_KEY_ID, keySecret: AWS_SECRET_ACCESS_KEY }\n');
    expect(config.secrets[0]!.env).toEqual({ accessKey: 'AWS_ACCESS_KEY_ID', keySecret: 'AWS_SECRET_ACCESS_KEY' });
  });

  test('absent: no env key in the loaded secret', () => {
    expect(parse('').secrets[0]).not.toHaveProperty('env');
  });

  test.each([
    [
      '    env: { accessKey: 9LIVES }\n',
      /^inline\.yaml:5:\d+ secrets\[0\]\.env\.accessKey: must be an environment variable name/,
    ],
    ['    env: { accessKey: "A-B" }\n', /^inline\.yaml:5:\d+ secrets\[0\]\.env\.accessKey: must be an environment variable name/],
    [
      '    env: { secretKey: X }\n',
      /^inline\.yaml:5:\d+ secrets\[0\]\.env\.secretKey: 'ncp-sts' has no credential field 'secretKey' \(it has accessKey, keySecret\)/,
    ],
    [
      '    env: { accessKey: X, keySecret: X }\n',
      /^inline\.yaml:5:\d+ secrets\[0\]\.env\.keySecret: X is already the name of 'accessKey'/,
    ],
    ['    env: [ X ]\n', /^inline\.yaml:5:\d+ secrets\[0\]\.env: must be a mapping of credential field to variable name/],
  ])('%j', (extra, message) => {
    expect(problems(extra)).toEqual([expect.stringMatching(message)]);
  });
});

describe('template outputs', () => {
  const output = (template: string) =>
    `    outputs:\n      - type: file\n        path: out.txt\n        format: template\n        template: ${JSON.stringify(template)}\n`;

  test('known placeholders load', () => {
    const config = parse(output('{{credentials.accessKey}} {{expiresAt}}'));
    expect(config.secrets[0]!.outputs[0]).toMatchObject({ type: 'file', path: join(ROOT, 'out.txt'), mode: 0o600 });
  });

  test.each([
    [
      '{{credentials.secretKey}}',
      /^inline\.yaml:9:\d+ secrets\[0\]\.outputs\[0\]\.template: placeholder \{\{credentials\.secretKey\}\}: the provider has no credential field 'secretKey'/,
    ],
    ['{{credentials.accessKey}', /^inline\.yaml:9:\d+ secrets\[0\]\.outputs\[0\]\.template: has an unclosed or unopened/],
    [
      '{{expires at}}',
      /^inline\.yaml:9:\d+ secrets\[0\]\.outputs\[0\]\.template: placeholder \{\{expires at\}\} is not a field path/,
    ],
  ])('%j is a config error with file, line and key', (template, message) => {
    expect(problems(output(template))).toEqual([expect.stringMatching(message)]);
  });

  test('output paths are absolute, relative to the config file', () => {
    const config = parse(
      '    outputs: [ { type: file, path: sub/a.env, format: env, mode: "0640" }, { type: command, run: "true" } ]\n',
    );
    expect(config.secrets[0]!.outputs).toEqual([
      { type: 'file', path: join(ROOT, 'sub/a.env'), format: 'env', mode: 0o640 },
      { type: 'command', run: 'true', timeoutMs: 30_000 },
    ]);
  });
});
