/**
 * Operator output of `status`, `plan`, `rotate` and `validate` (issue 11): output formats,
 * `status --check`, `plan` determinism, and `rotate` on a terminal (progress, summary, quiet
 * logs). Over loopback against the NCP STS emulator, with the file vault on disk.
 */
import { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { main, type CliIo } from '../../src/cli/main';
import { systemClock } from '../../src/clock';
import { runCli, configDir } from '../support/cli';

let emu: NcpStsEmulator;
let dir: Awaited<ReturnType<typeof configDir>>;
let env: NodeJS.ProcessEnv;
let secretKey: string;

beforeEach(async () => {
  const account = generateAccount();
  secretKey = account.secretKey;
  emu = await startNcpStsEmulator({ accounts: [account] });
  const secret = (id: string, sec: number) =>
    [
      `  - id: ${id}`,
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
      `    params: { durationSec: ${sec}, endpoint: "${emu.url}" }`,
    ].join('\n');
  dir = await configDir(
    ['vault: { type: file, path: vault/vault.json }', 'secrets:', secret('deployer', 3600), secret('admin', 7200)].join('\n'),
  );
  env = {
    ROTATOR_CONFIG: dir.file,
    ROTATOR_VAULT_KEY: 'd'.repeat(64),
    NCP_ACCESS_KEY: account.accessKey,
    NCP_SECRET_KEY: account.secretKey,
  };
});
afterEach(async () => {
  await emu.close();
  await dir.cleanup();
});

/** The CLI with stderr posing as a terminal (isTTY), as `rotate` sees it in a shell. */
async function onTerminal(args: string[], environment: NodeJS.ProcessEnv) {
  const text = { out: '', err: '' };
  const sink = (key: 'out' | 'err') =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        text[key] += chunk.toString('utf8');
        done();
      },
    });
  const stderr = Object.assign(sink('err'), { isTTY: true });
  const io: CliIo = { stdout: sink('out'), stderr, env: environment, clock: systemClock, onSignal: () => () => {} };
  const code = await main(['node', 'rotator', ...args], io);
  return { code, stdout: text.out, stderr: text.err };
}

