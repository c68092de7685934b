import { createHash } from 'node:crypto';
import { HeldLease } from '../lease';
import { RotatorError } from '../../errors';
import { ownerIsDeadLocally } from '../../owner';
import { secrets as processSecrets } from '../../redact';
import { conflict, mapAwsError, refusalOf, sameTokenConflict } from './errors';
import { VAULT_LIMITS } from '../limits';
import { sdkApi, type AwsVaultDeps, type SdkInput, type SdkOperation, type SdkOutput, type SecretsManagerSdk } from './sdk';
import type {
  AttemptStatus,
  Clock,
  Lease,
  VaultLimits,
  Logger,
  RotationIntent,
  SecretMeta,
  SecretMetaPatch,
  SecretState,
  Stage,
  Vault,
  VaultValue,
  VaultVersion,
} from '../../types';
import { canonicalJson } from '../file-document';
import { createLimiter } from '../../limit';
import type { AwsSecretsManagerVaultConfig } from '../../../config/schema';

/**
 * A Vault on AWS Secrets Manager: one AWS secret per key, named `<prefix><key>`, whose versions
 * carry AWS's own stages (AWSCURRENT, AWSPENDING, AWSPREVIOUS) and whose SecretString is the
 * JSON VaultValue consumers read (`aws secretsmanager get-secret-value` works as-is).
 *
 * - putPending = PutSecretValue(VersionStages [AWSPENDING], ClientRequestToken = rotationId):
 *   AWS makes it idempotent (same token + same value is a no-op; another value is
 *   ResourceExistsException → VAULT_CONFLICT).
 * - Each secret is created with a placeholder first version holding AWSCURRENT (see
 *   NO_CURRENT_VERSION_ID): AWS makes a secret's first version current whatever its stages, and
 *   that must never be an unverified credential.
 * - promote = UpdateSecretVersionStage(AWSCURRENT, MoveTo = pending, RemoveFrom = expected
 *   current, the placeholder when there is none yet): AWS refuses when AWSCURRENT is not on RemoveFromVersionId, or is attached and
 *   RemoveFromVersionId is missing, which is the compare-and-swap. AWS moves AWSPREVIOUS itself.
 *   AWSPENDING stays on the promoted version (read as current only; the next putPending moves it).
 * - Meta (intent, revokedPrevious, attempt status; see updateMeta) are tags on the secret,
 *   read for free with the DescribeSecret that every read() makes (and the ListSecrets of readMany). They are written under the lease, so they need no
 *   compare-and-swap. An intent whose rotation already stored a version is not reported (that
 *   is how putPending "drops" it without an extra request).
 *
 * Leases: see {@link AwsSecretsManagerVault.acquireLease}.
 *
 * Requests are kept off the hot path with a per-instance cache of what cannot change: a
 * version's value is immutable in Secrets Manager, so a version this instance wrote or read is
 * never fetched again. Stages are always read fresh (DescribeSecret) except by `promote`, which
 * trusts what this instance saw last under its lease (the AWSCURRENT compare-and-swap stays the
 * authority).
 */

export const DEFAULT_PREFIX = 'rotator/';

/** This vault's entry of the limits table; why 15 minutes is said there (src/vaults/limits.ts). */
export const AWS_VAULT_LIMITS: VaultLimits = VAULT_LIMITS['aws-secrets-manager'].limits;
const MANAGED_TAG = 'rotator:managed';
const PROVIDER_TAG = 'rotator:provider';
/** A base64url intent split over up to 4 tags of 256 characters (AWS's tag value limit). */
const INTENT_TAGS = ['rotator:intent', 'rotator:intent.2', 'rotator:intent.3', 'rotator:intent.4'];
/** The other meta fields, the same way (see updateMeta). */
const META_TAGS: Record<keyof SecretMeta, string[]> = {
  intent: INTENT_TAGS,
  revokedPrevious: ['rotator:revoked', 'rotator:revoked.2'],
  status: ['rotator:status', 'rotator:status.2', 'rotator:status.3', 'rotator:status.4'],
};
const META_FIELDS = Object.keys(META_TAGS) as (keyof SecretMeta)[];
/** ListSecrets answers reused by readMany calls this close together (ms). */
const LISTING_REUSE_MS = 10_000;
/** BatchGetSecretValue takes at most 20 secret ids. */
const BATCH_GET_MAX = 20;
/** GetSecretValue calls of one readMany in flight at once. */
const READ_MANY_CONCURRENCY = 8;
const TAG_VALUE_MAX = 256;
const AWS_STAGE: Record<Stage, string> = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' };
/** Claim tags: this prefix + the first 16 hex digits of sha256(owner). */
const CLAIM_TAG_PREFIX = 'rotator:lease:';
/** Claim rounds before "held elsewhere", and the random pause between them (ms, times the round). */
const CLAIM_ATTEMPTS = 4;
const CLAIM_BACKOFF_MS = 100;
/** A claim made this long before ours is a holder's, not a racer's: no second round. */
const CLAIM_RACE_MS = 5_000;
/**
 * Looks of a racer that outranks every claim it sees, while it waits for the others to withdraw,
 * and the longest pause between two looks (pauses double from CLAIM_BACKOFF_MS): about 2.5 s in
 * all. Racers withdraw within one look; a claim still there after that is a holder's whose
 * clock runs behind ours (see claimRank).
 */
const CLAIM_WAIT_ROUNDS = 6;
/** Lapsed claims (other owners', expired or over an old AWSCURRENT) tolerated before a release drops them. */
const STALE_CLAIMS_MAX = 8;
const CLAIM_WAIT_MAX_MS = 1_000;
/** A held lease with at least this share of a new ttl left is not rewritten on re-acquire. */
const LAZY_RENEWAL_SHARE = 0.9;
/** Version values kept per key (a rotation touches at most three). */
const CACHED_VERSIONS_PER_KEY = 6;

/**
 * The placeholder first version of every credential secret. AWS attaches AWSCURRENT to the
 * first version of a secret whatever VersionStages says (PutSecretValue API reference), so a
 * secret whose first version were a new credential would serve that credential as current
 * before it is verified, and keep serving it after a failed verification. Each credential
 * secret is therefore created with this version first: it holds AWSCURRENT until the first
 * promotion moves AWSCURRENT off it (RemoveFromVersionId = this id is the compare-and-swap for
 * "no current yet"), then AWSPREVIOUS for one rotation, then nothing. read() and list() never
 * report it. Until the first promotion, `aws secretsmanager get-secret-value` returns
 * NO_CURRENT_VALUE, which is not a VaultValue: a consumer reading AWS directly gets "no value
 * yet", never an unverified credential.
 *
 * The id is longer than 32 characters and ends in '_', which encodeVersionId never produces, so
 * it cannot be a rotation's version.
 */
