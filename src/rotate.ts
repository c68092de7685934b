/**
 * The rotation state machine. Every step is idempotent and resumable: a process killed at any
 * point leaves the vault in a state from which the next run finishes the job without losing the
 * current credential or leaving an untracked live secret behind.
 *
 *   lease → read → nextAction (src/next-action.ts: the one decision) → its steps, in order:
 *   (clean orphans of an interrupted rotation) → (revoke previous after grace)
 *   → (resume pending | make room → record intent → issue → check the answer → write pending)
 *   → verify → promote → distribute → record the outcome (durable status, when it changed)
 *
 * Invariants (DESIGN.md): the vault's current credential is never lost or replaced by one that
 * failed verification; a credential issued but not stored is revoked (or, where the provider
 * cannot revoke, left to expire and logged); promotion is a compare-and-swap; no secret value is
 * logged or put in an error message.
 */
import { randomUUID } from 'node:crypto';
import type {
  AttemptStatus,
  Clock,
  Logger,
  Provider,
  ProviderContext,
  ProviderSecretInfo,
  RotationIntent,
  SecretMetaPatch,
  SecretState,
  Vault,
  VaultValue,
  VaultVersion,
} from './types';
import { RotatorError, describeError, isRotatorError } from './errors';
import { withRetry, type RetryPolicy } from './retry';
import type { BackoffPolicy, CurrentCredential, RenewalPolicy } from './renewal';
import { intentReachedVault, previousRevocation } from './cleanup';
import { secrets } from './redact';
import {
  capabilitiesOf,
  describeStep,
  nextAction,
  type ActionRequest,
  type IssueReason,
  type NextAction,
  type Step,
} from './next-action';
import { badAnswerError, checkIssued, effectiveExpiresAt } from './issued';
import { emergencyAt } from './renewal';
import { failureStatus, successStatus, vaultKeepsIntents, writeMeta } from './attempt-status';

/** One configured secret, ready to rotate. */
export interface RotationTarget {
  secretId: string;
  provider: Provider;
  policy: RenewalPolicy;
  /**
   * providerRefs this process has already revoked as previous secrets. The durable memo is
   * `SecretMeta.revokedPrevious` in the vault; this set only serves vaults without `updateMeta`.
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

/**
 * Share of the lease TTL kept free at its end: retries stop waiting this long before the lease
 * would lapse, leaving time to record the failure and release the lease before another replica
 * may take it.
 */
export const LEASE_SAFETY_FRACTION = 0.1;

/**
 * The latest instant (clock ms) any retry of a rotation step may wait to (issue 10, "every wait
 * is bounded"): the earlier of the lease's end less {@link LEASE_SAFETY_FRACTION} of its TTL, and
 * the current credential's emergency margin (`emergencyAt` in renewal.ts). Sleeping past the
 * margin would leave consumers on a credential about to expire while a faster attempt (the
 * durable back-off, capped at a quarter of the time left) could replace it. A credential
 * already inside its margin bounds retries by its expiry instead (an emergency rotation still
 * retries); an expired one, or none, leaves the lease alone. Pure.
 */
export function rotationDeadline(
  lease: { from: number; ttlMs: number },
  credential?: { issuedAt: number; expiresAt: number; now: number },
): number {
  const leaseEnd = lease.from + lease.ttlMs * (1 - LEASE_SAFETY_FRACTION);
  if (!credential || !Number.isFinite(credential.issuedAt) || !Number.isFinite(credential.expiresAt)) return leaseEnd;
  const { expiresAt, now } = credential;
  const margin = emergencyAt(credential);
  if (now < margin) return Math.min(leaseEnd, margin);
  if (now < expiresAt) return Math.min(leaseEnd, expiresAt);
  return leaseEnd;
}

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
  /** Back-off after failures, recorded in the durable status (`nextAttemptAt`). */
  backoff?: BackoffPolicy;
}

