/**
 * The operator's path, end to end over real HTTP on loopback: `rotator rotate` against the NCP
 * STS emulator (which checks signature v2 and the timestamp window), the file vault on disk,
 * `rotator get` / `status` / `validate`, exit codes, and that no secret leaks into any output.
 */
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile, stat, readdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  startNcpStsEmulator,
  generateAccount,
  type NcpStsEmulator,
  type NcpEmulatorAccount,
} from '../../providers/ncp-sts/emulator';
import { FastForwardClock, systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { openFileVault } from '../../src/vaults/file';
import { runCli, configDir } from '../support/cli';

const VAULT_KEY = 'a'.repeat(64);

let emu: NcpStsEmulator;
let account: NcpEmulatorAccount;
let dir: Awaited<ReturnType<typeof configDir>>;
let env: NodeJS.ProcessEnv;

function config(endpoint: string): string {
  return `
vault:
  type: file
  path: vault/vault.json
defaults: { renewBefore: 33%, jitter: 10% }
secrets:
  - id: deployer
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: ${endpoint} }
  - id: admin
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 7200, endpoint: ${endpoint}, roleNrn: "nrn:PUB:IAM::${account.accountId}:Role/admin" }
`;
}

beforeEach(async () => {
  account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  dir = await configDir(config(emu.url));
  env = {
    ROTATOR_CONFIG: dir.file,
    ROTATOR_VAULT_KEY: VAULT_KEY,
    NCP_ACCESS_KEY: account.accessKey,
    NCP_SECRET_KEY: account.secretKey,
  };
});

afterEach(async () => {
  await emu.close();
  await dir.cleanup();
});

/** A GET signed independently of the project's signing code, straight from the definition. */
function callerIdentity(accessKey: string, secretKey: string): Promise<{ status: number; body: any }> {
  const uri = '/api/v1/caller-identity';
  const timestamp = String(Date.now());
  const signature = createHmac('sha256', secretKey).update(`GET ${uri}\n${timestamp}\n${accessKey}`).digest('base64');
  return new Promise((resolve, reject) => {
    const req = request(`${emu.url}${uri}`, {
      headers: {
        'x-ncp-apigw-timestamp': timestamp,
        'x-ncp-iam-access-key': accessKey,
        'x-ncp-apigw-signature-v2': signature,
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text || '{}') }));
    });
    req.on('error', reject);
    req.end();
  });
}

function everyOutput(...runs: { stdout: string; stderr: string }[]): string {
  return runs.map((r) => r.stdout + r.stderr).join('\n');
}

