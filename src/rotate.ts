/**
 * The rotation state machine. Every step is idempotent and resumable: a process killed at any
 * point leaves the vault in a state from which the next run finishes the job without losing the
 * current credential or leaving an untracked live secret behind.
 *
 *   lease → read → (recover orphans of an interrupted rotation) → (revoke previous after grace)
 *         → (resume pending | make room → record intent → issue → write pending) → verify
 *         → promote → distribute
 *
 * Invariants (DESIGN.md): the vault's current credential is never lost or replaced by one that
 * failed verification; a credential issued but not stored is revoked (or, where the provider
 * cannot revoke, left to expire and logged); promotion is a compare-and-swap; no secret value is
 * logged or put in an error message.
 */
import { randomUUID } from 'node:crypto';
import type {
  Clock,
  Logger,
  Provider,
  ProviderContext,
  ProviderSecretInfo,
  RotationIntent,
  SecretState,
  Vault,
  VaultValue,
  VaultVersion,
} from './types';
import { RotatorError, describeError, isRotatorError } from './errors';
import { withRetry, type RetryPolicy } from './retry';
import { decideRenewal, type CurrentCredential, type RenewalPolicy, type RenewalReason } from './renewal';
import { chooseSlotToFree } from './slots';
import { findOrphans, intentReachedVault, previousRevocation } from './cleanup';
import { secrets } from './redact';

/** One configured secret, ready to rotate. */
export interface RotationTarget {
  secretId: string;
  provider: Provider;
  policy: RenewalPolicy;
  /**
   * providerRefs this process has already revoked as previous secrets, so a daemon does not
   * delete the same one again at every run (a repeat would be harmless: revoke is idempotent).
   */
  revokedPrevious?: Set<string>;
}

export interface RetryPolicies {
  /** Provider calls that create or delete: issue, revoke, list. */
  provider: RetryPolicy;
  /** Verification of a fresh credential: allows for propagation delay. */
  verify: RetryPolicy;
  /** Vault writes after a credential exists: retried hard, since giving up costs a revocation. */
  vaultWrite: RetryPolicy;
  /** Vault reads and leases. */
  vaultRead: RetryPolicy;
}

/**
 * Clean-up (revoking what must not stay live) runs on its own time budget, not the shutdown
 * signal: a SIGTERM during a rotation must not leave an issued credential unrevoked.
 */
export const CLEANUP_BUDGET_MS = 60_000;

/** After a failed revocation of the previous credential, try again this much later. */
export const PREVIOUS_REVOKE_RETRY_MS = 5 * 60_000;

export const DEFAULT_RETRY_POLICIES: RetryPolicies = {
  provider: { attempts: 5, baseDelayMs: 500, maxDelayMs: 15_000 },
  verify: { attempts: 6, baseDelayMs: 1_000, maxDelayMs: 10_000 },
  vaultWrite: { attempts: 8, baseDelayMs: 250, maxDelayMs: 10_000 },
  vaultRead: { attempts: 4, baseDelayMs: 250, maxDelayMs: 5_000 },
};

export interface RotationDeps {
  vault: Vault;
  clock: Clock;
  log: Logger;
  /** Lease owner: unique per process (hostname:pid:random). */
  owner: string;
  /** How long a lease is held at most; longer than any rotation can take. Default 10 min. */
  leaseTtlMs?: number;
  retry?: Partial<RetryPolicies>;
  random?: () => number;
  signal?: AbortSignal;
  /**
   * Called after a promotion (distribution: outputs, reload hooks). A failure is reported in
   * the result and the log; it never rolls the vault back.
   */
  onPromoted?: (value: VaultValue) => Promise<void>;
  /**
   * Called with the current value when a scheduled check finds nothing to do, so distribution
   * can catch up with a rotation another replica made (it decides whether the value is new).
   */
  onCurrentSeen?: (value: VaultValue) => Promise<void>;
  /** Rotation ids: UUIDs by default (AWS requires 32–64 characters for ClientRequestToken). */
  newRotationId?: () => string;
}