export const NO_CURRENT_VERSION_ID = 'rotator-placeholder-no-current-value-yet_';
export const NO_CURRENT_VALUE = '{"rotator":"no current value yet"}';

export interface AwsSecretsManagerVaultOptions {
  api: SecretsManagerSdk;
  clock: Clock;
  log: Logger;
  prefix?: string;
  kmsKeyId?: string;
  /** Extra tags on every secret this vault creates. */
  tags?: Record<string, string>;
  /** For messages: where the vault lives. */
  region?: string;
}

interface LeaseRecord {
  owner: string;
  expiresAt: number;
  /** The claimer's clock when it claimed (older claims are holders, not racers). */
  claimedAt?: number;
  /**
   * The AWSCURRENT version the claimer saw when it claimed: the claim lapses once AWSCURRENT
   * moves (the holder's own promotion ends it, so a successful rotation needs no release).
   * Absent: the claim lasts until released or expired.
   */
  over?: string;
  /** Set by this instance once it promoted under the lease (not stored in the tag). */
  promoted?: boolean;
}

type StageMap = Record<string, string[]>;

export class AwsSecretsManagerVault implements Vault {
  readonly type = 'aws-secrets-manager';
  readonly limits = AWS_VAULT_LIMITS;
  /** The lease's DescribeSecret serves the read under it (see `fresh`): no look before leasing. */
  readonly leaseReadsState = true;
  readonly prefix: string;
  private readonly counts: Record<string, number> = {};
  private leaseConflicts = 0;
  private closed = false;
  /** versionId → value and creation time, per key: versions are immutable. */
  private readonly values = new Map<string, Map<string, { value: VaultValue; createdAt: string }>>();
  /** The stages this instance saw last, per key (promote's pending check). */
  private readonly stagesSeen = new Map<string, StageMap>();
  /** Whether the key's AWS secret exists, as far as this instance knows. */
  private readonly exists = new Map<string, boolean>();
  /** The lease this instance holds, per key (its claim tag is on the secret). */
  private readonly held = new Map<string, LeaseRecord>();
  /** Claim tags of expired or dead owners seen at acquire, dropped with the release. */
  private readonly staleClaims = new Map<string, string[]>();
  /**
   * DescribeSecret answers made under a lease this instance just took, consumed by the next
   * read() of the key: under the lease nobody else changes the stages (promote's CAS guards the
   * rest), so reading again would only repeat the same answer.
   */
  private readonly fresh = new Map<string, Record<string, any>>();
  /** The meta this instance saw last (read) or wrote, per key. */
  private readonly metaSeen = new Map<string, SecretMeta>();
  /** The last ListSecrets answer, by key (see readMany). */
  private lastListing?: { at: number; entries: Map<string, Record<string, any>> };
  /** Keys whose secret this instance's last createSecret created (with the tags given). */
  private readonly createdByMe = new Set<string>();

