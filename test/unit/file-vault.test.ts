import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../src/clock';
import { memoryLogger, silentLogger } from '../../src/log';
import { FileVault, openFileVault, type FileVaultOptions } from '../../src/vaults/file';
import { describeVaultContract, sampleValue } from '../vault-contract';

const KEY_HEX = 'a1'.repeat(32);
const OTHER_KEY_HEX = 'b2'.repeat(32);

let dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-file-vault-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  dirs = [];
});

describeVaultContract('FileVault', async () => {
  const dir = await tempDir();
  const clock = new ManualClock();
  const vault = await openFileVault({
    path: path.join(dir, 'vault.json'),
    clock,
    log: silentLogger,
    env: { ROTATOR_VAULT_KEY: KEY_HEX },
  });
  return { vault, clock, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
});

/** A vault in a fresh directory; the key comes from ROTATOR_VAULT_KEY unless `env` says otherwise. */
async function open(overrides: Partial<FileVaultOptions> = {}): Promise<FileVault> {
  const vaultPath = overrides.path ?? path.join(await tempDir(), 'state', 'vault.json');
  return openFileVault({
    clock: new ManualClock(),
    log: silentLogger,
    env: { ROTATOR_VAULT_KEY: KEY_HEX },
    ...overrides,
    path: vaultPath,
  });
}

async function rotate(vault: FileVault, key: string, id: string): Promise<void> {
  const current = (await vault.read(key)).current?.versionId ?? null;
  await vault.putPending(key, sampleValue(id), id);
  await vault.promote(key, id, current);
}

const modeOf = async (file: string) => (await fs.stat(file)).mode & 0o777;

describe('FileVault on disk', () => {
  test('creates the directory 0700 and writes the vault 0600, leaving no temp or lock files', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    expect(await modeOf(path.dirname(vault.path))).toBe(0o700);
    expect(await modeOf(vault.path)).toBe(0o600);
    expect(await fs.readdir(path.dirname(vault.path))).toEqual(['vault.json']);
  });

  test('the file is a versioned envelope; no secret, key name or rotation id appears in it', async () => {
    const vault = await open();
    const value = sampleValue('rot-7f3a', 'PLAINTEXT-CANARY-9d81c2');
    await vault.putPending('ncp-deployer', value, 'rot-7f3a');
    const raw = await fs.readFile(vault.path, 'utf8');
    for (const needle of ['PLAINTEXT-CANARY-9d81c2', 'ncp-deployer', 'rot-7f3a', 'AK-rot-7f3a']) {
      expect(raw).not.toContain(needle);
    }
    const envelope = JSON.parse(raw);
    expect(Object.keys(envelope).sort()).toEqual(['cipher', 'data', 'format', 'iv', 'tag', 'version']);
    expect(envelope).toMatchObject({ format: 'rotator-vault', version: 1, cipher: 'aes-256-gcm' });
    expect(Buffer.from(envelope.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(envelope.tag, 'base64')).toHaveLength(16);
  });

  test('every write uses a fresh IV', async () => {
    const vault = await open();
    const ivs = new Set<string>();
    for (const id of ['r1', 'r2', 'r3']) {
      await rotate(vault, 'a', id);
      ivs.add(JSON.parse(await fs.readFile(vault.path, 'utf8')).iv);
    }
    expect(ivs.size).toBe(3);
  });

  test('a permissive existing vault file is tightened to 0600 with a warning', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    await fs.chmod(vault.path, 0o644);
    const log = memoryLogger();
    await open({ path: vault.path, log });
    expect(await modeOf(vault.path)).toBe(0o600);
    expect(log.text()).toMatch(/vault file .* was accessible to other users \(mode 644\)/);
  });

  test('reads see writes made through another instance: nothing is cached', async () => {
    const a = await open();
    const b = await open({ path: a.path });
    await rotate(a, 'k', 'r1');
    expect((await b.read('k')).current?.versionId).toBe('r1');
    await rotate(b, 'k', 'r2');
    expect((await a.read('k')).current?.versionId).toBe('r2');
    expect(await a.list()).toEqual(['k']);
  });

  test('two instances on one file interleaving changes lose no write', async () => {
    const a = await open();
    const b = await open({ path: a.path });
    const writes = Array.from({ length: 40 }, (_, i) => {
      const vault = i % 2 === 0 ? a : b;
      return vault.putPending(`key-${i}`, sampleValue(`r${i}`), `r${i}`);
    });
    await Promise.all(writes);
    expect(await a.list()).toHaveLength(40);
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? b : a).promote(`key-${i}`, `r${i}`, null)));
    for (let i = 0; i < 40; i++) expect((await b.read(`key-${i}`)).current?.versionId).toBe(`r${i}`);
  });

  test('racing promotes through two instances: exactly one wins the compare-and-swap', async () => {
    const a = await open();
    const b = await open({ path: a.path });
    await rotate(a, 'k', 'r1');
    await a.putPending('k', sampleValue('r2'), 'r2');
    const results = await Promise.allSettled([a.promote('k', 'r2', 'r1'), b.promote('k', 'r2', 'r1')]);
    // The second is an idempotent re-promotion of the version that is now current.
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const attempt = async (vault: FileVault, id: string) => {
      await vault.putPending('k', sampleValue(id), id);
      await vault.promote('k', id, 'r2');
      return id;
    };
    const raced = await Promise.allSettled([attempt(a, 'r3'), attempt(b, 'r4')]);
    const winners = raced.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(winners.length).toBeLessThanOrEqual(1);
    for (const r of raced) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'VAULT_CONFLICT' });
    expect((await a.read('k')).current?.versionId).toBe(winners[0] ?? 'r2');
  });

  test('history keeps at most `history` versions without a stage, dropping the oldest', async () => {
    const vault = await open({ history: 2 });
    for (let i = 1; i <= 6; i++) await rotate(vault, 'a', `r${i}`);
    await vault.putPending('a', sampleValue('r7'), 'r7');
    const versions = await vault.history('a');
    expect(versions.map((v) => [v.versionId, v.stages])).toEqual([
      ['r3', []],
      ['r4', []],
      ['r5', ['previous']],
      ['r6', ['current']],
      ['r7', ['pending']],
    ]);
  });

  test('history 0 keeps only staged versions; a replaced pending version is history too', async () => {
    const vault = await open({ history: 0 });
    await rotate(vault, 'a', 'r1');
    await vault.putPending('a', sampleValue('r2'), 'r2');
    await vault.putPending('a', sampleValue('r3'), 'r3');
    expect((await vault.history('a')).map((v) => v.versionId)).toEqual(['r1', 'r3']);
  });

  test('records createdAt from the injected clock', async () => {
    const clock = new ManualClock('2030-05-06T07:08:09.000Z');
    const vault = await open({ clock });
    const version = await vault.putPending('a', sampleValue('r1'), 'r1');
    expect(version.createdAt).toBe('2030-05-06T07:08:09.000Z');
  });

  test('an invalid history is a CONFIG error', async () => {
    await expect(open({ history: -1 })).rejects.toMatchObject({ code: 'CONFIG' });
  });

  test('after close, calls fail and changes in flight finish', async () => {
    const vault = await open();
    const inFlight = vault.putPending('a', sampleValue('r1'), 'r1');
    await vault.close();
    await expect(inFlight).resolves.toMatchObject({ versionId: 'r1' });
    await expect(vault.read('a')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    await expect(vault.putPending('a', sampleValue('r2'), 'r2')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
  });
});