export interface RotateOptions {
  /** Rotate only when the renewal policy says it is due (another replica may have done it). */
  ifDue?: boolean;
  /** Read and report what would happen; change nothing anywhere. */
  dryRun?: boolean;
}

export type RotationOutcome =
  | 'rotated' // a new credential is current
  | 'resumed' // a pending credential from an interrupted run was verified and promoted
  | 'not-due' // --if-due and nothing to do
  | 'leased-elsewhere' // another process holds the lease
  | 'superseded' // another process promoted first; what we issued was cleaned up
  | 'dry-run';

export interface RotationResult {
  secretId: string;
  outcome: RotationOutcome;
  /** Why it rotated (or, for dry-run, would). */
  reason?: RenewalReason | 'forced';
  rotationId?: string;
  /** Non-secret facts about the current credential after the run. */
  current?: { versionId: string; issuedAt: string; expiresAt: string };
  /** Dry-run: a sentence describing what would happen. */
  plan?: string;
  /** Set when distribution failed after a successful promotion. */
  distributionError?: string;
  /** When the previous credential is due to be revoked (ISO 8601), if that is still to come. */
  previousRevokeAt?: string;
  /** The previous credential revoked by this run, after its grace period. */
  revokedPrevious?: string;
  /** Secrets an interrupted rotation left at the provider, deleted by this run. */
  orphansRevoked?: string[];
}

/** Facts renewal needs from a stored version. */
export function currentCredentialOf(version: VaultVersion | undefined): CurrentCredential | undefined {
  return version ? credentialOf(version.value) : undefined;
}

/** Facts renewal needs from a stored value (consumers: exec --watch, the reader). */
export function credentialOf(value: VaultValue): CurrentCredential {
  return { issuedAt: Date.parse(value.issuedAt), expiresAt: Date.parse(value.expiresAt), rotationId: value.rotationId };
}

function summary(version: VaultVersion | undefined): RotationResult['current'] {
  if (!version) return undefined;
  return { versionId: version.versionId, issuedAt: version.value.issuedAt, expiresAt: version.value.expiresAt };
}

/**
 * Rotates one secret. Resolves with the outcome; throws a RotatorError when the rotation
 * failed (the current credential is then unchanged).
 */
export async function rotateSecret(
  target: RotationTarget,
  deps: RotationDeps,
  options: RotateOptions = {},
): Promise<RotationResult> {
  return new Rotation(target, deps).run(options);
}

class Rotation {
  private readonly key: string;
  private readonly log: Logger;
  private readonly retry: RetryPolicies;
  /** The vault's current value as last read, for providers that authenticate with it. */
  private currentValue?: VaultValue;

  constructor(
    private readonly target: RotationTarget,
    private readonly deps: RotationDeps,
  ) {
    this.key = target.secretId;
    this.log = deps.log.child({ secretId: target.secretId, provider: target.provider.type });
    this.retry = { ...DEFAULT_RETRY_POLICIES, ...deps.retry };
  }

