import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, parseConfig, resolveConfigPath } from '../../config/load';
import type { LoadOptions } from '../../config/load';
import type { ConfigProblem } from '../../config/problems';
import { editDistance, formatKeyPath, suggest } from '../../config/problems';
import { SANDBOX_PLACEHOLDER_PREFIX } from '../../config/interpolate';
import { SecretRegistry } from '../../src/redact';
import { fakeNcpSts, fakePlugins } from '../fixtures/config/plugins';

const ROOT = resolve(__dirname, '../..');
const FIXTURES = 'test/fixtures/config';
const ENV = {
  NCP_ACCESS_KEY: 'AKID-test-access',
  NCP_SECRET_KEY: 'test-secret-key-0001',
  MCM_PUBLIC_KEY: 'mcm-public-key',
  MCM_PRIVATE_KEY: 'mcm-private-key-0001',
};

function load(fixture: string, options: Partial<LoadOptions> = {}) {
  return loadConfig(`${FIXTURES}/${fixture}`, {
    env: ENV,
    plugins: fakePlugins,
    cwd: ROOT,
    secretRegistry: new SecretRegistry(),
    ...options,
  });
}

/** The ConfigError thrown by `run`, or a failure when nothing (or something else) is thrown. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** Parses inline YAML (dedented) as if it were the file `inline.yaml` at the repo root. */
function parse(text: string, options: Partial<LoadOptions> = {}) {
  return parseConfig(dedent(text), {
    env: ENV,
    plugins: fakePlugins,
    secretRegistry: new SecretRegistry(),
    file: 'inline.yaml',
    absolute: join(ROOT, 'inline.yaml'),
    ...options,
  });
}

function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

const NCP = `
  secrets:
    - id: s1
      provider: ncp-sts
      credentials: { accessKey: "\${NCP_ACCESS_KEY}", secretKey: "\${NCP_SECRET_KEY}" }
`;

