/**
 * The daemon's operations wiring (issue 11), over real HTTP on loopback: the service counts
 * provider and vault calls and attempts in its /metrics, sends alerts from its attempts to a
 * webhook, and logs a start-up summary. Waits for events (an attempt, a request), never a budget.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
let hook: { url: string; bodies: Record<string, unknown>[]; next(): Promise<Record<string, unknown>>; close(): Promise<void> };

/** A webhook receiver on 127.0.0.1:0; `next()` resolves with the next body it gets. */
async function receiver(): Promise<typeof hook> {
  const bodies: Record<string, unknown>[] = [];
  const waiters: ((b: Record<string, unknown>) => void)[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      res.writeHead(200).end();
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      waiters.shift()?.(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  let seen = 0;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    next: () =>
      seen < bodies.length ? Promise.resolve(bodies[seen++]!) : new Promise((r) => waiters.push((b) => (seen++, r(b)))),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-ops-'));
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  hook = await receiver();
  env = { AK: account.accessKey, SK: account.secretKey, BAD: 'not-the-secret-key-0000', ROTATOR_VAULT_KEY: 'f'.repeat(64) };
});
afterEach(async () => {
  await emu.close();
  await hook.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(secretKeyVar: string) {
  const file = join(dir, 'rotator.config.yaml');
  await writeFile(
    file,
    [
      'vault: { type: file, path: vault.json }',
      'http: { host: 127.0.0.1, port: 0 }',
      'notify:',
      `  - { type: webhook, url: "${hook.url}", failureThreshold: 1, retries: 1 }`,
      'secrets:',
      '  - id: app',
      '    provider: ncp-sts',
      `    credentials: { accessKey: \${AK}, secretKey: \${${secretKeyVar}} }`,
      `    params: { endpoint: "${emu.url}" }`,
    ].join('\n'),
  );
  const log = memoryLogger();
  let attempted!: () => void;
  const firstAttempt = new Promise<void>((r) => (attempted = r));
  const svc = new RotatorService({
    config: loadConfig(file, { env }),
    clock: systemClock,
    log,
    env,
    scheduler: { manualSweeps: true, onAttempt: () => attempted() },
  });
  await svc.start();
  return { svc, log, firstAttempt };
}

test('/metrics counts the attempt, the provider calls and the vault calls the daemon made', async () => {
  const { svc, log, firstAttempt } = await start('SK');
  try {
    await firstAttempt;
    const text = await (await fetch(`${svc.statusUrl}/metrics`)).text();
    expect(text).toMatch(/^rotator_rotations_total\{secret="app",provider="ncp-sts",result="rotated"\} 1$/m);
    expect(text).toMatch(/^rotator_rotation_duration_seconds_count\{provider="ncp-sts",result="rotated"\} 1$/m);
    expect(text).toMatch(/^rotator_provider_requests_total\{provider="ncp-sts",operation="issue",code="ok"\} 1$/m);
    expect(text).toMatch(/^rotator_vault_requests_total\{operation="promote",result="ok"\} [1-9]/m);
    expect(text).toMatch(/^rotator_secret_last_success_timestamp_seconds\{secret="app",provider="ncp-sts"\} \d+$/m);
    expect(text).not.toContain(env.SK);
    // The start-up summary names the count, the vault and when the secret comes up next.
    const summary = log.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.msg).startsWith('started:'));
    expect(summary).toMatchObject({ secrets: 1, vault: expect.stringContaining('file '), http: svc.statusUrl });
    expect(summary!.msg).toMatch(/^started: 1 secret in file .*; next renewals: app \d{4}-/);
  } finally {
    await svc.stop(5000);
  }
});

test('a failed attempt sends one failure alert to the configured webhook, without the master key', async () => {
  const { svc, firstAttempt } = await start('BAD');
  try {
    await firstAttempt;
    const alert = await hook.next();
    expect(alert).toMatchObject({ event: 'failure', secretId: 'app', provider: 'ncp-sts', consecutiveFailures: 1 });
    expect(JSON.stringify(hook.bodies)).not.toContain(env.BAD);
    const text = await (await fetch(`${svc.statusUrl}/metrics`)).text();
    expect(text).toMatch(/^rotator_secret_consecutive_failures\{secret="app",provider="ncp-sts"\} 1$/m);
    expect(text).toMatch(/^rotator_provider_requests_total\{provider="ncp-sts",operation="issue",code="(?!ok)[^"]+"\} 1$/m);
  } finally {
    await svc.stop(5000);
  }
});
