import { pidAlive, processScope } from '../owner';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { RotatorError } from '../errors';
import type { Logger } from '../types';
import {
  errnoCode,
  isErrno,
  PRIVATE_FILE_MODE,
  readSmallFileIfExists,
  removeIfExists,
  tempPathFor,
  uniqueToken,
} from './fs-util';

/**
 * An exclusive lock between processes sharing one vault file: a lock file created exclusively
 * (link(2), which fails on an existing name like O_EXCL) holding the owner's pid, hostname and
 * creation time.
 *
 * Locks coordinate processes, so they use wall time (Date.now, setTimeout, file mtimes), never
 * the injected Clock, which belongs to one process and is a manual clock in tests.
 *
 * A lock is stale, and is broken, when its owner is a pid on this host that no longer exists,
 * or when it is older than `staleMs` (a holder only keeps it for one read-modify-write, which
 * takes milliseconds). Breaking is serialized by a second O_EXCL file (`<lock>.break`) and
 * re-checks that the lock is still the very file judged stale: otherwise two waiters that saw
 * the same stale lock could both delete it, the second deleting the first's fresh lock.
 * Residual risk: a process killed while breaking leaves the break file, which is itself broken
 * by the same rules; a race on that second-order breakage is theoretically possible.
 *
 * Lock files are never fsynced (nor are leases, src/vaults/file-store.ts): they guard against
 * other live processes, not against power loss, which stops every holder too. A lock file that
 * a power loss keeps, empties or drops names a pid that is gone (broken at once), is judged by
 * its age, or is simply absent, which is right since nobody holds it.
 */
export interface LockOptions {
  /** Give up after this long, with VAULT_UNAVAILABLE naming the holder. */
  timeoutMs: number;
  /** A lock older than this is stale whoever holds it. */
  staleMs: number;
  /** The vault the lock protects, for messages. */
  vaultPath: string;
  log: Logger;
}

export interface HeldLock {
  /** Removes the lock file if it is still ours. Never throws on a lock already gone. */
  release(): Promise<void>;
}

/** What a lock file says about its owner. */
interface LockOwner {
  pid: number;
  hostname: string;
  /** Hostname and pid namespace (src/owner.ts); absent in locks written by older versions. */
  scope?: string;
  /** ISO 8601, when the lock was taken. */
  since: string;
  token: string;
}

/** A lock file as seen at one moment: identity (inode + mtime) and content. */
interface LockSnapshot {
  ino: number;
  mtimeMs: number;
  raw: string;
  owner?: LockOwner;
}

const MIN_WAIT_MS = 2;
const MAX_WAIT_MS = 25;
/** A break file lives for a few file operations; older than this its holder died. */
const BREAK_STALE_MS = 5_000;

export async function acquireFileLock(lockPath: string, options: LockOptions): Promise<HeldLock> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const token = uniqueToken();
    if (await tryCreateLock(lockPath, token)) return { release: () => releaseLock(lockPath, token) };
    const seen = await snapshot(lockPath);
    if (!seen) continue;
    const reason = staleReason(seen, options.staleMs);
    if (reason) {
      await breakStaleLock(lockPath, seen, reason, options.log);
      continue;
    }
    if (Date.now() >= deadline) throw lockedError(lockPath, seen, options);
    await sleep(MIN_WAIT_MS + Math.random() * (MAX_WAIT_MS - MIN_WAIT_MS));
  }
}

/**
 * Creates the lock file with its content in one step: the owner record is written to a temp
 * file that is then hard-linked to the lock path. link(2) fails with EEXIST like O_EXCL does,
 * and a crash can never leave an empty lock file that only age would expire. A crash can leave
 * the temp file; the vault sweeps those of dead pids.
 */
async function tryCreateLock(lockPath: string, token: string): Promise<boolean> {
  const temp = tempPathFor(lockPath);
  try {
    await fs.writeFile(temp, JSON.stringify(ownerRecord(token)), { flag: 'wx', mode: PRIVATE_FILE_MODE });
    await fs.link(temp, lockPath);
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw unavailable(`cannot create the vault lock ${lockPath}: ${errnoCode(err)}`, err);
  } finally {
    // unlink, not fs.rm: rm's recursive machinery costs an lstat per call, on every vault write.
    await removeIfExists(temp);
  }
}

/** The hostname, read once per process, as processScope() does (a syscall per lock otherwise). */
let cachedHostname: string | undefined;

function ownerRecord(token: string): LockOwner {
  cachedHostname ??= os.hostname();
  return { pid: process.pid, hostname: cachedHostname, scope: processScope(), since: new Date().toISOString(), token };
}

