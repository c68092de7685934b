import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../src/clock';
import { memoryLogger, silentLogger } from '../../src/log';
import { FileVault, openFileVault, type FileVaultOptions } from '../../src/vaults/file';
import { openEnvelope, sealEnvelope } from '../../src/vaults/file-envelope';
import { encodeKey } from '../../src/vaults/file-names';
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
const keysDir = (vault: FileVault) => path.join(vault.storePath, 'keys');
const locksDir = (vault: FileVault) => path.join(vault.storePath, 'locks');
const recordFile = (vault: FileVault, key: string) => path.join(keysDir(vault), `${encodeKey(key)}.rec`);

describe('FileVault on disk', () => {
  test('keeps one 0600 record per key in a 0700 store beside vault.path, leaving no temp or lock files', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    await rotate(vault, 'b', 'r1');
    const parent = path.dirname(vault.path);
    expect(vault.storePath).toBe(`${vault.path}.d`);
    expect(await fs.readdir(parent)).toEqual(['vault.json.d']);
    expect((await fs.readdir(vault.storePath)).sort()).toEqual(['keys', 'locks', 'rotator-store.json']);
    expect((await fs.readdir(keysDir(vault))).sort()).toEqual(['a.rec', 'b.rec']);
    expect(await fs.readdir(locksDir(vault))).toEqual([]);
    for (const dir of [parent, vault.storePath, keysDir(vault), locksDir(vault)]) expect(await modeOf(dir)).toBe(0o700);
    for (const file of [recordFile(vault, 'a'), path.join(vault.storePath, 'rotator-store.json')]) {
      expect(await modeOf(file)).toBe(0o600);
    }
  });

  test('a write rewrites only its own key’s record', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    await rotate(vault, 'b', 'r1');
    const before = await fs.readFile(recordFile(vault, 'b'));
    await rotate(vault, 'a', 'r2');
    expect(await fs.readFile(recordFile(vault, 'b'))).toEqual(before);
  });

  test('a record is a versioned envelope; no secret or rotation id appears in it', async () => {
    const vault = await open();
    const value = sampleValue('rot-7f3a', 'PLAINTEXT-CANARY-9d81c2');
    await vault.putPending('ncp-deployer', value, 'rot-7f3a');
    const raw = await fs.readFile(recordFile(vault, 'ncp-deployer'), 'utf8');
    for (const needle of ['PLAINTEXT-CANARY-9d81c2', 'rot-7f3a', 'AK-rot-7f3a']) expect(raw).not.toContain(needle);
    const envelope = JSON.parse(raw);
    expect(Object.keys(envelope).sort()).toEqual(['cipher', 'data', 'format', 'iv', 'kid', 'tag', 'version']);
    expect(envelope).toMatchObject({ format: 'rotator-vault-record', version: 2, cipher: 'aes-256-gcm' });
    expect(Buffer.from(envelope.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(envelope.tag, 'base64')).toHaveLength(16);
  });

  test('every write uses a fresh IV', async () => {
    const vault = await open();
    const ivs = new Set<string>();
    for (const id of ['r1', 'r2', 'r3']) {
      await rotate(vault, 'a', id);
      ivs.add(JSON.parse(await fs.readFile(recordFile(vault, 'a'), 'utf8')).iv);
    }
    expect(ivs.size).toBe(3);
  });

  test('a key with only a lease or meta is kept apart (.meta), so list never decrypts; its first version moves it to .rec', async () => {
    const vault = await open();
    await vault.updateMeta('k', { revokedPrevious: 'AK-old' });
    expect(await fs.readdir(keysDir(vault))).toEqual(['k.meta']);
    expect(await vault.list()).toEqual([]);
    await vault.putPending('k', sampleValue('r1'), 'r1');
    expect(await fs.readdir(keysDir(vault))).toEqual(['k.rec']);
    expect(await vault.read('k')).toMatchObject({ revokedPrevious: 'AK-old', pending: { versionId: 'r1' } });
    await vault.discardPending('k', 'r1');
    expect(await fs.readdir(keysDir(vault))).toEqual(['k.meta']);
    await vault.updateMeta('k', { revokedPrevious: null });
    expect(await fs.readdir(keysDir(vault))).toEqual([]);
  });

  test('a crash between writing .rec and removing .meta leaves .rec authoritative; the next write removes the stale .meta', async () => {
    const vault = await open();
    await vault.updateMeta('k', { revokedPrevious: 'stale' });
    const staleMeta = await fs.readFile(path.join(keysDir(vault), 'k.meta'));
    await vault.putPending('k', sampleValue('r1'), 'r1');
    await vault.updateMeta('k', { revokedPrevious: 'fresh' });
    await fs.writeFile(path.join(keysDir(vault), 'k.meta'), staleMeta);
    expect(await vault.read('k')).toMatchObject({ revokedPrevious: 'fresh', pending: { versionId: 'r1' } });
    await vault.promote('k', 'r1', null);
    expect(await fs.readdir(keysDir(vault))).toEqual(['k.rec']);
  });

  test('a record copied onto another key’s name is VAULT_CORRUPT, not the other secret', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    await rotate(vault, 'b', 'r2');
    await fs.copyFile(recordFile(vault, 'b'), recordFile(vault, 'a'));
    await expect(vault.read('a')).rejects.toMatchObject({
      code: 'VAULT_CORRUPT',
      message: expect.stringMatching(/renamed or copied/),
    });
  });

  test('readMany returns every key asked for, {} for unknown ones, in one map', async () => {
    const vault = await open();
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    for (const key of keys.slice(0, 30)) await rotate(vault, key, `r-${key}`);
    const states = await vault.readMany([...keys, 'k0']);
    expect([...states.keys()]).toEqual(keys);
    expect(states.get('k7')?.current?.versionId).toBe('r-k7');
    expect(states.get('k35')).toEqual({});
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
    const before = await snapshotTree(vault.storePath);
    const opening = open({ path: vault.path, env: { ROTATOR_VAULT_KEY: OTHER_KEY_HEX } });
    await expect(opening).rejects.toMatchObject({
      code: 'VAULT_CORRUPT',
      message: expect.stringMatching(
        /cannot decrypt vault .*rotator-store\.json: it was written with the key whose id is [0-9a-f]{16}, and this key \(ROTATOR_VAULT_KEY\) has id [0-9a-f]{16}/,
      ),
    });
    expect(await snapshotTree(vault.storePath)).toEqual(before);
  });

  test('a write never replaces a record it cannot decrypt', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    const foreign = await open({ env: { ROTATOR_VAULT_KEY: OTHER_KEY_HEX } });
    await rotate(foreign, 'a', 'x1');
    await fs.copyFile(recordFile(foreign, 'a'), recordFile(vault, 'a'));
    const before = await fs.readFile(recordFile(vault, 'a'));
    await expect(vault.putPending('a', sampleValue('r2'), 'r2')).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    await expect(vault.acquireLease('a', 'me', 1000)).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    expect(await fs.readFile(recordFile(vault, 'a'))).toEqual(before);
  });

  test('a tampered record or an unknown format version is VAULT_CORRUPT', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    const file = recordFile(vault, 'a');
    const envelope = JSON.parse(await fs.readFile(file, 'utf8'));
    const data = Buffer.from(envelope.data, 'base64');
    data[0] = data[0]! ^ 1;
    await fs.writeFile(file, JSON.stringify({ ...envelope, data: data.toString('base64') }));
    await expect(vault.read('a')).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    await fs.writeFile(file, JSON.stringify({ ...envelope, version: 3 }));
    await expect(vault.read('a')).rejects.toMatchObject({
      code: 'VAULT_CORRUPT',
      message: expect.stringMatching(/version 3.*upgrade/),
    });
    await fs.writeFile(file, '{"hello":');
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
    expect(await fs.readdir(path.dirname(vault.path))).toEqual(['vault.json.d']);
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
    expect(await fs.readdir(dir)).toEqual(['vault.json.d']);
  });
});