  constructor(private readonly options: AwsSecretsManagerVaultOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  /** Secrets Manager requests made, by operation (for figures and tests). */
  requestCounts(): Record<string, number> {
    return { ...this.counts };
  }

  /** How many acquireLease calls found the lease held by someone else. */
  leaseConflictCount(): number {
    return this.leaseConflicts;
  }

  async read(key: string): Promise<SecretState> {
    const fresh = this.fresh.get(key);
    this.fresh.delete(key);
    const described = fresh ?? (await this.describe(key));
    if (!described) return {};
    return this.stateOf(key, (described.VersionIdsToStages ?? {}) as StageMap, described.Tags);
  }

  /**
   * Reads many keys with one paged ListSecrets under the prefix (it returns every secret's stages
   * and tags, so meta costs nothing) and BatchGetSecretValue (20 secrets a call) for the current
   * values this instance does not hold yet. A pending or previous value not seen before costs a
   * GetSecretValue each (BatchGetSecretValue returns AWSCURRENT only), at most
   * READ_MANY_CONCURRENCY at a time. Calls in a row (the scheduler reads in chunks) share one
   * listing for LISTING_REUSE_MS: stages are read again under the lease before anything changes.
   */
  async readMany(keys: string[]): Promise<Map<string, SecretState>> {
    for (const key of keys) this.nameOf(key);
    const listing = await this.listing();
    const out = new Map<string, SecretState>(keys.map((key) => [key, {}]));
    const found = keys.flatMap((key) => {
      const entry = listing.get(key);
      return entry ? [{ key, entry }] : [];
    });
    // Current values not cached: BatchGetSecretValue, 20 per call.
    const missing = found.filter(({ key, entry }) => {
      const current = holderOf((entry.SecretVersionsToStages ?? {}) as StageMap, 'AWSCURRENT');
      return current !== undefined && current !== NO_CURRENT_VERSION_ID && !this.values.get(key)?.has(decodeVersionId(current));
    });
    for (let i = 0; i < missing.length; i += BATCH_GET_MAX) {
      const names = missing.slice(i, i + BATCH_GET_MAX).map(({ key }) => this.nameOf(key));
      const batch = await this.send('BatchGetSecretValue', { SecretIdList: names }, names[0]!);
      for (const item of (batch.SecretValues ?? []) as Record<string, any>[]) {
        const name = String(item.Name ?? '');
        if (!name.startsWith(this.prefix) || typeof item.VersionId !== 'string') continue;
        this.store(name.slice(this.prefix.length), name, item.VersionId, item.SecretString, item.CreatedDate);
      }
      // Errors (deleted meanwhile, no access): those keys fall back to one GetSecretValue below.
    }
    const limiter = createLimiter(READ_MANY_CONCURRENCY);
    await Promise.all(
      found.map(({ key, entry }) =>
        limiter.run(async () => {
          const map = (entry.SecretVersionsToStages ?? {}) as StageMap;
          this.exists.set(key, true);
          out.set(key, await this.stateOf(key, map, entry.Tags));
        }),
      ),
    );
    return out;
  }

  /** Every managed secret under the prefix, by key (one paged ListSecrets, reused briefly). */
  private async listing(): Promise<Map<string, Record<string, any>>> {
    const now = this.options.clock.now();
    if (this.lastListing && now - this.lastListing.at < LISTING_REUSE_MS && now >= this.lastListing.at)
      return this.lastListing.entries;
    const entries = new Map<string, Record<string, any>>();
    await this.eachListed(this.prefix, (name, entry) => entries.set(name.slice(this.prefix.length), entry));
    this.lastListing = { at: now, entries };
    return entries;
  }

  /** Versions and meta from a secret's stages and tags; values from the cache or GetSecretValue. */
  private async stateOf(key: string, map: StageMap, tags: unknown): Promise<SecretState> {
    const name = this.nameOf(key);
    this.stagesSeen.set(key, map);
    const state: SecretState = {};
    // The placeholder is neither current (before the first promotion) nor previous (after it).
    const wanted = stagedVersions(map).filter((v) => v.versionId !== NO_CURRENT_VERSION_ID);
    const versions = await Promise.all(
      wanted.map(async ({ versionId, stages }) => {
        const stored = await this.valueOf(key, name, versionId);
        return (
          stored && {
            versionId: decodeVersionId(versionId),
            value: structuredClone(stored.value),
            stages,
            createdAt: stored.createdAt,
          }
        );
      }),
    );
    for (const version of versions) {
      if (!version) continue;
      for (const stage of version.stages) state[stage] = version;
    }
    const meta = decodeMeta(tags);
    this.metaSeen.set(key, meta);
    const versionIds = new Set(Object.keys(map).map(decodeVersionId));
    if (meta.intent && !versionIds.has(meta.intent.rotationId)) state.intent = meta.intent;
    if (meta.revokedPrevious !== undefined) state.revokedPrevious = meta.revokedPrevious;
    if (meta.status !== undefined) state.status = meta.status;
    return state;
  }

  async putPending(key: string, value: VaultValue, rotationId: string): Promise<VaultVersion> {
    this.fresh.delete(key);
    const name = this.nameOf(key);
    const token = encodeVersionId(rotationId);
    const secretString = canonicalJson(value);
    const known = this.values.get(key)?.get(rotationId);
    if (known && canonicalJson(known.value) !== secretString) throw sameTokenConflict(key, rotationId);
    const input = { SecretId: name, ClientRequestToken: token, SecretString: secretString, VersionStages: ['AWSPENDING'] };
    let out: Record<string, any>;
    try {
      // Unknown to this instance (no read before): look once, so that a secret without AWSCURRENT
      // (created by an older rotator, without a value) is not given a credential as its first version.
      if (this.exists.get(key) === undefined) await this.describeStages(key);
      if (this.exists.get(key) === false) await this.createSecret(key, name, { [PROVIDER_TAG]: value.provider });
      else await this.ensureCurrentHolder(key, name);
      out = await this.send('PutSecretValue', input, name);
    } catch (err) {
      if (refusalOf(err) === 'exists') throw sameTokenConflict(key, rotationId);
      if (refusalOf(err) !== 'not-found') throw err;
      await this.createSecret(key, name, { [PROVIDER_TAG]: value.provider });
      try {
        out = await this.send('PutSecretValue', input, name);
      } catch (again) {
        if (refusalOf(again) === 'exists') throw sameTokenConflict(key, rotationId);
        throw again;
      }
    }
    this.exists.set(key, true);
    const createdAt = known?.createdAt ?? new Date(this.options.clock.now()).toISOString();
    this.remember(key, rotationId, { value: structuredClone(value), createdAt });
    const awsStages: string[] = Array.isArray(out.VersionStages) ? out.VersionStages : ['AWSPENDING'];
    const seen = { ...(this.stagesSeen.get(key) ?? {}) };
    for (const [id, labels] of Object.entries(seen))
      if (labels.includes('AWSPENDING')) seen[id] = labels.filter((l) => l !== 'AWSPENDING');
    seen[token] = awsStages;
    this.stagesSeen.set(key, seen);
    return { versionId: rotationId, value: structuredClone(value), stages: stagesOf(awsStages), createdAt };
  }

  async promote(key: string, rotationId: string, expectedCurrentVersion: string | null): Promise<void> {
    this.fresh.delete(key);
    const name = this.nameOf(key);
    const token = encodeVersionId(rotationId);
    let map = this.stagesSeen.get(key);
    // What this instance saw last (under its lease) is trusted; anything else is looked up.
    if (!map || holderOf(map, 'AWSPENDING') !== token) map = await this.describeStages(key);
    if (holderOf(map, 'AWSCURRENT') === token) return this.promoted(key, map);
    if (holderOf(map, 'AWSPENDING') !== token) {
      throw conflict(`cannot promote ${rotationId} on ${key}: the pending version is ${describeHolder(map, 'AWSPENDING')}`);
    }
    // null (no current) means AWSCURRENT is still on the placeholder, or (a secret created by an
    // older rotator) on no version at all.
    const expected =
      expectedCurrentVersion !== null
        ? encodeVersionId(expectedCurrentVersion)
        : holderOf(map, 'AWSCURRENT') === NO_CURRENT_VERSION_ID
          ? NO_CURRENT_VERSION_ID
          : undefined;
    try {
      await this.send(
        'UpdateSecretVersionStage',
        {
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          ...(expected ? { RemoveFromVersionId: expected } : {}),
        },
        name,
      );
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal !== 'invalid-parameter' && refusal !== 'not-found') throw err;
      // Refused: current moved (or a retry of ours already went through). Look once.
      const now = await this.describeStages(key);
      if (holderOf(now, 'AWSCURRENT') === token) return this.promoted(key, now);
      throw conflict(
        `cannot promote ${rotationId} on ${key}: current is ${describeHolder(now, 'AWSCURRENT')}, expected ` +
          `${expectedCurrentVersion ?? 'none'} (another rotation promoted first)`,
      );
    }
    const after: StageMap = {};
    for (const [id, labels] of Object.entries(map)) {
      const kept = labels.filter((l) => l !== 'AWSCURRENT' && l !== 'AWSPREVIOUS');
      if (expected && id === expected) kept.push('AWSPREVIOUS');
      if (kept.length > 0) after[id] = kept;
    }
    after[token] = [...(after[token] ?? []).filter((l) => l !== 'AWSPENDING'), 'AWSCURRENT', 'AWSPENDING'];
    this.promoted(key, after);
  }