export interface RotateOptions {
  /** Rotate only when the renewal policy says it is due (another replica may have done it). */
  ifDue?: boolean;
  /** Read and report what would happen; change nothing anywhere. */
  dryRun?: boolean;
  /** Rotate a paused secret, or delete a previous secret still inside its grace period. */
  force?: boolean;
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
  reason?: IssueReason;
  /** The steps performed (dry run: the steps the real run would perform), in order. */
  steps?: Step[];
  /** When something is next due for this secret (ISO 8601), as nextAction says after this run. */
  wakeAt?: string;
  rotationId?: string;
  /** Non-secret facts about the current credential after the run. */
  current?: { versionId: string; issuedAt: string; expiresAt: string };
  /** Dry-run: a sentence describing what would happen (or what would be refused, and why). */
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

/** Status recorded with a failure, for the scheduler (which sleeps until its nextAttemptAt). */
const failureStatuses = new WeakMap<object, AttemptStatus>();

/** The durable status that a failed rotation recorded (or would have) along with `err`. */
export function attemptStatusOf(err: unknown): AttemptStatus | undefined {
  return typeof err === 'object' && err !== null ? failureStatuses.get(err) : undefined;
}

/** Meta the run has to write, batched so that it rides on the next write where it can. */
interface MetaBatch {
  patch: SecretMetaPatch;
  condition?: { intentRotationId: string };
}

class Rotation {
  private readonly key: string;
  private readonly log: Logger;
  private readonly retry: RetryPolicies;
  /** The vault's current value as last read, for providers that authenticate with it. */
  private currentValue?: VaultValue;
  /** The state as last read (the failure status builds on its status). */
  private lastState?: SecretState;
  /** When our lease was taken or last renewed (clock ms). */
  private leaseAt?: number;
  private readonly meta: MetaBatch = { patch: {} };
  /** When this run started (clock ms): bounds retries before a lease is held, or on lease-less vaults. */
  private readonly startedAt: number;
  /** The current credential's facts for the deadline, from the last read (see rotationDeadline). */
  private credentialBound?: { issuedAt: number; expiresAt: number; now: number };

  constructor(
    private readonly target: RotationTarget,
    private readonly deps: RotationDeps,
  ) {
    this.key = target.secretId;
    this.log = deps.log.child({ secretId: target.secretId, provider: target.provider.type });
    this.retry = { ...DEFAULT_RETRY_POLICIES, ...deps.retry };
    this.startedAt = deps.clock.now();
  }

  async run(options: RotateOptions): Promise<RotationResult> {
    const request: ActionRequest = { mode: options.ifDue ? 'scheduled' : 'manual', ...(options.force ? { force: true } : {}) };
    if (options.dryRun) return this.dryRun(request);
    try {
      return await this.execute(request);
    } catch (err) {
      await this.recordFailure(err);
      throw err;
    }
  }

  private decide(state: SecretState, request: ActionRequest, live?: readonly ProviderSecretInfo[]): NextAction {
    return nextAction(state, this.deps.clock.now(), this.target.policy, capabilitiesOf(this.target.provider), {
      ...request,
      ...(live ? { live } : {}),
    });
  }

  /**
   * The decision with the provider's list when it matters (orphans to find, a slot to free, an
   * intent to record): a read, so the dry run does it too and names what would be deleted.
   */
  private async decideWithListing(state: SecretState, request: ActionRequest) {
    const first = this.decide(state, request);
    const { provider } = this.target;
    const issues = first.steps.some((s) => s.kind === 'issue');
    const needed =
      provider.list &&
      !first.refusal &&
      (first.steps.some((s) => s.kind === 'clean-orphans') ||
        (issues && (provider.limits.maxLiveSecrets !== undefined || this.canRecordIntent())));
    if (!needed) return { action: first, live: undefined };
    const live = await this.retrying('list provider secrets', this.retry.provider, () => provider.list!(this.ctx('list')));
    return { action: this.decide(state, request, live), live };
  }

  private async dryRun(request: ActionRequest): Promise<RotationResult> {
    const state = await this.read();
    const { action } = await this.decideWithListing(state, request);
    const base: RotationResult = { secretId: this.key, outcome: 'dry-run', current: summary(state.current), steps: action.steps };
    const issue = action.steps.find((s) => s.kind === 'issue');
    if (issue?.kind === 'issue') base.reason = issue.reason;
    if (action.wakeAt !== undefined) base.wakeAt = new Date(action.wakeAt).toISOString();
    if (action.refusal) return { ...base, plan: `would refuse: ${action.refusal.message}` };
    if (action.steps.length === 0) return { ...base, plan: `nothing to do: ${action.why}` };
    return { ...base, plan: `would ${action.steps.map(describeStep).join('; then ')}` };
  }

