import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RotatorError } from '../errors';
import type { Logger } from '../types';
import { ensureDirectory, fsyncDirectory, isErrno, tempPathFor, tightenMode, writeNewFileDurably } from './fs-util';

/** The environment variable that holds the vault key. */
export const VAULT_KEY_ENV = 'ROTATOR_VAULT_KEY';
/** AES-256 key length. */
export const VAULT_KEY_BYTES = 32;

const GENERATE_HINT = 'generate one with: openssl rand -hex 32';
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
/** 32 bytes in base64 are 43 characters plus one `=`; URL-safe and unpadded forms are accepted. */
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

/** The key and, for error messages, where it came from (never the key itself). */
export interface VaultKey {
  key: Buffer;
  source: string;
}

export interface ResolveKeyOptions {
  vaultPath: string;
  /** Whether a vault (either layout) exists: then a missing key is an error, never generated. */
  vaultExists: boolean;
  keyFile: string;
  key?: Buffer;
  env: Record<string, string | undefined>;
  log: Logger;
}

/**
 * Parses a key written as 64 hex characters or as base64 of 32 bytes. The error names the
 * expected form and how to make one; it never echoes the (secret) input.
 */
export function parseVaultKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  if (HEX_KEY.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (BASE64_KEY.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === VAULT_KEY_BYTES) return key;
  }
  throw new RotatorError(
    'CONFIG',
    `${where} must be a 32-byte key written as 64 hex characters or as base64 (44 characters), ` +
      `but it has ${trimmed.length} characters; ${GENERATE_HINT}`,
    { plugin: 'file' },
  );
}

/**
 * Finds the vault key, in order: the `key` option, ROTATOR_VAULT_KEY, the key file. When none
 * exists and the vault does not exist either, generates a key file (0600) and warns that it
 * must be backed up. A vault without its key is an error, never a reason to make a new key.
 */
export async function resolveVaultKey(options: ResolveKeyOptions): Promise<VaultKey> {
  if (options.key) return { key: checkedKey(options.key), source: 'the key passed to openFileVault' };
  const fromEnv = options.env[VAULT_KEY_ENV]?.trim();
  if (fromEnv) return { key: parseVaultKey(fromEnv, VAULT_KEY_ENV), source: VAULT_KEY_ENV };
  const existing = await readKeyFile(options.keyFile, options.log);
  if (existing) return { key: existing, source: `key file ${options.keyFile}` };
  if (options.vaultExists) {
    throw new RotatorError(
      'CONFIG',
      `vault ${options.vaultPath} exists but its key is missing: set ${VAULT_KEY_ENV} or restore ` +
        `the key file ${options.keyFile}`,
      { plugin: 'file' },
    );
  }
  return { key: await generateKeyFile(options.keyFile, options.log), source: `key file ${options.keyFile}` };
}

function checkedKey(key: Buffer): Buffer {
  if (key.length === VAULT_KEY_BYTES) return key;
  throw new RotatorError('CONFIG', `the vault key must be ${VAULT_KEY_BYTES} bytes, got ${key.length}; ${GENERATE_HINT}`, {
    plugin: 'file',
  });
}

/**
 * Reads a key file: hex or base64 text, or the 32 raw bytes of `openssl rand 32 > file`. It
 * may be a symlink (Kubernetes mounts secrets that way), but must end at a regular file, and is
 * tightened to 0600 only once it has proved to be a key: a wrong `keyFile` is never chmod-ed.
 */
async function readKeyFile(keyFile: string, log: Logger): Promise<Buffer | undefined> {
  let stat;
  try {
    stat = await fs.stat(keyFile);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  if (!stat.isFile()) {
    throw new RotatorError('CONFIG', `the vault key file ${keyFile} is not a regular file; point keyFile at the key`, {
      plugin: 'file',
    });
  }
  const content = stat.size <= 1024 ? await fs.readFile(keyFile) : Buffer.alloc(0);
  const key = content.length === VAULT_KEY_BYTES ? content : parseVaultKey(content.toString('utf8'), `the key file ${keyFile}`);
  try {
    await tightenMode(keyFile, 'vault key file', log);
  } catch (err) {
    // A read-only mount (a Kubernetes secret) cannot be tightened; its mode is its owner's choice.
    if (!isErrno(err, 'EROFS', 'EPERM')) throw err;
    log.warn({ keyFile }, `could not tighten the mode of the vault key file ${keyFile} (read-only); make it 0600`);
  }
  return key;
}

/**
 * Creates the key file atomically: the key is written to a temp file which is then hard-linked
 * into place, so a concurrent reader never sees a half-written key and, when two processes race
 * to create it, both end up with the one that won the link.
 */
async function generateKeyFile(keyFile: string, log: Logger): Promise<Buffer> {
  await ensureDirectory(path.dirname(keyFile));
  const key = randomBytes(VAULT_KEY_BYTES);
  const temp = tempPathFor(keyFile);
  try {
    await writeNewFileDurably(temp, `${key.toString('hex')}\n`);
    await fs.link(temp, keyFile);
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return (await readKeyFile(keyFile, log))!;
    throw err;
  } finally {
    await fs.rm(temp, { force: true });
  }
  await fsyncDirectory(path.dirname(keyFile));
  log.warn({ keyFile }, `generated a vault key at ${keyFile}; back it up, or set ${VAULT_KEY_ENV}`);
  return key;
}