  async run(options: RotateOptions): Promise<RotationResult> {
    if (options.dryRun) return this.plan(options);
    if (options.ifDue) {
      // Look before taking the lease: most scheduled checks find nothing to do, and a lease is a
      // write (on AWS, a secret version counted against its quota). Whatever this read shows
      // is read again under the lease before anything changes.
      const state = await this.read();
      const previous = this.previousRevocationOf(state);
      if (!this.decide(state).rotate && !hasUnfinishedIntent(state) && previous.action !== 'revoke') {
        return this.notDue(state, previous.action === 'wait' ? { previousRevokeAt: new Date(previous.at).toISOString() } : {});
      }
    }
    const lease = await this.acquireLease();
    if (lease === null) {
      this.log.info({}, 'another process holds the lease; skipping');
      return { secretId: this.key, outcome: 'leased-elsewhere' };
    }
    try {
      // Re-read under the lease: another replica may have rotated while we waited.
      let state = await this.read();
      const cleanup: Partial<RotationResult> = {};
      if (state.intent) {
        cleanup.orphansRevoked = await this.recover(state, state.intent);
        state = { ...state, intent: undefined };
      }
      Object.assign(cleanup, await this.revokePreviousIfDue(state));
      const decision = this.decide(state);
      if (options.ifDue && !decision.rotate) return this.notDue(state, definedOnly(cleanup));
      const reason = decision.rotate ? decision.reason : 'forced';
      if (state.pending) {
        const resumed = await this.resume(state);
        if (resumed) return { ...definedOnly(cleanup), ...resumed };
        state = await this.read();
      }
      return { ...definedOnly(cleanup), ...(await this.issueAndPromote(state, reason)) };
    } finally {
      await lease?.release().catch((err) => this.log.warn({ error: describeError(err) }, 'lease release failed'));
    }
  }

  /**
   * Nothing to rotate. The current value may still be new to this process (another replica
   * rotated it): `onCurrentSeen` lets distribution catch up, so every replica's hosts get it.
   */
  private async notDue(state: SecretState, extra: Partial<RotationResult>): Promise<RotationResult> {
    const result: RotationResult = { secretId: this.key, outcome: 'not-due', current: summary(state.current), ...extra };
    if (state.current && this.deps.onCurrentSeen) {
      try {
        await this.deps.onCurrentSeen(state.current.value);
      } catch (err) {
        result.distributionError = describeError(err);
        this.log.error({ rotationId: state.current.versionId, error: result.distributionError }, 'distribution failed');
      }
    }
    return result;
  }

  private previousRevocationOf(state: SecretState) {
    const { provider } = this.target;
    if (!provider.revoke) return { action: 'none' as const };
    const decision = previousRevocation(state, provider.revokePreviousAfterMs, this.deps.clock.now());
    // Already revoked by this process: nothing left to do.
    if (decision.action === 'revoke' && this.target.revokedPrevious?.has(decision.providerRef))
      return { action: 'none' as const };
    return decision;
  }

  private decide(state: SecretState) {
    return decideRenewal(
      this.deps.clock.now(),
      this.key,
      currentCredentialOf(state.current),
      this.target.policy,
      Boolean(state.pending),
    );
  }

  private async plan(options: RotateOptions): Promise<RotationResult> {
    const state = await this.read();
    const decision = this.decide(state);
    const base: RotationResult = { secretId: this.key, outcome: 'dry-run', current: summary(state.current) };
    if (options.ifDue && !decision.rotate) {
      return { ...base, plan: `not due; would renew at ${new Date(decision.at).toISOString()}` };
    }
    const reason = decision.rotate ? decision.reason : 'forced';
    const intent = state.intent;
    if (intent && !intentReachedVault(state, intent)) {
      base.plan = `would delete what the interrupted rotation ${intent.rotationId} left at the provider; then `;
    }
    if (state.pending) {
      return {
        ...base,
        reason,
        plan: `${base.plan ?? ''}would resume the interrupted rotation ${state.pending.versionId} (verify, promote)`,
      };
    }
    return { ...base, reason, plan: `${base.plan ?? ''}would issue a new ${this.target.provider.type} credential (${reason})` };
  }

  /** undefined: the vault has no leases (one process, or CAS alone). null: held elsewhere. */
  private async acquireLease() {
    const { vault } = this.deps;
    if (!vault.acquireLease) return undefined;
    return this.retrying('vault lease', this.retry.vaultRead, () =>
      vault.acquireLease!(this.key, this.deps.owner, this.deps.leaseTtlMs ?? 600_000),
    );
  }

