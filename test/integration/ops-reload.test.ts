/**
 * SIGHUP reloads `rotator run`'s configuration (issue 11), in a real child process: a rotation
 * in flight finishes first, a valid file takes over, a broken one is refused with its problems
 * logged while the running configuration carries on. Waits for log lines, never a budget.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, msg, type LogLine } from '../support/daemon';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';

let dir: string;
let emu: NcpStsEmulator;
let daemon: Daemon | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-reload-'));
  emu = await startNcpStsEmulator({ accounts: [generateAccount()] });
});
afterEach(async () => {
  await daemon?.kill();
  daemon = undefined;
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

const secret = (id: string) => [
  `  - id: ${id}`,
  '    provider: ncp-sts',
  '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
  `    params: { durationSec: 3600, endpoint: "${emu.url}" }`,
];
const configText = (ids: string[], extra: string[] = []) =>
  ['vault: { type: file, path: vault.json }', ...extra, 'secrets:', ...ids.flatMap(secret), ''].join('\n');

test('SIGHUP: in-flight rotation finishes, a valid config takes over, a broken one is refused and the old one runs on', async () => {
  const [account] = emu.accounts;
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(config, configText(['app']));
  const env = {
    ROTATOR_CONFIG: config,
    ROTATOR_VAULT_KEY: 'c'.repeat(64),
    NCP_ACCESS_KEY: account!.accessKey,
    NCP_SECRET_KEY: account!.secretKey,
  };
  emu.latencyMs = 1_000;
  daemon = new Daemon(['run'], env);
  const d = daemon;
  await d.waitFor(msg('issuing a new credential', 'app'));

  // A valid change while `app` is being issued: that rotation completes before the new config runs.
  await writeFile(config, configText(['app', 'app2']));
  d.child.kill('SIGHUP');
  const running = await d.waitFor(msg('SIGHUP: the new configuration is running'));
  const order = (l: LogLine) => d.lines.indexOf(l);
  expect(order(await d.waitFor(msg('promoted', 'app')))).toBeLessThan(order(running));
  emu.latencyMs = 0;
  await d.waitFor(msg('promoted', 'app2'));

  // A broken file: refused with the problem at its line, and the daemon keeps its configuration.
  await writeFile(config, configText(['app', 'app2'], ['concurrency: many']));
  d.child.kill('SIGHUP');
  const refused = await d.waitFor(msg('SIGHUP: the configuration was not reloaded; the running one stays'));
  expect(JSON.stringify(refused.problems)).toMatch(/concurrency/);
  expect(d.child.exitCode).toBeNull();
  expect(d.count(msg('SIGHUP: the new configuration is running'))).toBe(1);

  d.child.kill('SIGTERM');
  expect(await d.exited).toEqual({ code: 0, signal: null });
  expect(d.stderr).not.toContain(account!.secretKey);
});