describe('rotator rotate / get', () => {
  test('rotate exits 0 and get prints the documented value, whose credentials work', async () => {
    const rotate = await runCli(['rotate', 'deployer'], env);
    expect(rotate.code).toBe(0);
    expect(rotate.stdout).toMatch(/^deployer: rotated \(missing\) \(current expires 20\d\d-/m);

    const get = await runCli(['get', 'deployer', '--format', 'json'], env);
    expect(get.code).toBe(0);
    const value = JSON.parse(get.stdout);
    expect(Object.keys(value).sort()).toEqual([
      'credentials',
      'expiresAt',
      'issuedAt',
      'provider',
      'providerRef',
      'rotationId',
      'secretId',
      'useMfa',
    ]);
    expect(value).toMatchObject({
      provider: 'ncp-sts',
      secretId: 'deployer',
      useMfa: false,
      providerRef: value.credentials.accessKey,
    });
    expect(Object.keys(value.credentials).sort()).toEqual(['accessKey', 'keySecret']);
    expect(Date.parse(value.expiresAt) - Date.parse(value.issuedAt)).toBe(3600_000);

    const identity = await callerIdentity(value.credentials.accessKey, value.credentials.keySecret);
    expect(identity.status).toBe(200);
    expect(identity.body.userType).toBe('Sub');
  });

  test('role mode yields role credentials with switchedRole', async () => {
    expect((await runCli(['rotate', 'admin'], env)).code).toBe(0);
    const value = JSON.parse((await runCli(['get', 'admin'], env)).stdout);
    expect(value.switchedRole).toBeDefined();
    expect(JSON.stringify(value.switchedRole)).toContain('Role/admin');
    const identity = await callerIdentity(value.credentials.accessKey, value.credentials.keySecret);
    expect(identity.body.userType).toBe('Role');
  });

  test('a second rotation moves the first value to previous', async () => {
    await runCli(['rotate', 'deployer'], env);
    const first = JSON.parse((await runCli(['get', 'deployer'], env)).stdout);
    await runCli(['rotate', 'deployer'], env);
    const second = JSON.parse((await runCli(['get', 'deployer'], env)).stdout);
    const previous = JSON.parse((await runCli(['get', 'deployer', '--stage', 'previous'], env)).stdout);
    expect(second.rotationId).not.toBe(first.rotationId);
    expect(previous).toEqual(first);
  });

  test('--all rotates everything; --if-due then skips fresh secrets', async () => {
    const all = await runCli(['rotate', '--all'], env);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/deployer: rotated/);
    expect(all.stdout).toMatch(/admin: rotated/);
    const issued = emu.count('POST');
    const again = await runCli(['rotate', '--all', '--if-due'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/deployer: not due/);
    expect(emu.count('POST')).toBe(issued);
  });

  test('--dry-run calls no provider and writes no vault', async () => {
    const run = await runCli(['rotate', 'deployer', '--dry-run'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/deployer: would issue a new credential, verify, promote \(missing/);
    expect(emu.count()).toBe(0);
    await expect(readdir(join(dir.dir, 'vault'))).resolves.not.toContain('vault.json');
  });

  test('get --format env uses the names NCP tools read; --field prints one value', async () => {
    await runCli(['rotate', 'deployer'], env);
    const value = JSON.parse((await runCli(['get', 'deployer'], env)).stdout);
    const envOut = await runCli(['get', 'deployer', '--format', 'env'], env);
    expect(envOut.stdout).toBe(
      `NCLOUD_ACCESS_KEY=${value.credentials.accessKey}\nNCLOUD_SECRET_KEY=${value.credentials.keySecret}\n`,
    );
    const field = await runCli(['get', 'deployer', '--field', 'credentials.accessKey'], env);
    expect(field.stdout).toBe(`${value.credentials.accessKey}\n`);
  });

  test('429s on the first attempts are retried and the rotation succeeds', async () => {
    emu.faults.push({ status: 429, times: 2, path: '/api/v1/credentials' });
    const run = await runCli(['rotate', 'deployer'], env, new FastForwardClock());
    expect(run.code).toBe(0);
    expect(emu.count('POST', '/api/v1/credentials')).toBe(3);
    expect(run.stderr).toMatch(/issue failed; retrying/);
  });

  test('a 401 fails fast with exit 1, naming the error code and trace id, leaking nothing', async () => {
    const wrong = { ...env, NCP_SECRET_KEY: 'ncp_iam_WRONGSECRETKEY0000000' };
    const run = await runCli(['rotate', 'deployer'], wrong, new FastForwardClock());
    expect(run.code).toBe(1);
    expect(emu.count('POST', '/api/v1/credentials')).toBe(1);
    expect(run.stderr).toMatch(/deployer: failed: PROVIDER_AUTH: .*HTTP 401, error 200 "Authentication Failed"/);
    expect(run.stderr).toMatch(/x-ncp-trace-id [0-9a-f]{32}/);
    expect(everyOutput(run)).not.toContain(wrong.NCP_SECRET_KEY);
    expect(everyOutput(run)).not.toMatch(/[A-Za-z0-9+/]{43}=/); // no signature
  });

  test('the vault files are 0600 and hold no plaintext secret; no output leaks the keys', async () => {
    const runs = [await runCli(['rotate', '--all'], env), await runCli(['status'], env), await runCli(['rotate', '--all'], env)];
    // One record per secret in the store beside vault.path (src/vaults/file-store.ts).
    const records = join(dir.dir, 'vault', 'vault.json.d', 'keys');
    const files = (await readdir(records)).map((name) => join(records, name));
    expect(files.length).toBeGreaterThan(0);
    let raw = '';
    for (const file of files) {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      raw += await readFile(file, 'utf8');
    }
    const issued = emu.issuedKeys();
    expect(issued.length).toBe(4);
    for (const key of issued) {
      const keySecret = emu.lookupSecret(key.accessKey)!;
      expect(keySecret).toBeTruthy();
      expect(raw).not.toContain(keySecret);
      expect(everyOutput(...runs)).not.toContain(keySecret);
    }
    expect(raw).not.toContain(account.secretKey);
    expect(everyOutput(...runs)).not.toContain(account.secretKey);
  });

  test('status shows each secret, in a table and as JSON', async () => {
    await runCli(['rotate', 'deployer'], env);
    const table = await runCli(['status'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SECRET\s+STATE\s+LEFT\s+NEXT\s+LAST ERROR/);
    expect(table.stdout).toMatch(/deployer\s+ok\s+5\dm( \d+s)?\s+renew in \d+m/);
    expect(table.stdout).toMatch(/admin\s+missing\s+-\s+issue now/);
    const json = JSON.parse((await runCli(['status', '--json'], env)).stdout);
    expect(json.map((r: any) => [r.secretId, r.state])).toEqual([
      ['deployer', 'ok'],
      ['admin', 'missing'],
    ]);
    const renews = Date.parse(json[0].renewsAt);
    const expires = Date.parse(json[0].expiresAt);
    // renewBefore 33% of an hour, moved earlier by up to 10% of that window (jitter)
    expect(expires - renews).toBeGreaterThanOrEqual(0.33 * 3600_000);
    expect(expires - renews).toBeLessThanOrEqual(0.33 * 1.1 * 3600_000);
  });
});

describe('consumers read without the master credentials', () => {
  test('get, status and plan need only the config and the vault key; rotate needs the credentials', async () => {
    await runCli(['rotate', 'deployer'], env);
    const consumer = { ROTATOR_CONFIG: env.ROTATOR_CONFIG, ROTATOR_VAULT_KEY: env.ROTATOR_VAULT_KEY };
    for (const args of [['get', 'deployer'], ['status'], ['plan']]) {
      const run = await runCli(args, consumer);
      expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
    const rotate = await runCli(['rotate', 'deployer'], consumer);
    expect(rotate.code).toBe(2);
    expect(rotate.stderr).toMatch(/environment variable \$\{NCP_ACCESS_KEY\} is not set/);
  });
});

describe('--sandbox', () => {
  test('rotate then get: the sandbox vault keeps its own key even when ROTATOR_VAULT_KEY is set', async () => {
    const rotate = await runCli(['rotate', 'deployer', '--sandbox'], env);
    expect(rotate.code).toBe(0);
    expect(rotate.stderr).toContain('SANDBOX MODE');
    expect(emu.count()).toBe(0); // the sandbox has its own emulator
    const get = await runCli(['get', 'deployer', '--sandbox'], {
      ROTATOR_CONFIG: env.ROTATOR_CONFIG,
      ROTATOR_VAULT_KEY: env.ROTATOR_VAULT_KEY,
    });
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ provider: 'ncp-sts', secretId: 'deployer' });
    // The configured vault was never touched.
    expect((await runCli(['status', '--json'], env)).stdout).toMatch(/"state": "missing"/);
  });
});

describe('rotator plan', () => {
  test('lists secrets soonest first, with why', async () => {
    await runCli(['rotate', 'deployer'], env);
    const plan = await runCli(['plan'], env);
    expect(plan.code).toBe(0);
    const lines = plan.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+SECRET\s+WHY$/);
    expect(lines[1]).toMatch(/^now\s+admin\s+issue a new credential.*the vault holds no credential yet\)$/);
    expect(lines[2]).toMatch(/^20\d\d-.* \(in \d+m( \d+s)?\)\s+deployer\s+nothing due before 20\d\d-/);
    const json = JSON.parse((await runCli(['plan', '--json'], env)).stdout);
    expect(json.map((r: any) => r.secretId)).toEqual(['admin', 'deployer']);
  });
});

describe('usage and configuration errors exit 2 and touch nothing', () => {
  test.each([
    [['rotate'], /name the secrets to rotate, or pass --all/],
    [['rotate', 'nope'], /no secret 'nope' .*configured: deployer, admin/],
    [['rotate', 'deployer', '--all'], /not both/],
    [['get', 'nope'], /no secret 'nope'/],
    [['get', 'deployer', '--format', 'xml'], /Allowed choices are json, env/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j', async (args, message) => {
    const run = await runCli(args, env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(emu.count()).toBe(0);
  });

  test('get before any rotation says how to fix it (exit 2)', async () => {
    const run = await runCli(['get', 'deployer'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/'deployer' has no current version in the vault yet \(run `rotator rotate deployer`\)/);
  });

  test('validate: ok on a good file; a bad one names file, line and key, and nothing is rotated', async () => {
    const ok = await runCli(['validate'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok \(2 secrets, vault file\)/);

    const bad = await configDir(config(emu.url).replace('durationSec: 3600', 'durationSec: 599'));
    try {
      const run = await runCli(['validate', '-c', bad.file], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/rotator\.config\.yaml:10:\d+ secrets\[0\]\.params\.durationSec: .*600.*43200/);
      const rotate = await runCli(['rotate', '--all', '-c', bad.file], env);
      expect(rotate.code).toBe(2);
      expect(emu.count()).toBe(0);
      await expect(readdir(bad.dir)).resolves.toEqual(['rotator.config.yaml']);
    } finally {
      await bad.cleanup();
    }
  });

  test('outputs are accepted by validate and written by rotate (no longer refused)', async () => {
    const withOutputs = await configDir(
      config(emu.url).replace(
        '    params: { durationSec: 3600,',
        '    outputs: [ { type: file, path: out.env, format: env } ]\n    params: { durationSec: 3600,',
      ),
    );
    try {
      const validate = await runCli(['validate', '-c', withOutputs.file], env);
      expect(validate.code).toBe(0);
      const rotate = await runCli(['rotate', 'deployer', '-c', withOutputs.file], env);
      expect(rotate.code).toBe(0);
      const get = await runCli(['get', 'deployer', '--format', 'env', '-c', withOutputs.file], env);
      expect(await readFile(join(withOutputs.dir, 'out.env'), 'utf8')).toBe(get.stdout);
    } finally {
      await withOutputs.cleanup();
    }
  });

  test('an unknown ROTATOR_LOG_LEVEL is a usage error', async () => {
    const run = await runCli(['status'], { ...env, ROTATOR_LOG_LEVEL: 'loud' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ROTATOR_LOG_LEVEL must be one of debug, info, warn, error, silent \(got 'loud'\)/);
  });

  test('help exits 0', async () => {
    const run = await runCli(['--help'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: rotator/);
  });
});

describe('exit codes and version', () => {
  test('rotate exits 75 and says so when another process holds the lease; nothing is issued', async () => {
    const vault = await openFileVault({
      path: join(dir.dir, 'vault', 'vault.json'),
      clock: systemClock,
      log: silentLogger,
      env,
    });
    const lease = await vault.acquireLease!('deployer', 'another-host:1:peer', 600_000);
    expect(lease).not.toBeNull();
    try {
      const issuedBefore = emu.count();
      const run = await runCli(['rotate', 'deployer'], env);
      expect(run.code).toBe(75);
      expect(run.stdout).toContain('deployer: not rotated: another rotator process holds its lease');
      expect(emu.count()).toBe(issuedBefore);
      // With --if-due (cron on several hosts) the peer is rotating it: not an error.
      expect((await runCli(['rotate', '--if-due', 'deployer'], env)).code).toBe(0);
      // The help says what 75 means.
      expect((await runCli(['rotate', '--help'], env)).stdout).toMatch(/75 another rotator process holds the lease/);
    } finally {
      await lease!.release();
      await vault.close?.();
    }
  });

  test('--version prints the package version', async () => {
    const run = await runCli(['--version'], env);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(JSON.parse(await readFile(join(__dirname, '../../package.json'), 'utf8')).version);
  });
});

describe('what read-only commands load (issue 14: one-way layers, lazy loading)', () => {
  /** Modules required by `rotator <args>` run as a process (bin/rotator.js over dist/). */
  async function modulesLoadedBy(args: string[]): Promise<string[]> {
    const out = join(dir.dir, 'modules.json');
    const counter = join(dir.dir, 'count-modules.js');
    await writeFile(
      counter,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));\n`,
    );
    const bin = join(__dirname, '../../bin/rotator.js');
    await promisify(execFile)(process.execPath, ['-r', counter, bin, ...args], {
      env: { PATH: process.env.PATH, ...env, ROTATOR_LOG_LEVEL: 'warn' },
    });
    return JSON.parse(await readFile(out, 'utf8')) as string[];
  }

  test('get, status, validate, exec and --help load no HTTP client, pretty printer, AWS SDK, daemon or emulator', async () => {
    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0);
    const heavy =
      /node_modules\/(axios|digest-fetch|pino-pretty|@aws-sdk)\/|emulator|\/src\/(service|scheduler|status-server)\.js$/;
    for (const args of [
      ['get', 'deployer'],
      ['status'],
      ['validate'],
      ['exec', 'deployer', '--', process.execPath, '-e', '0'],
      ['--help'],
    ]) {
      const loaded = await modulesLoadedBy(args);
      expect({ args, heavy: loaded.filter((m) => heavy.test(m)) }).toEqual({ args, heavy: [] });
      // The check itself works: the config and vault modules are in the list.
      if (args[0] !== '--help') expect(loaded.some((m) => m.endsWith('/src/vaults/file.js'))).toBe(true);
    }
  });
});