describe('FileVault keys', () => {
  test('a wrong key is VAULT_CORRUPT naming the key source, and the vault is left untouched', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    const before = await fs.readFile(vault.path);
    const opening = open({ path: vault.path, env: { ROTATOR_VAULT_KEY: OTHER_KEY_HEX } });
    await expect(opening).rejects.toMatchObject({
      code: 'VAULT_CORRUPT',
      message: expect.stringMatching(/cannot decrypt vault .*vault\.json with this key \(ROTATOR_VAULT_KEY\)/),
    });
    expect(await fs.readFile(vault.path)).toEqual(before);
  });

  test('a write never replaces a vault it cannot decrypt', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    const foreign = await open({ env: { ROTATOR_VAULT_KEY: OTHER_KEY_HEX } });
    await rotate(foreign, 'b', 'x1');
    await fs.copyFile(foreign.path, vault.path);
    const before = await fs.readFile(vault.path);
    await expect(vault.putPending('a', sampleValue('r2'), 'r2')).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    await expect(vault.acquireLease('a', 'me', 1000)).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    expect(await fs.readFile(vault.path)).toEqual(before);
  });

  test('a tampered file or an unknown format version is VAULT_CORRUPT', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    const envelope = JSON.parse(await fs.readFile(vault.path, 'utf8'));
    const data = Buffer.from(envelope.data, 'base64');
    data[0] = data[0]! ^ 1;
    await fs.writeFile(vault.path, JSON.stringify({ ...envelope, data: data.toString('base64') }));
    await expect(vault.read('a')).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    await fs.writeFile(vault.path, JSON.stringify({ ...envelope, version: 2 }));
    await expect(vault.read('a')).rejects.toMatchObject({
      code: 'VAULT_CORRUPT',
      message: expect.stringMatching(/version 2.*upgrade/),
    });
    await fs.writeFile(vault.path, '{"hello":');
    await expect(vault.read('a')).rejects.toMatchObject({
      code: 'VAULT_CORRUPT',
      message: expect.stringMatching(/not a rotator vault/),
    });
  });

  test('ROTATOR_VAULT_KEY as hex and as base64 of the same bytes open the same vault; no key file is made', async () => {
    const key = randomBytes(32);
    const vault = await open({ env: { ROTATOR_VAULT_KEY: key.toString('hex') } });
    await rotate(vault, 'a', 'r1');
    const again = await open({ path: vault.path, env: { ROTATOR_VAULT_KEY: `${key.toString('base64')}\n` } });
    expect((await again.read('a')).current?.versionId).toBe('r1');
    const byOption = await open({ path: vault.path, key, env: {} });
    expect((await byOption.read('a')).current?.versionId).toBe('r1');
    expect(await fs.readdir(path.dirname(vault.path))).toEqual(['vault.json']);
  });

  test.each([
    ['too short', 'abc123'],
    ['63 hex characters', 'a'.repeat(63)],
    ['base64 of 16 bytes', randomBytes(16).toString('base64')],
  ])('an invalid ROTATOR_VAULT_KEY (%s) says the expected form and how to make one, without echoing it', async (_, bad) => {
    const failure = open({ env: { ROTATOR_VAULT_KEY: bad } });
    await expect(failure).rejects.toMatchObject({ code: 'CONFIG' });
    const message = ((await failure.catch((e) => e)) as Error).message;
    expect(message).toMatch(/ROTATOR_VAULT_KEY must be a 32-byte key written as 64 hex characters or as base64/);
    expect(message).toContain('openssl rand -hex 32');
    expect(message).not.toContain(bad);
  });

  test('without ROTATOR_VAULT_KEY a key file is generated (0600, hex), announced, and reused', async () => {
    const dir = await tempDir();
    const vaultPath = path.join(dir, 'vault.json');
    const log = memoryLogger();
    const vault = await open({ path: vaultPath, env: {}, log });
    const keyFile = `${vaultPath}.key`;
    expect(await modeOf(keyFile)).toBe(0o600);
    expect((await fs.readFile(keyFile, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(log.text()).toContain(`generated a vault key at ${keyFile}; back it up, or set ROTATOR_VAULT_KEY`);
    await rotate(vault, 'a', 'r1');
    const quiet = memoryLogger();
    const again = await open({ path: vaultPath, env: {}, log: quiet });
    expect((await again.read('a')).current?.versionId).toBe('r1');
    expect(quiet.text()).not.toContain('generated');
  });

  test('an explicit keyFile is used, a permissive one is tightened, a raw 32-byte one is accepted', async () => {
    const dir = await tempDir();
    const keyFile = path.join(dir, 'secret.key');
    await fs.writeFile(keyFile, randomBytes(32), { mode: 0o644 });
    await fs.chmod(keyFile, 0o644);
    const log = memoryLogger();
    const vault = await open({ path: path.join(dir, 'v.json'), keyFile, env: {}, log });
    await rotate(vault, 'a', 'r1');
    expect(await modeOf(keyFile)).toBe(0o600);
    expect(log.text()).toMatch(/vault key file .*secret\.key was accessible to other users/);
    await expect(open({ path: vault.path, env: {} })).rejects.toMatchObject({ code: 'CONFIG' });
  });

  test('a vault whose key file is missing is an error, never a reason to generate a new key', async () => {
    const dir = await tempDir();
    const vaultPath = path.join(dir, 'vault.json');
    const vault = await open({ path: vaultPath, env: {} });
    await rotate(vault, 'a', 'r1');
    await fs.rm(`${vaultPath}.key`);
    await expect(open({ path: vaultPath, env: {} })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/exists but its key is missing: set ROTATOR_VAULT_KEY or restore the key file/),
    });
    expect(await fs.readdir(dir)).toEqual(['vault.json']);
  });
});