describe('fixtures: every error names the file, the line, the key path and what is allowed', () => {
  type Row = [fixture: string, expected: Partial<ConfigProblem>[]];
  const rows: Row[] = [
    [
      'missing.yaml',
      [
        {
          line: undefined,
          path: '',
          message: `config file not found: ${ROOT}/${FIXTURES}/missing.yaml (set -c/--config or ROTATOR_CONFIG)`,
        },
      ],
    ],
    ['empty.yaml', [{ line: 1, column: 1, path: '', message: expect.stringMatching(/^config file is empty/) }]],
    ['comments-only.yaml', [{ line: 1, column: 1, path: '', message: expect.stringMatching(/^config file is empty/) }]],
    ['malformed.yaml', [{ line: 6, column: 1, path: 'secrets', message: 'invalid YAML: Sequence item without - indicator' }]],
    [
      'evil.yaml',
      [{ line: 5, column: 8, path: 'd[0][0]', message: 'more than 100 alias expansions (*name): refusing to expand further' }],
    ],
    [
      'flow-variable.yaml',
      [
        {
          line: 5,
          column: 32,
          path: 'secrets[0].credentials',
          message: expect.stringContaining('(inside { } or [ ], quote values that use variables: "${VAR}")'),
        },
      ],
    ],
    [
      'typo.yaml',
      [
        {
          line: 10,
          column: 7,
          path: 'secrets[0].params.durationsec',
          message: "unknown key 'durationsec' — did you mean 'durationSec'?",
        },
        {
          line: 11,
          column: 5,
          path: 'secrets[0].renewbefore',
          message: "unknown key 'renewbefore' — did you mean 'renewBefore'?",
        },
      ],
    ],
    [
      'duration-low.yaml',
      [
        {
          line: 9,
          column: 7,
          path: 'secrets[0].params.durationSec',
          message: 'must be an integer from 600 to 43200 seconds (got 599)',
        },
      ],
    ],
    [
      'duration-high.yaml',
      [
        {
          line: 9,
          column: 7,
          path: 'secrets[0].params.durationSec',
          message: 'must be an integer from 600 to 43200 seconds (got 43201)',
        },
      ],
    ],
    [
      'unset-var.yaml',
      [
        {
          line: 6,
          column: 7,
          path: 'secrets[0].credentials.secretKey',
          message:
            'environment variable ${ROTATOR_TEST_NEVER_SET} is not set (set it, write ${NAME:-default}, or validate with --sandbox)',
        },
      ],
    ],
    [
      'duplicate-id.yaml',
      [
        {
          line: 6,
          column: 5,
          path: 'secrets[1].id',
          message: "duplicate id 'ncp-deployer': secrets[0] at line 2 already uses it; ids must be unique",
        },
      ],
    ],
    [
      'duplicate-account.yaml',
      [
        {
          line: 10,
          column: 5,
          path: 'secrets[1].params',
          message:
            "secrets[0] at line 6 already rotates this mongodb-cloud-manager account (mdb_sa_id_65f1a2b3c4d5e6f7a8b9c0d1); two secrets of one account would delete each other's secrets: keep one",
        },
      ],
    ],
    [
      'unknown-provider.yaml',
      [
        {
          line: 3,
          column: 5,
          path: 'secrets[0].provider',
          message: "unknown provider 'ncp-st' — did you mean 'ncp-sts'? (known providers: ncp-sts, mongodb-cloud-manager)",
        },
      ],
    ],
    [
      'proto.yaml',
      [{ line: 7, column: 7, path: 'secrets[0].credentials.__proto__', message: "the key '__proto__' is not allowed" }],
    ],
  ];

  test.each(rows)('%s', (fixture, expected) => {
    const err = configError(() => load(fixture));
    expect(err.code).toBe('CONFIG');
    expect(err.problems).toEqual(expected.map((p) => ({ file: `${FIXTURES}/${fixture}`, ...p })));
    for (const problem of err.problems) expect(err.message).toContain(`${problem.path}: ${problem.message}`);
  });

  test('the message is one `file:line:column path: message` per problem', () => {
    expect(configError(() => load('typo.yaml')).message).toBe(
      [
        `${FIXTURES}/typo.yaml:10:7 secrets[0].params.durationsec: unknown key 'durationsec' — did you mean 'durationSec'?`,
        `${FIXTURES}/typo.yaml:11:5 secrets[0].renewbefore: unknown key 'renewbefore' — did you mean 'renewBefore'?`,
      ].join('\n'),
    );
    expect(configError(() => load('missing.yaml')).message).toBe(
      `${FIXTURES}/missing.yaml: config file not found: ${ROOT}/${FIXTURES}/missing.yaml (set -c/--config or ROTATOR_CONFIG)`,
    );
  });

  test('a directory is not a config file', () => {
    expect(configError(() => load('')).message).toMatch(/is a directory, not a config file/);
  });

  test('every problem in the file is reported at once, in file order', () => {
    const err = configError(() => load('many-problems.yaml'));
    expect(err.problems.map((p) => [p.line, p.path, p.message])).toEqual([
      [1, 'vault.type', `must be one of 'file', 'aws-secrets-manager' (got "s3")`],
      [
        2,
        'schedule',
        'must be a node-cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first (got "every minute")',
      ],
      [3, 'concurrency', 'must be an integer from 1 to 64 (got 100)'],
      [
        4,
        'shutdownTimeout',
        'must be a duration from 0s to 1h: an integer with a unit: ms, s, m, h or d (e.g. 90s, 15m, 24h, 7d) (got 30)',
      ],
      [5, 'defaults.renewBefore', expect.stringMatching(/^must be the share of the lifetime left .* \(got "100%"\)$/)],
      [5, 'defaults.jitter', 'must be from 0% to 50% (got "60%")'],
      [6, 'http.host', 'must be a host name or address (got "")'],
      [6, 'http.port', 'must be an integer from 0 to 65535 (got "99999")'],
      [8, 'secrets[0].id', `must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit (got "-bad id")`],
      [10, 'secrets[0].credentials.secretKey', 'is required'],
      [11, 'secrets[0].params.durationSec', 'must be an integer from 600 to 43200 seconds (got "abc")'],
      [12, 'secrets[0].jitter', 'must be a percentage from 0% to 50% (e.g. 10%) (got 10)'],
      [14, 'secrets[0].outputs[0].format', `must be one of 'env', 'json', 'template' (got "yaml")`],
      [15, 'secrets[0].outputs[1].template', "is required when format is 'template'"],
      [16, 'secrets[0].outputs[2].mode', expect.stringMatching(/^must be a file mode .* \(got 600\)$/)],
      [17, 'secrets[0].outputs[3].run', 'is required: a command line'],
      [18, 'secrets[0].outputs[4].type', `must be one of 'file', 'command' (got "webhook")`],
    ]);
  });
});