  private async execute(request: ActionRequest): Promise<RotationResult> {
    if (request.mode === 'scheduled' && !this.deps.vault.leaseReadsState) {
      // Look before taking the lease: most scheduled checks find nothing to do, and a lease is a
      // write. Whatever this read shows is read again under the lease before anything changes.
      // A vault whose lease reads the state anyway (leaseReadsState) skips this read.
      const state = await this.read();
      const action = this.decide(state, request);
      if (action.steps.length === 0 && !action.refusal) return this.notDue(state, action, {});
    }
    const lease = await this.acquireLease();
    if (lease === null) {
      this.log.info({}, 'another process holds the lease; skipping');
      return { secretId: this.key, outcome: 'leased-elsewhere' };
    }
    try {
      // Re-read under the lease: another replica may have rotated while we waited.
      const state = await this.read();
      const { action, live } = await this.decideWithListing(state, request);
      if (action.refusal) {
        throw new RotatorError(action.refusal.code, action.refusal.message, { plugin: this.target.provider.type });
      }
      // An intent that cannot serve any more (its rotation reached the vault, or nothing can
      // list and revoke) is dropped with the next meta write.
      if (state.intent && !action.steps.some((s) => s.kind === 'clean-orphans')) this.clearIntentLater(state.intent);
      return await this.perform(state, action, live, request);
    } catch (err) {
      await this.recordFailure(err);
      throw err;
    } finally {
      await lease?.release().catch((err) => this.log.warn({ error: describeError(err) }, 'lease release failed'));
    }
  }

  /** Executes the steps of `action` in order; see {@link nextAction}. */
  private async perform(
    state: SecretState,
    action: NextAction,
    live: readonly ProviderSecretInfo[] | undefined,
    request: ActionRequest,
  ): Promise<RotationResult> {
    const done: Step[] = [];
    const cleanup: Partial<RotationResult> = {};
    let retryPreviousAt: number | undefined;
    for (const step of action.steps) {
      switch (step.kind) {
        case 'clean-orphans':
          cleanup.orphansRevoked = await this.cleanOrphans(state, step.providerRefs ?? []);
          this.clearIntentLater(state.intent!);
          break;
        case 'revoke-previous':
          if (await this.revokePrevious(step.providerRef)) cleanup.revokedPrevious = step.providerRef;
          else retryPreviousAt = this.deps.clock.now() + PREVIOUS_REVOKE_RETRY_MS;
          break;
        case 'discard-pending':
          await this.discard(state.pending!.value);
          break;
        case 'resume': {
          done.push(step);
          const resumed = await this.resume(state);
          if (resumed) return this.finish(resumed, done, cleanup, retryPreviousAt);
          // The pending credential was unusable and is gone: decide again (the rotation was
          // already under way, so as a one-off: no window, no back-off).
          const again = await this.read();
          const next = await this.decideWithListing(again, { ...request, mode: 'manual' });
          if (next.action.refusal) throw new RotatorError(next.action.refusal.code, next.action.refusal.message);
          const rest = await this.perform(again, next.action, next.live, { ...request, mode: 'manual' });
          return { ...rest, steps: [...done, ...(rest.steps ?? [])], ...definedOnly(cleanup) };
        }
        case 'make-room':
          await this.makeRoom(step.providerRef!, step.reason);
          break;
        case 'issue': {
          done.push(step);
          const liveAfter = live?.filter((s) => !done.some((d) => deletes(d, s.providerRef)));
          const result = await this.issueAndPromote(state, step.reason, liveAfter);
          return this.finish(result, done, cleanup, retryPreviousAt);
        }
      }
      done.push(step);
    }
    return this.notDue(state, action, { ...definedOnly(cleanup), steps: done }, retryPreviousAt);
  }