describe('FileVault locking', () => {
  /** A pid that existed and is gone: a child that already exited and was reaped. */
  function deadPid(): number {
    const pid = spawnSync(process.execPath, ['-e', '0']).pid;
    if (pid === undefined) throw new Error('could not spawn');
    return pid;
  }

  async function writeLock(vaultPath: string, owner: { pid: number; hostname?: string }): Promise<string> {
    const lockPath = `${vaultPath}.lock`;
    const record = { pid: owner.pid, hostname: owner.hostname ?? os.hostname(), since: new Date().toISOString(), token: 'x' };
    await fs.writeFile(lockPath, JSON.stringify(record));
    return lockPath;
  }

  test('a lock left by a dead pid is broken at once, with a warning', async () => {
    const log = memoryLogger();
    const vault = await open({ log, lockTimeoutMs: 60_000 });
    const pid = deadPid();
    await writeLock(vault.path, { pid });
    const started = Date.now();
    await rotate(vault, 'a', 'r1');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(log.text()).toContain(`pid ${pid} is no longer running`);
    expect(await fs.readdir(path.dirname(vault.path))).toEqual(['vault.json']);
  });

  test('a live local holder keeps its lock past the stale bound (a paused process), until pid reuse is likelier', async () => {
    const vault = await open({ lockTimeoutMs: 200 });
    const lockPath = await writeLock(vault.path, { pid: process.pid });
    const minuteAgo = new Date(Date.now() - 60_000);
    await fs.utimes(lockPath, minuteAgo, minuteAgo);
    await expect(vault.putPending('a', sampleValue('r1'), 'r1')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    const elevenMinutesAgo = new Date(Date.now() - 11 * 60_000);
    await fs.utimes(lockPath, elevenMinutesAgo, elevenMinutesAgo);
    await rotate(vault, 'a', 'r1');
    expect((await vault.read('a')).current?.versionId).toBe('r1');
  });

  test('a held lock times out with VAULT_UNAVAILABLE naming the holder; the vault is untouched', async () => {
    const vault = await open({ lockTimeoutMs: 150 });
    await rotate(vault, 'a', 'r1');
    const before = await fs.readFile(vault.path);
    await writeLock(vault.path, { pid: process.pid });
    const failure = vault.putPending('a', sampleValue('r2'), 'r2');
    await expect(failure).rejects.toMatchObject({
      code: 'VAULT_UNAVAILABLE',
      retryable: true,
      message: expect.stringMatching(new RegExp(`locked by pid ${process.pid} since \\d{4}-\\d\\d-\\d\\dT`)),
    });
    expect(await fs.readFile(vault.path)).toEqual(before);
    // Reads take no lock.
    expect((await vault.read('a')).current?.versionId).toBe('r1');
  });

  test('a dead pid on another host cannot be checked: its fresh lock is respected', async () => {
    const vault = await open({ lockTimeoutMs: 100 });
    await writeLock(vault.path, { pid: deadPid(), hostname: `not-${os.hostname()}` });
    await expect(vault.putPending('a', sampleValue('r1'), 'r1')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
  });

  test('a change waits for a lock released meanwhile', async () => {
    const vault = await open({ lockTimeoutMs: 5_000 });
    const lockPath = await writeLock(vault.path, { pid: process.pid });
    setTimeout(() => void fs.rm(lockPath), 100);
    await rotate(vault, 'a', 'r1');
    expect((await vault.read('a')).current?.versionId).toBe('r1');
  });

  test('temp files left by crashed writers are swept under the lock', async () => {
    const vault = await open();
    const dir = path.dirname(vault.path);
    await fs.writeFile(`${vault.path}.tmp-${deadPid()}-abcdef`, 'partial');
    await fs.writeFile(`${vault.path}.lock.tmp-${deadPid()}-abcdef`, '{}');
    await fs.writeFile(path.join(dir, 'unrelated.tmp-1-abcdef'), 'keep');
    await rotate(vault, 'a', 'r1');
    expect((await fs.readdir(dir)).sort()).toEqual(['unrelated.tmp-1-abcdef', 'vault.json']);
  });
});