describe('a valid file', () => {
  test('basic.yaml: defaults applied, paths absolute and relative to the file, plugin outputs', () => {
    const config = load('basic.yaml');
    const dir = join(ROOT, FIXTURES);
    expect(config).toEqual({
      file: join(dir, 'basic.yaml'),
      vault: { type: 'file', path: join(dir, 'state/vault.json'), keyFile: join(dir, 'state/vault.json.key'), history: 3 },
      schedule: '*/5 * * * *',
      concurrency: 2,
      shutdownTimeoutMs: 45_000,
      defaults: { renewBefore: { kind: 'fraction', fraction: 0.25 }, jitter: 0.05 },
      http: { host: '127.0.0.1', port: 9999 },
      secrets: [
        {
          id: 'ncp-deployer',
          provider: 'ncp-sts',
          credentials: { accessKey: ENV.NCP_ACCESS_KEY, secretKey: ENV.NCP_SECRET_KEY },
          params: { durationSec: 3600 },
          renewBefore: { kind: 'duration', ms: 40 * 60_000 },
          jitter: 0,
          outputs: [
            { type: 'file', path: join(dir, 'out/ncp.env'), format: 'env', mode: 0o600 },
            { type: 'command', run: 'systemctl reload app', timeoutMs: 120_000 },
          ],
        },
        {
          id: 'mongo-ci',
          provider: 'mongodb-cloud-manager',
          credentials: { publicKey: ENV.MCM_PUBLIC_KEY, privateKey: ENV.MCM_PRIVATE_KEY },
          params: { orgId: '5f1a2b', clientId: 'mdb_sa_id_1', secretExpiresAfterHours: 72 },
          outputs: [{ type: 'file', path: '/run/app/mongo.txt', format: 'template', template: '{{publicKey}}', mode: 0o640 }],
        },
      ],
      warnings: [],
    });
  });

  test('the smallest file gets every default', () => {
    const config = parse(NCP);
    expect(config).toMatchObject({
      vault: {
        type: 'file',
        path: join(ROOT, '.rotator/vault.json'),
        keyFile: join(ROOT, '.rotator/vault.json.key'),
        history: 5,
      },
      schedule: '* * * * *',
      concurrency: 4,
      shutdownTimeoutMs: 30_000,
      defaults: { renewBefore: { kind: 'fraction', fraction: 0.33 }, jitter: 0.1 },
      secrets: [{ id: 's1', params: { durationSec: 3600 }, outputs: [] }],
    });
    expect(config).not.toHaveProperty('http');
    expect(config.secrets[0]).not.toHaveProperty('renewBefore');
    expect(config.secrets[0]).not.toHaveProperty('jitter');
  });

  test('no secrets is valid, with a warning', () => {
    const config = parse('secrets: []\n');
    expect(config.secrets).toEqual([]);
    expect(config.warnings).toEqual(['inline.yaml:1:1 secrets: no secrets configured: nothing will be rotated']);
  });

  test.each([
    [
      'vault keyFile relative to the file',
      'vault: { type: file, path: v.json, keyFile: keys/k }',
      { vault: { path: join(ROOT, 'v.json'), keyFile: join(ROOT, 'keys/k') } },
    ],
    ['http defaults', 'http: {}', { http: { host: '127.0.0.1', port: 9464 } }],
    [
      'digit strings feed numbers (interpolation yields strings)',
      'concurrency: "${N:-8}"\nhttp: { port: "${P:-0}" }',
      { concurrency: 8, http: { port: 0 } },
    ],
    ['six-field cron', 'schedule: "*/10 * * * * *"', { schedule: '*/10 * * * * *' }],
    [
      'renewBefore as a duration',
      'defaults: { renewBefore: 2h }',
      { defaults: { renewBefore: { kind: 'duration', ms: 7_200_000 } } },
    ],
    ['jitter 0%', 'defaults: { jitter: 0% }', { defaults: { jitter: 0 } }],
    ['0s shutdown timeout', 'shutdownTimeout: 0s', { shutdownTimeoutMs: 0 }],
  ])('%s', (_name, yaml, expected) => {
    expect(parse(`${yaml}\nsecrets: []\n`)).toMatchObject(expected);
  });

  test.each([
    ['0o600', 0o600],
    ['"0600"', 0o600],
    ['"600"', 0o600],
    ['"0o640"', 0o640],
    ['384', 0o600],
  ])('output mode %s', (mode, expected) => {
    const config = parse(`${NCP}      outputs: [{ type: file, path: a.env, format: env, mode: ${mode} }]\n`);
    expect(config.secrets[0]!.outputs[0]).toMatchObject({ mode: expected });
  });
});

