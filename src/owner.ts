/**
 * Lease owner ids. An owner is `hostname:pid:nonce`: unique per process (the nonce keeps two
 * services in one process apart), and readable enough that a vault on the same host can tell
 * that the owner is gone. Without that, a `kill -9` during a rotation would block the secret
 * until the lease expired (minutes), exactly when it may be needed most.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

export function processOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * True when `owner` names a process on this host that no longer runs. Owners from other hosts,
 * or in another format, are never judged dead here: their lease simply runs to its expiry.
 */
export function ownerIsDeadLocally(owner: string): boolean {
  const match = /^(.*):(\d+):[0-9a-f]+$/.exec(owner);
  if (!match || match[1] !== hostname()) return false;
  const pid = Number(match[2]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
