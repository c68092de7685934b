/**
 * The README's backup recipe: its `tar` line, run while rotations replace vault records, gives an
 * archive that restores into a fresh folder where `rotator get` and `status` work with the same
 * key. Runs the line as the README writes it, so the two cannot drift apart.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { generateAccount, startNcpStsEmulator, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { systemClock } from '../../src/clock';
import { runCli } from '../support/cli';

const run = promisify(execFile);
const README = resolve(__dirname, '../../README.md');
const IDS = ['app-a', 'app-b', 'app-c'];

let emu: NcpStsEmulator;
let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const account = generateAccount();
  emu = await startNcpStsEmulator({ clock: systemClock, accounts: [account] });
  work = await mkdtemp(join(tmpdir(), 'rotator-backup-'));
  env = {
    ROTATOR_VAULT_KEY: 'b'.repeat(64),
    NCP_ACCESS_KEY: account.accessKey,
    NCP_SECRET_KEY: account.secretKey,
    ROTATOR_LOG_LEVEL: 'warn',
  };
  const secrets = IDS.map(
    (id) =>
      `  - id: ${id}\n    provider: ncp-sts\n    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }\n` +
      `    params: { durationSec: 3600, endpoint: ${emu.url} }\n`,
  );
  await writeFile(
    join(work, 'rotator.config.yaml'),
    `vault: { type: file, path: .rotator/vault.json }\nsecrets:\n${secrets.join('')}`,
  );
});

afterAll(async () => {
  await emu?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The README's backup command, as written. */
async function readmeBackupLine(): Promise<string> {
  const line = (await readFile(README, 'utf8')).split('\n').find((l) => l.startsWith('for try in 1 2 3 4 5; do tar -C .rotator'));
  expect(line).toBeDefined();
  return line!;
}

test('a copy taken with the README line during rotations restores into a fresh path, and get works there', async () => {
  const backupLine = await readmeBackupLine();
  const config = join(work, 'rotator.config.yaml');
  expect((await runCli(['rotate', '--all', '-c', config], env)).code).toBe(0);

  // Rotations keep replacing records while copies are taken.
  let rotating = true;
  const rotations = (async () => {
    try {
      for (let i = 0; i < 6; i++) {
        const rotated = await runCli(['rotate', '--all', '-c', config], env);
        expect({ code: rotated.code, stderr: rotated.stderr }).toEqual({ code: 0, stderr: '' });
      }
    } finally {
      rotating = false;
    }
  })();
  const archives: string[] = [];
  for (let n = 0; rotating || n === 0; n++) {
    await run('bash', ['-euo', 'pipefail', '-c', backupLine], { cwd: work });
    const archive = join(work, `copy-${n}.tgz`);
    // The line names its archive by date; keep each copy.
    const dated = (await run('bash', ['-c', 'ls vault-*.tgz'], { cwd: work })).stdout.trim();
    await copyFile(join(work, dated), archive);
    archives.push(archive);
  }
  await rotations;
  expect(archives.length).toBeGreaterThan(0);

  const issued = new Set(emu.issuedKeys().map((k) => k.accessKey));
  for (const archive of archives) {
    // Restore as the README says, into a fresh folder with the same config and key.
    const fresh = await mkdtemp(join(work, 'restore-'));
    await copyFile(config, join(fresh, 'rotator.config.yaml'));
    await mkdir(join(fresh, '.rotator'));
    await run('tar', ['-C', join(fresh, '.rotator'), '-xzf', archive]);
    const readEnv = { ROTATOR_VAULT_KEY: env.ROTATOR_VAULT_KEY };
    for (const id of IDS) {
      const got = await runCli(['get', id, '--format', 'json', '-c', join(fresh, 'rotator.config.yaml')], readEnv);
      expect({ archive, id, code: got.code, stderr: got.stderr }).toEqual({ archive, id, code: 0, stderr: '' });
      const value = JSON.parse(got.stdout) as { credentials: { accessKey: string } };
      expect(issued.has(value.credentials.accessKey)).toBe(true);
    }
    const status = await runCli(['status', '--json', '-c', join(fresh, 'rotator.config.yaml')], readEnv);
    expect(status.code).toBe(0);
  }
});

test('without the key the copy cannot be read, and the error says which key is wrong rather than leaking a value', async () => {
  const archive = join(work, 'copy-0.tgz');
  const fresh = await mkdtemp(join(work, 'nokey-'));
  await copyFile(join(work, 'rotator.config.yaml'), join(fresh, 'rotator.config.yaml'));
  await mkdir(join(fresh, '.rotator'));
  await run('tar', ['-C', join(fresh, '.rotator'), '-xzf', archive]);
  const got = await runCli(['get', 'app-a', '-c', join(fresh, 'rotator.config.yaml')], { ROTATOR_VAULT_KEY: 'd'.repeat(64) });
  expect(got.code).not.toBe(0);
  expect(got.stdout).toBe('');
  expect(got.stderr).toMatch(/cannot decrypt|use that key/);
});