describe('interpolation in the loader', () => {
  test('unquoted ${VAR} inside { } works as written in DESIGN.md, with exact positions kept', () => {
    const text = [
      'secrets:',
      '  - id: a',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: "${NCP_SECRET_KEY}" }',
      '    params: { durationSec: ${DURATION:-900}, roleNrn: $${LITERAL} }',
    ].join('\n');
    const err = configError(() => parse(text));
    // The shielded reference keeps its column: the problem points at roleNrn's own key.
    expect(err.problems).toEqual([expect.objectContaining({ line: 5, column: 46, path: 'secrets[0].params.roleNrn' })]);
    const config = parse(text.replace('roleNrn: $${LITERAL}', 'roleNrn: "nrn:PUB:IAM::1:Role/x"'));
    expect(config.secrets[0]!.credentials).toEqual({ accessKey: ENV.NCP_ACCESS_KEY, secretKey: ENV.NCP_SECRET_KEY });
    expect(config.secrets[0]!.params).toMatchObject({ durationSec: 900 });
  });

  test('a value holding YAML stays one string: it cannot add keys', () => {
    const config = load('injection.yaml', { env: { ...ENV, INJECTED: 'x\nvault: {type: evil}' } });
    expect(config.secrets[0]!.credentials.accessKey).toBe('x\nvault: {type: evil}');
    expect(config.vault.type).toBe('file');
  });

  test('keys and non-string scalars are not interpolated; $${ escapes', () => {
    const config = parse(`
      secrets:
        - id: s1
          provider: ncp-sts
          credentials: { accessKey: "$\${NOT_A_VAR}", secretKey: "\${NCP_SECRET_KEY}" }
    `);
    expect(config.secrets[0]!.credentials.accessKey).toBe('${NOT_A_VAR}');
    const err = configError(() => parse('${KEY}: 1\n'));
    expect(err.problems[0]!.message).toMatch(/^unknown key '\$\{KEY\}'/);
  });

  test('every unset variable is reported at its own line and key', () => {
    const err = configError(() =>
      parse(`
        schedule: "\${SCHEDULE}"
        secrets:
          - id: s1
            provider: ncp-sts
            credentials: { accessKey: "\${A1}-\${A2}", secretKey: "\${NCP_SECRET_KEY}" }
      `),
    );
    expect(err.problems).toEqual([
      {
        file: 'inline.yaml',
        line: 1,
        column: 1,
        path: 'schedule',
        message: expect.stringMatching(/^environment variable \$\{SCHEDULE\} is not set/),
      },
      {
        file: 'inline.yaml',
        line: 5,
        column: 20,
        path: 'secrets[0].credentials.accessKey',
        message: expect.stringMatching(/^environment variable \$\{A1\}, \$\{A2\} are not set/),
      },
    ]);
  });

  test('a malformed reference is an error naming the syntax', () => {
    const err = configError(() => parse('schedule: "${1BAD}"\nsecrets: []\n'));
    expect(err.problems[0]).toMatchObject({
      line: 1,
      path: 'schedule',
      message: expect.stringMatching(/^malformed variable reference: write \$\{NAME\}/),
    });
  });

  test('sandbox: unset variables become placeholders and the committed config validates with no env', () => {
    const config = loadConfig('rotator.config.yaml', {
      env: {},
      sandbox: true,
      plugins: fakePlugins,
      cwd: ROOT,
      secretRegistry: new SecretRegistry(),
    });
    expect(config.secrets.map((s) => s.id)).toEqual(['ncp-deployer', 'ncp-deployer-admin', 'mongo-ci']);
    expect(config.secrets[0]!.credentials.accessKey).toBe(`${SANDBOX_PLACEHOLDER_PREFIX}NCP_ACCESS_KEY`);
    expect(config.warnings).toEqual([]);
  });

  test('sandbox: a placeholder the provider would reject is kept unvalidated, with a warning', () => {
    const config = parse(`${NCP}      params: { roleNrn: "\${ROLE}", durationSec: 900 }\n`, { env: {}, sandbox: true });
    expect(config.secrets[0]!.params).toEqual({ durationSec: 900, roleNrn: `${SANDBOX_PLACEHOLDER_PREFIX}ROLE` });
    expect(config.warnings).toEqual([
      "inline.yaml:5:15 secrets[0].params.roleNrn: ${ROLE} unset: its sandbox placeholder fails the provider's check and is kept unvalidated",
    ]);
  });

  test('sandbox does not excuse real errors', () => {
    const err = configError(() =>
      parse(`${NCP}      params: { roleNrn: "\${ROLE}", durationSec: 5 }\n`, { env: {}, sandbox: true }),
    );
    expect(err.problems.map((p) => p.path)).toEqual(['secrets[0].params.durationSec']);
  });

  test('the committed config validates with its variables set (any values)', () => {
    const config = loadConfig('rotator.config.yaml', {
      env: ENV,
      plugins: fakePlugins,
      cwd: ROOT,
      secretRegistry: new SecretRegistry(),
    });
    expect(config.file).toBe(join(ROOT, 'rotator.config.yaml'));
    expect(config.secrets[1]).toMatchObject({
      id: 'ncp-deployer-admin',
      params: { durationSec: 7200 },
      renewBefore: { kind: 'duration', ms: 2_400_000 },
    });
    expect(config.warnings).toEqual([]);
  });
});

