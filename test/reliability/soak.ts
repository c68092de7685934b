/**
 * Fault soak (issue 10, "Prove it"): many forced rotations through the engine (`rotateSecret`)
 * against the NCP STS emulator over loopback, with faults injected through the emulator's own
 * fault API (429/500/503/504 answers and dropped connections) on a seeded share of rotations.
 * Rotations use the product's default retry policies on a FastForwardClock (retry sleeps and
 * Retry-After advance a virtual offset instead of wall time), a file vault, and one logger that
 * captures every line at debug level.
 *
 * Figures: rotations (succeeded), failed (gave up after retries; allowed, the next one must
 * recover), lost (a secret whose current credential is missing or refused by the service at the
 * end), orphaned (a pending version left behind after a final fault-free pass), leaked (an issued
 * or master secret found in the logs).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastForwardClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import { rotateSecret, type RotationTarget } from '../../src/rotate';
import { openFileVault } from '../../src/vaults/file';
import { ncpSts } from '../../providers/ncp-sts';
import { generateAccount, startNcpStsEmulator } from '../../providers/ncp-sts/emulator';

export interface SoakOptions {
  rotations: number;
  secrets: number;
  /** Share of rotations that get a fault injected (0..1). */
  faultRate: number;
  seed: number;
}

export interface SoakFigures {
  rotations: number;
  failed: number;
  faultsInjected: number;
  lost: number;
  orphaned: number;
  leaked: number;
}

/** mulberry32: a tiny seeded PRNG so a soak run can be replayed (not for secrets). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function soak(options: SoakOptions): Promise<SoakFigures> {
  const random = prng(options.seed);
  const account = generateAccount();
  const emu = await startNcpStsEmulator({ accounts: [account] });
  const dir = await mkdtemp(join(tmpdir(), 'rotator-soak-'));
  const log = memoryLogger();
  const vaultClock = new FastForwardClock();
  const vault = await openFileVault({ path: join(dir, 'vault.json'), key: Buffer.alloc(32, 7), clock: vaultClock, log });
  const targets: RotationTarget[] = Array.from({ length: options.secrets }, (_, i) => ({
    secretId: `soak-${i}`,
    provider: ncpSts.create(
      {
        id: `soak-${i}`,
        credentials: { accessKey: account.accessKey, secretKey: account.secretKey },
        params: ncpSts.paramsSchema.parse({ endpoint: emu.url, durationSec: 3600 }),
      },
      { log, clock: vaultClock },
    ),
    policy: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 },
  }));
  const figures: SoakFigures = { rotations: 0, failed: 0, faultsInjected: 0, lost: 0, orphaned: 0, leaked: 0 };
  const statuses = [429, 500, 503, 504] as const;
  const paths = ['/api/v1/credentials', '/api/v1/caller-identity', undefined];
  const rotate = (target: RotationTarget) =>
    rotateSecret(target, { vault, clock: new FastForwardClock(), log, owner: 'soak', random }, { force: true });
  try {
    for (let i = 0; figures.rotations < options.rotations; i++) {
      const target = targets[i % targets.length]!;
      if (random() < options.faultRate) {
        figures.faultsInjected++;
        if (random() < 0.25) emu.dropConnections(1);
        else {
          const path = paths[Math.floor(random() * paths.length)];
          emu.faults.push({
            status: statuses[Math.floor(random() * statuses.length)]!,
            times: 1 + Math.floor(random() * 2),
            ...(path ? { path } : {}),
          });
        }
      }
      try {
        await rotate(target);
        figures.rotations++;
      } catch {
        figures.failed++;
        if (figures.failed > options.rotations) throw new Error('soak: more failures than rotations; the service never recovers');
      }
    }
    // A final fault-free pass (scheduled, not forced): it resumes what a failure left pending.
    emu.faults.length = 0;
    for (const target of targets)
      await rotateSecret(target, { vault, clock: new FastForwardClock(), log, owner: 'soak' }, { ifDue: true });
    const issued = new Set<string>();
    for (const target of targets) {
      const state = await vault.read(target.secretId);
      if (state.pending) figures.orphaned++;
      for (const v of [state.current, state.previous]) if (v) issued.add(v.value.credentials.keySecret!);
      if (!state.current) {
        figures.lost++;
        continue;
      }
      await target.provider.verify!(state.current.value, {
        secretId: target.secretId,
        rotationId: 'check',
        clock: new FastForwardClock(),
        log,
      }).catch(() => figures.lost++);
    }
    const text = log.text();
    figures.leaked = [...issued, account.secretKey].filter((v) => text.includes(v)).length;
    return figures;
  } finally {
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  }
}
