import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { FileVault } from '../../src/vaults/file';
import { createVault, type VaultConfig } from '../../src/vaults';

describe('createVault', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-create-vault-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const deps = () => ({ clock: new ManualClock(), log: silentLogger, env: { ROTATOR_VAULT_KEY: 'c3'.repeat(32) } });

  test('type file opens a FileVault at the configured path with its history', async () => {
    const vaultPath = path.join(dir, 'nested', 'vault.json');
    const vault = await createVault({ type: 'file', path: vaultPath, history: 1 }, deps());
    expect(vault).toBeInstanceOf(FileVault);
    expect(vault.type).toBe('file');
    expect((vault as FileVault).path).toBe(vaultPath);
  });

  test('keyFile is passed through when no ROTATOR_VAULT_KEY is set', async () => {
    const keyFile = path.join(dir, 'k.key');
    await createVault({ type: 'file', path: path.join(dir, 'v.json'), keyFile, history: 5 }, { ...deps(), env: {} });
    expect((await fs.stat(keyFile)).isFile()).toBe(true);
  });

  test('an unknown type is a CONFIG error naming the supported types', async () => {
    const config = { type: 'hashicorp', path: 'x', history: 5 } as unknown as VaultConfig;
    await expect(createVault(config, deps())).rejects.toMatchObject({
      code: 'CONFIG',
      message: 'unknown vault type "hashicorp"; use one of: file, aws-secrets-manager',
    });
  });
});