  /**
   * Records what promote left: AWSCURRENT (and AWSPENDING, still) on the new version. AWSPENDING
   * is not taken off with a second UpdateSecretVersionStage: a version carrying both labels is read
   * as current only (stagesOf), AWS rotation treats AWSPENDING on the AWSCURRENT version as "no
   * rotation in progress", and the next putPending moves the label anyway. One request saved per
   * rotation.
   */
  private promoted(key: string, map: StageMap): void {
    this.stagesSeen.set(key, map);
    const mine = this.held.get(key);
    if (mine) mine.promoted = true;
  }

  async discardPending(key: string, rotationId: string): Promise<void> {
    this.fresh.delete(key);
    const name = this.nameOf(key);
    const token = encodeVersionId(rotationId);
    try {
      await this.send(
        'UpdateSecretVersionStage',
        { SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: token },
        name,
      );
    } catch (err) {
      const refusal = refusalOf(err);
      // Not pending (another rotation's, already gone) or no such secret: missing is success.
      if (refusal === 'invalid-parameter' || refusal === 'not-found') return;
      throw err;
    }
    const seen = this.stagesSeen.get(key);
    if (seen?.[token]) this.stagesSeen.set(key, { ...seen, [token]: seen[token]!.filter((l) => l !== 'AWSPENDING') });
  }

  async list(prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    await this.eachListed(this.prefix + prefix, (name, entry) => {
      const labels = Object.entries((entry.SecretVersionsToStages ?? {}) as StageMap)
        .filter(([versionId]) => versionId !== NO_CURRENT_VERSION_ID)
        .flatMap(([, stages]) => stages);
      if (labels.includes('AWSCURRENT') || labels.includes('AWSPENDING')) keys.push(name.slice(this.prefix.length));
    });
    return [...new Set(keys)].sort();
  }

  /** Pages through ListSecrets: every managed secret whose name starts with `base`. */
  private async eachListed(base: string, each: (name: string, entry: Record<string, any>) => void): Promise<void> {
    const leasePrefix = `${this.prefix}.lease/`;
    let nextToken: string | undefined;
    do {
      const filters = [
        { Key: 'tag-key' as const, Values: [MANAGED_TAG] },
        ...(base ? [{ Key: 'name' as const, Values: [base] }] : []),
      ];
      const out = await this.send(
        'ListSecrets',
        { Filters: filters, MaxResults: 100, ...(nextToken ? { NextToken: nextToken } : {}) },
        base || '(all)',
      );
      for (const entry of (out.SecretList ?? []) as Record<string, any>[]) {
        const name = String(entry.Name ?? '');
        // AWS's name filter is a case-insensitive prefix match: check exactly here.
        if (!name.startsWith(base) || name.startsWith(leasePrefix) || !isManaged(entry.Tags)) continue;
        each(name, entry);
      }
      nextToken = typeof out.NextToken === 'string' && out.NextToken ? out.NextToken : undefined;
    } while (nextToken);
  }

