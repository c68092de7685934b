/**
 * Config boundaries (issue 10): outputs never touch rotator's own files, duration and
 * percentage values out of range are config errors with file:line (not a raw FormatError), and
 * `-c` reads regular files only. Real provider registry, files in a temporary folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { SecretRegistry } from '../../src/redact';
import { runCli } from '../support/cli';

const ENV = { NCP_ACCESS_KEY: 'AKID-boundary', NCP_SECRET_KEY: 'boundary-secret-0001' };
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotator-boundaries-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes rotator.config.yaml with the given outputs (YAML flow items) and loads it. */
function load(outputs: string[], extra = ''): ReturnType<typeof loadConfig> {
  const file = join(dir, 'rotator.config.yaml');
  writeFileSync(
    file,
    [
      'vault: { type: file, path: state/vault.json }',
      extra,
      'secrets:',
      '  - id: deployer',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
      ...(outputs.length ? ['    outputs:', ...outputs.map((o) => `      - ${o}`)] : ['    outputs: []']),
    ]
      .filter((l) => l !== '')
      .join('\n') + '\n',
  );
  return loadConfig(file, { env: ENV, secretRegistry: new SecretRegistry() });
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('an output that resolves to rotator’s own files is a config error at its line', () => {
  test.each([
    ['the vault file', 'state/vault.json', 'is the vault'],
    ['the vault file through ..', 'state/../state/./vault.json', 'is the vault'],
    ['the vault lock', 'state/vault.json.lock', 'is the vault'],
    ['the key file', 'state/vault.json.key', 'is the vault key file'],
    ['the config file', 'rotator.config.yaml', 'is the config file'],
  ])('%s', (_name, path, message) => {
    const problems = problemsOf(() => load([`{ type: file, path: ${path}, format: env }`]));
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^7:\\d+ secrets\\[0\\]\\.outputs\\[0\\]\\.path: .*${message}`))]);
  });

  test('the vault reached through a symlinked folder', () => {
    mkdirSync(join(dir, 'state'));
    symlinkSync(join(dir, 'state'), join(dir, 'alias'));
    expect(problemsOf(() => load(['{ type: file, path: alias/vault.json, format: env }']))).toEqual([
      expect.stringContaining('secrets[0].outputs[0].path: alias/vault.json is the vault'.replace('alias', join(dir, 'alias'))),
    ]);
  });

  test('two outputs writing one file', () => {
    const problems = problemsOf(() =>
      load(['{ type: file, path: out/a.env, format: env }', '{ type: file, path: out/../out/a.env, format: json }']),
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^8:\d+ secrets\[0\]\.outputs\[1\]\.path: .* is already written by secrets\[0\] 'deployer' outputs\[0\]/,
      ),
    ]);
  });

  test('the audit log, also through a symlinked folder (an output would erase the trail and put credentials in it)', () => {
    const audit = 'audit: { path: logs/audit.jsonl }';
    expect(problemsOf(() => load(['{ type: file, path: logs/audit.jsonl, format: env }'], audit))).toEqual([
      expect.stringMatching(/^8:\d+ secrets\[0\]\.outputs\[0\]\.path: .*is the audit log \(.*logs\/audit\.jsonl\)/),
    ]);
    mkdirSync(join(dir, 'logs'));
    symlinkSync(join(dir, 'logs'), join(dir, 'alias'));
    expect(problemsOf(() => load(['{ type: file, path: alias/audit.jsonl, format: env }'], audit))).toEqual([
      expect.stringContaining('is the audit log'),
    ]);
  });

  test('the distribution records (which version each consumer has), for the file vault and for Secrets Manager', () => {
    expect(problemsOf(() => load(['{ type: file, path: state/vault.json.distributed/deployer.json, format: env }']))).toEqual([
      expect.stringMatching(/^7:\d+ secrets\[0\]\.outputs\[0\]\.path: .*is rotator's distribution records/),
    ]);
    const file = join(dir, 'aws.config.yaml');
    writeFileSync(
      file,
      [
        'vault: { type: aws-secrets-manager, region: eu-central-1 }',
        'secrets:',
        '  - id: deployer',
        '    provider: ncp-sts',
        '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
        '    outputs:',
        '      - { type: file, path: .rotator/distributed/deployer.json, format: env }',
      ].join('\n') + '\n',
    );
    expect(problemsOf(() => loadConfig(file, { env: ENV, secretRegistry: new SecretRegistry() }))).toEqual([
      expect.stringMatching(
        /^7:\d+ secrets\[0\]\.outputs\[0\]\.path: .*is rotator's distribution records \(.*\.rotator\/distributed\)/,
      ),
    ]);
  });

  test('validate refuses an output onto the audit log: exit 2 naming file:line', async () => {
    load([], 'audit: { path: logs/audit.jsonl }'); // the same file without the output loads
    const file = join(dir, 'rotator.config.yaml');
    writeFileSync(file, readFileSync(file, 'utf8') + '      - { type: file, path: logs/audit.jsonl, format: env }\n');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    outputs: []\n', '    outputs:\n'));
    const run = await runCli(['validate', '-c', file], ENV);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:8:\\d+.*is the audit log`));
  });

  test('ordinary outputs, also beside the vault, load', () => {
    const config = load(['{ type: file, path: out/a.env, format: env }', '{ type: file, path: state/app.env, format: env }']);
    expect(config.secrets[0]!.outputs).toHaveLength(2);
  });
});

describe('values the duration parser rejects are config errors with file:line', () => {
  test.each([
    ['renewBefore above 100%', 'defaults: { renewBefore: 150% }', /^2:\d+ defaults\.renewBefore: .*below 100%/],
    ['a 20-digit renewBefore', 'defaults: { renewBefore: 99999999999999999999m }', /^2:\d+ defaults\.renewBefore: .*too large/],
    ['a 20-digit shutdownTimeout', 'shutdownTimeout: 99999999999999999999s', /^2:\d+ shutdownTimeout: .*too large/],
  ])('%s', (_name, extra, message) => {
    expect(problemsOf(() => load([], extra).secrets)).toEqual([expect.stringMatching(message)]);
  });
});

describe('-c reads regular files only', () => {
  test('/dev/zero is refused at once', () => {
    expect(problemsOf(() => loadConfig('/dev/zero', { env: ENV }))).toEqual([
      expect.stringContaining('/dev/zero is not a regular file'),
    ]);
  });

  test('a fifo is refused without opening it (opening would block until a writer comes)', () => {
    const fifo = join(dir, 'config.fifo');
    execFileSync('mkfifo', [fifo]);
    expect(problemsOf(() => loadConfig(fifo, { env: ENV }))).toEqual([expect.stringContaining('is not a regular file')]);
  });
});