  private async read(): Promise<SecretState> {
    const state = await this.retrying('vault read', this.retry.vaultRead, () => this.deps.vault.read(this.key));
    // A resumed or compared credential may reach an error message: make sure it is scrubbed.
    for (const version of [state.current, state.pending, state.previous]) if (version) registerCredentials(version.value);
    this.currentValue = state.current?.value;
    return state;
  }

  private ctx(rotationId: string, signal: AbortSignal | undefined = this.deps.signal): ProviderContext {
    return {
      secretId: this.key,
      rotationId,
      log: this.log,
      clock: this.deps.clock,
      ...(signal ? { signal } : {}),
      ...(this.currentValue ? { current: this.currentValue } : {}),
    };
  }

  /**
   * A pending version exists: a run was interrupted after storing a fresh credential. Verify
   * and promote it instead of issuing another. Returns undefined when it cannot be used (it has
   * expired, is already due for renewal, or the provider rejects it); it is then revoked where
   * possible and discarded. Any other failure (provider down, shutdown) keeps it for next time.
   */
  private async resume(state: SecretState): Promise<RotationResult | undefined> {
    const pending = state.pending!;
    const log = this.log.child({ rotationId: pending.versionId });
    const asCurrent = currentCredentialOf(pending)!;
    const now = this.deps.clock.now();
    if (decideRenewal(now, this.key, asCurrent, this.target.policy).rotate) {
      const why = asCurrent.expiresAt <= now ? 'has expired' : 'is already due for renewal';
      log.warn({}, `pending credential from an interrupted rotation ${why}; discarding it`);
      await this.discard(pending.value);
      return undefined;
    }
    log.info({}, 'resuming an interrupted rotation');
    try {
      await this.verify(pending.value);
    } catch (err) {
      if (!isVerificationFailure(err)) throw err;
      log.warn({ error: describeError(err) }, 'pending credential failed verification; discarding it and issuing anew');
      await this.discard(pending.value);
      return undefined;
    }
    return this.promote(pending.value, state.current, 'resumed', 'pending');
  }

  private async issueAndPromote(state: SecretState, reason: RenewalReason | 'forced'): Promise<RotationResult> {
    const live = await this.makeRoom(state);
    const rotationId = (this.deps.newRotationId ?? randomUUID)();
    const log = this.log.child({ rotationId });
    const intent = await this.recordIntent(rotationId, live);
    log.info({ reason }, 'issuing a new credential');
    const issued = await this.retrying('issue', this.retry.provider, async (attempt) => {
      // A failed attempt may still have created a secret (the answer was lost): delete it
      // before trying again, so it neither stays live untracked nor takes the last slot.
      if (attempt > 1 && intent) await this.recover(await this.read(), intent, 'keep');
      return this.target.provider.issue(this.ctx(rotationId));
    });
    registerCredentials(issued);
    const value: VaultValue = {
      ...issued.extra,
      provider: this.target.provider.type,
      secretId: this.key,
      credentials: issued.credentials,
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      providerRef: issued.providerRef,
      rotationId,
    };
    try {
      await this.retrying('vault write (pending)', this.retry.vaultWrite, () =>
        this.deps.vault.putPending(this.key, value, rotationId),
      );
    } catch (err) {
      // Nothing untracked may stay live: take back what the vault could not record.
      const { fate } = await this.compensate(value);
      throw new RotatorError('VAULT_UNAVAILABLE', `the vault could not store the new credential; ${fate}`, {
        cause: err,
        plugin: this.deps.vault.type,
        details: { rotationId },
      });
    }
    log.info({ providerRef: value.providerRef, expiresAt: value.expiresAt }, 'stored as pending');
    try {
      await this.verify(value);
    } catch (err) {
      // Provider down or shutdown: the credential is safely pending; the next run resumes it.
      if (!isVerificationFailure(err)) throw err;
      await this.discard(value);
      throw new RotatorError(
        'VERIFY_FAILED',
        `the new credential did not pass verification (${describeError(err)}); the current credential is unchanged`,
        { cause: err, plugin: this.target.provider.type, details: { rotationId } },
      );
    }
    return this.promote(value, state.current, 'rotated', reason);
  }