describe('FileVault locking', () => {
  /** A pid that existed and is gone: a child that already exited and was reaped. */
  function deadPid(): number {
    const pid = spawnSync(process.execPath, ['-e', '0']).pid;
    if (pid === undefined) throw new Error('could not spawn');
    return pid;
  }

  /** Writes the lock file of `key` as another process holding it would. */
  async function writeLock(vault: FileVault, key: string, owner: { pid: number; hostname?: string }): Promise<string> {
    const lockPath = path.join(locksDir(vault), `${encodeKey(key)}.lock`);
    const record = { pid: owner.pid, hostname: owner.hostname ?? os.hostname(), since: new Date().toISOString(), token: 'x' };
    await fs.writeFile(lockPath, JSON.stringify(record));
    return lockPath;
  }

  // With a 60 s lock timeout, a lock that was not broken at once would fail the test by its timeout.
  test('a lock left by a dead pid is broken at once, with a warning', async () => {
    const log = memoryLogger();
    const vault = await open({ log, lockTimeoutMs: 60_000 });
    const pid = deadPid();
    await writeLock(vault, 'a', { pid });
    await rotate(vault, 'a', 'r1');
    expect(log.text()).toContain(`pid ${pid} is no longer running`);
    expect(await fs.readdir(locksDir(vault))).toEqual([]);
  });

  test('a live local holder keeps its lock past the stale bound (a paused process), until pid reuse is likelier', async () => {
    const vault = await open({ lockTimeoutMs: 200 });
    const lockPath = await writeLock(vault, 'a', { pid: process.pid });
    const minuteAgo = new Date(Date.now() - 60_000);
    await fs.utimes(lockPath, minuteAgo, minuteAgo);
    await expect(vault.putPending('a', sampleValue('r1'), 'r1')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    const elevenMinutesAgo = new Date(Date.now() - 11 * 60_000);
    await fs.utimes(lockPath, elevenMinutesAgo, elevenMinutesAgo);
    await rotate(vault, 'a', 'r1');
    expect((await vault.read('a')).current?.versionId).toBe('r1');
  });

  test('a held lock times out with VAULT_UNAVAILABLE naming the holder and key; the record is untouched', async () => {
    const vault = await open({ lockTimeoutMs: 150 });
    await rotate(vault, 'a', 'r1');
    const before = await fs.readFile(recordFile(vault, 'a'));
    await writeLock(vault, 'a', { pid: process.pid });
    const failure = vault.putPending('a', sampleValue('r2'), 'r2');
    await expect(failure).rejects.toMatchObject({
      code: 'VAULT_UNAVAILABLE',
      retryable: true,
      message: expect.stringMatching(new RegExp(`\\(key a\\) is locked by pid ${process.pid} since \\d{4}-\\d\\d-\\d\\dT`)),
    });
    expect(await fs.readFile(recordFile(vault, 'a'))).toEqual(before);
    // Reads take no lock.
    expect((await vault.read('a')).current?.versionId).toBe('r1');
  });

  test('the lock is per key: a held lock on one key does not delay writes to another', async () => {
    // A lock timeout far beyond the test timeout: a write that waited for the held lock would fail the test.
    const vault = await open({ lockTimeoutMs: 600_000 });
    await writeLock(vault, 'busy', { pid: process.pid });
    await rotate(vault, 'free', 'r1');
    expect((await vault.read('free')).current?.versionId).toBe('r1');
  });

  test('a dead pid on another host cannot be checked: its fresh lock is respected', async () => {
    const vault = await open({ lockTimeoutMs: 100 });
    await writeLock(vault, 'a', { pid: deadPid(), hostname: `not-${os.hostname()}` });
    await expect(vault.putPending('a', sampleValue('r1'), 'r1')).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
  });

  test('a change waits for a lock released meanwhile', async () => {
    const vault = await open({ lockTimeoutMs: 5_000 });
    const lockPath = await writeLock(vault, 'a', { pid: process.pid });
    setTimeout(() => void fs.rm(lockPath), 100);
    await rotate(vault, 'a', 'r1');
    expect((await vault.read('a')).current?.versionId).toBe('r1');
  });

  test('temp files left by dead writers are swept at open; a live process’s temp file is kept', async () => {
    const vault = await open();
    await rotate(vault, 'a', 'r1');
    const dead = deadPid();
    const deadTemps = [
      path.join(keysDir(vault), `a.rec.tmp-${dead}-abcdef`),
      path.join(locksDir(vault), `a.lock.tmp-${dead}-abcdef`),
    ];
    for (const file of deadTemps) await fs.writeFile(file, 'partial');
    const live = path.join(keysDir(vault), `b.rec.tmp-${process.pid}-abcdef`);
    await fs.writeFile(live, 'in use');
    await open({ path: vault.path });
    expect((await fs.readdir(keysDir(vault))).sort()).toEqual(['a.rec', path.basename(live)]);
    expect(await fs.readdir(locksDir(vault))).toEqual([]);
    expect(await vault.list()).toEqual(['a']);
  });
});

describe('FileVault leases', () => {
  const leaseFile = (vault: FileVault, key: string) => path.join(locksDir(vault), `${encodeKey(key)}.lease`);

  test('taking and releasing a lease rewrites no record: the lease is a 0600 file beside the lock, gone on release', async () => {
    const clock = new ManualClock();
    const vault = await open({ clock });
    await rotate(vault, 'a', 'r1');
    const records = await snapshotTree(keysDir(vault));
    const lease = await vault.acquireLease('a', 'me', 60_000);
    expect(lease).not.toBeNull();
    expect(await vault.acquireLease('fresh', 'me', 60_000)).not.toBeNull();
    expect(await snapshotTree(keysDir(vault))).toEqual(records); // and no .meta for 'fresh'
    expect(await modeOf(leaseFile(vault, 'a'))).toBe(0o600);
    expect(JSON.parse(await fs.readFile(leaseFile(vault, 'a'), 'utf8'))).toEqual({
      owner: 'me',
      expiresAt: clock.now() + 60_000,
    });
    await lease!.release();
    expect(await snapshotTree(keysDir(vault))).toEqual(records);
    expect((await fs.readdir(locksDir(vault))).sort()).toEqual(['fresh.lease']);
  });

  test('a lease is held against another instance (another process) of the same vault', async () => {
    const vault = await open();
    const other = await open({ path: vault.path });
    expect(await vault.acquireLease('a', 'one', 60_000)).not.toBeNull();
    expect(await other.acquireLease('a', 'two', 60_000)).toBeNull();
  });

  test('an empty or damaged lease file (what a power loss can leave) is no lease', async () => {
    const vault = await open();
    await vault.acquireLease('a', 'one', 60_000);
    await fs.writeFile(leaseFile(vault, 'a'), '');
    expect(await vault.acquireLease('a', 'two', 60_000)).toMatchObject({ owner: 'two' });
    await fs.writeFile(leaseFile(vault, 'a'), '{"owner":"thr');
    expect(await vault.acquireLease('a', 'three', 60_000)).toMatchObject({ owner: 'three' });
  });

  test('a lease inside a record (written by an earlier version) is honoured until it expires', async () => {
    const clock = new ManualClock();
    const vault = await open({ clock });
    await rotate(vault, 'a', 'r1');
    // Forge what an earlier version stored: the lease inside the encrypted record.
    const key = Buffer.from(KEY_HEX, 'hex');
    const text = await fs.readFile(recordFile(vault, 'a'), 'utf8');
    const stored = JSON.parse(openEnvelope(text, key, { path: 'a', keySource: 'test' }, 'record').toString('utf8'));
    stored.lease = { owner: 'old-process', expiresAt: clock.now() + 1_000 };
    await fs.writeFile(recordFile(vault, 'a'), sealEnvelope(Buffer.from(JSON.stringify(stored)), key, 'record'));
    expect(await vault.acquireLease('a', 'new', 60_000)).toBeNull();
    clock.advance(1_001);
    expect(await vault.acquireLease('a', 'new', 60_000)).toMatchObject({ owner: 'new' });
  });
});

/** Every file under `dir` (relative path → content), to show nothing changed. */
async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = entry.isFile() ? (await fs.readFile(full)).toString('base64') : `dir ${await modeOf(full)}`;
  }
  return out;
}
