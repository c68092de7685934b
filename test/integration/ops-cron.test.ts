/**
 * `rotate --if-due` run by cron sends alerts from the vault's durable status (issue 11): the
 * webhook gets one `failure` when the run fails past the threshold, then `recovered` when a
 * later run succeeds; no master key in any body. Over real HTTP on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { runCli, configDir } from '../support/cli';
import { systemClock } from '../../src/clock';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';

let emu: NcpStsEmulator;
let cfg: Awaited<ReturnType<typeof configDir>>;
let server: Server;
let url: string;
const bodies: Record<string, unknown>[] = [];
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  bodies.length = 0;
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  env = { AK: account.accessKey, SK: account.secretKey, BAD: 'wrong-secret-key-00000', ROTATOR_VAULT_KEY: 'd'.repeat(64) };
  cfg = await configDir('');
});
afterEach(async () => {
  await emu.close();
  await new Promise<void>((r) => server.close(() => r()));
  await cfg.cleanup();
});

const write = (secretKeyVar: string) =>
  writeFile(
    cfg.file,
    [
      'vault: { type: file, path: vault.json }',
      'notify:',
      `  - { type: webhook, url: "${url}", failureThreshold: 1, retries: 1 }`,
      'secrets:',
      '  - id: app',
      '    provider: ncp-sts',
      `    credentials: { accessKey: \${AK}, secretKey: \${${secretKeyVar}} }`,
      `    params: { endpoint: "${emu.url}" }`,
    ].join('\n'),
  );

test('a failing cron run sends one failure alert; the next successful run sends recovered', async () => {
  await write('BAD');
  const failed = await runCli(['-c', cfg.file, 'rotate', '--all', '--if-due'], env);
  expect(failed.code).toBe(1);
  // The command awaited delivery before returning: the alert is already here.
  expect(bodies).toEqual([expect.objectContaining({ event: 'failure', secretId: 'app', provider: 'ncp-sts' })]);

  // The next cron run, after the durable back-off (30 s after one failure) has passed: a clock two
  // minutes ahead, inside the 5-minute window in which NCP accepts request signatures.
  await write('SK');
  const later = { now: () => Date.now() + 2 * 60_000, sleep: systemClock.sleep.bind(systemClock) };
  const ok = await runCli(['-c', cfg.file, 'rotate', '--all', '--if-due'], env, later);
  expect(ok.code).toBe(0);
  expect(bodies.map((b) => b.event)).toEqual(['failure', 'recovered']);
  expect(JSON.stringify(bodies)).not.toContain(env.BAD);
  expect(JSON.stringify(bodies)).not.toContain(env.SK);
});