  /**
   * Frees a slot at providers that limit live secrets; never deletes current or pending.
   * Returns the provider's live secrets afterwards (undefined when it cannot list them).
   */
  private async makeRoom(state: SecretState): Promise<ProviderSecretInfo[] | undefined> {
    const { provider } = this.target;
    if (!provider.list) return undefined;
    const needed = provider.limits.maxLiveSecrets !== undefined || this.canRecordIntent();
    if (!needed) return undefined;
    const live = await this.retrying('list provider secrets', this.retry.provider, () => provider.list!(this.ctx('make-room')));
    const decision = chooseSlotToFree(
      live,
      provider.limits.maxLiveSecrets,
      {
        current: state.current?.value.providerRef,
        pending: state.pending?.value.providerRef,
        previous: state.previous?.value.providerRef,
      },
      this.deps.clock.now(),
    );
    if (decision.action === 'none') return live;
    if (decision.action === 'blocked' || !provider.revoke) {
      throw new RotatorError(
        'PROVIDER_REJECTED',
        `cannot issue: ${decision.action === 'blocked' ? decision.why : 'no slot free and the provider cannot delete'}`,
        {
          plugin: provider.type,
        },
      );
    }
    this.log.info({ providerRef: decision.providerRef, why: decision.why }, 'making room at the provider');
    await this.retrying('revoke to make room', this.retry.provider, () =>
      provider.revoke!(decision.providerRef, this.ctx('make-room')),
    );
    return live.filter((s) => s.providerRef !== decision.providerRef);
  }

  /** Orphans can be found and deleted only when the vault keeps intents and the provider lists and revokes. */
  private canRecordIntent(): boolean {
    const { provider } = this.target;
    return Boolean(this.deps.vault.recordIntent && this.deps.vault.clearIntent && provider.list && provider.revoke);
  }

  /**
   * Records, before issuing, which provider secrets exist, so that a crash between the
   * provider's answer and the pending write can be repaired (see {@link recover}).
   */
  private async recordIntent(rotationId: string, live: ProviderSecretInfo[] | undefined): Promise<RotationIntent | undefined> {
    if (!live || !this.canRecordIntent()) return undefined;
    const intent: RotationIntent = {
      rotationId,
      startedAt: new Date(this.deps.clock.now()).toISOString(),
      liveBefore: live.map((s) => s.providerRef),
    };
    await this.retrying('vault write (intent)', this.retry.vaultWrite, () => this.deps.vault.recordIntent!(this.key, intent));
    return intent;
  }

  /**
   * An intent is in the vault: a rotation recorded it and then issued. If that rotation's
   * credential never reached the vault, whatever it created at the provider is live and known
   * to nobody: delete it (its value is lost). Secrets that predate the intent are left alone.
   * `clear`: drop the intent afterwards (recovery at start) or keep it (between issue retries,
   * where the same rotation goes on). Returns the deleted providerRefs.
   */
  private async recover(state: SecretState, intent: RotationIntent, mode: 'clear' | 'keep' = 'clear'): Promise<string[]> {
    const { provider, secretId } = this.target;
    const deleted: string[] = [];
    if (!intentReachedVault(state, intent) && provider.list && provider.revoke) {
      const live = await this.retrying('list provider secrets', this.retry.provider, () =>
        provider.list!(this.ctx(intent.rotationId)),
      );
      for (const ref of findOrphans(live, intent, state)) {
        await this.retrying('revoke orphan', this.retry.provider, () => provider.revoke!(ref, this.ctx(intent.rotationId)));
        this.log.warn(
          { providerRef: ref, interruptedRotation: intent.rotationId },
          'deleted a secret that an interrupted rotation issued but never stored',
        );
        deleted.push(ref);
      }
    }
    if (mode === 'clear') {
      await this.retrying(
        'vault write (clear intent)',
        this.retry.vaultWrite,
        () => this.deps.vault.clearIntent?.(secretId, intent.rotationId) ?? Promise.resolve(),
      );
    }
    return deleted;
  }

