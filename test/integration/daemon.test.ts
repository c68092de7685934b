/**
 * `rotator run` as a process: what `npm start` does, and how it stops. Spawns bin/rotator.js.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  test('rotates every configured secret within 10 s, keeps running, exits 0 on SIGTERM to npm', async () => {
    // `npm start` itself, with the committed config copied so the sandbox vault lands in a
    // temporary folder. No credentials in the environment: the sandbox needs none. SIGTERM goes
    // to npm only (as a supervisor would send it); npm must pass it on and exit with our code.
    const config = join(dir, 'rotator.config.yaml');
    await copyFile(join(ROOT, 'rotator.config.yaml'), config);
    const started = Date.now();
    const d = daemon(['start', '--', '-c', config], {}, { npm: true });
    await d.waitFor(msg('promoted', 'ncp-deployer'), 10_000, 'ncp-deployer promoted');
    await d.waitFor(msg('promoted', 'ncp-deployer-admin'), 10_000, 'ncp-deployer-admin promoted');
    await d.waitFor(msg('promoted', 'mongo-ci'), 10_000, 'mongo-ci promoted');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(d.stderr).toContain('SANDBOX MODE');

    await new Promise((r) => setTimeout(r, 300));
    expect(d.child.exitCode).toBeNull(); // still running
    d.child.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(d.count(msg('promoted'))).toBe(3);
    await d.waitFor(msg('stopped'), 1000);
  });
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
