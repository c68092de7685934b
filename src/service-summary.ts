/**
 * The daemon's start-up summary: one log line saying what it will look after (secret count,
 * vault, health endpoint, alert targets) and when the first renewals come. Pure, from the config
 * and the scheduler's first snapshot, so the line is testable and the same for the same input.
 * Only ids, types and times: never a credential, a vault key or an alert URL (it may hold a token).
 */
import type { RotatorConfig } from '../config/schema';
import type { SecretSchedule } from './scheduler';

/** How many upcoming renewals the line lists (the rest are counted). */
export const SUMMARY_NEXT = 5;

export interface StartupSummary {
  secrets: number;
  vault: string;
  paused: string[];
  http?: string;
  alerts: string[];
  /** The soonest scheduled attempts, earliest first. */
  next: { secretId: string; at: string }[];
  message: string;
}

export function startupSummary(
  config: RotatorConfig,
  snapshot: readonly SecretSchedule[],
  isPaused: (secretId: string) => boolean,
  statusUrl?: string,
): StartupSummary {
  const vault = config.vault.type === 'file' ? `file ${config.vault.path}` : `aws-secrets-manager ${config.vault.region}`;
  const paused = snapshot.filter((s) => isPaused(s.secretId)).map((s) => s.secretId);
  const upcoming = snapshot
    .filter((s) => !isPaused(s.secretId) && Number.isFinite(s.nextAttemptAt) && s.nextAttemptAt > 0)
    .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.secretId.localeCompare(b.secretId));
  const next = upcoming
    .slice(0, SUMMARY_NEXT)
    .map((s) => ({ secretId: s.secretId, at: new Date(s.nextAttemptAt).toISOString() }));
  const n = config.secrets.length;
  const more = upcoming.length - next.length;
  const message =
    `started: ${n} secret${n === 1 ? '' : 's'} in ${vault}` +
    (paused.length ? `, ${paused.length} paused` : '') +
    (next.length
      ? `; next renewals: ${next.map((x) => `${x.secretId} ${x.at}`).join(', ')}${more > 0 ? ` (+${more} more)` : ''}`
      : '; no renewal scheduled');
  return {
    secrets: n,
    vault,
    paused,
    ...(statusUrl ? { http: statusUrl } : {}),
    alerts: (config.notify ?? []).map((t) => t.type),
    next,
    message,
  };
}