describe('secrets handling', () => {
  test('credentials and secret-named params are registered for scrubbing; other params are not', () => {
    const registry = new SecretRegistry();
    parse(`${NCP}      params: { totpSeed: JBSWY3DPEHPK3PXP, roleNrn: "nrn:PUB:IAM::1:Role/r" }\n`, { secretRegistry: registry });
    expect(registry.scrub(`${ENV.NCP_ACCESS_KEY} ${ENV.NCP_SECRET_KEY} JBSWY3DPEHPK3PXP nrn:PUB:IAM::1:Role/r`)).toBe(
      '[REDACTED] [REDACTED] [REDACTED] nrn:PUB:IAM::1:Role/r',
    );
  });

  test('credentials are registered even when the file is invalid', () => {
    const registry = new SecretRegistry();
    configError(() => parse(`${NCP}      params: { durationSec: 1 }\n`, { secretRegistry: registry }));
    expect(registry.scrub(ENV.NCP_SECRET_KEY)).toBe('[REDACTED]');
  });

  test('an invalid credential value is never echoed in the error', () => {
    const plugin = {
      ...fakeNcpSts,
      credentialsSchema: fakeNcpSts.credentialsSchema.refine(() => false, {
        message: 'rejected x-secret-value-x',
        path: ['secretKey'],
      }),
    };
    const err = configError(() =>
      parse(
        `
        secrets:
          - id: s1
            provider: ncp-sts
            credentials: { accessKey: "\${NCP_ACCESS_KEY}", secretKey: x-secret-value-x }
      `,
        { plugins: [plugin] },
      ),
    );
    expect(err.message).not.toContain('x-secret-value-x');
    expect(err.problems[0]!.message).toBe('rejected [REDACTED]');
  });

  test('literal credentials (and defaults written in the file) are warnings, not errors', () => {
    const config = load('literal-credentials.yaml', { env: {} });
    expect(config.warnings).toEqual([
      `${FIXTURES}/literal-credentials.yaml:5:7 secrets[0].credentials.accessKey: is written in the file: master credentials belong in the environment (write \${NAME})`,
      `${FIXTURES}/literal-credentials.yaml:6:7 secrets[0].credentials.secretKey: comes from a default written in the file: master credentials belong in the environment (write \${NAME})`,
    ]);
    expect(config.warnings.join('\n')).not.toContain('AKIDLITERAL0001');
  });
});