  /** After a promotion: revoke what became due with it, record the outcome, say when to wake. */
  private async finish(
    result: RotationResult,
    done: Step[],
    cleanup: Partial<RotationResult>,
    retryPreviousAt: number | undefined,
  ): Promise<RotationResult> {
    const out: RotationResult = { ...definedOnly(cleanup), ...result, steps: done };
    if (result.outcome === 'superseded') {
      await this.flushMeta();
      return out;
    }
    const promoted = this.afterPromotion(result);
    // A grace period of zero (or one already over) makes the new previous revocable at once.
    const due = this.decide(promoted, { mode: 'scheduled' }).steps.find((s) => s.kind === 'revoke-previous');
    if (due?.kind === 'revoke-previous') {
      if (await this.revokePrevious(due.providerRef)) {
        out.revokedPrevious = due.providerRef;
        promoted.revokedPrevious = due.providerRef;
      } else retryPreviousAt = this.deps.clock.now() + PREVIOUS_REVOKE_RETRY_MS;
      out.steps = [...(out.steps ?? []), due];
    }
    const status = successStatus(
      this.lastState ?? {},
      this.deps.clock.now(),
      result.distributionError ? { ok: false, error: result.distributionError } : { ok: true },
    );
    if (status) this.meta.patch.status = status;
    await this.flushMeta();
    return this.withWake(out, { ...promoted, ...(status ? { status } : {}) }, retryPreviousAt);
  }

  /** The state as it is after `result` promoted a version (what a fresh read would show). */
  private afterPromotion(result: RotationResult): SecretState {
    const before = this.lastState ?? {};
    const value = this.promotedValue!;
    const state: SecretState = {
      current: { versionId: value.rotationId, value, stages: ['current'], createdAt: value.issuedAt },
      ...(before.status ? { status: before.status } : {}),
    };
    const old = this.promotedOver;
    if (old && old.versionId !== result.rotationId) state.previous = { ...old, stages: ['previous'] };
    const memo = this.meta.patch.revokedPrevious ?? before.revokedPrevious;
    if (memo) state.revokedPrevious = memo;
    return state;
  }

  /** Sets `wakeAt` from the decision on the state after this run. */
  private withWake(result: RotationResult, after: SecretState, retryPreviousAt: number | undefined): RotationResult {
    const assumed =
      retryPreviousAt !== undefined && after.previous ? { ...after, revokedPrevious: after.previous.value.providerRef } : after;
    const action = this.decide(assumed, { mode: 'scheduled' });
    const wakes = [action.wakeAt, retryPreviousAt].filter((w): w is number => w !== undefined);
    if (wakes.length > 0) result.wakeAt = new Date(Math.min(...wakes)).toISOString();
    const previous = previousRevocation(
      assumed,
      this.target.provider.revoke ? this.target.provider.revokePreviousAfterMs : undefined,
      this.deps.clock.now(),
    );
    if (retryPreviousAt !== undefined) result.previousRevokeAt = new Date(retryPreviousAt).toISOString();
    else if (previous.action === 'wait') result.previousRevokeAt = new Date(previous.at).toISOString();
    return result;
  }

  /**
   * Nothing (more) to rotate. The current value may still be new to this process (another
   * replica rotated it): `onCurrentSeen` lets distribution catch up, so every replica's hosts
   * get it. A changed distribution result is recorded.
   */
  private async notDue(
    state: SecretState,
    _action: NextAction,
    extra: Partial<RotationResult>,
    retryPreviousAt?: number,
  ): Promise<RotationResult> {
    const result: RotationResult = { secretId: this.key, outcome: 'not-due', current: summary(state.current), ...extra };
    let distribution: { ok: boolean; error?: string } | undefined;
    if (state.current && this.deps.onCurrentSeen) {
      try {
        await this.deps.onCurrentSeen(state.current.value);
        if (state.status?.distribution?.ok === false) distribution = { ok: true };
      } catch (err) {
        result.distributionError = describeError(err);
        distribution = { ok: false, error: result.distributionError };
        this.log.error({ rotationId: state.current.versionId, error: result.distributionError }, 'distribution failed');
      }
    }
    const after: SecretState = { ...state };
    if (distribution) {
      // Only the distribution part changes: a back-off in progress stays in force.
      const at = new Date(this.deps.clock.now()).toISOString();
      const status: AttemptStatus = {
        ...(state.status ?? { lastAttemptAt: at, lastResult: 'ok', consecutiveFailures: 0 }),
        distribution: { at, ...distribution },
      };
      this.meta.patch.status = status;
      after.status = status;
    }
    if (this.meta.patch.revokedPrevious) after.revokedPrevious = this.meta.patch.revokedPrevious;
    if (this.meta.patch.intent === null) delete after.intent;
    await this.flushMeta().catch((err) => this.log.warn({ error: describeError(err) }, 'could not record the status'));
    return this.withWake(result, after, retryPreviousAt);
  }