  /**
   * Leases as claim tags on the credential secret itself, so that a lease never creates a secret
   * version (AWS keeps versions younger than 24 h against its ~100-version quota; the previous
   * design burnt two per rotation). Each owner has its own tag `rotator:lease:<sha256(owner)>`
   * holding `{owner, expiresAt, claimedAt, over}`:
   *
   * 1. TagResource writes (or overwrites) this owner's claim;
   * 2. DescribeSecret reads every claim (and the stages, which the engine's read() right after
   *    reuses: see `fresh`).
   * 3. The owner holds the lease only if no other live claim is visible. A claim is live while
   *    unexpired, its owner is not dead on this host, and AWSCURRENT is still the version named in
   *    `over` (when it names one).
   *
   * Safety: "no other live claim", not "oldest claim wins". Claims carry the claimer's clock, and
   * a slow TagResource can land after a younger claimer already checked and saw nothing, so
   * "oldest wins" could let both hold. With "no other live claim", of two overlapping claimers
   * the later checker always sees the earlier claim (its TagResource completed before the later
   * DescribeSecret), so at most one holds. The compare-and-swap in promote stays the backstop
   * (e.g. clocks further apart than a ttl, or tags read eventually-consistently).
   *
   * Liveness: racing claimers are ranked (claimRank: the earlier claim, then a hash). The one that
   * outranks every claim it sees keeps its claim and looks again until the others withdrew; every
   * other racer withdraws (UntagResource) and gets null at once. So one racer always ends up
   * holding (aws2's racers all withdrew and retried after random pauses; when every round
   * collided, nobody held the lease and each replica looked again only after the scheduler's
   * 60 s lease recheck).
   *
   * Costs: acquire 2 requests, and its DescribeSecret replaces the read that follows (so the
   * vault declares `leaseReadsState` and the engine skips its look-before-lease read). Release:
   * none after this owner promoted over the AWSCURRENT its claim named (the promotion made the
   * claim lapse; the tag stays until this owner claims again or a release drops lapsed claims,
   * at most STALE_CLAIMS_MAX of them, far below AWS's 50 tags), else 1 UntagResource. A claim
   * made over an AWSCURRENT that moved since this instance last looked lapses at once and is
   * made again (2 more requests: only a replica that lost a rotation to another pays them).
   * Re-acquiring a lease with 90% of its ttl left costs nothing.
   */
  async acquireLease(key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new RotatorError('INTERNAL', `lease ttl must be a positive number of ms, got ${ttlMs}`, { plugin: this.type });
    }
    const name = this.nameOf(key);
    const now = this.options.clock.now();
    const mine = this.held.get(key);
    if (mine && mine.owner === owner && mine.expiresAt - now >= LAZY_RENEWAL_SHARE * ttlMs) {
      // Re-acquired moments after acquiring (the engine renews before promoting): returned as it
      // is, with its true expiry, instead of writing the claim again.
      return new HeldLease(key, owner, mine.expiresAt, () => this.releaseLease(key, owner));
    }
    // Our claim while we wait as the racer that outranks the others (it stays on the secret).
    let waiting: LeaseRecord | undefined;
    for (let attempt = 1; ; attempt++) {
      const over = holderOf(this.stagesSeen.get(key) ?? {}, 'AWSCURRENT');
      const record = waiting ?? {
        owner,
        expiresAt: now + ttlMs,
        claimedAt: this.options.clock.now(),
        ...(over !== undefined ? { over } : {}),
      };
      const outcome = await this.claim(key, name, record, waiting !== undefined);
      // Our claim named an AWSCURRENT that has moved since we last looked: claim again over the
      // one we just saw (AWSCURRENT moved, so somebody rotated: this costs a replica that lost).
      if (outcome === 'lapsed' && attempt < CLAIM_ATTEMPTS) {
        waiting = undefined;
        continue;
      }
      if (outcome === 'lapsed') {
        this.leaseConflicts++;
        return null;
      }
      if (outcome !== 'contended' && outcome !== 'outranks') return outcome;
      // Racing claimers: the one that outranks every claim it sees keeps its claim and looks
      // again (it takes the lease once the others withdrew); the others withdraw theirs. So one
      // racer ends up holding: liveness does not depend on random timing.
      waiting = outcome === 'outranks' ? record : undefined;
      if (attempt >= (waiting ? CLAIM_WAIT_ROUNDS : CLAIM_ATTEMPTS)) {
        if (waiting) await this.untagClaims(key, name, [claimTagOf(owner)]);
        this.leaseConflicts++;
        return null;
      }
      const pause = waiting
        ? Math.min(CLAIM_BACKOFF_MS * 2 ** (attempt - 1), CLAIM_WAIT_MAX_MS)
        : CLAIM_BACKOFF_MS * attempt + Math.floor(Math.random() * CLAIM_BACKOFF_MS * attempt);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /**
   * One claim round for `record` (`again`: our claim is still on the secret from the last round,
   * only look again). Returns the lease; null when another owner holds it, or a racing claim
   * outranks ours (we withdrew; that racer takes the lease); 'outranks' when ours outranks every
   * racing claim we see (ours stays on); 'contended' when our claim vanished meanwhile.
   */
  private async claim(
    key: string,
    name: string,
    record: LeaseRecord,
    again: boolean,
  ): Promise<Lease | null | 'contended' | 'outranks' | 'lapsed'> {
    const now = this.options.clock.now();
    const claim = { Key: claimTagOf(record.owner), Value: encodeClaim(record) };
    if (!again) {
      try {
        await this.send('TagResource', { SecretId: name, Tags: [claim] }, name);
      } catch (err) {
        if (refusalOf(err) !== 'not-found') throw err;
        await this.createSecret(key, name, { [claim.Key]: claim.Value });
        if (!this.createdByMe.has(key)) await this.send('TagResource', { SecretId: name, Tags: [claim] }, name);
      }
    }
    let described: Record<string, any> | undefined;
    try {
      described = await this.describe(key);
    } catch (err) {
      // Not rotator's secret (CONFIG): take the claim back off it before refusing.
      await this.untagClaims(key, name, [claim.Key]).catch(() => undefined);
      throw err;
    }
    const claims = claimsOf(described?.Tags);
    // Our claim vanished while we waited (removed by hand?): claim afresh next round.
    if (again && !claims.some((c) => c.tag === claim.Key)) return 'contended';
    const current = holderOf((described?.VersionIdsToStages ?? {}) as StageMap, 'AWSCURRENT');
    if (described) this.stagesSeen.set(key, (described.VersionIdsToStages ?? {}) as StageMap);
    const live = (c: { record: LeaseRecord }) =>
      c.record.expiresAt > now &&
      !ownerIsDeadLocally(c.record.owner) &&
      (c.record.over === undefined || c.record.over === current);
    if (!live({ record })) {
      // Lapsed at birth (AWSCURRENT moved since our last look): others ignore it, so must we.
      this.staleClaims.set(key, [claim.Key]);
      return 'lapsed';
    }
    const others = claims.filter((c) => c.tag !== claim.Key && live(c));
    this.staleClaims.set(
      key,
      claims.filter((c) => c.tag !== claim.Key && !others.includes(c)).map((c) => c.tag),
    );
    if (others.length > 0) {
      // A claim older than a race is a holder's: held elsewhere.
      const holder = others.some((c) => c.record.claimedAt === undefined || c.record.claimedAt < now - CLAIM_RACE_MS);
      const mine = claimRank(key, claim.Key, record);
      if (!holder && others.every((c) => claimRank(key, c.tag, c.record) > mine)) return 'outranks';
      await this.untagClaims(key, name, [claim.Key]);
      this.leaseConflicts++;
      return null;
    }
    if (described) this.fresh.set(key, described);
    this.held.set(key, record);
    return new HeldLease(key, record.owner, record.expiresAt, () => this.releaseLease(key, record.owner));
  }

  /** Takes this owner's claim back (and expired claims seen), if this instance still holds it. */
  private async releaseLease(key: string, owner: string): Promise<void> {
    const mine = this.held.get(key);
    if (!mine || mine.owner !== owner) return;
    this.held.delete(key);
    this.fresh.delete(key);
    const stale = this.staleClaims.get(key) ?? [];
    this.staleClaims.delete(key);
    // Our promotion moved AWSCURRENT off `over`: the claim has lapsed for everyone, and stays as
    // a tag until this owner claims again or a later release drops it with the other lapsed ones.
    if (mine.promoted && mine.over !== undefined && stale.length < STALE_CLAIMS_MAX) return;
    await this.untagClaims(key, this.nameOf(key), [claimTagOf(owner), ...stale]);
  }

  private async untagClaims(key: string, name: string, tags: string[]): Promise<void> {
    try {
      await this.send('UntagResource', { SecretId: name, TagKeys: [...new Set(tags)] }, name);
    } catch (err) {
      if (refusalOf(err) !== 'not-found') throw err;
      this.exists.set(key, false);
    }
  }

  /**
   * Meta as tags on the secret, one group of tags per field (base64url JSON split over tags of
   * 256 characters, AWS's limit for a value): `rotator:intent*` (4), `rotator:revoked*` (2),
   * `rotator:status*` (4; error messages are shortened to fit). Setting fields is one TagResource
   * (unused tags of a group are written empty), removing them one UntagResource: a patch never
   * needs a read, except with a condition, which is checked against the intent this instance
   * saw under the lease it holds on the key (else one DescribeSecret). The engine writes meta
   * under the lease, so no compare-and-swap is needed. A key never written gets its secret
   * (with the placeholder only: it reads as meta alone and is not listed).
   */
  async updateMeta(key: string, patch: SecretMetaPatch, condition?: { intentRotationId: string }): Promise<void> {
    this.fresh.delete(key);
    const name = this.nameOf(key);
    if (condition) {
      const seen = this.held.has(key) ? this.metaSeen.get(key) : undefined;
      const intent = seen ? seen.intent : decodeMeta((await this.describe(key))?.Tags).intent;
      if (intent?.rotationId !== condition.intentRotationId) return;
    }
    const set: { Key: string; Value: string }[] = [];
    const remove: string[] = [];
    const meta = { ...(this.metaSeen.get(key) ?? {}) };
    for (const field of META_FIELDS) {
      const value = patch[field];
      if (value === undefined) continue;
      if (value === null) {
        remove.push(...META_TAGS[field]);
        delete meta[field];
      } else {
        set.push(...encodeMetaField(field, value));
        (meta as Record<string, unknown>)[field] = value;
      }
    }
    if (set.length > 0) {
      try {
        await this.send('TagResource', { SecretId: name, Tags: set }, name);
      } catch (err) {
        if (refusalOf(err) !== 'not-found') throw err;
        await this.createSecret(key, name, Object.fromEntries(set.map((t) => [t.Key, t.Value])));
        if (!this.createdByMe.has(key)) await this.send('TagResource', { SecretId: name, Tags: set }, name);
      }
    }
    if (remove.length > 0) {
      try {
        await this.send('UntagResource', { SecretId: name, TagKeys: remove }, name);
      } catch (err) {
        if (refusalOf(err) !== 'not-found') throw err;
      }
    }
    this.metaSeen.set(key, meta);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.api.close();
  }

  // ---- helpers ----

  private nameOf(key: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9/_+=.@-]*$/.test(key) || this.prefix.length + key.length > 500) {
      throw new RotatorError(
        'CONFIG',
        `vault key ${JSON.stringify(key)} cannot name an AWS secret: use letters, digits and /_+=.@- (not first), up to ${500 - this.prefix.length} characters`,
        { plugin: this.type },
      );
    }
    return this.prefix + key;
  }

  private leaseNameOf(key: string): string {
    return `${this.prefix}.lease/${key}`;
  }

  /** DescribeSecret; undefined when the secret does not exist (or is scheduled for deletion). */
  private async describe(key: string): Promise<Record<string, any> | undefined> {
    const name = this.nameOf(key);
    let out: Record<string, any>;
    try {
      out = await this.send('DescribeSecret', { SecretId: name }, name);
    } catch (err) {
      if (refusalOf(err) !== 'not-found') throw err;
      this.exists.set(key, false);
      this.stagesSeen.set(key, {});
      return undefined;
    }
    if (!isManaged(out.Tags)) {
      throw new RotatorError(
        'CONFIG',
        `AWS secret ${name} exists but is not managed by rotator (it has no tag ${MANAGED_TAG}=true); rotator will not overwrite it: choose another vault prefix, or tag it if it is rotator's`,
        { plugin: this.type },
      );
    }
    this.exists.set(key, true);
    if (out.DeletedDate !== undefined && out.DeletedDate !== null) return undefined;
    return out;
  }

  private async describeStages(key: string): Promise<StageMap> {
    const described = await this.describe(key);
    const map = (described?.VersionIdsToStages ?? {}) as StageMap;
    this.stagesSeen.set(key, map);
    return map;
  }

  private async valueOf(
    key: string,
    name: string,
    versionId: string,
  ): Promise<{ value: VaultValue; createdAt: string } | undefined> {
    const id = decodeVersionId(versionId);
    const cached = this.values.get(key)?.get(id);
    if (cached) return cached;
    let out: Record<string, any>;
    try {
      out = await this.send('GetSecretValue', { SecretId: name, VersionId: versionId }, name);
    } catch (err) {
      // Deleted between DescribeSecret and now: the stage is gone.
      if (refusalOf(err) === 'not-found') return undefined;
      throw err;
    }
    return this.store(key, name, versionId, out.SecretString, out.CreatedDate);
  }

  /** Checks and caches a version's value (GetSecretValue or BatchGetSecretValue answer). */
  private store(
    key: string,
    name: string,
    versionId: string,
    secretString: unknown,
    createdDate: unknown,
  ): { value: VaultValue; createdAt: string } | undefined {
    if (secretString === NO_CURRENT_VALUE) return undefined;
    const value = parseVaultValue(secretString);
    if (!value) {
      throw new RotatorError(
        'VAULT_CORRUPT',
        `AWS secret ${name} version ${versionId} does not hold a rotator value (JSON with provider, credentials, issuedAt, expiresAt, providerRef, rotationId); was it written by hand? Move AWSCURRENT back to a rotator version`,
        { plugin: this.type },
      );
    }
    processSecrets.addCredentials(value);
    const created = createdDate instanceof Date ? createdDate : new Date(this.options.clock.now());
    const stored = { value, createdAt: created.toISOString() };
    this.remember(key, decodeVersionId(versionId), stored);
    return stored;
  }

  private remember(key: string, versionId: string, stored: { value: VaultValue; createdAt: string }): void {
    let perKey = this.values.get(key);
    if (!perKey) this.values.set(key, (perKey = new Map()));
    perKey.delete(versionId);
    perKey.set(versionId, stored);
    while (perKey.size > CACHED_VERSIONS_PER_KEY) perKey.delete(perKey.keys().next().value!);
  }

  /** Creates the credential secret with the placeholder as its first (AWSCURRENT) version. */
  private async createSecret(key: string, name: string, extraTags: Record<string, string>): Promise<void> {
    const created = await this.create(
      name,
      { ...extraTags },
      { ClientRequestToken: NO_CURRENT_VERSION_ID, SecretString: NO_CURRENT_VALUE },
    );
    this.exists.set(key, true);
    if (created) this.createdByMe.add(key);
    else this.createdByMe.delete(key);
    if (created) {
      this.stagesSeen.set(key, { [NO_CURRENT_VERSION_ID]: ['AWSCURRENT'] });
      return;
    }
    // Created by someone else meanwhile, perhaps by an older rotator without a value.
    await this.describeStages(key);
    await this.ensureCurrentHolder(key, name);
  }

  /**
   * A secret that exists with AWSCURRENT on no version (created by an older rotator, which
   * created secrets without a value) gets the placeholder as current, so that the next
   * PutSecretValue is not its first version (which AWS would make AWSCURRENT). Costs nothing when
   * this instance saw an AWSCURRENT. The placeholder is written with AWSPENDING only (the next
   * write moves that label anyway), so this never takes AWSCURRENT off a version: AWS adds
   * AWSCURRENT itself when it is the first version, and otherwise it is moved there only if no
   * version holds it (no RemoveFromVersionId).
   */
  private async ensureCurrentHolder(key: string, name: string): Promise<void> {
    const map = this.stagesSeen.get(key);
    if (!map || holderOf(map, 'AWSCURRENT') !== undefined) return;
    const out = await this.send(
      'PutSecretValue',
      {
        SecretId: name,
        ClientRequestToken: NO_CURRENT_VERSION_ID,
        SecretString: NO_CURRENT_VALUE,
        VersionStages: ['AWSPENDING'],
      },
      name,
    );
    const labels: string[] = Array.isArray(out.VersionStages) ? out.VersionStages : [];
    if (!labels.includes('AWSCURRENT')) {
      try {
        await this.send(
          'UpdateSecretVersionStage',
          { SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: NO_CURRENT_VERSION_ID },
          name,
        );
      } catch (err) {
        // Some version holds AWSCURRENT after all: it stays there.
        if (refusalOf(err) !== 'invalid-parameter') throw err;
        await this.describeStages(key);
        return;
      }
    }
    const after: StageMap = {};
    for (const [id, stages] of Object.entries(map)) after[id] = stages.filter((l) => l !== 'AWSPENDING');
    after[NO_CURRENT_VERSION_ID] = ['AWSCURRENT', 'AWSPENDING'];
    this.stagesSeen.set(key, after);
  }

  /** CreateSecret; true when created, false when it already existed. */
  private async create(
    name: string,
    extraTags: Record<string, string>,
    firstVersion: Record<string, string> = {},
  ): Promise<boolean> {
    const tags = { ...this.options.tags, [MANAGED_TAG]: 'true', ...extraTags };
    try {
      await this.send(
        'CreateSecret',
        {
          Name: name,
          Description: 'Managed by rotator: versions are written by the rotation engine; do not edit by hand.',
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          ...(this.options.kmsKeyId ? { KmsKeyId: this.options.kmsKeyId } : {}),
          ...firstVersion,
        },
        name,
      );
      return true;
    } catch (err) {
      if (refusalOf(err) !== 'exists') throw err;
      return false;
    }
  }

  /** One request, counted, with SDK errors mapped once (refusals typed, the rest RotatorErrors). */
  private async send<K extends SdkOperation>(operation: K, input: SdkInput<K>, name: string): Promise<SdkOutput<K>> {
    if (this.closed)
      throw new RotatorError('VAULT_UNAVAILABLE', 'the AWS Secrets Manager vault is closed', { plugin: this.type });
    this.counts[operation] = (this.counts[operation] ?? 0) + 1;
    try {
      const call = this.options.api[operation] as (input: SdkInput<K>) => Promise<SdkOutput<K>>;
      return await call.call(this.options.api, input);
    } catch (err) {
      throw mapAwsError(err, operation, name, this.options.region);
    }
  }
}

