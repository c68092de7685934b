/**
 * Incident commands where the provider cannot revoke (NCP STS, over loopback against its
 * emulator), and `rotator rekey` of the file vault: new key from ROTATOR_NEW_VAULT_KEY or
 * generated into a 0600 file (never printed), the vault readable only with the new key
 * afterwards, the dry run saying which key seals which records, and an audit line.
 * (Killing the rekey before each of its file operations is tested in test/reliability/file-vault-rekey.test.ts
 * against rekeyFileVault, which the command calls.)
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { keyIdOf } from '../../src/vaults/file';
import type { AuditLine } from '../../src/audit';
import { runCli, configDir } from '../support/cli';

const VAULT_KEY = 'a'.repeat(64);
const NEW_KEY = 'b'.repeat(64);
let emu: NcpStsEmulator;
let dir: Awaited<ReturnType<typeof configDir>>;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  dir = await configDir(`
vault: { type: file, path: vault/vault.json }
audit: { path: audit.jsonl }
secrets:
  - id: app
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: ${emu.url} }
`);
  env = {
    ROTATOR_CONFIG: dir.file,
    ROTATOR_VAULT_KEY: VAULT_KEY,
    NCP_ACCESS_KEY: account.accessKey,
    NCP_SECRET_KEY: account.secretKey,
    ROTATOR_LOG_LEVEL: 'warn',
  };
});

afterEach(async () => {
  await emu.close();
  await dir.cleanup();
});

const lastAudit = async (): Promise<AuditLine> =>
  JSON.parse((await readFile(join(dir.dir, 'audit.jsonl'), 'utf8')).trim().split('\n').at(-1)!) as AuditLine;

test('revoke on NCP STS says the provider cannot revoke and when the credential expires, and exits 1', async () => {
  expect((await runCli(['rotate', 'app'], env)).code).toBe(0);
  const ref = (await runCli(['get', 'app', '--field', 'providerRef'], env)).stdout.trim();
  const expires = (await runCli(['get', 'app', '--field', 'expiresAt'], env)).stdout.trim();

  const run = await runCli(['revoke', 'app', '--stage', 'current', '--yes'], env);
  expect(run.code).toBe(1);
  expect(run.stdout).toContain(`provider ncp-sts cannot revoke a credential; ${ref} stays valid until it expires at ${expires}`);
  // It rotated first: consumers already have a new credential.
  expect((await runCli(['get', 'app', '--field', 'providerRef'], env)).stdout.trim()).not.toBe(ref);

  const dry = await runCli(['revoke', 'app', '--dry-run'], env);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toMatch(/ncp-sts cannot revoke; it expires at/);
});

test('rekey with ROTATOR_NEW_VAULT_KEY: refused without --yes, dry run names the keys, then the vault opens only with the new key', async () => {
  expect((await runCli(['rotate', 'app'], env)).code).toBe(0);
  const value = (await runCli(['get', 'app', '--format', 'json'], env)).stdout;
  const withNew = { ...env, ROTATOR_NEW_VAULT_KEY: NEW_KEY };
  const oldKid = keyIdOf(Buffer.from(VAULT_KEY, 'hex'));
  const newKid = keyIdOf(Buffer.from(NEW_KEY, 'hex'));

  const refused = await runCli(['rekey'], withNew);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/pass --yes/);

  const dry = await runCli(['rekey', '--dry-run'], withNew);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`the vault opens with key ${oldKid} (the old key)`);
  expect(dry.stdout).toContain(`under the key with id ${newKid}`);

  const done = await runCli(['rekey', '--yes'], withNew);
  expect(done.code).toBe(0);
  expect(done.stdout).toContain(`now use the key with id ${newKid}`);
  expect(done.stdout + done.stderr).not.toContain(NEW_KEY);
  expect(await lastAudit()).toMatchObject({ event: 'rekeyed', detail: expect.stringContaining(`${oldKid} -> ${newKid}`) });

  const old = await runCli(['get', 'app'], env);
  expect(old.code).not.toBe(0);
  expect(old.stderr).toContain(newKid);
  expect((await runCli(['get', 'app', '--format', 'json'], { ...env, ROTATOR_VAULT_KEY: NEW_KEY })).stdout).toBe(value);
  // Again with the same keys: the vault already uses the new one, nothing to do.
  const after = await runCli(['rekey', '--dry-run'], { ...env, ROTATOR_VAULT_KEY: NEW_KEY });
  expect(after.stdout).toContain(`the vault opens with key ${newKid}`);
});

test('rekey --new-key-file: the generated key goes to a new 0600 file, never to stdout; an existing file is never overwritten', async () => {
  expect((await runCli(['rotate', 'app'], env)).code).toBe(0);
  const keyFile = join(dir.dir, 'new.key');
  await writeFile(keyFile, 'keep me');
  const exists = await runCli(['rekey', '--yes', '--new-key-file', keyFile], env);
  expect(exists.code).toBe(2);
  expect(await readFile(keyFile, 'utf8')).toBe('keep me');

  const fresh = join(dir.dir, 'fresh.key');
  const done = await runCli(['rekey', '--yes', '--new-key-file', fresh], env);
  expect(done.code).toBe(0);
  const key = (await readFile(fresh, 'utf8')).trim();
  expect(key).toMatch(/^[0-9a-f]{64}$/);
  expect((await stat(fresh)).mode & 0o777).toBe(0o600);
  expect(done.stdout + done.stderr).not.toContain(key);
  expect((await runCli(['get', 'app', '--field', 'providerRef'], { ...env, ROTATOR_VAULT_KEY: key })).code).toBe(0);

  const noKey = await runCli(['rekey', '--yes'], { ...env, ROTATOR_VAULT_KEY: key });
  expect(noKey.code).toBe(2);
  expect(noKey.stderr).toMatch(/ROTATOR_NEW_VAULT_KEY/);
});