  /** Records a failed attempt durably (one write) so every process sees it and backs off. */
  private async recordFailure(err: unknown): Promise<void> {
    if (failureStatuses.has(err as object)) return;
    if (isRotatorError(err) && err.code === 'ABORTED') return;
    const now = this.deps.clock.now();
    const current = this.lastState?.current?.value;
    const status = failureStatus(
      this.lastState?.status,
      err,
      now,
      current ? Date.parse(current.expiresAt) : undefined,
      this.deps.backoff,
    );
    if (typeof err === 'object' && err !== null) failureStatuses.set(err, status);
    this.meta.patch.status = status;
    await this.retrying(
      'vault write (status)',
      this.retry.vaultWrite,
      () => this.flushMeta(),
      undefined,
      this.deps.signal,
      now + CLEANUP_BUDGET_MS,
    ).catch((writeErr) => this.log.warn({ error: describeError(writeErr) }, 'could not record the failed attempt in the vault'));
  }

  /** Writes the batched meta, if any. */
  private async flushMeta(): Promise<void> {
    const { patch, condition } = this.meta;
    if (Object.keys(patch).length === 0) return;
    await writeMeta(this.deps.vault, this.key, patch, condition);
    this.meta.patch = {};
    delete this.meta.condition;
  }

  private clearIntentLater(intent: RotationIntent): void {
    if (this.meta.patch.intent) return;
    this.meta.patch.intent = null;
    this.meta.condition = { intentRotationId: intent.rotationId };
  }

  /** undefined: the vault has no leases (one process, or CAS alone). null: held elsewhere. */
  private async acquireLease() {
    const { vault } = this.deps;
    if (!vault.acquireLease) return undefined;
    const lease = await this.retrying('vault lease', this.retry.vaultRead, () =>
      vault.acquireLease!(this.key, this.deps.owner, this.leaseTtl()),
    );
    if (lease) this.leaseAt = this.deps.clock.now();
    return lease;
  }

  private leaseTtl(): number {
    return this.deps.leaseTtlMs ?? 600_000;
  }