/**
 * AWS wants ClientRequestToken (the VersionId) of 32 to 64 characters; the engine's rotation ids
 * are UUIDs (36). Shorter ids (tests, library callers) are padded with '_' to 32 and unpadded on
 * the way back, so ids ending in '_' are refused.
 */
export function encodeVersionId(rotationId: string): string {
  if (rotationId.length === 0 || rotationId.length > 64 || rotationId.endsWith('_')) {
    throw new RotatorError(
      'INTERNAL',
      `rotation id ${JSON.stringify(rotationId)} cannot be an AWS version id (1 to 64 characters, not ending in '_')`,
      {
        plugin: 'aws-secrets-manager',
      },
    );
  }
  return rotationId.length >= 32 ? rotationId : rotationId.padEnd(32, '_');
}

export function decodeVersionId(versionId: string): string {
  return versionId.length === 32 ? versionId.replace(/_+$/, '') : versionId;
}

function holderOf(map: StageMap, label: string): string | undefined {
  return Object.entries(map).find(([, labels]) => labels.includes(label))?.[0];
}

function describeHolder(map: StageMap, label: string): string {
  const holder = holderOf(map, label);
  return holder === undefined ? 'none' : decodeVersionId(holder);
}

/** AWS labels → our stages: a version labelled both AWSCURRENT and AWSPENDING is current only. */
function stagesOf(labels: string[]): Stage[] {
  const stages: Stage[] = [];
  if (labels.includes(AWS_STAGE.current)) stages.push('current');
  else if (labels.includes(AWS_STAGE.pending)) stages.push('pending');
  if (labels.includes(AWS_STAGE.previous) && !labels.includes(AWS_STAGE.current)) stages.push('previous');
  return stages;
}