  /**
   * Revokes the vault's previous credential once its grace period after promotion has passed
   * (Provider.revokePreviousAfterMs). A failure is logged and retried at the next run: the
   * rotation itself goes on, since the previous credential is not in anyone's way yet.
   */
  private async revokePreviousIfDue(state: SecretState): Promise<Partial<RotationResult>> {
    const { provider } = this.target;
    const now = this.deps.clock.now();
    const decision = this.previousRevocationOf(state);
    if (decision.action === 'none') return {};
    if (decision.action === 'wait') return { previousRevokeAt: new Date(decision.at).toISOString() };
    const ref = decision.providerRef;
    try {
      await this.retrying('revoke previous', this.retry.provider, () => provider.revoke!(ref, this.ctx('revoke-previous')));
    } catch (err) {
      if (isRotatorError(err) && err.code === 'ABORTED') throw err;
      this.log.warn({ providerRef: ref, error: describeError(err) }, 'could not revoke the previous credential; will try again');
      return { previousRevokeAt: new Date(now + PREVIOUS_REVOKE_RETRY_MS).toISOString() };
    }
    this.target.revokedPrevious?.add(ref);
    this.log.info({ providerRef: ref }, 'revoked the previous credential after its grace period');
    return { revokedPrevious: ref };
  }

  private async verify(value: VaultValue): Promise<void> {
    const { provider } = this.target;
    if (!provider.verify) return;
    await this.retrying('verify', this.retry.verify, () => provider.verify!(value, this.ctx(value.rotationId)));
    this.log.info({ rotationId: value.rotationId }, 'verified');
  }

  private async promote(
    value: VaultValue,
    expectedCurrent: VaultVersion | undefined,
    outcome: 'rotated' | 'resumed',
    reason: RotationResult['reason'],
  ): Promise<RotationResult> {
    const { vault } = this.deps;
    const rotationId = value.rotationId;
    await this.renewLease();
    try {
      await this.retrying('vault promote', this.retry.vaultWrite, () =>
        vault.promote(this.key, rotationId, expectedCurrent?.versionId ?? null),
      );
    } catch (err) {
      if (!(isRotatorError(err) && err.code === 'VAULT_CONFLICT')) throw err;
      const now = await this.read();
      if (now.current?.versionId !== rotationId) {
        // Someone else promoted first. Theirs stands; ours must not stay live.
        this.log.warn({ rotationId, winner: now.current?.versionId }, 'another process promoted first; cleaning up ours');
        await this.discard(value);
        return { secretId: this.key, outcome: 'superseded', rotationId, current: summary(now.current) };
      }
    }
    this.log.info({ rotationId, expiresAt: value.expiresAt }, outcome === 'resumed' ? 'promoted (resumed)' : 'promoted');
    const result: RotationResult = {
      secretId: this.key,
      outcome,
      reason,
      rotationId,
      current: { versionId: rotationId, issuedAt: value.issuedAt, expiresAt: value.expiresAt },
    };
    if (this.deps.onPromoted) {
      try {
        await this.deps.onPromoted(value);
      } catch (err) {
        result.distributionError = describeError(err);
        this.log.error(
          { rotationId, error: result.distributionError },
          'distribution failed; the vault keeps the new credential',
        );
      }
    }
    const promoted: SecretState = { current: { versionId: rotationId, value, stages: ['current'], createdAt: value.issuedAt } };
    if (expectedCurrent) promoted.previous = { ...expectedCurrent, stages: ['previous'] };
    return { ...result, ...(await this.revokePreviousIfDue(promoted)) };
  }

