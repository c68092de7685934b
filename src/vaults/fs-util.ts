import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../types';

/** Owner read/write only: vault files, key files, temp files and lock files. */
export const PRIVATE_FILE_MODE = 0o600;
/** Owner only: a vault directory we create. */
export const PRIVATE_DIR_MODE = 0o700;

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

export function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error';
}

/** Random per process, so a reused pid never reproduces a dead process's temp names. */
const processNonce = randomBytes(6).toString('hex');
let tempCounter = 0;

/**
 * A name for a temp file next to `target`, unique per process and call: the pid, a random
 * nonce drawn once per process and a counter (not fresh random bytes per call: a rotation makes
 * dozens of temp and lock files).
 */
export function tempPathFor(target: string): string {
  return `${target}.tmp-${process.pid}-${uniqueToken()}`;
}

/** A hex string unique across processes (random per process) and calls (a counter). */
export function uniqueToken(): string {
  tempCounter += 1;
  return `${processNonce}${tempCounter.toString(16)}`;
}

const TEMP_NAME = /\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * When directory entry `name` is a temp file made by {@link tempPathFor} for a file whose name
 * starts with `base`, the pid that made it; otherwise undefined.
 */
export function tempFileOwner(name: string, base: string): number | undefined {
  if (!name.startsWith(`${base}.`)) return undefined;
  const match = TEMP_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** When directory entry `name` is any temp file made by {@link tempPathFor}, the pid that made it. */
export function tempOwnerOf(name: string): number | undefined {
  const match = TEMP_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Creates `file` (it MUST NOT exist), writes `data`, fsyncs and closes it, with `mode` (0600 by
 * default) from creation on, whatever the umask.
 */
export async function writeNewFileDurably(file: string, data: string | Buffer, mode: number = PRIVATE_FILE_MODE): Promise<void> {
  const handle = await fs.open(file, 'wx', mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `target` so that a crash at any moment leaves either the old or the new complete
 * file: write a temp file in the same directory (rename is atomic only within one file
 * system), fsync it, rename it over the target, then fsync the directory so the rename itself
 * survives a power loss.
 */
export async function replaceAtomically(target: string, data: string | Buffer, mode: number = PRIVATE_FILE_MODE): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await writeNewFileDurably(temp, data, mode);
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await fsyncDirectory(path.dirname(target));
}

/**
 * Writes `target` in place (created 0600 when missing), neither atomically nor durably: no temp
 * file, no fsync. Only for small files that guard against other live processes and are read and
 * written under one lock (leases): a reader under the lock never sees a half-written file, and
 * a crash or power loss that leaves one (partial, empty or missing) also stopped the writer,
 * whose guard then protects nothing. Never for a file that holds a value or anything a restart
 * needs.
 */
export async function writeVolatile(target: string, data: string, mode: number = PRIVATE_FILE_MODE): Promise<void> {
  await fs.writeFile(target, data, { mode });
}

/** Per directory: the fsync queued to start after the one in flight (see {@link fsyncDirectory}). */
interface DirSync {
  running: Promise<void>;
  queued?: Promise<void>;
}
const dirSyncs = new Map<string, DirSync>();
const ignore = () => undefined;

/**
 * Makes a rename, link or unlink done in `dir` before this call durable. Platforms that cannot
 * fsync a directory skip it.
 *
 * Concurrent callers share fsyncs (group commit): a caller joins the fsync queued behind the one
 * in flight, never the one in flight (which may have started before the caller's rename), so
 * each caller resolves only after an fsync of `dir` that began after it called. With many
 * writers in one folder (the vault's keys/), this turns one directory fsync per write into about
 * one per disk round trip.
 */
export function fsyncDirectory(dir: string): Promise<void> {
  let state = dirSyncs.get(dir);
  if (!state) {
    state = { running: Promise.resolve() };
    dirSyncs.set(dir, state);
  }
  if (state.queued) return state.queued;
  const self = state;
  const queued = self.running.then(ignore, ignore).then(() => {
    // From here on, new callers queue behind this fsync: it may start before their rename.
    self.queued = undefined;
    const run = syncDirectoryOnce(dir);
    self.running = run;
    void run.then(ignore, ignore).then(() => {
      if (self.running === run && !self.queued && dirSyncs.get(dir) === self) dirSyncs.delete(dir);
    });
    return run;
  });
  self.queued = queued;
  return queued;
}

async function syncDirectoryOnce(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!isErrno(err, 'EISDIR', 'EINVAL', 'EPERM', 'EACCES')) throw err;
  } finally {
    await handle?.close();
  }
}

/** Creates `dir` (and its parents) with mode 0700 when missing; an existing one is left as is. */
export async function ensureDirectory(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * When `file` exists and group or others may access it, logs a warning and tightens it to
 * 0600. Returns whether the file exists.
 */
export async function tightenMode(file: string, what: string, log: Logger): Promise<boolean> {
  let mode: number;
  try {
    mode = (await fs.stat(file)).mode & 0o777;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  if ((mode & 0o077) !== 0) {
    log.warn(
      { path: file, mode: mode.toString(8) },
      `${what} ${file} was accessible to other users (mode ${mode.toString(8)}); tightened it to 600`,
    );
    await fs.chmod(file, PRIVATE_FILE_MODE);
  }
  return true;
}

/** Removes `file` if it exists; returns whether it did. */
export async function removeIfExists(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/** Reads `file`, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * Reads a small file (a record, a lease, a lock: a few KB) at once, or undefined when it does
 * not exist. Synchronous on purpose: each asynchronous fs call is a round trip through libuv's
 * thread pool (4 threads, busy with fsyncs during rotations) costing far more main-thread time
 * than the read itself, which the page cache serves in microseconds, and a rotation makes
 * dozens of these reads. Never for files that may be large or on a slow network mount.
 */
export function readSmallFileIfExists(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
