/**
 * The one decision: what is due for a secret, why, and when to look again. Pure (time, state,
 * policy and what the provider can do are parameters) and table-tested in
 * test/unit/next-action.test.ts, like cert-manager's policy chains.
 *
 * Every caller asks this function and nothing else decides: the rotation executes its steps in
 * order (src/rotate.ts), the dry run prints them, the scheduler sleeps until `wakeAt`, and
 * `status`/`plan` show `state` and the steps (src/status.ts). So the dry run cannot disagree
 * with the real run, and `plan` cannot disagree with the daemon.
 */
import type { Provider, ProviderLimits, ProviderSecretInfo, SecretState, VaultValue } from './types';
import { decideRenewal, emergencyAt, type CurrentCredential, type RenewalPolicy, type RenewalReason } from './renewal';
import { findOrphans, intentReachedVault, previousRevocation } from './cleanup';
import { chooseSlotToFree } from './slots';
import { windowOpenAt } from './window';
import { effectiveExpiresAt } from './issued';

/** What the provider (and vault) can do, as data: the decision never calls them. */
export interface Capabilities {
  revoke: boolean;
  list: boolean;
  maxLiveSecrets?: number;
  /** Provider.revokePreviousAfterMs: the previous secret's grace period after a promotion. */
  revokePreviousAfterMs?: number;
  issueEffectOnOlder?: ProviderLimits['issueEffectOnOlder'];
}

/** For callers without a provider instance (status of a secret whose credentials are absent). */
export const NO_CAPABILITIES: Capabilities = { revoke: false, list: false };

export function capabilitiesOf(provider: Provider): Capabilities {
  return {
    revoke: Boolean(provider.revoke),
    list: Boolean(provider.list),
    ...(provider.limits.maxLiveSecrets !== undefined ? { maxLiveSecrets: provider.limits.maxLiveSecrets } : {}),
    ...(provider.revokePreviousAfterMs !== undefined ? { revokePreviousAfterMs: provider.revokePreviousAfterMs } : {}),
    issueEffectOnOlder: provider.limits.issueEffectOnOlder,
  };
}

export interface ActionRequest {
  /**
   * `scheduled` (default): only what is due, inside the window, after any back-off: the daemon,
   * `rotate --if-due`, `status`, `plan`. `manual`: `rotate <id>`, which issues now whatever the
   * renewal time, window or back-off say.
   */
  mode?: 'scheduled' | 'manual';
  /** Overrides the refusals: a paused secret, a previous secret still inside its grace period. */
  force?: boolean;
  /**
   * The provider's live secrets, when they were listed (a read). Then make-room and orphan
   * clean-up name exactly what they delete; without it they say what they may delete.
   */
  live?: readonly ProviderSecretInfo[];
}

export type IssueReason = RenewalReason | 'forced' | 'emergency-outside-window';

/** One thing to do, in the order given. Every provider-side deletion names its providerRef. */
export type Step =
  | { kind: 'clean-orphans'; intentRotationId: string; providerRefs?: string[]; reason: string }
  | { kind: 'revoke-previous'; providerRef: string; reason: string }
  | { kind: 'discard-pending'; versionId: string; providerRef: string; reason: string }
  | { kind: 'resume'; versionId: string; reason: string }
  | { kind: 'make-room'; providerRef?: string; reason: string }
  | { kind: 'issue'; reason: IssueReason; why: string };

/** The state word of `status`, alerts and metrics. */
export type SecretWord = 'ok' | 'renewing' | 'failing' | 'expiring' | 'expired' | 'paused' | 'missing';

export interface Refusal {
  code: 'PAUSED' | 'GRACE_PERIOD' | 'PROVIDER_REJECTED';
  message: string;
}