describe('strictness and hostile input', () => {
  test('unknown keys everywhere, with suggestions or the allowed list', () => {
    const err = configError(() =>
      parse(`
        vault: { type: file, histroy: 3 }
        schedul: "* * * * *"
        secrets:
          - id: s1
            provider: ncp-sts
            credentials: { accessKey: "\${NCP_ACCESS_KEY}", secretKey: "\${NCP_SECRET_KEY}", token: x }
            outputs: [{ type: command, run: x, timeOut: 5s }]
      `),
    );
    expect(err.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual([
      "1:22 vault.histroy: unknown key 'histroy' — did you mean 'history'?",
      "2:1 schedul: unknown key 'schedul' — did you mean 'schedule'?",
      "6:84 secrets[0].credentials.token: unknown key 'token' (allowed: accessKey, secretKey)",
      "7:40 secrets[0].outputs[0].timeOut: unknown key 'timeOut' — did you mean 'timeout'?",
    ]);
  });

  test('duplicate YAML keys are an error at the second one', () => {
    const err = configError(() => parse('concurrency: 2\nconcurrency: 3\nsecrets: []\n'));
    expect(err.problems).toEqual([
      { file: 'inline.yaml', line: 2, column: 1, path: '', message: 'Map keys must be unique: each key may appear once' },
    ]);
  });

  test('custom tags and multiple documents are refused', () => {
    expect(configError(() => parse('schedule: !env CRON\nsecrets: []\n')).problems[0]!.message).toMatch(
      /Unresolved tag: !env .*use \$\{VAR\}/,
    );
    expect(configError(() => parse('secrets: []\n---\nsecrets: []\n')).problems[0]!.message).toBe(
      'a config file holds one YAML document: remove the second `---`',
    );
  });

  test('a self-referencing alias is refused, not expanded forever', () => {
    expect(configError(() => parse('x: &a [*a]\n')).problems[0]).toMatchObject({
      line: 1,
      column: 8,
      path: 'x[0]',
      message: 'alias *a refers to a collection that contains it',
    });
  });

  test('deep nesting is refused', () => {
    expect(configError(() => parse(`x: ${'['.repeat(40)}${']'.repeat(40)}\n`)).problems[0]!.message).toMatch(
      /nested deeper than/,
    );
  });

  test('the top level must be a mapping', () => {
    expect(configError(() => parse('- a\n- b\n')).problems[0]).toMatchObject({
      line: 1,
      path: '',
      message: 'must be a mapping (key: value)',
    });
  });

  test('a missing secret key points at the secret', () => {
    const err = configError(() => parse('secrets:\n  - id: s1\n    credentials: {}\n'));
    expect(err.problems).toEqual([
      { file: 'inline.yaml', line: 2, column: 5, path: 'secrets[0].provider', message: 'is required: a provider type' },
    ]);
  });
});

describe('resolveConfigPath', () => {
  test.each([
    ['the flag wins', 'a.yaml', { ROTATOR_CONFIG: 'b.yaml' }, 'a.yaml'],
    ['then ROTATOR_CONFIG', undefined, { ROTATOR_CONFIG: 'b.yaml' }, 'b.yaml'],
    ['then the default', undefined, {}, DEFAULT_CONFIG_FILE],
    ['empty values count as unset', '', { ROTATOR_CONFIG: '' }, DEFAULT_CONFIG_FILE],
  ])('%s', (_name, flag, env, expected) => {
    expect(resolveConfigPath(flag, env)).toBe(expected);
  });

  test('a relative path is relative to the cwd; messages show it as given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotator-config-'));
    try {
      writeFileSync(join(dir, 'rotator.config.yaml'), 'concurrency: 0\n');
      const err = configError(() => loadConfig(resolveConfigPath(undefined, {}), { cwd: dir, plugins: fakePlugins }));
      expect(err.message).toBe('rotator.config.yaml:1:1 concurrency: must be an integer from 1 to 64 (got 0)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('helpers', () => {
  test.each([
    ['durationsec', ['durationSec', 'roleNrn'], 'durationSec'],
    ['rolenrn', ['durationSec', 'roleNrn'], 'roleNrn'],
    ['histroy', ['history'], 'history'],
    ['scedule', ['schedule'], 'schedule'],
    ['xyz', ['durationSec'], undefined],
    ['id', ['ip'], 'ip'],
    ['ab', ['xy'], undefined],
  ])('suggest(%j) → %j', (word, known, expected) => {
    expect(suggest(word, known)).toBe(expected);
  });

  test('editDistance counts a transposition as one edit', () => {
    expect(editDistance('histroy', 'history')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  test('formatKeyPath', () => {
    expect(formatKeyPath(['secrets', 0, 'params', 'durationSec'])).toBe('secrets[0].params.durationSec');
    expect(formatKeyPath(['a b', 'x'])).toBe('["a b"].x');
    expect(formatKeyPath([])).toBe('');
  });
});