describe('status', () => {
  test('--check exits 1 while a secret needs attention (missing), 0 once all are ok', async () => {
    const before = await runCli(['status', '--check'], env);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/deployer\s+missing/);
    expect((await runCli(['status'], env)).code).toBe(0); // without --check: a report, not a verdict
    expect((await runCli(['rotate', '--all'], env)).code).toBe(0);
    const after = await runCli(['status', '--check'], env);
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(/deployer\s+ok\s+\d+m( \d+s)?\s+renew in/);
  });

  test('status <id> in detail, -o yaml and -o json; an unknown id is a usage error naming the configured ones', async () => {
    await runCli(['rotate', 'deployer'], env);
    const detail = await runCli(['status', 'deployer'], env);
    expect(detail.code).toBe(0);
    expect(detail.stdout).toMatch(/^secret: +deployer$/m);
    expect(detail.stdout).toMatch(/^versions: +current \S+$/m);
    expect(detail.stdout).toMatch(/^window: +any time$/m);
    expect(detail.stdout).toMatch(/^outputs: +none$/m);
    const yaml = parseYaml((await runCli(['status', 'deployer', '-o', 'yaml'], env)).stdout);
    const json = JSON.parse((await runCli(['status', 'deployer', '--json'], env)).stdout);
    expect(yaml).toEqual(json);
    expect(json).toMatchObject({ secretId: 'deployer', state: 'ok', outputs: [] });
    const all = parseYaml((await runCli(['status', '-o', 'yaml'], env)).stdout);
    expect(all.map((r: { secretId: string }) => r.secretId)).toEqual(['deployer', 'admin']);
    const unknown = await runCli(['status', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no secret 'nope'.*deployer, admin/);
    const bad = await runCli(['status', '-o', 'xml'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are table, wide, json, yaml/);
  });

  test('-o wide has the provider and ISO times', async () => {
    await runCli(['rotate', 'deployer'], env);
    const wide = await runCli(['status', '-o', 'wide'], env);
    expect(wide.stdout).toMatch(/^SECRET\s+PROVIDER\s+STATE\s+EXPIRES/);
    expect(wide.stdout).toMatch(/deployer\s+ncp-sts\s+ok\s+20\d\d-\d\d-\d\dT/);
  });
});

test('plan --json prints the same schedule twice in a row', async () => {
  await runCli(['rotate', 'deployer'], env);
  const first = await runCli(['plan', '--json'], env);
  const second = await runCli(['plan', '--json'], env);
  expect(first.code).toBe(0);
  expect(second.stdout).toBe(first.stdout);
  expect(JSON.parse(first.stdout).map((r: { secretId: string; renewsAt: string }) => [r.secretId, r.renewsAt === 'now'])).toEqual(
    [
      ['admin', true],
      ['deployer', false],
    ],
  );
});

test('validate -o json says what was checked', async () => {
  const run = await runCli(['validate', '-o', 'json'], env);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({
    file: dir.file,
    ok: true,
    secrets: [
      { id: 'deployer', provider: 'ncp-sts' },
      { id: 'admin', provider: 'ncp-sts' },
    ],
    vault: 'file',
    warnings: [],
  });
});

describe('rotate on a terminal', () => {
  test('shows progress and ends with a summary table; INFO logs hidden unless -v', async () => {
    const quiet = await onTerminal(['rotate', '--all'], env);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toContain('rotating 0/2');
    expect(quiet.stderr).toContain('rotating 2/2');
    expect(quiet.stderr).not.toMatch(/"level"|INFO|promoted/);
    const lines = quiet.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SECRET\s+RESULT\s+DETAIL$/);
    expect(lines.slice(1, 3).sort()).toEqual([
      expect.stringMatching(/^admin\s+rotated\s+/),
      expect.stringMatching(/^deployer\s+rotated\s+/),
    ]);
    expect(lines[3]).toBe('2 secrets: 2 rotated');

    const verbose = await onTerminal(['rotate', '--all', '-v'], env);
    expect(verbose.stderr).toMatch(/promoted/);
  });

  test('a failure is counted in the progress line and the summary, exit 1, no secret shown', async () => {
    const wrong = { ...env, NCP_SECRET_KEY: 'ncp_iam_WRONGSECRETKEY0000000' };
    const run = await onTerminal(['rotate', 'deployer', 'admin', '--concurrency', '1'], wrong);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('rotating 2/2 · 2 failed');
    expect(run.stdout).toMatch(/^deployer\s+failed\s+PROVIDER_AUTH: /m);
    expect(run.stdout).toMatch(/^2 secrets: 2 failed$/m);
    expect(run.stdout + run.stderr).not.toContain(wrong.NCP_SECRET_KEY);
    expect(run.stdout + run.stderr).not.toContain(secretKey);
  });
});

describe('rotate output and options', () => {
  test('-o json gives one result per secret, failures as { code, message }', async () => {
    await runCli(['rotate', 'deployer'], env);
    const run = await runCli(['rotate', '--all', '--if-due', '-o', 'json'], env);
    expect(run.code).toBe(0);
    const results = JSON.parse(run.stdout);
    expect(results.map((r: { secretId: string; outcome: string }) => [r.secretId, r.outcome])).toEqual([
      ['deployer', 'not-due'],
      ['admin', 'rotated'],
    ]);
    const failed = await runCli(['rotate', 'deployer', '--json'], { ...env, NCP_SECRET_KEY: 'ncp_iam_WRONGSECRETKEY0000000' });
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toEqual([
      { secretId: 'deployer', outcome: 'failed', error: { code: 'PROVIDER_AUTH', message: expect.any(String) } },
    ]);
  });

  test.each(['0', '65', 'two', '1.5'])('--concurrency %s is a usage error saying the range', async (n) => {
    const run = await runCli(['rotate', '--all', '--concurrency', n], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--concurrency must be a whole number from 1 to 64/);
    expect(emu.count()).toBe(0);
  });
});
