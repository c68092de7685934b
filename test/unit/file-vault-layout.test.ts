import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../src/clock';
import { memoryLogger, silentLogger } from '../../src/log';
import type { Logger } from '../../src/types';
import { serializeDocument, type VaultDocument } from '../../src/vaults/file-document';
import { sealEnvelope } from '../../src/vaults/file-envelope';
import { decodeKey, encodeKey, MAX_ENCODED } from '../../src/vaults/file-names';
import { openFileVault, type FileVault } from '../../src/vaults/file';
import { sampleValue } from '../vault-contract';

const KEY_HEX = 'a1'.repeat(32);
const KEY = Buffer.from(KEY_HEX, 'hex');

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-vault-layout-'));
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

function open(vaultPath = path.join(dir, 'vault.json'), log: Logger = silentLogger, keyHex = KEY_HEX): Promise<FileVault> {
  return openFileVault({ path: vaultPath, clock: new ManualClock(), log, env: { ROTATOR_VAULT_KEY: keyHex } });
}

const modeOf = async (file: string) => (await fs.lstat(file)).mode & 0o777;

describe('key names ↔ file names', () => {
  const tricky = [
    'ncp-deployer',
    'App',
    'app',
    '.hidden',
    '..',
    '.',
    '../../etc/passwd',
    'a/b',
    'a\\b',
    '__proto__',
    'nul\u0000byte',
    'ключ',
    '🔑',
    '%41',
    '~tilde',
    'x'.repeat(128),
    'X'.repeat(300),
  ];

  test.each(tricky.map((k) => [JSON.stringify(k).slice(0, 40), k]))('%s round-trips and stays one plain name', (_, key) => {
    const name = encodeKey(key);
    expect(name).toMatch(/^[A-Za-z0-9._%~-]+$/);
    expect(name).not.toMatch(/^\./);
    expect(name.length).toBeLessThanOrEqual(MAX_ENCODED + 1);
    if (!name.startsWith('~')) expect(decodeKey(name)).toBe(key);
  });

  test('keys that differ only in case get names that differ in more than case (case-insensitive file systems)', () => {
    expect(encodeKey('App').toLowerCase()).not.toBe(encodeKey('app').toLowerCase());
  });

  test('names rotator did not write decode to nothing', () => {
    for (const name of ['', '.x', '%61', '%4', 'A', 'a%2', '~abc']) expect(decodeKey(name)).toBeUndefined();
  });

  test('an empty key is refused', () => {
    expect(() => encodeKey('')).toThrow(/non-empty/);
  });

  test('every tricky key is stored inside the store, listed and read back', async () => {
    const vault = await open();
    for (const [i, key] of tricky.entries()) {
      await vault.putPending(key, sampleValue(`r${i}`), `r${i}`);
      await vault.promote(key, `r${i}`, null);
    }
    expect(await vault.list()).toEqual([...tricky].sort());
    for (const [i, key] of tricky.entries()) expect((await vault.read(key)).current?.versionId).toBe(`r${i}`);
    expect((await fs.readdir(dir)).sort()).toEqual(['vault.json.d']);
    expect(await fs.readdir(path.join(vault.storePath, 'keys'))).toHaveLength(tricky.length);
    expect(await vault.list('X')).toEqual(['X'.repeat(300)]);
  });
});

describe('the vault path is checked before it is touched', () => {
  const vaultPath = () => path.join(dir, 'vault.json');

  test('a file that is not a vault (a copy of a passwd file) keeps its mode and content; the error says what to fix', async () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\n';
    await fs.writeFile(vaultPath(), passwd, { mode: 0o644 });
    await fs.chmod(vaultPath(), 0o644);
    await expect(open()).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(
        /vault\.path .*vault\.json exists but is not a rotator vault; rotator left it untouched .*choose another vault\.path/,
      ),
    });
    expect(await modeOf(vaultPath())).toBe(0o644);
    expect(await fs.readFile(vaultPath(), 'utf8')).toBe(passwd);
    expect(await fs.readdir(dir)).toEqual(['vault.json']);
  });

  test('a folder at vault.path keeps its mode (and x bit)', async () => {
    await fs.mkdir(vaultPath(), { mode: 0o755 });
    await fs.chmod(vaultPath(), 0o755);
    await expect(open()).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/is a folder, not a vault file/),
    });
    expect(await modeOf(vaultPath())).toBe(0o755);
  });

  test('a named pipe at vault.path is refused without opening it', async () => {
    execFileSync('mkfifo', [vaultPath()]);
    await expect(open()).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/is a named pipe/) });
  });

  test('a symlink at vault.path is refused and not replaced, even when it points at a vault', async () => {
    const real = path.join(dir, 'real', 'vault.json');
    const vault = await open(real);
    await vault.putPending('a', sampleValue('r1'), 'r1');
    await fs.symlink(real, vaultPath());
    await fs.symlink(`${real}.d`, `${vaultPath()}.d`);
    await expect(open()).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/is a symbolic link; .*set vault\.path to the real location/),
    });
    expect((await fs.lstat(vaultPath())).isSymbolicLink()).toBe(true);
    await fs.rm(vaultPath());
    await expect(open()).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(/vault store .*vault\.json\.d is a symbolic link/),
    });
    expect((await fs.lstat(`${vaultPath()}.d`)).isSymbolicLink()).toBe(true);
  });

  test('a folder at the store path that is not a store is left untouched', async () => {
    const store = `${vaultPath()}.d`;
    await fs.mkdir(store, { mode: 0o755 });
    await fs.chmod(store, 0o755);
    await fs.writeFile(path.join(store, 'notes.txt'), 'mine');
    await expect(open()).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringMatching(
        /is a folder that is not a rotator vault store \(no rotator-store\.json\); rotator left it untouched/,
      ),
    });
    expect(await modeOf(store)).toBe(0o755);
    expect(await fs.readdir(store)).toEqual(['notes.txt']);
  });

  test('an empty folder at the store path (made by an operator) becomes the store', async () => {
    await fs.mkdir(`${vaultPath()}.d`);
    const vault = await open();
    await vault.putPending('a', sampleValue('r1'), 'r1');
    expect(await vault.list()).toEqual(['a']);
  });

  test('a world-writable vault folder is reported with a warning', async () => {
    const shared = path.join(dir, 'shared');
    await fs.mkdir(shared);
    await fs.chmod(shared, 0o777);
    const log = memoryLogger();
    await open(path.join(shared, 'vault.json'), log);
    expect(log.text()).toMatch(/vault folder .*shared is writable by every user \(mode 777\).*chmod o-w/);
    const quiet = memoryLogger();
    await open(path.join(dir, 'private', 'vault.json'), quiet);
    expect(quiet.text()).not.toMatch(/writable by every user/);
  });

  test('a key file that is not a key is not chmod-ed', async () => {
    const keyFile = path.join(dir, 'notes.txt');
    await fs.writeFile(keyFile, 'not a key at all\n');
    await fs.chmod(keyFile, 0o644);
    const failure = openFileVault({ path: vaultPath(), keyFile, clock: new ManualClock(), log: silentLogger, env: {} });
    await expect(failure).rejects.toMatchObject({ code: 'CONFIG' });
    expect(await modeOf(keyFile)).toBe(0o644);
  });
});

