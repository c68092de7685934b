import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { RotatorError } from '../errors';

/**
 * The on-disk form of every encrypted file of a file vault: a small JSON envelope around
 * AES-256-GCM ciphertext. `format` and `version` say what the plaintext is; they are also bound
 * into the authentication tag, so a file of one kind cannot pass for another unnoticed.
 *
 * Kinds:
 * - `document`: the whole vault in one file (`rotator-vault` v1), the layout before the per-key
 *   store; read only to migrate it (src/vaults/file-migrate.ts).
 * - `record`: one key of the per-key store (`rotator-vault-record` v2).
 * - `marker`: the file that makes a folder a rotator store and checks the key at open
 *   (`rotator-vault-store` v2).
 */
export interface VaultEnvelope {
  format: string;
  version: number;
  cipher: 'aes-256-gcm';
  /** base64 of the 12-byte IV, fresh for every write. */
  iv: string;
  /** base64 of the 16-byte GCM authentication tag. */
  tag: string;
  /** base64 of the ciphertext. */
  data: string;
  /**
   * Which key sealed it ({@link keyIdOf}); records and markers only. Not authenticated: it only
   * names the key to try (after an interrupted rekey, some records use the new key).
   */
  kid?: string;
}

/** Key ids already computed, per key buffer (every record write names its key). */
const keyIds = new WeakMap<Buffer, string>();

/** A non-secret name for a key: the first 8 bytes of HMAC-SHA256(key, "rotator vault key id"), hex. */
export function keyIdOf(key: Buffer): string {
  let id = keyIds.get(key);
  if (id === undefined) {
    id = createHmac('sha256', key).update('rotator vault key id').digest('hex').slice(0, 16);
    keyIds.set(key, id);
  }
  return id;
}

/** The key id an envelope names, if any (no decryption). */
export function envelopeKeyId(text: string): string | undefined {
  try {
    const kid = (JSON.parse(text) as Partial<VaultEnvelope>).kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}

export type EnvelopeKind = 'document' | 'record' | 'marker';

const KINDS: Record<EnvelopeKind, { format: string; version: number }> = {
  document: { format: 'rotator-vault', version: 1 },
  record: { format: 'rotator-vault-record', version: 2 },
  marker: { format: 'rotator-vault-store', version: 2 },
};
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function aad(kind: EnvelopeKind): Buffer {
  return Buffer.from(`${KINDS[kind].format}/${KINDS[kind].version}/${CIPHER}`);
}

/** The kind of envelope `text` claims to be (no decryption); undefined when it is none of ours. */
export function envelopeKindOf(text: string): EnvelopeKind | undefined {
  let parsed: Partial<VaultEnvelope>;
  try {
    parsed = JSON.parse(text) as Partial<VaultEnvelope>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  return (Object.keys(KINDS) as EnvelopeKind[]).find((kind) => KINDS[kind].format === parsed.format);
}

/** Where the envelope came from, for error messages. */
export interface EnvelopeSource {
  path: string;
  keySource: string;
}

/** Encrypts `plaintext` under `key` with a random IV; returns the envelope as JSON text. */
export function sealEnvelope(plaintext: Buffer, key: Buffer, kind: EnvelopeKind = 'document'): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv).setAAD(aad(kind));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const envelope: VaultEnvelope = {
    format: KINDS[kind].format,
    version: KINDS[kind].version,
    cipher: CIPHER,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
    ...(kind === 'document' ? {} : { kid: keyIdOf(key) }),
  };
  return `${JSON.stringify(envelope, null, 2)}\n`;
}

/**
 * Checks and decrypts an envelope. Throws VAULT_CORRUPT when the text is not a rotator vault,
 * is a format this code does not know, or does not authenticate under `key` (wrong key or
 * tampered file).
 */
export function openEnvelope(text: string, key: Buffer, source: EnvelopeSource, kind: EnvelopeKind = 'document'): Buffer {
  const envelope = parseEnvelope(text, source.path, kind);
  try {
    const decipher = createDecipheriv(CIPHER, key, Buffer.from(envelope.iv, 'base64'), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(kind)).setAuthTag(Buffer.from(envelope.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]);
  } catch (err) {
    if (envelope.kid && envelope.kid !== keyIdOf(key)) {
      throw corrupt(
        `cannot decrypt vault ${source.path}: it was written with the key whose id is ${envelope.kid}, and this key ` +
          `(${source.keySource}) has id ${keyIdOf(key)}; use that key, or finish an interrupted rekey by running it again`,
        err,
      );
    }
    throw corrupt(
      `cannot decrypt vault ${source.path} with this key (${source.keySource}): the key is not the one ` +
        'that wrote it, or the file was altered; use the right key or restore the file from a backup',
      err,
    );
  }
}

function parseEnvelope(text: string, file: string, kind: EnvelopeKind): VaultEnvelope {
  const { format: FORMAT, version: VERSION } = KINDS[kind];
  let parsed: Partial<VaultEnvelope>;
  try {
    parsed = JSON.parse(text) as Partial<VaultEnvelope>;
  } catch (err) {
    throw corrupt(`vault ${file} is not a rotator vault file (not JSON); restore it from a backup`, err);
  }
  if (parsed?.format !== FORMAT) {
    throw corrupt(`vault ${file} is not a rotator vault file (format is not "${FORMAT}")`);
  }
  if (parsed.version !== VERSION || parsed.cipher !== CIPHER) {
    throw corrupt(
      `vault ${file} uses format version ${String(parsed.version)} with cipher ${String(parsed.cipher)}; ` +
        `this rotator reads version ${VERSION} (${CIPHER}): upgrade rotator`,
    );
  }
  if (![parsed.iv, parsed.tag, parsed.data].every((f) => typeof f === 'string')) {
    throw corrupt(`vault ${file} is damaged (iv, tag or data missing); restore it from a backup`);
  }
  return parsed as VaultEnvelope;
}

function corrupt(message: string, cause?: unknown): RotatorError {
  return new RotatorError('VAULT_CORRUPT', message, { plugin: 'file', cause });
}