function stagedVersions(map: StageMap): { versionId: string; stages: Stage[] }[] {
  return Object.entries(map)
    .map(([versionId, labels]) => ({ versionId, stages: stagesOf(labels) }))
    .filter((v) => v.stages.length > 0);
}

function isManaged(tags: unknown): boolean {
  return Array.isArray(tags) && tags.some((t: { Key?: string; Value?: string }) => t?.Key === MANAGED_TAG && t.Value === 'true');
}

function parseVaultValue(text: unknown): VaultValue | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const value = JSON.parse(text) as VaultValue;
    const ok =
      value &&
      typeof value === 'object' &&
      typeof value.provider === 'string' &&
      typeof value.rotationId === 'string' &&
      value.credentials &&
      typeof value.credentials === 'object' &&
      typeof value.expiresAt === 'string';
    return ok ? value : undefined;
  } catch {
    return undefined;
  }
}

function parseLeaseRecord(text: unknown): LeaseRecord | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const record = JSON.parse(text) as LeaseRecord;
    return typeof record?.owner === 'string' && typeof record.expiresAt === 'number' ? record : undefined;
  } catch {
    return undefined;
  }
}

export function encodeIntent(intent: RotationIntent): { Key: string; Value: string }[] {
  const encoded = Buffer.from(
    JSON.stringify({ rotationId: intent.rotationId, startedAt: intent.startedAt, liveBefore: intent.liveBefore }),
    'utf8',
  ).toString('base64url');
  if (encoded.length > TAG_VALUE_MAX * INTENT_TAGS.length) {
    throw new RotatorError(
      'INTERNAL',
      `the rotation intent is too large for ${INTENT_TAGS.length} AWS tags (${encoded.length} characters)`,
      {
        plugin: 'aws-secrets-manager',
      },
    );
  }
  return INTENT_TAGS.map((Key, i) => ({ Key, Value: encoded.slice(i * TAG_VALUE_MAX, (i + 1) * TAG_VALUE_MAX) }));
}