describe('migration from the single-file vault', () => {
  /** A vault as rotator before the per-key store wrote it. */
  async function writeLegacy(vaultPath: string, doc: VaultDocument, key = KEY): Promise<void> {
    await fs.mkdir(path.dirname(vaultPath), { recursive: true });
    await fs.writeFile(vaultPath, sealEnvelope(Buffer.from(serializeDocument(doc)), key), { mode: 0o600 });
  }

  function legacyDoc(): VaultDocument {
    const v = (id: string, stages: ('current' | 'pending' | 'previous')[]) => ({
      versionId: id,
      value: sampleValue(id),
      stages,
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    return new Map([
      ['ncp-deployer', { versions: [v('r0', []), v('r1', ['previous']), v('r2', ['current']), v('r3', ['pending'])] }],
      [
        'mongo-ci',
        {
          versions: [v('m1', ['current'])],
          intent: { rotationId: 'm2', startedAt: '2026-01-01T00:00:00.000Z', liveBefore: ['x'] },
        },
      ],
      ['only-intent', { versions: [], intent: { rotationId: 'q', startedAt: '2026-01-01T00:00:00.000Z', liveBefore: [] } }],
      ['leased', { versions: [v('l1', ['current'])], lease: { owner: 'host:1:ab', expiresAt: 9e15 } }],
    ]);
  }

  test('on first open every version, stage, intent and lease moves to the store and the old file is removed', async () => {
    const vaultPath = path.join(dir, 'vault.json');
    await writeLegacy(vaultPath, legacyDoc());
    const log = memoryLogger();
    const vault = await open(vaultPath, log);
    expect(log.text()).toMatch(/migrated the vault .*vault\.json to one file per secret in .*vault\.json\.d \(4 keys\)/);
    expect(await fs.readdir(dir)).toEqual(['vault.json.d']);
    expect(await vault.list()).toEqual(['leased', 'mongo-ci', 'ncp-deployer']);
    expect((await vault.history('ncp-deployer')).map((v) => [v.versionId, v.stages])).toEqual([
      ['r0', []],
      ['r1', ['previous']],
      ['r2', ['current']],
      ['r3', ['pending']],
    ]);
    expect((await vault.read('ncp-deployer')).current?.value).toEqual(sampleValue('r2'));
    expect((await vault.read('mongo-ci')).intent).toMatchObject({ rotationId: 'm2', liveBefore: ['x'] });
    expect((await vault.read('only-intent')).intent).toMatchObject({ rotationId: 'q' });
    expect(await vault.acquireLease('leased', 'someone-else', 1000)).toBeNull();
  });

  test('with the wrong key nothing is migrated and nothing is touched', async () => {
    const vaultPath = path.join(dir, 'vault.json');
    await writeLegacy(vaultPath, legacyDoc());
    const before = await fs.readFile(vaultPath);
    await expect(open(vaultPath, silentLogger, 'b2'.repeat(32))).rejects.toMatchObject({ code: 'VAULT_CORRUPT' });
    expect(await fs.readdir(dir)).toEqual(['vault.json']);
    expect(await fs.readFile(vaultPath)).toEqual(before);
  });

  test('an old file restored beside a store that moved on is refused; both are left as they are', async () => {
    const vaultPath = path.join(dir, 'vault.json');
    await writeLegacy(vaultPath, legacyDoc());
    const vault = await open(vaultPath);
    await vault.promote('ncp-deployer', 'r3', 'r2');
    await writeLegacy(vaultPath, legacyDoc());
    await expect(open(vaultPath)).rejects.toMatchObject({
      code: 'VAULT_CORRUPT',
      message: expect.stringMatching(/both the single-file vault .* and the per-key store .* exist and differ .*move it away/),
    });
    expect((await fs.readdir(dir)).sort()).toEqual(['vault.json', 'vault.json.d']);
    expect((await vault.read('ncp-deployer')).current?.versionId).toBe('r3');
  });
});