async function releaseLock(lockPath: string, token: string): Promise<void> {
  let raw: string | undefined;
  try {
    raw = readSmallFileIfExists(lockPath)?.toString('utf8');
  } catch (err) {
    throw unavailable(`cannot read the vault lock ${lockPath}: ${errnoCode(err)}`, err);
  }
  if (raw === undefined) return;
  // Someone broke our lock (we held it past staleMs) and may hold a new one: leave theirs alone.
  if (parseOwner(raw)?.token !== token) return;
  await removeIfExists(lockPath);
}

/** Reads the lock file; undefined when it vanished meanwhile. */
async function snapshot(file: string): Promise<LockSnapshot | undefined> {
  try {
    const stat = await fs.stat(file);
    const raw = await fs.readFile(file, 'utf8');
    return { ino: stat.ino, mtimeMs: stat.mtimeMs, raw, owner: parseOwner(raw) };
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw unavailable(`cannot read the vault lock ${file}: ${errnoCode(err)}`, err);
  }
}

/** The owner record, or undefined while the creator has not written it yet (or it is junk). */
function parseOwner(raw: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string') return parsed as LockOwner;
  } catch {
    // An empty or partial file: judged by its age alone.
  }
  return undefined;
}

/**
 * A lock whose owner we can see (same host and pid namespace) and that still runs is never
 * broken for its age alone, up to this bound: a holder paused for a while (GC, a suspended VM)
 * must not find its document overwritten. Past it, pid reuse is the likelier story.
 */
const LIVE_OWNER_MAX_MS = 10 * 60_000;

/** Why `seen` is stale, or undefined when it is not. */
function staleReason(seen: LockSnapshot, staleMs: number): string | undefined {
  const age = Date.now() - seen.mtimeMs;
  const owner = seen.owner;
  const local = owner && (owner.scope ? owner.scope === processScope() : owner.hostname === os.hostname());
  if (owner && local) {
    if (!pidAlive(owner.pid)) return `pid ${owner.pid} is no longer running`;
    if (age > LIVE_OWNER_MAX_MS) return `it is ${Math.round(age / 1000)} s old (pid ${owner.pid} was probably reused)`;
    return undefined;
  }
  if (age > staleMs) return `it is ${Math.round(age / 1000)} s old`;
  return undefined;
}

async function breakStaleLock(lockPath: string, seen: LockSnapshot, reason: string, log: Logger): Promise<void> {
  const breakPath = `${lockPath}.break`;
  if (!(await tryCreateLock(breakPath, uniqueToken()))) {
    await clearStaleBreakFile(breakPath);
    return;
  }
  try {
    const now = await snapshot(lockPath);
    if (now && now.ino === seen.ino && now.mtimeMs === seen.mtimeMs && now.raw === seen.raw) {
      await fs.rm(lockPath, { force: true });
      log.warn({ lock: lockPath, pid: seen.owner?.pid }, `broke a stale vault lock ${lockPath}: ${reason}`);
    }
  } finally {
    await fs.rm(breakPath, { force: true });
  }
}

/** Another process is breaking the lock; if that process died doing so, remove its break file. */
async function clearStaleBreakFile(breakPath: string): Promise<void> {
  if (!(await removeBreakFileIfStale(breakPath))) await sleep(MIN_WAIT_MS);
}

async function removeBreakFileIfStale(breakPath: string): Promise<boolean> {
  const seen = await snapshot(breakPath);
  if (!seen || !staleReason(seen, BREAK_STALE_MS)) return false;
  await fs.rm(breakPath, { force: true });
  return true;
}

/**
 * For a holder of `lockPath`: removes a break file left by a process that died while breaking
 * a stale lock. (Nobody can be breaking a lock that is held and fresh.)
 */
export async function sweepDeadBreakFile(lockPath: string): Promise<void> {
  await removeBreakFileIfStale(`${lockPath}.break`);
}

/**
 * Removes `lockPath` when it is stale by the rules above (its owner is gone), as a waiter would
 * break it; a live or fresh lock is left alone. For locks nobody may take again soon (the layout
 * lock beside vault.path, once the store exists).
 */
export async function sweepStaleLock(lockPath: string, staleMs: number, log: Logger): Promise<void> {
  const seen = await snapshot(lockPath);
  const reason = seen && staleReason(seen, staleMs);
  if (seen && reason) await breakStaleLock(lockPath, seen, reason, log);
}

function lockedError(lockPath: string, seen: LockSnapshot, options: LockOptions): RotatorError {
  const owner = seen.owner;
  const pid = owner ? `pid ${owner.pid}` : 'an unknown process';
  const since = owner?.since ?? new Date(seen.mtimeMs).toISOString();
  const host = owner ? ` on host ${owner.hostname}` : '';
  return unavailable(
    `vault ${options.vaultPath} is locked by ${pid} since ${since}${host} (waited ${options.timeoutMs} ms); ` +
      `if that process is gone, delete ${lockPath}`,
  );
}

function unavailable(message: string, cause?: unknown): RotatorError {
  return new RotatorError('VAULT_UNAVAILABLE', message, { plugin: 'file', retryable: true, cause });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
