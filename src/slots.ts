/**
 * Making room at a provider that limits live secrets per account (MongoDB: 2). Pure, so the rule
 * "never the current one" is tested as a table (test/unit/slots.test.ts).
 */
import type { ProviderSecretInfo } from './types';

export interface KnownRefs {
  current?: string;
  pending?: string;
  previous?: string;
}

export type SlotDecision =
  { action: 'none' } | { action: 'delete'; providerRef: string; why: string } | { action: 'blocked'; why: string };

/**
 * Chooses which provider secret to delete so one more can be issued, given the live secrets
 * and what the vault knows. Preference: a secret the vault does not know (an orphan or one
 * that predates the rotator), expired ones first, then the oldest; then the vault's previous.
 * Never the current or the pending one, nor one the provider says it authenticates with: if
 * only those hold the slots, issuing is blocked.
 */
export function chooseSlotToFree(
  live: readonly ProviderSecretInfo[],
  maxLive: number | undefined,
  known: KnownRefs,
  now: number,
): SlotDecision {
  if (maxLive === undefined || live.length < maxLive) return { action: 'none' };
  const protectedRefs = new Set([known.current, known.pending].filter(Boolean));
  const candidates = live.filter((s) => !protectedRefs.has(s.providerRef) && !s.inUse);
  const unknown = candidates.filter((s) => s.providerRef !== known.previous);
  const byAge = (a: ProviderSecretInfo, b: ProviderSecretInfo) =>
    expiredFirst(a, b, now) || Date.parse(a.createdAt ?? '') - Date.parse(b.createdAt ?? '') || 0;
  const pick = [...unknown].sort(byAge)[0] ?? candidates.find((s) => s.providerRef === known.previous);
  if (!pick) {
    return {
      action: 'blocked',
      why: live.some((s) => s.inUse)
        ? `the provider allows ${maxLive} live secrets and rotator authenticates with one of them (it cannot tell which): delete the one not in use at the provider, then rotate again`
        : `the provider allows ${maxLive} live secrets and they are all in use by the vault (current/pending)`,
    };
  }
  const why =
    pick.providerRef === known.previous
      ? "the vault's previous secret"
      : isExpired(pick, now)
        ? 'an expired secret the vault does not hold'
        : 'a secret the vault does not hold (oldest first)';
  return { action: 'delete', providerRef: pick.providerRef, why };
}

function isExpired(s: ProviderSecretInfo, now: number): boolean {
  return s.expiresAt !== undefined && Date.parse(s.expiresAt) <= now;
}

function expiredFirst(a: ProviderSecretInfo, b: ProviderSecretInfo, now: number): number {
  return Number(isExpired(b, now)) - Number(isExpired(a, now));
}
