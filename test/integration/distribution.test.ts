/**
 * Distribution end to end with the real binary and the NCP STS emulator over loopback HTTP:
 * `rotate` writes outputs and runs the hook once; `get --format shell|dotenv`; `rotator exec`
 * (spawned as a child, like an operator would): credentials in the environment and in no
 * process's argv, exit codes, signal forwarding, clashing names, --watch restart and --signal;
 * `run` re-writes deleted outputs from the vault at start; `require('rotator')` from another
 * package reads a secret with the library reader.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startNcpStsEmulator,
  generateAccount,
  type NcpStsEmulator,
  type NcpEmulatorAccount,
} from '../../providers/ncp-sts/emulator';
import { runCli, configDir } from '../support/cli';
import { Daemon, ROOT, msg } from '../support/daemon';

const VAULT_KEY = 'b'.repeat(64);
let emu: NcpStsEmulator;
let account: NcpEmulatorAccount;
let dir: Awaited<ReturnType<typeof configDir>>;
let env: NodeJS.ProcessEnv;
/** What a consumer has: the config and the vault key, no master credentials. */
let consumer: NodeJS.ProcessEnv;
const children: Daemon[] = [];

function config(endpoint: string, hookLog: string): string {
  return `
vault: { type: file, path: vault/vault.json }
secrets:
  - id: deployer
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: ${endpoint} }
    outputs:
      - { type: file, path: out/deployer.env, format: env }
      - { type: file, path: out/deployer.txt, format: template, template: "{{credentials.accessKey}} until {{expiresAt}}\\n", mode: "0640" }
      - { type: command, run: 'printf "%s %s %s %s\\n" "$ROTATOR_ROTATION_ID" "$NCLOUD_ACCESS_KEY" "$\${NCP_SECRET_KEY:-no-master-key}" "$\${ROTATOR_VAULT_KEY:-no-vault-key}" >> ${hookLog}' }
  - id: admin
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: ${endpoint} }
  - id: as-aws
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: ${endpoint} }
    env: { accessKey: AWS_ACCESS_KEY_ID, keySecret: AWS_SECRET_ACCESS_KEY }
`;
}

beforeEach(async () => {
  account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  dir = await configDir('');
  await writeFile(dir.file, config(emu.url, join(dir.dir, 'hook.log')));
  env = {
    ROTATOR_CONFIG: dir.file,
    ROTATOR_VAULT_KEY: VAULT_KEY,
    NCP_ACCESS_KEY: account.accessKey,
    NCP_SECRET_KEY: account.secretKey,
  };
  consumer = { ROTATOR_CONFIG: dir.file, ROTATOR_VAULT_KEY: VAULT_KEY };
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()));
  await emu.close();
  await dir.cleanup();
});

async function current(id: string): Promise<any> {
  const get = await runCli(['get', id], consumer);
  expect(get.code).toBe(0);
  return JSON.parse(get.stdout);
}

function spawnRotator(args: string[], childEnv: NodeJS.ProcessEnv = consumer): Daemon {
  const d = new Daemon(args, childEnv);
  children.push(d);
  return d;
}

/** Waits until the child's stdout matches (or it exits, or 15 s pass). */
async function stdoutMatching(d: Daemon, re: RegExp): Promise<RegExpMatchArray> {
  let exited = false;
  void d.exited.then(() => (exited = true));
  for (let waited = 0; waited < 15_000; waited += 20) {
    const m = d.stdout.match(re);
    if (m) return m;
    if (exited) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`stdout never matched ${re}; stdout:\n${d.stdout}\nstderr:\n${d.stderr}`);
}

