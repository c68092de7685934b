/**
 * Acceptance (issue 11): while `rotator run` (a real child process) backs off after a provider
 * refusal, `rotator status --json` in another process shows the failure from the vault: the
 * consecutive failures, the last error's code and the next attempt. Over loopback against the
 * NCP STS emulator, with an account whose secret key is wrong (a 401: not retried, so the
 * failure is logged at once).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Daemon, ROOT, msg } from '../support/daemon';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';

const run = promisify(execFile);
let dir: string;
let emu: NcpStsEmulator;
let daemon: Daemon | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-status-'));
  emu = await startNcpStsEmulator({ accounts: [generateAccount()] });
});
afterEach(async () => {
  await daemon?.kill();
  daemon = undefined;
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

test('status --json from another process shows the failing secret: consecutiveFailures, lastError.code, nextAttemptAt', async () => {
  const account = generateAccount(); // not known to the emulator: every request is refused
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(
    config,
    [
      'vault: { type: file, path: vault.json }',
      'secrets:',
      '  - id: ncp-broken',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
      `    params: { durationSec: 3600, endpoint: "${emu.url}" }`,
    ].join('\n'),
  );
  const vaultEnv = { ROTATOR_CONFIG: config, ROTATOR_VAULT_KEY: 'c'.repeat(64) };
  daemon = new Daemon(['run'], { ...vaultEnv, NCP_ACCESS_KEY: account.accessKey, NCP_SECRET_KEY: account.secretKey });
  const failed = await daemon.waitFor(msg('rotation failed', 'ncp-broken'), 20_000, 'the first failure');

  // Another process, without the provider credentials: status reads only the config and vault.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...vaultEnv };
  const status = await run(process.execPath, [join(ROOT, 'bin', 'rotator.js'), 'status', '--json'], { env });
  const [row] = JSON.parse(status.stdout) as Record<string, any>[];
  expect(row).toMatchObject({
    secretId: 'ncp-broken',
    state: 'missing',
    consecutiveFailures: 1,
    lastError: { code: 'PROVIDER_AUTH' },
    nextAttemptAt: failed.nextAttemptAt,
  });
  expect(Date.parse(row!.nextAttemptAt)).toBeGreaterThan(Date.parse(row!.lastAttemptAt));
  expect(status.stdout).not.toContain(account.secretKey);

  // The detail view and --check say the same, for people and scripts.
  const detail = await run(process.execPath, [join(ROOT, 'bin', 'rotator.js'), 'status', 'ncp-broken'], { env });
  expect(detail.stdout).toMatch(/^failures: +1$/m);
  expect(detail.stdout).toMatch(/^last error: +PROVIDER_AUTH: /m);
  expect(detail.stdout).toMatch(/^next attempt: +20\d\d-\S+ \(in /m);
  const check = await run(process.execPath, [join(ROOT, 'bin', 'rotator.js'), 'status', '--check'], { env }).catch(
    (e: { code: number; stdout: string }) => e,
  );
  expect((check as { code?: number }).code).toBe(1);
  expect(check.stdout).toMatch(/ncp-broken\s+missing\s+-\s+retry in /);
});
