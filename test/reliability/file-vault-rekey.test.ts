import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import type { SecretState } from '../../src/types';
import { keyIdOf, openFileVault, recordKeyIds, rekeyFileVault, storeKeyId } from '../../src/vaults/file';
import { sampleValue } from '../vault-contract';
import { compileFileVault } from './compile-vault';

/**
 * rekeyFileVault killed at every step: a child (file-vault-child.js `rekey`) SIGKILLs itself
 * before its k-th changing file operation, for every k. Afterwards every record names the key
 * that sealed it (old or new), the vault opens with the key its marker names, and running the
 * rekey again finishes the job with every value intact.
 */
const CHILD = path.join(__dirname, 'file-vault-child.js');
const OLD = randomBytes(32);
const NEW = randomBytes(32);
const KEYS = ['ncp-deployer', 'Other key'];

jest.setTimeout(300_000);

let modulePath: string;
let cleanupBuild: () => Promise<void>;
let root: string;
let seed: string;
let expected: Map<string, SecretState>;

const open = (vaultPath: string, key: Buffer) =>
  openFileVault({ path: vaultPath, key, clock: new ManualClock(), log: silentLogger });

beforeAll(async () => {
  ({ modulePath, cleanup: cleanupBuild } = await compileFileVault());
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-rekey-'));
  seed = path.join(root, 'seed');
  const vault = await open(path.join(seed, 'vault.json'), OLD);
  for (const key of KEYS) {
    await vault.putPending(key, sampleValue(`${key}-1`), `${key}-1`);
    await vault.promote(key, `${key}-1`, null);
    await vault.putPending(key, sampleValue(`${key}-2`), `${key}-2`);
  }
  await vault.updateMeta('meta-only', { revokedPrevious: 'AK-0' });
  expected = await vault.readMany([...KEYS, 'meta-only']);
  await vault.close();
});
afterAll(async () => {
  await cleanupBuild?.();
  await fs.rm(root, { recursive: true, force: true });
});

function runChild(vaultPath: string, killAt?: number): Promise<{ out: string; killed: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, 'rekey', vaultPath], {
      env: {
        ...process.env,
        VAULT_MODULE: modulePath,
        OLD_VAULT_KEY: OLD.toString('hex'),
        NEW_VAULT_KEY: NEW.toString('hex'),
        ...(killAt ? { KILL_AT_OP: String(killAt) } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ out, killed: signal === 'SIGKILL' && code === null, stderr }));
  });
}

async function copySeed(name: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.cp(seed, dir, { recursive: true });
  return path.join(dir, 'vault.json');
}

async function expectAllValues(vaultPath: string, key: Buffer): Promise<void> {
  const vault = await open(vaultPath, key);
  expect(await vault.readMany([...KEYS, 'meta-only'])).toEqual(expected);
  await vault.close();
}

test('a rekey killed before each of its file operations leaves every record under one of the two keys, and says which', async () => {
  const full = await copySeed('full');
  const complete = await runChild(full);
  expect(complete.stderr).toBe('');
  const total = Number(/rekeyed after (\d+) ops/.exec(complete.out)?.[1]);
  expect(total).toBeGreaterThan(10);
  expect(await storeKeyId(full)).toBe(keyIdOf(NEW));
  await expectAllValues(full, NEW);
  await expect(open(full, OLD)).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });

  let mixed = 0;
  for (let k = 1; k <= total; k++) {
    const vaultPath = await copySeed(`kill-${k}`);
    const run = await runChild(vaultPath, k);
    expect({ k, killed: run.killed, stderr: run.stderr }).toEqual({ k, killed: true, stderr: '' });
    // Every record names one of the two keys; the marker names the key the vault opens with.
    const kids = await recordKeyIds(vaultPath);
    expect([...kids.keys()].every((kid) => kid === keyIdOf(OLD) || kid === keyIdOf(NEW))).toBe(true);
    expect([...kids.values()].reduce((a, b) => a + b, 0)).toBe(KEYS.length + 1);
    if (kids.size === 2) mixed += 1;
    const markerKey = (await storeKeyId(vaultPath)) === keyIdOf(NEW) ? NEW : OLD;
    await (await open(vaultPath, markerKey)).close();
    if (markerKey === OLD && kids.has(keyIdOf(NEW))) {
      // Opening with the old key works; a re-sealed record says which key it needs.
      const vault = await open(vaultPath, OLD);
      const failures = await Promise.all(
        KEYS.map((key) =>
          vault.read(key).then(
            () => undefined,
            (e: Error) => e.message,
          ),
        ),
      );
      expect(failures.filter(Boolean).join('\n')).toContain(`written with the key whose id is ${keyIdOf(NEW)}`);
    }
    await rekeyFileVault(vaultPath, OLD, NEW, { log: silentLogger });
    await expectAllValues(vaultPath, NEW);
  }
  expect(mixed).toBeGreaterThan(0);
  console.log(
    `rekey kill test: ${total} file operations, killed before each; ${mixed} kills left records under both keys; all finished by running rekey again`,
  );
});