/** Every process's argv on this host, NUL-separated as the kernel keeps it. */
async function allArgv(): Promise<string[]> {
  const out: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    try {
      out.push((await readFile(`/proc/${pid}/cmdline`)).toString('utf8'));
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

describe('rotate with outputs', () => {
  test('`rotate --if-due` on a host whose peer rotated: its files catch up and its hook runs once per new version', async () => {
    // Host B: the same vault, its own output file and hook (think: another machine).
    const hostB = join(dir.dir, 'host-b.yaml');
    await writeFile(
      hostB,
      `
vault: { type: file, path: vault/vault.json }
secrets:
  - id: deployer
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: ${emu.url} }
    outputs:
      - { type: file, path: out-b/deployer.env, format: env }
      - { type: command, run: 'echo "$NCLOUD_ACCESS_KEY" >> hook-b.log' }
`,
    );
    const hookB = () =>
      readFile(join(dir.dir, 'hook-b.log'), 'utf8').then(
        (t) => t.trim().split('\n'),
        () => [],
      );
    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0); // host A rotates
    const first = await current('deployer');
    expect((await runCli(['rotate', 'deployer', '--if-due', '-c', hostB], env)).code).toBe(0);
    expect(await readFile(join(dir.dir, 'out-b', 'deployer.env'), 'utf8')).toContain(
      `NCLOUD_ACCESS_KEY=${first.credentials.accessKey}\n`,
    );
    expect(await hookB()).toEqual([first.credentials.accessKey]);
    expect((await runCli(['rotate', 'deployer', '--if-due', '-c', hostB], env)).code).toBe(0); // nothing new: no hook
    expect(await hookB()).toEqual([first.credentials.accessKey]);

    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0); // host A rotates again
    const second = await current('deployer');
    expect((await runCli(['rotate', 'deployer', '--if-due', '-c', hostB], env)).code).toBe(0);
    expect(await readFile(join(dir.dir, 'out-b', 'deployer.env'), 'utf8')).toContain(
      `NCLOUD_ACCESS_KEY=${second.credentials.accessKey}\n`,
    );
    expect(await hookB()).toEqual([first.credentials.accessKey, second.credentials.accessKey]);
  });

  test('files written (env, template 0640), the hook run once with the values in its environment', async () => {
    const rotate = await runCli(['rotate', 'deployer'], env);
    expect(rotate.code).toBe(0);
    const value = await current('deployer');
    const envFile = join(dir.dir, 'out', 'deployer.env');
    expect(await readFile(envFile, 'utf8')).toBe(
      `NCLOUD_ACCESS_KEY=${value.credentials.accessKey}\nNCLOUD_SECRET_KEY=${value.credentials.keySecret}\n`,
    );
    expect((await stat(envFile)).mode & 0o777).toBe(0o600);
    const txt = join(dir.dir, 'out', 'deployer.txt');
    expect(await readFile(txt, 'utf8')).toBe(`${value.credentials.accessKey} until ${value.expiresAt}\n`);
    expect((await stat(txt)).mode & 0o777).toBe(0o640);
    // The hook gets the new credential, never the master credentials or the vault key.
    expect(await readFile(join(dir.dir, 'hook.log'), 'utf8')).toBe(
      `${value.rotationId} ${value.credentials.accessKey} no-master-key no-vault-key\n`,
    );
    expect(rotate.stdout + rotate.stderr).not.toContain(value.credentials.keySecret);
  });

  test('a failing hook: rotate exits 1 and says the vault holds the new credential', async () => {
    await writeFile(dir.file, config(emu.url, '/nonexistent-dir/hook.log'));
    const rotate = await runCli(['rotate', 'deployer'], env);
    expect(rotate.code).toBe(1);
    expect(rotate.stdout).toMatch(/^deployer: rotated/m);
    expect(rotate.stderr).toMatch(
      /deployer: the vault holds the new credential, but distribution failed: DISTRIBUTION: 1 of 3 outputs of 'deployer' failed: outputs\[2\] \(command\): command exited with code \d+ \(stderr: .*cannot create/,
    );
    expect((await current('deployer')).providerRef).toBeTruthy();
  });
});

describe('get formats', () => {
  test('--format shell evaluates in sh to the exact values; --format dotenv quotes; env: renames', async () => {
    expect((await runCli(['rotate', 'deployer', 'as-aws'], env)).code).toBe(0);
    const value = await current('deployer');
    const shell = await runCli(['get', 'deployer', '--format', 'shell'], consumer);
    expect(shell.stdout).toBe(
      `export NCLOUD_ACCESS_KEY='${value.credentials.accessKey}'\nexport NCLOUD_SECRET_KEY='${value.credentials.keySecret}'\n`,
    );
    const evaluated = execFileSync(
      '/bin/sh',
      ['-c', 'eval "$(cat)"; printf "%s\\n%s" "$NCLOUD_ACCESS_KEY" "$NCLOUD_SECRET_KEY"'],
      { input: shell.stdout },
    ).toString();
    expect(evaluated).toBe(`${value.credentials.accessKey}\n${value.credentials.keySecret}`);
    const dotenv = await runCli(['get', 'deployer', '--format', 'dotenv'], consumer);
    expect(dotenv.stdout).toBe(
      `NCLOUD_ACCESS_KEY='${value.credentials.accessKey}'\nNCLOUD_SECRET_KEY='${value.credentials.keySecret}'\n`,
    );
    const aws = await runCli(['get', 'as-aws', '--format', 'env'], consumer);
    expect(aws.stdout).toMatch(/^AWS_ACCESS_KEY_ID=\S+\nAWS_SECRET_ACCESS_KEY=\S+\n$/);
  });
});

describe('rotator exec', () => {
  beforeEach(async () => {
    expect((await runCli(['rotate', '--all'], env)).code).toBe(0);
  });

  test('`exec <id> -- env` prints the variables, and not the vault key', async () => {
    const value = await current('deployer');
    const d = spawnRotator(['exec', 'deployer', '--', 'env']);
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(d.stdout).toContain(`NCLOUD_ACCESS_KEY=${value.credentials.accessKey}\n`);
    expect(d.stdout).toContain(`NCLOUD_SECRET_KEY=${value.credentials.keySecret}\n`);
    expect(d.stdout).not.toContain('ROTATOR_VAULT_KEY');
  });

  test("while it runs no process argv holds a secret; signals are forwarded; the exit code is the child's", async () => {
    const deployer = await current('deployer');
    const aws = await current('as-aws');
    const script =
      "process.on('SIGTERM', () => process.exit(42)); console.log('ready ' + process.env.AWS_ACCESS_KEY_ID); setInterval(() => {}, 1000);";
    const d = spawnRotator(['exec', 'deployer', 'as-aws', '--', process.execPath, '-e', script]);
    await stdoutMatching(d, /ready (\S+)/);
    expect(d.stdout).toContain(`ready ${aws.credentials.accessKey}`);
    const argv = await allArgv();
    expect(argv.length).toBeGreaterThan(2);
    const secretValues = [
      deployer.credentials.keySecret,
      deployer.credentials.accessKey,
      aws.credentials.keySecret,
      aws.credentials.accessKey,
      account.secretKey,
      VAULT_KEY,
    ];
    for (const secret of secretValues) expect(argv.filter((a) => a.includes(secret))).toEqual([]);
    process.kill(d.child.pid!, 'SIGTERM');
    expect(await d.exited).toEqual({ code: 42, signal: null });
  });

  test.each([
    [['sh', '-c', 'exit 7'], 7],
    [['sh', '-c', 'kill -9 $$'], 137],
    [['no-such-command-xyz'], 127],
  ])('exit code of %j is %p', async (command, code) => {
    const d = spawnRotator(['exec', 'deployer', '--', ...command]);
    expect((await d.exited).code).toBe(code);
  });

  test('secrets whose variables clash are refused (exit 2), nothing runs', async () => {
    const d = spawnRotator(['exec', 'deployer', 'admin', '--', 'sh', '-c', 'echo ran']);
    expect((await d.exited).code).toBe(2);
    expect(d.stderr).toMatch(/'deployer' and 'admin' both set NCLOUD_ACCESS_KEY; give one of them other names with `env:`/);
    expect(d.stdout).toBe('');
  });

  test.each([
    [['exec', 'deployer', 'env'], /write the command after --/],
    [['exec', '--', 'env'], /error: missing required argument|name at least one secret/],
    [['exec', 'nope', '--', 'env'], /no secret 'nope'/],
    [['exec', 'deployer', '--signal', 'SIGHUP', '--', 'env'], /--signal only applies with --watch/],
    [['exec', 'deployer', '--watch', '--signal', 'SIGNOPE', '--', 'env'], /unknown signal 'SIGNOPE'/],
  ])('usage error %j exits 2', async (args, message) => {
    const run = await runCli(args, consumer);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  test('--watch restarts the command with the new credentials after a rotation', async () => {
    const before = await current('deployer');
    const script = "console.log('key ' + process.env.NCLOUD_ACCESS_KEY); setInterval(() => {}, 1000);";
    const d = spawnRotator(['exec', 'deployer', '--watch', '--interval', '1s', '--', process.execPath, '-e', script]);
    await stdoutMatching(d, new RegExp(`key ${before.credentials.accessKey}`));
    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0);
    const after = await current('deployer');
    await stdoutMatching(d, new RegExp(`key ${after.credentials.accessKey}`));
    process.kill(d.child.pid!, 'SIGTERM');
    expect((await d.exited).code).toBe(128 + 15);
  });

  test('--watch --signal SIGHUP signals the command instead of restarting it', async () => {
    const script =
      "let n = 0; process.on('SIGHUP', () => console.log('hup ' + ++n)); console.log('started'); setInterval(() => {}, 1000);";
    const d = spawnRotator([
      'exec',
      'deployer',
      '--watch',
      '--interval',
      '1s',
      '--signal',
      'HUP',
      '--',
      process.execPath,
      '-e',
      script,
    ]);
    await stdoutMatching(d, /started/);
    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0);
    await stdoutMatching(d, /hup 1/);
    expect(d.stdout.match(/started/g)).toHaveLength(1);
    process.kill(d.child.pid!, 'SIGINT');
    expect((await d.exited).code).toBe(128 + 2);
  });
});

describe('rotator run', () => {
  test('start re-writes output files from the vault (a fresh host gets its files), then exits 0 on SIGTERM', async () => {
    expect((await runCli(['rotate', '--all'], env)).code).toBe(0);
    const file = join(dir.dir, 'out', 'deployer.env');
    const expected = await readFile(file, 'utf8');
    await unlink(file);
    const hooks = await readFile(join(dir.dir, 'hook.log'), 'utf8');
    const d = spawnRotator(['run'], { ...env, ROTATOR_LOG_LEVEL: 'info' });
    await d.waitFor((l) => l.msg === 'output file written' && l.path === file, 15_000, 'output file written');
    expect(await readFile(file, 'utf8')).toBe(expected);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await d.waitFor(msg('scheduler started'), 15_000, 'scheduler started');
    process.kill(d.child.pid!, 'SIGTERM');
    expect((await d.exited).code).toBe(0);
    // Start-up writes files only; the reload hook runs after promotions.
    expect(await readFile(join(dir.dir, 'hook.log'), 'utf8')).toBe(hooks);
    expect(d.stderr).not.toContain((await current('deployer')).credentials.keySecret);
  });

  test('`run` after a crash between the files and the distribution memo: the hook runs once at start, not at the next start', async () => {
    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0);
    const memoDir = join(dir.dir, 'vault', 'vault.json.distributed');
    const memoNames = (await readdir(memoDir)).filter((n) => n.startsWith('deployer.'));
    expect(memoNames).toHaveLength(1);
    const memo = join(memoDir, memoNames[0]!);
    const memoBefore = await readFile(memo);
    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0);
    // The disk as a kill during the hook leaves it: the files hold the new version, the memo
    // (written only after every output succeeded) still the one before.
    await writeFile(memo, memoBefore);
    const hookLog = join(dir.dir, 'hook.log');
    const lines = async () => (await readFile(hookLog, 'utf8')).split('\n').filter(Boolean);
    expect(await lines()).toHaveLength(2);
    const value = await current('deployer');

    const d = spawnRotator(['run'], { ...env, ROTATOR_LOG_LEVEL: 'info' });
    await d.waitFor((l) => l.msg === 'reload command succeeded' && l.secretId === 'deployer', 15_000, 'hook ran at start');
    await d.waitFor(msg('scheduler started'), 15_000, 'scheduler started');
    process.kill(d.child.pid!, 'SIGTERM');
    expect((await d.exited).code).toBe(0);
    expect(await lines()).toHaveLength(3);
    expect((await lines())[2]).toMatch(new RegExp(`^${value.rotationId} ${value.credentials.accessKey} `));

    // Recorded now: the next start leaves the hook alone.
    const again = spawnRotator(['run'], { ...env, ROTATOR_LOG_LEVEL: 'info' });
    await again.waitFor(msg('scheduler started'), 15_000, 'scheduler started');
    process.kill(again.child.pid!, 'SIGTERM');
    expect((await again.exited).code).toBe(0);
    expect(await lines()).toHaveLength(3);
  });

  test('the daemon writes outputs and runs the hook once after each of its rotations', async () => {
    const d = spawnRotator(['run'], { ...env, ROTATOR_LOG_LEVEL: 'info' });
    const promoted = await d.waitFor(msg('promoted', 'deployer'), 15_000, 'deployer promoted');
    const file = join(dir.dir, 'out', 'deployer.env');
    await d.waitFor((l) => l.msg === 'reload command succeeded' && l.secretId === 'deployer', 15_000, 'hook ran');
    process.kill(d.child.pid!, 'SIGTERM');
    expect((await d.exited).code).toBe(0);
    const value = await current('deployer');
    expect(value.rotationId).toBe(promoted.rotationId);
    expect(await readFile(file, 'utf8')).toBe(
      `NCLOUD_ACCESS_KEY=${value.credentials.accessKey}\nNCLOUD_SECRET_KEY=${value.credentials.keySecret}\n`,
    );
    // The hook gets the new credential, never the master credentials or the vault key.
    expect(await readFile(join(dir.dir, 'hook.log'), 'utf8')).toBe(
      `${value.rotationId} ${value.credentials.accessKey} no-master-key no-vault-key\n`,
    );
    expect(d.stderr).not.toContain(value.credentials.keySecret);
  });
});

