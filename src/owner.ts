/**
 * Process identity for locks and leases. An owner is `scope:pid:nonce`, where the scope is the
 * hostname plus the pid namespace: unique per process (the nonce keeps two services in one
 * process apart), and precise enough for a process in the same scope to tell that the owner is
 * gone. Without that, a `kill -9` during a rotation would block the secret until the lease
 * expired, exactly when it may be needed most. The pid namespace matters for containers that
 * share a hostname (host networking) but not their pids: there, a pid means nothing across.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';

let cachedScope: string | undefined;

/** `hostname` or `hostname#<pid namespace inode>` where /proc tells it (Linux). */
export function processScope(): string {
  if (cachedScope === undefined) {
    let ns = '';
    try {
      ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
    } catch {
      // Not Linux, or /proc is not mounted: the hostname alone is the scope.
    }
    cachedScope = ns ? `${hostname()}#${ns}` : hostname();
  }
  return cachedScope;
}

export function processOwnerId(): string {
  return `${processScope()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Whether `pid` (in our scope) is running. EPERM means it exists but is not ours. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * True when `owner` names a process in our scope (same host, same pid namespace) that no longer
 * runs. Owners from elsewhere, or in another format, are never judged dead here: their lease
 * simply runs to its expiry.
 */
export function ownerIsDeadLocally(owner: string): boolean {
  const match = /^(.*):(\d+):[0-9a-f]+$/.exec(owner);
  if (!match || match[1] !== processScope()) return false;
  const pid = Number(match[2]);
  return pid !== process.pid && !pidAlive(pid);
}
