/**
 * `rotator rekey`: change the file vault's own key. The crash-safe work is
 * `rekeyFileVault` (src/vaults/file-rekey.ts: records re-sealed one by one under their per-key
 * locks, the marker last, a re-run finishes an interrupted one). This adds what the operator
 * needs around it: the old key as the vault opens it (ROTATOR_VAULT_KEY, else the key file),
 * the new key from ROTATOR_NEW_VAULT_KEY or generated and written 0600 to a file the operator
 * names *before* anything is re-sealed (so no crash can lose it; never printed), and a report of
 * which key opens the vault and which key seals how many records.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileVaultConfig } from '../../config/schema';
import { RotatorError } from '../errors';
import type { AuditSink } from '../audit';
import type { Logger } from '../types';
import { keyIdOf, parseVaultKey, recordKeyIds, rekeyFileVault, storeKeyId, VAULT_KEY_ENV } from '../vaults/file';

export const NEW_VAULT_KEY_ENV = 'ROTATOR_NEW_VAULT_KEY';

export interface RekeyRequest {
  vault: FileVaultConfig;
  env: NodeJS.ProcessEnv;
  /** Where to write a generated key (required when ROTATOR_NEW_VAULT_KEY is unset). */
  newKeyFile?: string;
  dryRun: boolean;
  log: Logger;
  audit: AuditSink;
}

/** Which key opens the vault and how many records each key id seals (after a crash: both). */
export async function describeKeys(vaultPath: string, oldKid: string, newKid?: string): Promise<string> {
  const name = (kid: string | undefined) =>
    kid === oldKid ? `${kid} (the old key)` : kid !== undefined && kid === newKid ? `${kid} (the new key)` : `${kid ?? 'none'}`;
  const counts = [...(await recordKeyIds(vaultPath))].map(([kid, n]) => `${name(kid)}: ${n}`);
  return `the vault opens with key ${name(await storeKeyId(vaultPath))}; records by key: ${counts.join(', ') || 'none'}`;
}

export async function rekey(request: RekeyRequest): Promise<string> {
  const { vault, env } = request;
  const oldKey = await oldKeyOf(vault, env);
  const oldKid = keyIdOf(oldKey);
  const fromEnv = env[NEW_VAULT_KEY_ENV]?.trim();
  if (request.dryRun) {
    const newKid = fromEnv ? keyIdOf(parseVaultKey(fromEnv, NEW_VAULT_KEY_ENV)) : undefined;
    return `would re-seal the vault ${vault.path} under ${newKid ? `the key with id ${newKid}` : request.newKeyFile ? `a new key written to ${request.newKeyFile}` : `a new key (set ${NEW_VAULT_KEY_ENV} or pass --new-key-file)`}; ${await describeKeys(vault.path, oldKid, newKid)}`;
  }
  if (!fromEnv && !request.newKeyFile) {
    throw new RotatorError(
      'USAGE',
      `set ${NEW_VAULT_KEY_ENV} to the new key, or pass --new-key-file <path> to generate one there`,
    );
  }
  const newKey = fromEnv ? parseVaultKey(fromEnv, NEW_VAULT_KEY_ENV) : await generateKeyFile(request.newKeyFile!);
  const newKid = keyIdOf(newKey);
  if (newKid === oldKid) throw new RotatorError('USAGE', 'the new key is the key the vault already uses');
  const result = await rekeyFileVault(vault.path, oldKey, newKey, { log: request.log });
  await request.audit.record({
    event: 'rekeyed',
    detail: `vault ${vault.path}: key ${oldKid} -> ${newKid}; ${result.resealed} records re-sealed, ${result.alreadyNew} already new`,
  });
  const where = fromEnv ? NEW_VAULT_KEY_ENV : request.newKeyFile!;
  return (
    `rekeyed ${vault.path}: ${result.resealed + result.alreadyNew} records now use the key with id ${newKid} (from ${where}). ` +
    `Processes must now open the vault with it: set ${VAULT_KEY_ENV} or replace the key file ${vault.keyFile ?? `${vault.path}.key`}, then restart them`
  );
}

async function oldKeyOf(vault: FileVaultConfig, env: NodeJS.ProcessEnv): Promise<Buffer> {
  const fromEnv = env[VAULT_KEY_ENV]?.trim();
  if (fromEnv) return parseVaultKey(fromEnv, VAULT_KEY_ENV);
  const keyFile = vault.keyFile ?? `${vault.path}.key`;
  const text = await fs.readFile(keyFile, 'utf8').catch(() => undefined);
  if (text === undefined)
    throw new RotatorError('CONFIG', `the vault's current key is needed: set ${VAULT_KEY_ENV} or restore ${keyFile}`);
  return parseVaultKey(text, `key file ${keyFile}`);
}

/** 32 random bytes as hex, written 0600 to a file that must not exist yet (never overwrites a key). */
async function generateKeyFile(file: string): Promise<Buffer> {
  const key = randomBytes(32);
  const handle = await fs.open(file, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new RotatorError(
      'USAGE',
      err.code === 'EEXIST'
        ? `${file} exists; name a new file for the generated key`
        : `cannot create ${file}: ${err.code ?? err.message}`,
    );
  });
  try {
    await handle.writeFile(`${key.toString('hex')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return key;
}