describe('library', () => {
  test("require('rotator') from another package: createSecretReader reads the vault", async () => {
    expect((await runCli(['rotate', 'deployer'], env)).code).toBe(0);
    const value = await current('deployer');
    const app = await mkdtemp(join(tmpdir(), 'rotator-consumer-'));
    try {
      await mkdir(join(app, 'node_modules'));
      await symlink(ROOT, join(app, 'node_modules', 'rotator'), 'dir');
      const script = `
        const { createSecretReader } = require('rotator');
        const reader = createSecretReader({ config: process.env.CFG });
        reader.get('deployer').then(async (v) => { console.log(v.providerRef); await reader.close(); });`;
      const out = execFileSync(process.execPath, ['-e', script], {
        cwd: app,
        env: { PATH: process.env.PATH, CFG: dir.file, ROTATOR_VAULT_KEY: VAULT_KEY },
      }).toString();
      expect(out).toBe(`${value.providerRef}\n`);
      const types = execFileSync(
        process.execPath,
        ['-p', "require.resolve('rotator') + ' ' + require('rotator/package.json').types"],
        { cwd: app },
      ).toString();
      expect(types.trim()).toBe(`${join(ROOT, 'dist/src/index.js')} dist/src/index.d.ts`);
    } finally {
      await rm(app, { recursive: true, force: true });
    }
  });
});
