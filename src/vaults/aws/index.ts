import { createHash } from 'node:crypto';
import { HeldLease } from '../lease';
import { RotatorError } from '../../errors';
import { ownerIsDeadLocally } from '../../owner';
import { secrets as processSecrets } from '../../redact';
import { conflict, mapAwsError, refusalOf, sameTokenConflict } from './errors';
import { sdkApi, type AwsVaultDeps, type SdkInput, type SdkOperation, type SdkOutput, type SecretsManagerSdk } from './sdk';
import type {
  Clock,
  Lease,
  VaultLimits,
  Logger,
  RotationIntent,
  SecretState,
  Stage,
  Vault,
  VaultValue,
  VaultVersion,
} from '../../types';
import { canonicalJson } from '../file-document';
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
 *   Then AWSPENDING is taken off the promoted version (a version carrying both is read as
 *   current only, so a crash in between is harmless).
 * - Rotation intents are tags on the secret (`rotator:intent…`), read for free with the
 *   DescribeSecret that every read() makes. They are written under the lease, so they need no
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

/**
 * AWS recommends at most one PutSecretValue per secret every 10 minutes: each creates a version,
 * and versions younger than 24 hours are kept against the ~100-version quota. `validate` warns
 * when a secret renews more often than this.
 */
export const AWS_VAULT_LIMITS: VaultLimits = Object.freeze({ minRotationIntervalMs: 10 * 60_000 });
export const LEASE_STAGE = 'ROTATOR_LEASE';
const MANAGED_TAG = 'rotator:managed';
const PROVIDER_TAG = 'rotator:provider';
const KIND_TAG = 'rotator:kind';
/** A base64url intent split over up to 4 tags of 256 characters (AWS's tag value limit). */
const INTENT_TAGS = ['rotator:intent', 'rotator:intent.2', 'rotator:intent.3', 'rotator:intent.4'];
const TAG_VALUE_MAX = 256;
const AWS_STAGE: Record<Stage, string> = { current: 'AWSCURRENT', pending: 'AWSPENDING', previous: 'AWSPREVIOUS' };
/** The chain of lease versions starts from this (virtual) version. */
const LEASE_GENESIS = 'genesis';
/** A held lease with at least this share of a new ttl left is not rewritten on re-acquire. */
const LAZY_RENEWAL_SHARE = 0.9;
/** Version values kept per key (a rotation touches at most three). */
const CACHED_VERSIONS_PER_KEY = 6;
/** Attempts at taking AWSPENDING off a version that promote already made current. */
const PENDING_REMOVAL_ATTEMPTS = 3;

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
  released?: boolean;
}

interface LeaseHead {
  versionId: string;
  record?: LeaseRecord;
}

type StageMap = Record<string, string[]>;

