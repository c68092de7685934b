/**
 * The daemon's monitoring endpoint over real HTTP: liveness, readiness and Prometheus metrics,
 * with a secret that rotates and one whose master key is wrong.
 */
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
let service: RotatorService;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-status-'));
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  const file = join(dir, 'rotator.config.yaml');
  await writeFile(
    file,
    [
      'vault: { type: file, path: vault.json }',
      'http: { host: 127.0.0.1, port: 0 }',
      'secrets:',
      '  - id: good',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${AK}, secretKey: ${SK} }',
      `    params: { endpoint: "${emu.url}" }`,
      '  - id: bad',
      '    provider: ncp-sts',
      '    credentials: { accessKey: ${AK}, secretKey: wrong-secret-key-000 }',
      `    params: { endpoint: "${emu.url}" }`,
    ].join('\n'),
  );
  const env = { AK: account.accessKey, SK: account.secretKey, ROTATOR_VAULT_KEY: 'd'.repeat(64) };
  const config = loadConfig(file, { env });
  service = new RotatorService({ config, clock: systemClock, log: memoryLogger(), env, scheduler: { manualSweeps: true } });
  await service.start();
  await service.scheduler.idle();
});

afterAll(async () => {
  await service.stop(1000);
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string) => fetch(`${service.statusUrl}${path}`);

test('/healthz is 200 while the daemon runs', async () => {
  const res = await get('/healthz');
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: 'ok' });
});

test('/readyz is 503 naming the secret without a current credential', async () => {
  const res = await get('/readyz');
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ ready: false, notReady: ['bad'] });
});

test('/metrics exposes build info, process metrics and per-secret families, absent where there is no value, and no credential', async () => {
  const res = await get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  expect(text).toMatch(/^rotator_up 1$/m);
  expect(text).toMatch(/^rotator_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+[^"]*"\} 1$/m);
  expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
  expect(text).toMatch(/^rotator_secret_expiry_timestamp_seconds\{secret="good",provider="ncp-sts"\} \d{10}$/m);
  // No credential, no expiry: the series is absent, not 0.
  expect(text).not.toMatch(/^rotator_secret_expiry_timestamp_seconds\{secret="bad"/m);
  expect(text).not.toMatch(/^rotator_secret_expires_in_seconds\{secret="bad"/m);
  expect(text).toMatch(/^rotator_secret_expires_in_seconds\{secret="good",provider="ncp-sts"\} 3[45]\d\d$/m);
  expect(text).toMatch(/^rotator_secret_next_renewal_timestamp_seconds\{secret="good",provider="ncp-sts"\} \d{10}$/m);
  expect(text).toMatch(/^rotator_secret_consecutive_failures\{secret="bad",provider="ncp-sts"\} 1$/m);
  expect(text).toMatch(/^rotator_secret_ready\{secret="good",provider="ncp-sts"\} 1$/m);
  expect(text).toMatch(/^rotator_secret_ready\{secret="bad",provider="ncp-sts"\} 0$/m);
  expect(text).toMatch(/^rotator_secret_state\{secret="good",provider="ncp-sts",state="ok"\} 1$/m);
  expect(text).toMatch(/^rotator_secret_state\{secret="bad",provider="ncp-sts",state="missing"\} 1$/m);
  expect(text).toMatch(/^rotator_rotations_total\{secret="good",provider="ncp-sts",result="rotated"\} 1$/m);
  expect(text).toMatch(/^rotator_rotations_total\{secret="bad",provider="ncp-sts",result="failed"\} 1$/m);
  for (const family of [
    'rotator_rotation_duration_seconds',
    'rotator_provider_requests_total',
    'rotator_vault_requests_total',
    'rotator_distribution_failures_total',
  ]) {
    expect(text).toContain(`# TYPE ${family} `);
  }
  for (const key of emu.issuedKeys()) {
    expect(text).not.toContain(key.accessKey);
    expect(text).not.toContain(emu.lookupSecret(key.accessKey)!);
  }
});

test('unknown paths are 404 with a hint; writes are refused', async () => {
  const res = await get('/nope');
  expect(res.status).toBe(404);
  expect(((await res.json()) as { error: string }).error).toMatch(/try \/healthz, \/readyz or \/metrics/);
  expect((await fetch(`${service.statusUrl}/metrics`, { method: 'POST' })).status).toBe(405);
});
