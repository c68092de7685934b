/**
 * `--log-format json|pretty` (issue 11): aggregators get one JSON object a line with a word
 * level and an ISO time; a person gets readable lines; a typo is a usage error naming the choices.
 */
import { runCli, configDir } from '../support/cli';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';

let emu: NcpStsEmulator;
let cfg: Awaited<ReturnType<typeof configDir>>;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  env = { AK: account.accessKey, SK: account.secretKey, ROTATOR_VAULT_KEY: 'e'.repeat(64) };
  cfg = await configDir(
    [
      'vault: { type: file, path: vault.json }',
      'secrets:',
      '  - id: app',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${AK}, secretKey: ${SK} }',
      `    params: { endpoint: "${emu.url}" }`,
    ].join('\n'),
  );
});
afterEach(async () => {
  await emu.close();
  await cfg.cleanup();
});

const logLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim());

test('--log-format json: every log line is JSON with a word level and an ISO time', async () => {
  const run = await runCli(['--log-format', 'json', '-c', cfg.file, 'rotate', 'app'], env);
  expect(run.code).toBe(0);
  const lines = logLines(run.stderr);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const entry = JSON.parse(line) as { level: unknown; time: unknown };
    expect(entry.level).toMatch(/^(debug|info|warn|error)$/);
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  expect(run.stderr).not.toContain(env.SK);
});

test('--log-format pretty: readable lines even when stderr is not a terminal', async () => {
  const run = await runCli(['--log-format', 'pretty', '-c', cfg.file, 'rotate', 'app'], env);
  expect(run.code).toBe(0);
  const lines = logLines(run.stderr);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(line).toMatch(/^\[\d\d:\d\d:\d\d(\.\d+)?\] (DEBUG|INFO|WARN|ERROR)/);
});

test('an unknown --log-format is a usage error naming the choices', async () => {
  const run = await runCli(['--log-format', 'xml', '-c', cfg.file, 'status'], env);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/--log-format.*xml.*json, pretty/s);
});
