/**
 * RotatorService's lifecycle: a failed or interrupted start-up leaves nothing running.
 */
import { createServer, type Server } from 'node:net';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { RotatorService } from '../../src/service';
import { systemClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';

let dir: string;
let emu: NcpStsEmulator;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-service-'));
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  env = { AK: account.accessKey, SK: account.secretKey, ROTATOR_VAULT_KEY: 'f'.repeat(64) };
});
afterEach(async () => {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

async function service(http?: number): Promise<RotatorService> {
  const file = join(dir, 'rotator.config.yaml');
  await writeFile(
    file,
    [
      'vault: { type: file, path: vault.json }',
      ...(http === undefined ? [] : [`http: { host: 127.0.0.1, port: ${http} }`]),
      'secrets:',
      '  - id: app',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${AK}, secretKey: ${SK} }',
      `    params: { endpoint: "${emu.url}" }`,
    ].join('\n'),
  );
  return new RotatorService({ config: loadConfig(file, { env }), clock: systemClock, log: memoryLogger(), env });
}

const settle = () => new Promise((r) => setTimeout(r, 300));

test('a taken status port fails start-up before anything rotates, and nothing keeps running', async () => {
  const squatter: Server = createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', () => r()));
  const port = (squatter.address() as { port: number }).port;
  try {
    const svc = await service(port);
    await expect(svc.start()).rejects.toThrow(/EADDRINUSE/);
    await settle();
    expect(emu.count()).toBe(0);
    expect(await svc.stop(0)).toBe(true);
  } finally {
    squatter.close();
  }
});

test('stop during start-up: start-up schedules nothing and stop resolves', async () => {
  const svc = await service();
  const starting = svc.start().catch((err: Error) => err);
  await svc.stop(1000);
  await starting;
  await settle();
  expect(emu.count()).toBe(0);
});

test('stop after a normal start lets the first rotation finish', async () => {
  const svc = await service();
  emu.latencyMs = 200;
  await svc.start();
  expect(await svc.stop(5000)).toBe(true);
  expect(emu.issuedKeys()).toHaveLength(1);
  expect(emu.count('GET', '/api/v1/caller-identity')).toBe(1);
});