export class AwsSecretsManagerVault implements Vault {
  readonly type = 'aws-secrets-manager';
  readonly limits = AWS_VAULT_LIMITS;
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
  private readonly leaseHeads = new Map<string, LeaseHead>();

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
    const name = this.nameOf(key);
    const described = await this.describe(key);
    if (!described) return {};
    const map = (described.VersionIdsToStages ?? {}) as StageMap;
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
    const intent = decodeIntent(described.Tags);
    const versionIds = new Set(Object.keys(map).map(decodeVersionId));
    if (intent && !versionIds.has(intent.rotationId)) state.intent = intent;
    return state;
  }

  async putPending(key: string, value: VaultValue, rotationId: string): Promise<VaultVersion> {
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
    const name = this.nameOf(key);
    const token = encodeVersionId(rotationId);
    let map = this.stagesSeen.get(key);
    // What this instance saw last (under its lease) is trusted; anything else is looked up.
    if (!map || holderOf(map, 'AWSPENDING') !== token) map = await this.describeStages(key);
    if (holderOf(map, 'AWSCURRENT') === token) return this.finishPromotion(key, name, token, map);
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
      if (holderOf(now, 'AWSCURRENT') === token) return this.finishPromotion(key, name, token, now);
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
    await this.finishPromotion(key, name, token, after);
  }

  /**
   * Takes AWSPENDING off the (now current) version, if it is still there. AWSCURRENT is already on
   * the version, so the promotion has happened: a failure here is retried a couple of times, then
   * only logged. A version carrying both labels is read as current only, and the next putPending
   * moves AWSPENDING anyway.
   */
  private async finishPromotion(key: string, name: string, token: string, map: StageMap): Promise<void> {
    let labels = map[token] ?? [];
    for (let attempt = 1; labels.includes('AWSPENDING'); attempt++) {
      try {
        await this.send(
          'UpdateSecretVersionStage',
          { SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: token },
          name,
        );
        labels = labels.filter((l) => l !== 'AWSPENDING');
      } catch (err) {
        // Not there any more: another run took it off, or moved it to its own version.
        if (refusalOf(err) === 'invalid-parameter') labels = labels.filter((l) => l !== 'AWSPENDING');
        else if (attempt >= PENDING_REMOVAL_ATTEMPTS || (err instanceof RotatorError && !err.retryable)) {
          this.options.log.warn(
            { key, versionId: decodeVersionId(token), error: err instanceof Error ? err.message : String(err) },
            'promoted, but AWSPENDING could not be taken off the new current version; left there (it is read as current, and the next rotation moves it)',
          );
          break;
        }
      }
    }
    this.stagesSeen.set(key, { ...map, [token]: labels });
  }

  async discardPending(key: string, rotationId: string): Promise<void> {
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
    const base = this.prefix + prefix;
    const leasePrefix = `${this.prefix}.lease/`;
    const keys: string[] = [];
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
        const labels = Object.entries((entry.SecretVersionsToStages ?? {}) as StageMap)
          .filter(([versionId]) => versionId !== NO_CURRENT_VERSION_ID)
          .flatMap(([, stages]) => stages);
        if (!labels.includes('AWSCURRENT') && !labels.includes('AWSPENDING')) continue;
        keys.push(name.slice(this.prefix.length));
      }
      nextToken = typeof out.NextToken === 'string' && out.NextToken ? out.NextToken : undefined;
    } while (nextToken);
    return [...new Set(keys)].sort();
  }

  /**
   * Leases, on what Secrets Manager offers. Tags are not atomic and UpdateSecretVersionStage can
   * only compare the version a label sits on, so the lease is a chain of versions of a companion
   * secret `<prefix>.lease/<key>` (keys never start with '.', so it cannot collide with a key),
   * each holding `{owner, expiresAt}` and labelled ROTATOR_LEASE. The compare-and-swap is AWS's
   * ClientRequestToken rule: the next lease version's token is derived from the version read as
   * the head (sha256), so two processes that read the same head try to create the same version
   * with different values, and AWS lets exactly one succeed (the other gets
   * ResourceExistsException). Only a writer that saw the true head can extend the chain, so the
   * label never moves backwards. Acquiring costs one PutSecretValue when this instance already
   * knows the head (it wrote it), otherwise one GetSecretValue more; renewing and releasing
   * cost one PutSecretValue each, except that re-acquiring a lease that still has 90% of the
   * ttl left returns it unchanged (the engine re-acquires right before promoting). Expired leases, and leases of owners dead on this host, are
   * taken over. The lease secret is separate so that the credential secret's versions stay the
   * credentials' own (ListSecretVersionIds, AWS's 100-version quota).
   *
   * Limits: every lease write is a version of the lease secret; AWS deletes deprecated
   * versions only after 24 hours, so a key can take at most ~50 rotations a day (2 lease writes
   * each) before PutSecretValue fails with LimitExceededException. Expiry compares the
   * writers' clocks, so replicas need clocks within a small fraction of the lease ttl.
   */
  async acquireLease(key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new RotatorError('INTERNAL', `lease ttl must be a positive number of ms, got ${ttlMs}`, { plugin: this.type });
    }
    this.nameOf(key);
    const now = this.options.clock.now();
    const known = this.leaseHeads.get(key);
    const mine = known?.record && !known.record.released && known.record.owner === owner ? known.record : undefined;
    if (mine && mine.expiresAt - now >= LAZY_RENEWAL_SHARE * ttlMs) {
      // Re-acquired moments after acquiring (the engine renews before promoting): the lease this
      // instance wrote still has almost all of its ttl, so it is returned as it is, with its
      // true expiry, instead of writing another version.
      return new HeldLease(key, owner, mine.expiresAt, () => this.releaseLease(key, owner));
    }
    const heldByOther = (head: LeaseHead | undefined) => {
      const held = head?.record;
      return Boolean(held && !held.released && held.owner !== owner && held.expiresAt > now && !ownerIsDeadLocally(held.owner));
    };
    // A cached head is only a guess: writing after it is the check (a stale guess conflicts). A
    // cached head held by someone else may have been released since, so that one is re-read.
    let head = known && !heldByOther(known) ? known : await this.readLeaseHead(key);
    for (let attempt = 0; attempt < 4; attempt++) {
      if (heldByOther(head)) {
        this.leaseHeads.set(key, head);
        this.leaseConflicts++;
        return null;
      }
      const record: LeaseRecord = { owner, expiresAt: now + ttlMs };
      const token = nextLeaseToken(head.versionId);
      if (await this.writeLease(key, token, record)) {
        this.leaseHeads.set(key, { versionId: token, record });
        return new HeldLease(key, owner, record.expiresAt, () => this.releaseLease(key, owner));
      }
      head = await this.readLeaseHead(key);
    }
    this.leaseConflicts++;
    return null;
  }

  /** Ends the lease only while `owner` is still the head of the chain. */
  private async releaseLease(key: string, owner: string): Promise<void> {
    const head = this.leaseHeads.get(key);
    if (!head || head.record?.owner !== owner || head.record.released) return;
    const record: LeaseRecord = { owner, expiresAt: this.options.clock.now(), released: true };
    const token = nextLeaseToken(head.versionId);
    if (await this.writeLease(key, token, record)) this.leaseHeads.set(key, { versionId: token, record });
    else this.leaseHeads.delete(key);
  }

  /** true when this write became the head; false when another writer extended the chain first. */
  private async writeLease(key: string, token: string, record: LeaseRecord): Promise<boolean> {
    const name = this.leaseNameOf(key);
    const input = {
      SecretId: name,
      ClientRequestToken: token,
      SecretString: JSON.stringify(record),
      VersionStages: [LEASE_STAGE],
    };
    try {
      await this.send('PutSecretValue', input, name);
      return true;
    } catch (err) {
      if (refusalOf(err) === 'exists') return false;
      if (refusalOf(err) !== 'not-found') throw err;
    }
    await this.createLeaseSecret(name);
    try {
      await this.send('PutSecretValue', input, name);
      return true;
    } catch (err) {
      if (refusalOf(err) === 'exists') return false;
      throw err;
    }
  }

  private async readLeaseHead(key: string): Promise<LeaseHead> {
    const name = this.leaseNameOf(key);
    try {
      const out = await this.send('GetSecretValue', { SecretId: name, VersionStage: LEASE_STAGE }, name);
      const record = parseLeaseRecord(out.SecretString);
      return { versionId: String(out.VersionId), ...(record ? { record } : {}) };
    } catch (err) {
      if (refusalOf(err) === 'not-found') return { versionId: LEASE_GENESIS };
      throw err;
    }
  }

  async recordIntent(key: string, intent: RotationIntent): Promise<void> {
    const name = this.nameOf(key);
    const tags = encodeIntent(intent);
    try {
      await this.send('TagResource', { SecretId: name, Tags: tags }, name);
      return;
    } catch (err) {
      if (refusalOf(err) !== 'not-found') throw err;
    }
    await this.createSecret(key, name, Object.fromEntries(tags.map((t) => [t.Key, t.Value])));
    // Created by someone else meanwhile: tag it.
    await this.send('TagResource', { SecretId: name, Tags: tags }, name);
  }

  async clearIntent(key: string, rotationId: string): Promise<void> {
    const name = this.nameOf(key);
    const described = await this.describe(key);
    if (!described || decodeIntent(described.Tags)?.rotationId !== rotationId) return;
    try {
      await this.send('UntagResource', { SecretId: name, TagKeys: INTENT_TAGS }, name);
    } catch (err) {
      if (refusalOf(err) !== 'not-found') throw err;
    }
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
    if (out.SecretString === NO_CURRENT_VALUE) return undefined;
    const value = parseVaultValue(out.SecretString);
    if (!value) {
      throw new RotatorError(
        'VAULT_CORRUPT',
        `AWS secret ${name} version ${versionId} does not hold a rotator value (JSON with provider, credentials, issuedAt, expiresAt, providerRef, rotationId); was it written by hand? Move AWSCURRENT back to a rotator version`,
        { plugin: this.type },
      );
    }
    processSecrets.addCredentials(value);
    const created = out.CreatedDate instanceof Date ? out.CreatedDate : new Date(this.options.clock.now());
    const stored = { value, createdAt: created.toISOString() };
    this.remember(key, id, stored);
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

  /**
   * The lease secret is created without a value (its versions are lease records, read by the
   * ROTATOR_LEASE label; AWS puts AWSCURRENT on the first one, which nothing reads).
   */
  private async createLeaseSecret(name: string): Promise<void> {
    await this.create(name, { [KIND_TAG]: 'lease' });
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

function nextLeaseToken(previous: string): string {
  return `lease-${createHash('sha256').update(previous).digest('hex').slice(0, 40)}`;
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