export function decodeIntent(tags: unknown): RotationIntent | undefined {
  if (!Array.isArray(tags)) return undefined;
  const byKey = new Map((tags as { Key?: string; Value?: string }[]).map((t) => [t.Key, t.Value ?? '']));
  const encoded = INTENT_TAGS.map((k) => byKey.get(k) ?? '').join('');
  if (!encoded) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as RotationIntent;
    if (typeof parsed.rotationId !== 'string' || typeof parsed.startedAt !== 'string' || !Array.isArray(parsed.liveBefore))
      return undefined;
    return { rotationId: parsed.rotationId, startedAt: parsed.startedAt, liveBefore: parsed.liveBefore.map(String) };
  } catch {
    return undefined;
  }
}

export { REQUIRED_IAM_ACTIONS, mapAwsError, refusalOf, type AwsRefusal } from './errors';
export { credentialsFromEnv, sdkApi, type AwsCredentials, type AwsVaultDeps, type SecretsManagerSdk } from './sdk';

/** Opens the configured vault (createVault's case). Nothing is called until the first use. */
export function openAwsSecretsManagerVault(
  config: Omit<AwsSecretsManagerVaultConfig, 'type'>,
  deps: AwsVaultDeps,
): AwsSecretsManagerVault {
  return new AwsSecretsManagerVault({
    api: sdkApi({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(deps.credentials ? { credentials: deps.credentials } : {}),
    }),
    clock: deps.clock,
    log: deps.log.child({ vault: 'aws-secrets-manager' }),
    prefix: config.prefix,
    ...(config.kmsKeyId ? { kmsKeyId: config.kmsKeyId } : {}),
    ...(config.tags ? { tags: config.tags } : {}),
    region: config.region,
  });
}

/**
 * The order among racing claims on one key, the same for every claimer: the earlier claim goes
 * first (so a newcomer yields at once to a holder whose claim is still young), and equal times
 * go by a hash of key and tag (so that no replica wins every tie). Only liveness depends on it:
 * holding always requires seeing no other claim, so clock skew can delay a lease, never double it.
 */
function claimRank(key: string, tag: string, record: LeaseRecord): string {
  const at = String(Math.max(0, Math.floor(record.claimedAt ?? 0))).padStart(16, '0');
  return `${at}:${createHash('sha256').update(`${key}\0${tag}`).digest('hex')}`;
}

function claimTagOf(owner: string): string {
  return CLAIM_TAG_PREFIX + createHash('sha256').update(owner).digest('hex').slice(0, 16);
}

/** base64url JSON (tag values allow letters, digits and _.:/=+-@ only), at most 256 characters. */
function encodeClaim(record: LeaseRecord): string {
  const value = Buffer.from(
    JSON.stringify({ owner: record.owner, expiresAt: record.expiresAt, claimedAt: record.claimedAt, over: record.over }),
    'utf8',
  ).toString('base64url');
  // Without `over` (a very long owner): the claim then lasts until released.
  if (value.length > TAG_VALUE_MAX && record.over !== undefined) {
    delete record.over;
    return encodeClaim(record);
  }
  if (value.length > TAG_VALUE_MAX) {
    throw new RotatorError('INTERNAL', `lease owner ${JSON.stringify(record.owner)} is too long for an AWS tag value`, {
      plugin: 'aws-secrets-manager',
    });
  }
  return value;
}

function claimsOf(tags: unknown): { tag: string; record: LeaseRecord }[] {
  if (!Array.isArray(tags)) return [];
  const claims: { tag: string; record: LeaseRecord }[] = [];
  for (const t of tags as { Key?: string; Value?: string }[]) {
    if (typeof t?.Key !== 'string' || !t.Key.startsWith(CLAIM_TAG_PREFIX)) continue;
    let record: LeaseRecord | undefined;
    try {
      record = parseLeaseRecord(Buffer.from(t.Value ?? '', 'base64url').toString('utf8'));
    } catch {
      record = undefined;
    }
    // An unreadable claim is treated as expired (dropped with the next release).
    claims.push({ tag: t.Key, record: record ?? { owner: '', expiresAt: 0 } });
  }
  return claims;
}

/** Splits base64url JSON of `value` over the field's tags (unused tags empty). */
function encodeMetaField(field: keyof SecretMeta, value: unknown): { Key: string; Value: string }[] {
  const tags = META_TAGS[field];
  if (field === 'intent') return encodeIntent(value as RotationIntent);
  let json = JSON.stringify(value);
  const room = TAG_VALUE_MAX * tags.length;
  // Only a status can grow (error messages): shorten its texts until it fits.
  for (let cut = 200; b64(json).length > room && field === 'status' && cut >= 0; cut -= 50) {
    const status = structuredClone(value) as AttemptStatus;
    if (status.lastError) status.lastError.message = clip(status.lastError.message, cut);
    if (status.distribution?.error) status.distribution.error = clip(status.distribution.error, cut);
    json = JSON.stringify(status);
  }
  const encoded = b64(json);
  if (encoded.length > room) {
    throw new RotatorError(
      'INTERNAL',
      `the ${field} meta is too large for ${tags.length} AWS tags (${encoded.length} characters)`,
      {
        plugin: 'aws-secrets-manager',
      },
    );
  }
  return tags.map((Key, i) => ({ Key, Value: encoded.slice(i * TAG_VALUE_MAX, (i + 1) * TAG_VALUE_MAX) }));
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** The meta stored in a secret's tags; fields that cannot be decoded are absent. */
export function decodeMeta(tags: unknown): SecretMeta {
  const meta: SecretMeta = {};
  const intent = decodeIntent(tags);
  if (intent) meta.intent = intent;
  if (!Array.isArray(tags)) return meta;
  const byKey = new Map((tags as { Key?: string; Value?: string }[]).map((t) => [t.Key, t.Value ?? '']));
  const group = (field: keyof SecretMeta): unknown => {
    const encoded = META_TAGS[field].map((k) => byKey.get(k) ?? '').join('');
    if (!encoded) return undefined;
    try {
      return JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
  };
  const revoked = group('revokedPrevious');
  if (typeof revoked === 'string') meta.revokedPrevious = revoked;
  const status = group('status') as AttemptStatus | undefined;
  if (status && typeof status === 'object' && typeof status.lastAttemptAt === 'string' && typeof status.lastResult === 'string')
    meta.status = status;
  return meta;
}
