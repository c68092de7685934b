/**
 * Cold start of the `rotator` binary (bin/rotator.js over dist/, built by test/global-setup.js):
 * `get`, `status`, `validate` and `--help` against bare `node -e 0`, measured as paired runs
 * (bare node, then the command, back to back) so load on a shared machine hits both alike. The
 * figure is the median of the per-pair differences. Also prints how many modules each command
 * loads (CommonJS `require.cache` at exit) and which heavy ones, if any. Nothing is asserted
 * against a time; the figures go in notes with the command (`npm run bench -- cold-start`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { runCli } from '../support/cli';

const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'bin', 'rotator.js');
const PAIRS = Number(process.env.COLD_START_PAIRS ?? 15);
const VAULT_KEY = 'b'.repeat(64);
/** Modules a read-only command must not need (issue 14): their presence is listed in the output. */
const HEAVY = ['/axios/', '/digest-fetch/', '/pino-pretty/', '/@aws-sdk/', 'emulator'];

let dir: string;
let emu: NcpStsEmulator;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-cold-'));
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  const file = join(dir, 'rotator.config.yaml');
  await writeFile(
    file,
    `vault: { type: file, path: vault/vault.json }
secrets:
  - id: deployer
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: ${emu.url} }
`,
  );
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ROTATOR_CONFIG: file,
    ROTATOR_VAULT_KEY: VAULT_KEY,
    NCP_ACCESS_KEY: account.accessKey,
    NCP_SECRET_KEY: account.secretKey,
    ROTATOR_LOG_LEVEL: 'warn',
  };
  const rotated = await runCli(['rotate', 'deployer'], env);
  if (rotated.code !== 0) throw new Error(`setup: rotate failed: ${rotated.stderr}`);
  await writeFile(
    join(dir, 'count-modules.js'),
    `process.on('exit', () => require('fs').writeFileSync(process.env.COLD_START_MODULES, JSON.stringify(Object.keys(require.cache))));\n`,
  );
});

afterAll(async () => {
  await emu?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function timed(args: string[], extraEnv: NodeJS.ProcessEnv = {}): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env: { ...env, ...extraEnv }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function modulesOf(args: string[]): Promise<string[]> {
  const out = join(dir, 'modules.json');
  timed(['-r', join(dir, 'count-modules.js'), BIN, ...args], { COLD_START_MODULES: out });
  return JSON.parse(await readFile(out, 'utf8')) as string[];
}

const COMMANDS: Record<string, string[]> = {
  get: ['get', 'deployer', '--field', 'accessKey'],
  status: ['status'],
  validate: ['validate'],
  '--help': ['--help'],
};

test('cold start of get, status, validate and --help against bare node', async () => {
  const lines: string[] = [];
  for (const [name, args] of Object.entries(COMMANDS)) {
    timed([BIN, ...args]); // warm the file-system cache
    const bare: number[] = [];
    const cmd: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
      bare.push(timed(['-e', '0']));
      cmd.push(timed([BIN, ...args]));
    }
    const diffs = cmd.map((c, i) => c - bare[i]!);
    const modules = await modulesOf(args);
    const heavy = HEAVY.filter((h) => modules.some((m) => m.includes(h)));
    lines.push(
      `${name.padEnd(9)} +${median(diffs).toFixed(0).padStart(4)} ms over bare node (median of ${PAIRS} pairs; ` +
        `bare ${median(bare).toFixed(0)} ms, command ${median(cmd).toFixed(0)} ms)  modules=${modules.length}` +
        `  heavy=${heavy.length ? heavy.join(',') : 'none'}`,
    );
  }
  process.stdout.write(`\ncold start (node ${process.version})\n${lines.join('\n')}\n`);
  expect(lines).toHaveLength(Object.keys(COMMANDS).length);
});