export interface NextAction {
  /** Due now, in order. Empty: nothing to do before `wakeAt`. */
  steps: Step[];
  state: SecretWord;
  /** Epoch ms at which something becomes due (now when steps are due); undefined: never (paused). */
  wakeAt?: number;
  /** Epoch ms at which the renewal policy alone wants the current credential renewed. */
  renewAt?: number;
  /** The current credential's expiry, after any shortening by a newer issue (epoch ms). */
  expiresAt?: number;
  /** Set when an issue is due but must not happen: the run fails with this, the dry run says it. */
  refusal?: Refusal;
  /** One sentence: why this, or why nothing until `wakeAt`. */
  why: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

function credentialOf(value: VaultValue, expiresAt: number): CurrentCredential {
  return { issuedAt: Date.parse(value.issuedAt), expiresAt, rotationId: value.rotationId };
}

/**
 * Everything due for one secret at `now`, in execution order: orphan clean-up, revocation of the
 * previous credential after its grace, then either resuming a pending version or (making room
 * and) issuing. See {@link ActionRequest} for what `mode` and `force` change.
 */
export function nextAction(
  state: SecretState,
  now: number,
  policy: RenewalPolicy,
  caps: Capabilities,
  request: ActionRequest = {},
): NextAction {
  const manual = request.mode === 'manual';
  const current = state.current?.value;
  const expiresAt = current ? effectiveExpiresAt(current, state.pending?.value.issuedAt, caps.issueEffectOnOlder) : undefined;
  const credential = current ? credentialOf(current, expiresAt!) : undefined;
  const renewal = decideRenewal(now, current?.secretId ?? '', credential, policy);
  const renewAt = renewal.rotate ? now : renewal.at;
  const emergencyStart = credential ? emergencyAt(credential) : now;
  const facts = { renewAt, ...(expiresAt !== undefined ? { expiresAt } : {}) };
  const baseWord = (): SecretWord => {
    if (!credential) return 'missing';
    if (now >= credential.expiresAt) return 'expired';
    if (state.status?.lastResult === 'failed') return 'failing';
    return now >= emergencyStart ? 'expiring' : 'ok';
  };

  if (policy.paused && !request.force) {
    return {
      steps: [],
      state: 'paused',
      ...facts,
      why: 'paused in the config: never rotated (pass force to rotate it once)',
      ...(manual
        ? {
            refusal: {
              code: 'PAUSED',
              message: 'the secret is paused in the config; unpause it, or pass --force to rotate it once',
            },
          }
        : {}),
    };
  }

  const status = state.status;
  if (!manual && status?.lastResult === 'failed' && status.nextAttemptAt && Date.parse(status.nextAttemptAt) > now) {
    const at = Date.parse(status.nextAttemptAt);
    return {
      steps: [],
      state: baseWord(),
      wakeAt: at,
      ...facts,
      why: `backing off after ${status.consecutiveFailures} failed attempt(s) until ${iso(at)}`,
    };
  }

  const steps: Step[] = [];
  const wakes: number[] = [];
  /** providerRefs the plan takes away before it issues: they no longer hold a slot. */
  const gone = new Set<string>();

  const intent = state.intent;
  if (intent && !intentReachedVault(state, intent) && caps.list && caps.revoke) {
    const refs = request.live ? findOrphans(request.live, intent, state) : undefined;
    refs?.forEach((r) => gone.add(r));
    steps.push({
      kind: 'clean-orphans',
      intentRotationId: intent.rotationId,
      ...(refs ? { providerRefs: refs } : {}),
      reason: `rotation ${intent.rotationId} was interrupted after recording its intent; what it issued and never stored is deleted`,
    });
  }

  if (caps.revoke) {
    const previous = previousRevocation(state, caps.revokePreviousAfterMs, now);
    if (previous.action === 'revoke' && state.revokedPrevious !== previous.providerRef) {
      gone.add(previous.providerRef);
      steps.push({
        kind: 'revoke-previous',
        providerRef: previous.providerRef,
        reason: 'its grace period after the promotion has passed',
      });
    } else if (previous.action === 'wait') {
      wakes.push(previous.at);
    }
  }

  let issue: { reason: IssueReason; why: string } | undefined;
  if (state.pending) {
    const pending = state.pending.value;
    const asCurrent = credentialOf(pending, Date.parse(pending.expiresAt));
    const unusable = decideRenewal(now, pending.secretId, asCurrent, policy);
    if (!unusable.rotate) {
      steps.push({
        kind: 'resume',
        versionId: state.pending.versionId,
        reason: 'an interrupted rotation stored it; verify and promote it instead of issuing again',
      });
      return finish('renewing', 'resume the interrupted rotation');
    }
    if (caps.revoke) gone.add(pending.providerRef);
    steps.push({
      kind: 'discard-pending',
      versionId: state.pending.versionId,
      providerRef: pending.providerRef,
      reason: `the pending credential of an interrupted rotation ${asCurrent.expiresAt <= now ? 'has expired' : 'is already due for renewal'}`,
    });
    issue = { reason: 'pending', why: 'replace the unusable pending credential of an interrupted rotation' };
  } else if (renewal.rotate) {
    issue = { reason: renewal.reason, why: describeRenewal(renewal.reason) };
  } else if (manual) {
    issue = { reason: 'forced', why: 'asked for now (not yet due)' };
  } else {
    wakes.push(scheduledRenewal(renewal.at));
  }

  // Windows gate scheduled issues only; the emergency path rotates outside one when waiting for
  // the next window would take the credential past its emergency margin (or it has none).
  if (issue && !manual && policy.window) {
    const open = windowOpenAt(policy.window, now);
    if (open !== now) {
      if (credential && open !== undefined && open < emergencyStart) {
        wakes.push(open);
        issue = undefined;
      } else {
        issue = {
          reason: 'emergency-outside-window',
          why: credential
            ? `${issue.why}, and the next window (${open === undefined ? 'never' : iso(open)}) opens too close to expiry`
            : `${issue.why}: there is no credential to wait with`,
        };
      }
    }
  }

  if (!issue) {
    const wakeAt = steps.length > 0 ? now : wakes.length > 0 ? Math.min(...wakes) : undefined;
    const word = steps.length > 0 && baseWord() === 'ok' ? 'ok' : baseWord();
    return {
      steps,
      state: word,
      ...(wakeAt !== undefined ? { wakeAt } : {}),
      ...facts,
      why:
        steps.length > 0 ? 'clean-up is due' : wakeAt !== undefined ? `nothing due before ${iso(wakeAt)}` : 'nothing scheduled',
    };
  }

  let refusal: Refusal | undefined;
  if (caps.maxLiveSecrets !== undefined && caps.list) {
    const room = makeRoom(state, now, caps, request, gone, issue.reason);
    if (room.step) steps.push(room.step);
    refusal = room.refusal;
  }
  steps.push({ kind: 'issue', ...issue });
  return finish('renewing', issue.why, refusal);

  function finish(word: SecretWord, why: string, refusal?: Refusal): NextAction {
    const base = baseWord();
    return {
      steps,
      state: base === 'ok' ? word : base,
      wakeAt: now,
      ...facts,
      ...(refusal ? { refusal } : {}),
      why,
    };
  }

  /** When the scheduler should look again for a renewal due at `at`, given the window. */
  function scheduledRenewal(at: number): number {
    if (!policy.window) return at;
    const open = windowOpenAt(policy.window, at);
    return open !== undefined && open < emergencyStart ? open : at;
  }
}

function describeRenewal(reason: RenewalReason): string {
  switch (reason) {
    case 'missing':
      return 'the vault holds no credential yet';
    case 'expired':
      return 'the current credential has expired';
    case 'emergency':
      return 'the current credential is about to expire';
    case 'pending':
      return 'finish an interrupted rotation';
    default:
      return 'the renewal time has come';
  }
}

/**
 * Make-room before issuing at a provider that limits live secrets. With the live list: exactly
 * which secret it deletes (or why it cannot). Deleting the vault's previous secret while it is
 * still inside its grace period is refused for a forced rotation (consumers may still use it)
 * unless `force`; a rotation the policy says is due goes ahead, since waiting would let the
 * current credential expire.
 */
function makeRoom(
  state: SecretState,
  now: number,
  caps: Capabilities,
  request: ActionRequest,
  gone: Set<string>,
  reason: IssueReason,
): { step?: Step; refusal?: Refusal } {
  if (!request.live) {
    return {
      step: {
        kind: 'make-room',
        reason: `if all ${caps.maxLiveSecrets} slots are taken, delete one that is neither current nor pending`,
      },
    };
  }
  const live = request.live.filter((s) => !gone.has(s.providerRef));
  const pendingKept = state.pending && !gone.has(state.pending.value.providerRef) ? state.pending.value.providerRef : undefined;
  const decision = chooseSlotToFree(
    live,
    caps.maxLiveSecrets,
    {
      ...(state.current ? { current: state.current.value.providerRef } : {}),
      ...(pendingKept ? { pending: pendingKept } : {}),
      ...(state.previous ? { previous: state.previous.value.providerRef } : {}),
    },
    now,
  );
  if (decision.action === 'none') return {};
  if (decision.action === 'blocked') return { refusal: { code: 'PROVIDER_REJECTED', message: `cannot issue: ${decision.why}` } };
  if (!caps.revoke) {
    return { refusal: { code: 'PROVIDER_REJECTED', message: 'cannot issue: no slot is free and the provider cannot delete' } };
  }
  const step: Step = { kind: 'make-room', providerRef: decision.providerRef, reason: decision.why };
  const previous = state.previous?.value;
  if (previous && decision.providerRef === previous.providerRef && state.current) {
    const graceEnd =
      caps.revokePreviousAfterMs !== undefined
        ? Date.parse(state.current.value.issuedAt) + caps.revokePreviousAfterMs
        : effectiveExpiresAt(previous, state.current.value.issuedAt, caps.issueEffectOnOlder);
    if (now < graceEnd) {
      if (reason === 'forced' && !request.force) {
        return {
          step,
          refusal: {
            code: 'GRACE_PERIOD',
            message: `making room would delete the previous secret ${previous.providerRef}, still inside its grace period until ${iso(graceEnd)} (consumers may still use it); rotate after that, or pass --force`,
          },
        };
      }
      step.reason = `${decision.why}, still inside its grace period until ${iso(graceEnd)}`;
    }
  }
  return { step };
}

/** One line per step, for the dry run, `plan` and logs. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'clean-orphans':
      return step.providerRefs
        ? step.providerRefs.length > 0
          ? `delete ${step.providerRefs.join(', ')} at the provider (${step.reason})`
          : `clear the intent of interrupted rotation ${step.intentRotationId} (it left nothing at the provider)`
        : `delete what interrupted rotation ${step.intentRotationId} left at the provider`;
    case 'revoke-previous':
      return `revoke the previous credential ${step.providerRef} (${step.reason})`;
    case 'discard-pending':
      return `revoke and discard pending ${step.providerRef} (${step.reason})`;
    case 'resume':
      return `resume interrupted rotation ${step.versionId}: verify, promote`;
    case 'make-room':
      return step.providerRef
        ? `delete ${step.providerRef} at the provider to make room (${step.reason})`
        : `make room at the provider: ${step.reason}`;
    case 'issue':
      return `issue a new credential, verify, promote (${step.reason}: ${step.why})`;
  }
}
