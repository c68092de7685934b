/**
 * Fault soak (issue 10, "Prove it"): many forced rotations through the engine (`rotateSecret`)
 * over a mix of providers and vaults — NCP STS and MongoDB Cloud Manager (one service account per
 * secret) × the file vault and AWS Secrets Manager (its emulator through the real SDK) — all over
 * loopback HTTP, with a fault injected on a seeded share of rotations:
 *
 * - provider side, through each emulator's own fault API: 429 (MongoDB with Retry-After, from
 *   1 s up to 3600 s, which the engine must refuse to wait for), 500/503/504, dropped
 *   connections, and MongoDB's create-then-drop (the secret exists, the answer is lost);
 * - vault side: the Secrets Manager emulator's kit faults (ThrottlingException, sometimes with
 *   Retry-After, InternalServiceError, ServiceUnavailable, dropped connections, apply-then-drop),
 *   and for the file vault a wrapper ({@link flakyVault}) that fails a seeded share of writes
 *   with a transient error, before or after the write took effect (product code untouched).
 *
 * One FastForwardClock serves every emulator, vault, provider and rotation: retry sleeps,
 * Retry-After and MongoDB's token-rate waits advance virtual time, so signatures, token windows,
 * expiries and the engine's deadlines all agree. The product's default retry policies apply.
 *
 * Figures: rotations (succeeded), failed (gave up; allowed: the next one must recover), faults
 * (injected; split provider/vault), lost (a secret whose current credential is missing or refused
 * by its service at the end), orphaned (a pending version left behind, or a live MongoDB secret
 * the vault does not know, after one fault-free scheduled pass), leaked (an issued value or a
 * master secret found in the debug logs), maxAttempts (the most attempts any one step of any
 * rotation made, from the engine's retry log lines; each is checked against its step's policy),
 * maxIssueRequests (the most issue requests one rotation sent, counted at the emulators).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastForwardClock } from '../../src/clock';
import { RotatorError, isRotatorError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import { DEFAULT_RETRY_POLICIES, rotateSecret, type RotationTarget } from '../../src/rotate';
import type { Vault } from '../../src/types';
import { openFileVault } from '../../src/vaults/file';
import { openAwsSecretsManagerVault } from '../../src/vaults/aws';
import {
  startSecretsManagerEmulator,
  type SecretsManagerFault,
  type SecretsManagerOperation,
} from '../../src/vaults/aws/emulator';
import { ncpSts } from '../../providers/ncp-sts';
import { generateAccount, startNcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmFault,
  type McmOp,
} from '../../providers/mongodb-cloud-manager/emulator';

export interface SoakOptions {
  rotations: number;
  /** Spread evenly over the four provider × vault combinations. */
  secrets: number;
  /** Share of rotations that get a fault injected (0..1). */
  faultRate: number;
  seed: number;
}

export interface SoakFigures {
  rotations: number;
  failed: number;
  faultsInjected: number;
  providerFaults: number;
  vaultFaults: number;
  lost: number;
  orphaned: number;
  leaked: number;
  maxAttempts: number;
  /** Steps that made more attempts than their retry policy allows (must be 0). */
  attemptsOverPolicy: number;
  maxIssueRequests: number;
  /** Injected faults the rotation actually ran into (a fault on an operation it never called is not). */
  faultsHit: number;
  /** Failed rotations that stopped because a wait (a Retry-After) would have passed their deadline. */
  stoppedAtDeadline: number;
}

export function soakLine(f: SoakFigures): string {
  return (
    `rotations=${f.rotations} failed=${f.failed} (stoppedAtDeadline=${f.stoppedAtDeadline}) ` +
    `faults=${f.faultsInjected} (provider=${f.providerFaults} vault=${f.vaultFaults} hit=${f.faultsHit}) ` +
    `lost=${f.lost} orphaned=${f.orphaned} leaked=${f.leaked} maxAttempts=${f.maxAttempts} ` +
    `attemptsOverPolicy=${f.attemptsOverPolicy} maxIssueRequests=${f.maxIssueRequests}`
  );
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

const VAULT_WRITES = new Set([
  'putPending',
  'promote',
  'discardPending',
  'updateMeta',
  'recordIntent',
  'clearIntent',
  'acquireLease',
]);

/**
 * The file vault with transient write failures on demand: `arm(n, after, skip)` lets `skip`
 * writes through, then makes the next `n` writes throw a retryable VAULT_UNAVAILABLE, before the write (`after` false) or after it took
 * effect (`after` true: the caller cannot know it landed, like a lost answer). A test double
 * around the real vault, so product code stays untouched.
 */
function flakyVault(
  inner: Vault,
): Vault & { arm(n: number, after: boolean, skip: number): void; disarm(): void; left(): number } {
  let left = 0;
  let after = false;
  let skip = 0;
  const fail = (method: string) =>
    new RotatorError('VAULT_UNAVAILABLE', `soak: injected transient failure of ${method}`, { retryable: true });
  const wrapper = Object.create(null) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(inner)).concat(Object.keys(inner))) {
    const member = (inner as unknown as Record<string, unknown>)[name];
    if (name === 'constructor') continue;
    if (typeof member !== 'function') {
      Object.defineProperty(wrapper, name, { get: () => (inner as unknown as Record<string, unknown>)[name] });
      continue;
    }
    const bound = (member as (...args: unknown[]) => unknown).bind(inner);
    wrapper[name] = !VAULT_WRITES.has(name)
      ? bound
      : async (...args: unknown[]) => {
          if (left > 0 && skip > 0) {
            skip--;
            return bound(...args);
          }
          if (left > 0 && !after) {
            left--;
            throw fail(name);
          }
          const result = await bound(...args);
          if (left > 0 && after) {
            left--;
            throw fail(name);
          }
          return result;
        };
  }
  return Object.assign(wrapper as unknown as Vault, {
    arm(n: number, a: boolean, s: number) {
      left = n;
      after = a;
      skip = s;
    },
    disarm() {
      left = 0;
    },
    left: () => left,
  });
}

