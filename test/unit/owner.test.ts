import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ownerIsDeadLocally, processOwnerId, processScope } from '../../src/owner';
import { openFileVault } from '../../src/vaults/file';
import { ManualClock } from '../../src/clock';
import { silentLogger } from '../../src/log';

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('lease owners', () => {
  test('processOwnerId is scope:pid:nonce (scope: host and pid namespace) and unique per call', () => {
    const a = processOwnerId();
    expect(processScope().startsWith(hostname())).toBe(true);
    expect(a.startsWith(`${processScope()}:${process.pid}:`)).toBe(true);
    expect(a).toMatch(/:[0-9a-f]{6}$/);
    expect(processOwnerId()).not.toBe(a);
  });

  test('ownerIsDeadLocally: only a dead process on this host counts as dead', async () => {
    const dead = await deadPid();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      expect(ownerIsDeadLocally(`${processScope()}:${dead}:abc123`)).toBe(true);
      expect(ownerIsDeadLocally(`${hostname()}#1:${dead}:abc123`)).toBe(false); // another pid namespace
      expect(ownerIsDeadLocally(`${processScope()}:${sleeper.pid}:abc123`)).toBe(false);
      expect(ownerIsDeadLocally(processOwnerId())).toBe(false);
      expect(ownerIsDeadLocally(`some-other-host:${dead}:abc123`)).toBe(false);
      expect(ownerIsDeadLocally('not-an-owner-id')).toBe(false);
    } finally {
      sleeper.kill();
    }
  });

  test('the file vault takes over the unexpired lease of a dead local owner, not of a live one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rotator-owner-'));
    try {
      const clock = new ManualClock();
      const vault = await openFileVault({ path: join(dir, 'v.json'), clock, log: silentLogger, env: {} });
      const deadOwner = `${processScope()}:${await deadPid()}:abc123`;
      expect(await vault.acquireLease('k', deadOwner, 600_000)).not.toBeNull();
      expect(await vault.acquireLease('k', processOwnerId(), 600_000)).not.toBeNull();
      expect(await vault.acquireLease('k', `${processScope()}:${process.pid}:ffffff`, 600_000)).toBeNull();
      await vault.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
