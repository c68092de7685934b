/**
 * The distribution memo: a durable, host-local record of the last version of each secret whose
 * outputs (files written AND reload commands run) all succeeded on this host, per output set.
 *
 * Why: a process killed while a reload command runs, after the file outputs were already
 * written, leaves files that look current although the consumer was never reloaded. Comparing
 * files cannot tell; only a record written after the whole distribution succeeded can. The
 * restarted daemon (`restoreFiles`) and a one-off recovery (`rotate --if-due`) run the commands
 * again when the current version is not the memo's.
 *
 * One small JSON file per secret and output set, holding ids only (secret id, rotation id, a
 * hash of the output set): no secret. Written 0600 by temp file + fsync + rename, and only after
 * `distribute()` fully succeeded, so a crash at any moment leaves the previous memo (the commands
 * run again) or the new one (they ran).
 *
 * The output set id hashes the outputs as configured, the secret's `env` names, the sandbox flag
 * and this host's name: a changed output set (a new command, another path) is distributed once
 * more, and two hosts sharing the memo's folder (a vault on a network file system) never take
 * each other's record for their own.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { RotatorConfig, SecretConfig } from '../../config/schema';
import { readIfExists } from '../vaults/fs-util';
import { removeStaleTempFiles, writeFileAtomically } from './atomic';

export interface DistributionMemo {
  secretId: string;
  /** The output set the record is for (see {@link outputSetId}). */
  outputSet: string;
  /** The version (rotationId = the vault's versionId) whose distribution fully succeeded. */
  rotationId: string;
}

/** Where the memos live: decided in config/host-state.ts (the output-path check protects it too). */
export { memoDirectory } from '../../config/host-state';

/** A short stable id of what `secret`'s distribution consists of on this host (see the file comment). */
export function outputSetId(secret: SecretConfig, config: RotatorConfig, host: string = hostname()): string {
  const basis = JSON.stringify({ outputs: secret.outputs, env: secret.env ?? null, sandbox: !!config.sandbox, host });
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

/** Pure: whether `rotationId` was fully distributed for `outputSet` according to `memo`. */
export function alreadyDistributed(memo: DistributionMemo | undefined, rotationId: string, outputSet: string): boolean {
  return memo !== undefined && memo.rotationId === rotationId && memo.outputSet === outputSet;
}

/** Reads and writes the memos in one folder. Secret ids are file-name safe (SECRET_ID_PATTERN). */
export class MemoStore {
  constructor(readonly dir: string) {}

  path(secretId: string, outputSet: string): string {
    return join(this.dir, `${secretId}.${outputSet}.json`);
  }

  /**
   * The memo, or undefined when there is none. A file that is not a memo (truncated by hand,
   * edited) counts as none, so the distribution runs again rather than being skipped; I/O errors
   * other than a missing file propagate.
   */
  async read(secretId: string, outputSet: string): Promise<DistributionMemo | undefined> {
    const raw = await readIfExists(this.path(secretId, outputSet));
    if (!raw) return undefined;
    try {
      const parsed = JSON.parse(raw.toString('utf8')) as Partial<DistributionMemo>;
      const ok = parsed.secretId === secretId && parsed.outputSet === outputSet && typeof parsed.rotationId === 'string';
      return ok ? { secretId, outputSet, rotationId: parsed.rotationId! } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records `rotationId` as fully distributed: 0600, atomically replaced, folder created 0700. */
  async write(secretId: string, outputSet: string, rotationId: string): Promise<void> {
    const memo: DistributionMemo = { secretId, outputSet, rotationId };
    await writeFileAtomically(this.path(secretId, outputSet), `${JSON.stringify(memo)}\n`, 0o600);
  }

  /** Removes temp files a process killed mid-write left for this memo. */
  async removeStaleTemps(secretId: string, outputSet: string): Promise<void> {
    await removeStaleTempFiles(this.path(secretId, outputSet));
  }
}