/** The retry policy each engine step uses (src/rotate.ts), to check the attempts it made. */
function policyAttempts(what: string): number | undefined {
  if (what === 'verify') return DEFAULT_RETRY_POLICIES.verify.attempts;
  if (what === 'issue' || what.startsWith('revoke') || what === 'list provider secrets')
    return DEFAULT_RETRY_POLICIES.provider.attempts;
  if (what.startsWith('vault write') || what === 'vault promote' || what === 'vault discard pending')
    return DEFAULT_RETRY_POLICIES.vaultWrite.attempts;
  if (what === 'vault read' || what === 'vault lease') return DEFAULT_RETRY_POLICIES.vaultRead.attempts;
  return undefined;
}

const RETRY_LINE = /^(.*) failed; (retrying|not retrying: .*)$/;

type Kind = 'ncp' | 'mongo';
type VaultKind = 'file' | 'aws';
interface SoakTarget extends RotationTarget {
  kind: Kind;
  vaultKind: VaultKind;
  clientId?: string;
}

export async function soak(options: SoakOptions): Promise<SoakFigures> {
  const random = prng(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const clock = new FastForwardClock();
  const log = memoryLogger();
  const dir = await mkdtemp(join(tmpdir(), 'rotator-soak-'));

  const ncpAccount = generateAccount();
  const mcmKey = generateApiKey();
  const orgId = generateOrgId();
  const aws = { accessKeyId: 'AKIDSOAKTEST', secretAccessKey: `soak-aws-${generateClientId()}` };
  const secretIds = Array.from({ length: options.secrets }, (_, i) => i);
  const clientIds = secretIds.map(() => generateClientId());
  const ncp = await startNcpStsEmulator({ accounts: [ncpAccount], clock });
  const mcm = await startMcmEmulator({
    clock,
    apiKeys: [mcmKey],
    serviceAccounts: clientIds.map((clientId) => ({ orgId, clientId })),
  });
  // The version quota is not under test here (it is in the vault's own tests): room for every
  // version a long soak writes, since virtual time never reaches AWS's 24-hour clean-up.
  const sm = await startSecretsManagerEmulator({
    clock,
    credentials: { [aws.accessKeyId]: aws.secretAccessKey },
    maxVersions: 1_000_000,
  });
  const fileVault = flakyVault(await openFileVault({ path: join(dir, 'vault.json'), key: Buffer.alloc(32, 7), clock, log }));
  const awsVault = openAwsSecretsManagerVault(
    { region: 'us-east-1', endpoint: sm.url, prefix: 'rotator/soak/', tags: {} },
    { clock, log, credentials: aws },
  );

  const targets: SoakTarget[] = secretIds.map((i) => {
    const kind: Kind = i % 2 === 0 ? 'ncp' : 'mongo';
    const vaultKind: VaultKind = Math.floor(i / 2) % 2 === 0 ? 'file' : 'aws';
    const id = `soak-${kind}-${vaultKind}-${i}`;
    const policy = { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 };
    if (kind === 'ncp') {
      const provider = ncpSts.create(
        {
          id,
          credentials: { accessKey: ncpAccount.accessKey, secretKey: ncpAccount.secretKey },
          params: ncpSts.paramsSchema.parse({ endpoint: ncp.url, durationSec: 3600 }),
        },
        { log, clock },
      );
      return { secretId: id, provider, policy, kind, vaultKind };
    }
    const clientId = clientIds[i]!;
    const provider = mongodbCloudManager.create(
      {
        id,
        credentials: mongodbCloudManager.credentialsSchema.parse({ publicKey: mcmKey.publicKey, privateKey: mcmKey.privateKey }),
        params: mongodbCloudManager.paramsSchema.parse({
          orgId,
          clientId,
          secretExpiresAfterHours: 72,
          baseUrl: `${mcm.url}/api/public/v1.0`,
        }),
      },
      { log, clock },
    );
    return { secretId: id, provider, policy, kind, vaultKind, clientId };
  });
  const vaultOf = (t: SoakTarget): Vault => (t.vaultKind === 'file' ? fileVault : awsVault);

  const figures: SoakFigures = {
    rotations: 0,
    failed: 0,
    faultsInjected: 0,
    providerFaults: 0,
    vaultFaults: 0,
    lost: 0,
    orphaned: 0,
    leaked: 0,
    maxAttempts: 0,
    attemptsOverPolicy: 0,
    maxIssueRequests: 0,
    faultsHit: 0,
    stoppedAtDeadline: 0,
  };
  /** Every secret value any emulator handed out (MongoDB shows values only while live). */
  const issued = new Set<string>();
  const collectMongo = () => {
    for (const clientId of clientIds) for (const s of mcm.secretsOf(clientId)) issued.add(s.value);
  };
  const clearFaults = () => {
    ncp.faults.length = 0;
    mcm.faults.length = 0;
    sm.faults.length = 0;
    fileVault.disarm();
  };

  /**
   * How many requests in a row a fault takes: mostly a blip (1–2, retries ride it out), a quarter
   * of the time an outage of 4–10 that outlasts a step's retries, so the rotation fails midway and
   * the next one (or the final pass) must recover what it left.
   */
  const faultTimes = () => (random() < 0.75 ? 1 + Math.floor(random() * 2) : 4 + Math.floor(random() * 7));

  /** Whether a queued fault was (at least partly) consumed: gone from its queue, or fewer times left. */
  const consumed = (queue: readonly { times: number }[], fault: { times: number }, times: number) => () =>
    !queue.includes(fault) || fault.times < times;

  /** Queues one provider fault; returns a probe saying afterwards whether the rotation hit it. */
  const injectProviderFault = (t: SoakTarget, times = faultTimes()): (() => boolean) => {
    if (t.kind === 'ncp') {
      if (random() < 0.25) {
        // The emulator's drop counter takes the very next request, whatever it is.
        const before = ncp.count();
        ncp.dropConnections(1);
        return () => ncp.count() > before;
      }
      const path = pick(['/api/v1/credentials', '/api/v1/caller-identity', undefined]);
      const fault = { status: pick([429, 500, 503, 504] as const), times, ...(path ? { path } : {}) };
      ncp.faults.push(fault);
      return consumed(ncp.faults, fault, times);
    }
    const op = pick<McmOp | undefined>(['createSecret', 'token', 'deleteSecret', 'getServiceAccount', undefined]);
    const roll = random();
    let fault: McmFault;
    if (roll < 0.2) fault = { kind: 'create-then-drop', times: 1, op: 'createSecret' };
    else if (roll < 0.35) fault = { kind: 'drop', times: 1, ...(op ? { op } : {}) };
    // Mostly short waits the engine honours; sometimes an hour it must refuse to wait for.
    else if (roll < 0.6) fault = { status: 429, retryAfterSec: pick([1, 2, 5, 30, 3600]), times, ...(op ? { op } : {}) };
    else fault = { status: pick([500, 503, 504]), times, ...(op ? { op } : {}) };
    mcm.faults.push(fault);
    return consumed(mcm.faults, fault, fault.times);
  };

  const injectVaultFault = (t: SoakTarget, times = faultTimes()): (() => boolean) => {
    // Let the first few calls through, so faults land on every step (the lease is the first write).
    const skip = Math.floor(random() * 4);
    if (t.vaultKind === 'file') {
      fileVault.arm(times, random() < 0.3, skip);
      return () => fileVault.left() < times;
    }
    const operation = pick<SecretsManagerOperation | undefined>([
      'PutSecretValue',
      'UpdateSecretVersionStage',
      'GetSecretValue',
      'ListSecretVersionIds',
      'DescribeSecret',
      'TagResource',
      undefined,
    ]);
    const on = { skip, ...(operation ? { operation } : {}) };
    const roll = random();
    let fault: SecretsManagerFault;
    if (roll < 0.2) fault = { kind: 'drop', times: 1, ...on };
    else if (roll < 0.3) fault = { kind: 'apply-then-drop', times: 1, ...on };
    // 400 is answered as ThrottlingException, 500 InternalServiceError, 503 ServiceUnavailable.
    else if (roll < 0.6) fault = { status: 400, times, ...(random() < 0.5 ? { retryAfterSec: pick([1, 3600]) } : {}), ...on };
    else fault = { status: pick([500, 503]), times, ...on };
    sm.faults.push(fault);
    return consumed(sm.faults, fault, fault.times);
  };

  const issueRequests = (t: SoakTarget) =>
    t.kind === 'ncp' ? ncp.count('POST', '/api/v1/credentials') : mcm.count('createSecret');

  /** Attempts per step from the engine's retry log lines since `from`. */
  const checkAttempts = (from: number) => {
    for (const line of log.lines.slice(from)) {
      if (!line.includes('retrying')) continue;
      const entry = JSON.parse(line) as { msg?: string; attempt?: number; of?: number };
      const m = RETRY_LINE.exec(entry.msg ?? '');
      if (!m || entry.attempt === undefined) continue;
      // "retrying" after attempt n means attempt n+1 follows; "not retrying" ends at n.
      const attempts = m[2] === 'retrying' ? entry.attempt + 1 : entry.attempt;
      figures.maxAttempts = Math.max(figures.maxAttempts, attempts);
      const allowed = policyAttempts(m[1]!);
      if (allowed !== undefined && attempts > allowed) figures.attemptsOverPolicy++;
    }
  };

  try {
    /** One forced rotation, with a fault of `outage` requests (default: a random length) when `faulty`. */
    const rotateOnce = async (target: SoakTarget, faulty: boolean, outage?: number) => {
      let hit: (() => boolean) | undefined;
      if (faulty) {
        figures.faultsInjected++;
        if (random() < 0.6) {
          figures.providerFaults++;
          hit = injectProviderFault(target, outage);
        } else {
          figures.vaultFaults++;
          hit = injectVaultFault(target, outage);
        }
      }
      const logFrom = log.lines.length;
      const issuedBefore = issueRequests(target);
      let ok = false;
      try {
        await rotateSecret(target, { vault: vaultOf(target), clock, log, owner: 'soak', random }, { force: true });
        ok = true;
      } catch (err) {
        figures.failed++;
        if (isRotatorError(err) && err.details.stoppedWaiting === 'deadline') figures.stoppedAtDeadline++;
      }
      figures.maxIssueRequests = Math.max(figures.maxIssueRequests, issueRequests(target) - issuedBefore);
      checkAttempts(logFrom);
      if (hit?.()) figures.faultsHit++;
      // A fault the rotation did not reach must not land on another secret's rotation.
      clearFaults();
      if (target.kind === 'mongo') collectMongo();
      return ok;
    };

    for (let i = 0; figures.rotations < options.rotations; i++) {
      if (await rotateOnce(targets[i % targets.length]!, random() < options.faultRate)) figures.rotations++;
      if (figures.failed > options.rotations) throw new Error('soak: more failures than rotations; the service never recovers');
    }
    // A last round in which every secret's rotation meets an outage longer than any retry policy,
    // at a random step: the fault-free pass below must recover each provider × vault combination
    // from wherever it stopped (not counted in `rotations`; its failures are in `failed`).
    for (const target of targets) await rotateOnce(target, true, 10);

    // One fault-free scheduled pass, once every back-off has run out: it resumes what a failure
    // left pending and cleans up after interrupted issues.
    let wakeAt = clock.now();
    for (const t of targets) {
      const status = (await vaultOf(t).read(t.secretId)).status;
      if (status?.nextAttemptAt) wakeAt = Math.max(wakeAt, Date.parse(status.nextAttemptAt));
    }
    await clock.sleep(wakeAt - clock.now() + 1_000);
    for (const t of targets) await rotateSecret(t, { vault: vaultOf(t), clock, log, owner: 'soak' }, { ifDue: true });
    collectMongo();

    for (const t of targets) {
      const state = await vaultOf(t).read(t.secretId);
      if (state.pending) figures.orphaned++;
      if (t.clientId) {
        const known = new Set([state.current, state.previous, state.pending].map((v) => v?.value.providerRef));
        const now = clock.now();
        figures.orphaned += mcm.secretsOf(t.clientId).filter((s) => Date.parse(s.expiresAt) > now && !known.has(s.id)).length;
      }
      if (!state.current) {
        figures.lost++;
        continue;
      }
      await t.provider.verify!(state.current.value, { secretId: t.secretId, rotationId: 'check', clock, log }).catch(
        () => figures.lost++,
      );
    }
    for (const key of ncp.issuedKeys()) {
      const secret = ncp.lookupSecret(key.accessKey);
      if (secret) issued.add(secret);
    }
    const text = log.text();
    figures.leaked = [...issued, ncpAccount.secretKey, mcmKey.privateKey, aws.secretAccessKey].filter((v) =>
      text.includes(v),
    ).length;
    return figures;
  } finally {
    await Promise.all([ncp.close(), mcm.close(), sm.close()]);
    await awsVault.close?.();
    await rm(dir, { recursive: true, force: true });
  }
}