  /**
   * Takes a pending credential back: revoke at the provider first, then drop it from the vault.
   * Revoking first keeps the invariant "no live secret the vault does not know": if the revoke
   * fails (or we die in between), the pending version stays and the next run cleans it up.
   */
  private async discard(value: VaultValue): Promise<void> {
    const revoked = await this.compensate(value);
    this.log.info({ rotationId: value.rotationId, providerRef: value.providerRef }, revoked.fate);
    if (!revoked.ok) return;
    await this.retrying(
      'vault discard pending',
      this.retry.vaultWrite,
      () => this.deps.vault.discardPending(this.key, value.rotationId),
      undefined,
      AbortSignal.timeout(CLEANUP_BUDGET_MS),
    ).catch((err) => this.log.warn({ error: describeError(err) }, 'could not discard the pending version'));
  }

  /**
   * Revokes a credential that must not stay live and says what became of it. Never throws; runs
   * on its own time budget so that shutdown does not skip it. `ok` is false only when a
   * revocable credential could not be revoked.
   */
  private async compensate(value: VaultValue): Promise<{ ok: boolean; fate: string }> {
    const { provider } = this.target;
    if (!provider.revoke) {
      return {
        ok: true,
        fate: `the issued credential cannot be revoked at ${provider.type}; it expires on its own at ${value.expiresAt}`,
      };
    }
    const signal = AbortSignal.timeout(CLEANUP_BUDGET_MS);
    try {
      await this.retrying(
        'revoke',
        this.retry.provider,
        () => provider.revoke!(value.providerRef, this.ctx(value.rotationId, signal)),
        undefined,
        signal,
      );
      return { ok: true, fate: 'the issued credential was revoked at the provider' };
    } catch (err) {
      this.log.error({ providerRef: value.providerRef, error: describeError(err) }, 'revocation failed');
      return {
        ok: false,
        fate: `revoking the issued credential ${value.providerRef} failed (${describeError(err)}); delete it at the provider`,
      };
    }
  }

  /** Extends our lease before the step that must not overlap another replica's (promotion). */
  private async renewLease(): Promise<void> {
    const { vault } = this.deps;
    if (!vault.acquireLease) return;
    const lease = await vault.acquireLease(this.key, this.deps.owner, this.deps.leaseTtlMs ?? 600_000).catch(() => null);
    if (!lease) this.log.warn({}, 'lease lost before promotion; relying on the compare-and-swap');
  }

  private retrying<T>(
    what: string,
    policy: RetryPolicy,
    fn: (attempt: number) => Promise<T>,
    retryable?: (err: unknown) => boolean,
    signal: AbortSignal | undefined = this.deps.signal,
  ) {
    return withRetry(fn, {
      what,
      policy,
      clock: this.deps.clock,
      log: this.log,
      ...(signal ? { signal } : {}),
      ...(this.deps.random ? { random: this.deps.random } : {}),
      ...(retryable ? { retryable } : {}),
    });
  }
}

/** An interrupted rotation's intent whose credential never reached the vault: recovery is due. */
function hasUnfinishedIntent(state: SecretState): boolean {
  return state.intent !== undefined && !intentReachedVault(state, state.intent);
}

/** The fields of `partial` that are set (so spreading it never overwrites with undefined). */
function definedOnly<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(partial).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)),
  ) as Partial<T>;
}

/** The provider looked at the credential and refused it (as opposed to being unreachable). */
function isVerificationFailure(err: unknown): boolean {
  return isRotatorError(err) && err.code === 'VERIFY_FAILED';
}

/** Every credential field is secret except the provider's reference (see IssuedSecret). */
function registerCredentials(value: { credentials: Record<string, string>; providerRef: string }): void {
  for (const v of Object.values(value.credentials)) if (v !== value.providerRef) secrets.add(v);
}