  private async read(): Promise<SecretState> {
    const state = await this.retrying('vault read', this.retry.vaultRead, () => this.deps.vault.read(this.key));
    // A resumed or compared credential may reach an error message: make sure it is scrubbed.
    // Versions no longer current, pending or previous are forgotten once expired (bounded registry).
    const versions = [state.current, state.pending, state.previous].filter((v) => v !== undefined);
    const now = this.deps.clock.now();
    for (const version of versions) registerCredentials(this.key, version.value, now, this.target.provider.publicFields);
    secrets.retain(
      this.key,
      versions.map((v) => v.value.providerRef),
      now,
    );
    this.currentValue = state.current?.value;
    const current = state.current?.value;
    if (current) {
      const expiresAt = effectiveExpiresAt(
        current,
        state.pending?.value.issuedAt,
        this.target.provider.limits.issueEffectOnOlder,
      );
      this.credentialBound = { issuedAt: Date.parse(current.issuedAt), expiresAt, now };
    } else delete this.credentialBound;
    // Vaults without durable meta: this process's memo stands in for it.
    const ref = state.previous?.value.providerRef;
    if (!state.revokedPrevious && ref && this.target.revokedPrevious?.has(ref)) state.revokedPrevious = ref;
    this.lastState = state;
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
   * Verifies and promotes the pending version an interrupted run left (nextAction has checked
   * that it is still usable). Returns undefined when the provider rejects it: it is then revoked
   * where possible and discarded. Any other failure (provider down, shutdown) keeps it.
   */
  private async resume(state: SecretState): Promise<RotationResult | undefined> {
    const pending = state.pending!;
    const log = this.log.child({ rotationId: pending.versionId });
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

  private async issueAndPromote(
    state: SecretState,
    reason: IssueReason,
    live: readonly ProviderSecretInfo[] | undefined,
  ): Promise<RotationResult> {
    const rotationId = (this.deps.newRotationId ?? randomUUID)();
    const log = this.log.child({ rotationId });
    const intent = await this.recordIntent(rotationId, live);
    log.info({ reason }, 'issuing a new credential');
    const issued = await this.retrying('issue', this.retry.provider, async (attempt) => {
      // A failed attempt may still have created a secret (the answer was lost): delete it
      // before trying again, so it neither stays live untracked nor takes the last slot.
      if (attempt > 1 && intent) await this.recover(await this.read(), intent);
      return this.target.provider.issue(this.ctx(rotationId));
    });
    registerCredentials(this.key, issued, this.deps.clock.now(), this.target.provider.publicFields);
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
    const problem = checkIssued(issued, this.target.provider.limits, this.deps.clock.now());
    if (problem) {
      // Never store what the provider got wrong; take it back so nothing unknown stays live.
      const { ok, fate } = await this.compensate(value);
      if (ok && intent) this.clearIntentLater(intent);
      throw badAnswerError(problem, this.target.provider.type, fate);
    }
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

  /** Deletes one provider secret to free a slot (nextAction chose it; never current or pending). */
  private async makeRoom(providerRef: string, why: string): Promise<void> {
    this.log.info({ providerRef, why }, 'making room at the provider');
    await this.retrying('revoke to make room', this.retry.provider, () =>
      this.target.provider.revoke!(providerRef, this.ctx('make-room')),
    );
  }

  /** Orphans can be found and deleted only when the vault keeps intents and the provider lists and revokes. */
  private canRecordIntent(): boolean {
    const { provider } = this.target;
    return Boolean(vaultKeepsIntents(this.deps.vault) && provider.list && provider.revoke);
  }

  /**
   * Records, before issuing, which provider secrets exist, so that a crash between the
   * provider's answer and the pending write can be repaired (see {@link recover}). Meta batched
   * by this run (the revoked-previous memo, clearing an old intent) rides on the same write.
   */
  private async recordIntent(
    rotationId: string,
    live: readonly ProviderSecretInfo[] | undefined,
  ): Promise<RotationIntent | undefined> {
    if (!live || !this.canRecordIntent()) return undefined;
    const intent: RotationIntent = {
      rotationId,
      startedAt: new Date(this.deps.clock.now()).toISOString(),
      liveBefore: live.map((s) => s.providerRef),
    };
    // The new intent replaces any old one, so a pending "clear" condition no longer applies.
    this.meta.patch.intent = intent;
    delete this.meta.condition;
    await this.retrying('vault write (intent)', this.retry.vaultWrite, () => this.flushMeta());
    return intent;
  }

  /** Deletes the secrets an interrupted rotation issued and never stored (nextAction found them). */
  private async cleanOrphans(state: SecretState, refs: string[]): Promise<string[]> {
    const intent = state.intent!;
    for (const ref of refs) {
      await this.retrying('revoke orphan', this.retry.provider, () =>
        this.target.provider.revoke!(ref, this.ctx(intent.rotationId)),
      );
      this.log.warn(
        { providerRef: ref, interruptedRotation: intent.rotationId },
        'deleted a secret that an interrupted rotation issued but never stored',
      );
    }
    return refs;
  }

  /**
   * Between issue retries of one rotation: whatever a failed attempt created at the provider
   * and the vault does not know is deleted before the next attempt (the intent stays).
   */
  private async recover(state: SecretState, intent: RotationIntent): Promise<void> {
    const { provider } = this.target;
    if (intentReachedVault(state, intent) || !provider.list || !provider.revoke) return;
    const live = await this.retrying('list provider secrets', this.retry.provider, () =>
      provider.list!(this.ctx(intent.rotationId)),
    );
    const step = this.decide({ ...state, intent }, { mode: 'scheduled' }, live).steps.find((s) => s.kind === 'clean-orphans');
    if (step?.kind === 'clean-orphans') await this.cleanOrphans({ ...state, intent }, step.providerRefs ?? []);
  }

  /**
   * Revokes the vault's previous credential once its grace period after promotion has passed
   * (Provider.revokePreviousAfterMs), and remembers it durably (batched with the next meta
   * write). A failure is logged and retried later: the previous credential is in nobody's way.
   */
  private async revokePrevious(ref: string): Promise<boolean> {
    try {
      await this.retrying('revoke previous', this.retry.provider, () =>
        this.target.provider.revoke!(ref, this.ctx('revoke-previous')),
      );
    } catch (err) {
      if (isRotatorError(err) && err.code === 'ABORTED') throw err;
      this.log.warn({ providerRef: ref, error: describeError(err) }, 'could not revoke the previous credential; will try again');
      return false;
    }
    this.target.revokedPrevious?.add(ref);
    this.meta.patch.revokedPrevious = ref;
    this.log.info({ providerRef: ref }, 'revoked the previous credential after its grace period');
    return true;
  }

  private async verify(value: VaultValue): Promise<void> {
    const { provider } = this.target;
    if (!provider.verify) return;
    await this.retrying('verify', this.retry.verify, () => provider.verify!(value, this.ctx(value.rotationId)));
    this.log.info({ rotationId: value.rotationId }, 'verified');
  }

  /** Set by promote for finish(): what was promoted, and over which version. */
  private promotedValue?: VaultValue;
  private promotedOver?: VaultVersion;

  private async promote(
    value: VaultValue,
    expectedCurrent: VaultVersion | undefined,
    outcome: 'rotated' | 'resumed',
    reason: IssueReason,
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
    this.promotedValue = value;
    if (expectedCurrent) this.promotedOver = expectedCurrent;
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
    return result;
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
      this.deps.clock.now() + CLEANUP_BUDGET_MS,
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
        this.deps.clock.now() + CLEANUP_BUDGET_MS,
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

  /**
   * Extends our lease before the step that must not overlap another replica's (promotion) —
   * only when more than half of it is used: a fresh lease cannot expire before the promotion,
   * and each renewal is a vault write (on AWS, a secret version).
   */
  private async renewLease(): Promise<void> {
    const { vault } = this.deps;
    if (!vault.acquireLease) return;
    const now = this.deps.clock.now();
    if (this.leaseAt !== undefined && now - this.leaseAt < this.leaseTtl() / 2) return;
    const lease = await vault.acquireLease(this.key, this.deps.owner, this.leaseTtl()).catch(() => null);
    if (lease) this.leaseAt = now;
    else this.log.warn({}, 'lease lost before promotion; relying on the compare-and-swap');
  }

  /**
   * See {@link rotationDeadline}. Clean-up (revoking what must not stay live, recording the
   * failure) runs on its own budget instead, like its abort signal.
   */
  private deadline(): number {
    return rotationDeadline({ from: this.leaseAt ?? this.startedAt, ttlMs: this.leaseTtl() }, this.credentialBound);
  }

  private retrying<T>(
    what: string,
    policy: RetryPolicy,
    fn: (attempt: number) => Promise<T>,
    retryable?: (err: unknown) => boolean,
    signal: AbortSignal | undefined = this.deps.signal,
    deadline: number = this.deadline(),
  ) {
    return withRetry(fn, {
      what,
      policy,
      deadline,
      clock: this.deps.clock,
      log: this.log,
      ...(signal ? { signal } : {}),
      ...(this.deps.random ? { random: this.deps.random } : {}),
      ...(retryable ? { retryable } : {}),
    });
  }
}

/** Whether a performed step deleted `ref` at the provider (so it holds no slot any more). */
function deletes(step: Step, ref: string): boolean {
  switch (step.kind) {
    case 'clean-orphans':
      return step.providerRefs?.includes(ref) ?? false;
    case 'revoke-previous':
    case 'discard-pending':
    case 'make-room':
      return step.providerRef === ref;
    default:
      return false;
  }
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
function registerCredentials(
  secretId: string,
  value: { credentials: Record<string, string>; providerRef: string; expiresAt: string },
  now: number,
  publicFields: readonly string[] = [],
): void {
  const values = Object.entries(value.credentials)
    .filter(([k, v]) => v !== value.providerRef && !publicFields.includes(k))
    .map(([, v]) => v);
  // An unparsable expiry counts as never expiring: forgotten only when revoked.
  const expiresAt = Date.parse(value.expiresAt);
  secrets.addIssued(secretId, value.providerRef, values, Number.isNaN(expiresAt) ? Infinity : expiresAt, now);
}
