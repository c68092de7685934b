/**
 * `rotator run` as a process: what `npm start` does, and how it stops. Spawns bin/rotator.js.
 */
import { appendFile, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, ROOT, msg } from '../support/daemon';
import { runCli } from '../support/cli';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';

let dir: string;
const daemons: Daemon[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-daemon-'));
});
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.kill()));
  await rm(dir, { recursive: true, force: true });
});

function daemon(args: string[], env: NodeJS.ProcessEnv = {}, options: { npm?: boolean } = {}): Daemon {
  const d = new Daemon(args, env, options);
  daemons.push(d);
  return d;
}

describe('npm start (rotator run --sandbox)', () => {
  test('rotates every configured secret, serves every metric family, keeps running, exits 0 on SIGTERM to npm', async () => {
    // `npm start` itself, with the committed config copied so the sandbox vault lands in a
    // temporary folder, plus a status endpoint on a free port. No credentials in the environment:
    // the sandbox needs none. SIGTERM goes to npm only (as a supervisor would send it); npm must
    // pass it on and exit with our code. No time budget: `prestart` rebuilds first, which takes
    // long on a loaded machine; each step waits for its log line (the default wait is generous).
    const config = join(dir, 'rotator.config.yaml');
    await copyFile(join(ROOT, 'rotator.config.yaml'), config);
    await appendFile(config, '\nhttp: { host: 127.0.0.1, port: 0 }\n');
    const d = daemon(['start', '--', '-c', config], {}, { npm: true });
    const STEP = 120_000;
    const listening = await d.waitFor(msg('health and metrics endpoint listening'), STEP, 'the status endpoint');
    await d.waitFor(msg('promoted', 'ncp-deployer'), STEP, 'ncp-deployer promoted');
    await d.waitFor(msg('promoted', 'ncp-deployer-admin'), STEP, 'ncp-deployer-admin promoted');
    await d.waitFor(msg('promoted', 'mongo-ci'), STEP, 'mongo-ci promoted');
    expect(d.stderr).toContain('SANDBOX MODE');
    await d.waitFor((l) => String(l.msg).startsWith('started: 3 secrets'), STEP, 'the start-up summary');

    // Every family issue 11 asks for, while the daemon runs.
    const metrics = await (await fetch(`${String(listening.url)}/metrics`)).text();
    const families = [
      'rotator_build_info',
      'rotator_secret_expiry_timestamp_seconds',
      'rotator_secret_next_renewal_timestamp_seconds',
      'rotator_secret_last_success_timestamp_seconds',
      'rotator_secret_state',
      'rotator_secret_consecutive_failures',
      'rotator_rotations_total',
      'rotator_rotation_duration_seconds_bucket',
      'rotator_provider_requests_total',
      'rotator_vault_requests_total',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ];
    for (const family of families) expect(metrics).toMatch(new RegExp(`^${family}[{ ]`, 'm'));
    // Exact counts are asserted in ops-service.test.ts: here a scrape may land between a
    // 'promoted' line and the scheduler counting that attempt.

    expect(d.child.exitCode).toBeNull(); // still running
    d.child.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(d.count(msg('promoted'))).toBe(3);
    await d.waitFor(msg('stopped'), 1000);
  }, 600_000); // a safety net for a hung process, not a budget: every step above waits for its event
});

describe('rotator run against an emulator in this process', () => {
  let emu: NcpStsEmulator;
  let env: NodeJS.ProcessEnv;
  let config: string;

  beforeEach(async () => {
    const account = generateAccount();
    emu = await startNcpStsEmulator({ accounts: [account] });
    config = join(dir, 'rotator.config.yaml');
    await writeFile(
      config,
      [
        'vault: { type: file, path: vault.json }',
        'secrets:',
        '  - id: app',
        '    provider: ncp-sts',
        '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
        `    params: { durationSec: 3600, endpoint: "${emu.url}" }`,
      ].join('\n'),
    );
    env = {
      ROTATOR_CONFIG: config,
      ROTATOR_VAULT_KEY: 'b'.repeat(64),
      NCP_ACCESS_KEY: account.accessKey,
      NCP_SECRET_KEY: account.secretKey,
    };
  });
  afterEach(async () => {
    await emu.close();
  });

  test('SIGTERM during a rotation lets it finish, then exits 0', async () => {
    emu.latencyMs = 1_000;
    const d = daemon(['run'], env);
    await d.waitFor(msg('issuing a new credential'));
    d.child.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(d.count(msg('promoted'))).toBe(1);
    const get = await runCli(['get', 'app'], env);
    expect(get.code).toBe(0);
  });

  test('a second signal forces exit at once; the vault keeps no half-made state', async () => {
    emu.latencyMs = 60_000;
    const d = daemon(['run'], env);
    await d.waitFor(msg('issuing a new credential'));
    d.child.kill('SIGTERM');
    await d.waitFor((l) => String(l.msg).startsWith('stopping'));
    d.child.kill('SIGINT'); // at once: the same Ctrl-C delivered twice (terminal + npm), ignored
    await new Promise((r) => setTimeout(r, 1_200));
    expect(d.child.exitCode).toBeNull();
    const t0 = Date.now();
    d.child.kill('SIGINT');
    expect((await d.exited).code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout);
    expect(status[0]).toMatchObject({ secretId: 'app', state: 'missing' });
  });

  test('no secret reaches the process arguments or the logs', async () => {
    const d = daemon(['run'], env);
    await d.waitFor(msg('promoted'));
    const value = JSON.parse((await runCli(['get', 'app'], env)).stdout);
    d.child.kill('SIGTERM');
    await d.exited;
    expect(d.child.spawnargs.join(' ')).not.toContain(env.NCP_SECRET_KEY);
    expect(d.stderr).not.toContain(env.NCP_SECRET_KEY);
    expect(d.stderr).not.toContain(value.credentials.keySecret);
    expect(d.stderr).toContain(value.credentials.accessKey); // the key id is logged, on purpose
  });
});
