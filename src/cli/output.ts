/**
 * What the CLI prints on stdout: tables, JSON and env files. Pure functions of their input so
 * they are tested without a terminal.
 */
import type { SecretState, VaultValue } from '../types';
import { decideRenewal } from '../renewal';
import { currentCredentialOf } from '../rotate';
import type { RenewalPolicy } from '../renewal';

export type SecretHealth = 'ok' | 'due' | 'expired' | 'missing' | 'pending';

export interface StatusRow {
  secretId: string;
  provider: string;
  state: SecretHealth;
  issuedAt?: string;
  expiresAt?: string;
  /** When the scheduler will renew it (ISO), or "now". */
  renewsAt?: string;
  currentVersion?: string;
  pendingVersion?: string;
  previousVersion?: string;
}

export function statusRow(secretId: string, provider: string, state: SecretState, policy: RenewalPolicy, now: number): StatusRow {
  const current = currentCredentialOf(state.current);
  const decision = decideRenewal(now, secretId, current, policy, Boolean(state.pending));
  let health: SecretHealth;
  if (state.pending) health = 'pending';
  else if (!current) health = 'missing';
  else if (now >= current.expiresAt) health = 'expired';
  else health = decision.rotate ? 'due' : 'ok';
  return {
    secretId,
    provider,
    state: health,
    issuedAt: state.current?.value.issuedAt,
    expiresAt: state.current?.value.expiresAt,
    renewsAt: decision.rotate ? 'now' : new Date(decision.at).toISOString(),
    currentVersion: state.current?.versionId,
    pendingVersion: state.pending?.versionId,
    previousVersion: state.previous?.versionId,
  };
}

/** A plain aligned table; no colours so it pipes cleanly. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function formatStatusTable(rows: StatusRow[], now: number): string {
  return formatTable(
    ['SECRET', 'PROVIDER', 'STATE', 'EXPIRES', 'RENEWS'],
    rows.map((r) => [
      r.secretId,
      r.provider,
      r.state,
      r.expiresAt ? `${r.expiresAt} (${relative(Date.parse(r.expiresAt) - now)})` : '-',
      r.renewsAt === 'now' || !r.renewsAt ? (r.renewsAt ?? '-') : `${r.renewsAt} (${relative(Date.parse(r.renewsAt) - now)})`,
    ]),
  );
}

/** `rotator plan`: one line per secret, soonest first, saying when and why it rotates. */
export function formatPlan(rows: StatusRow[], now: number): string {
  return formatTable(
    ['WHEN', 'SECRET', 'WHY'],
    rows.map((r) => {
      if (r.renewsAt === 'now' || !r.renewsAt) return ['now', r.secretId, planReason(r.state)];
      return [`${r.renewsAt} (${relative(Date.parse(r.renewsAt) - now)})`, r.secretId, 'renewal time'];
    }),
  );
}

function planReason(state: SecretHealth): string {
  switch (state) {
    case 'missing':
      return 'no credential in the vault yet';
    case 'pending':
      return 'finish an interrupted rotation';
    case 'expired':
      return 'expired';
    default:
      return 'due';
  }
}

/** "in 2h 5m" / "3m ago". */
export function relative(ms: number): string {
  const abs = Math.abs(ms);
  const parts: string[] = [];
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ];
  let rest = abs;
  for (const [name, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${name}`);
      rest %= size;
    }
  }
  const text = parts.length ? parts.join(' ') : '0s';
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** Reads `a.b.c` from a value; a bare credential field name (`accessKey`) also works. */
export function pickField(value: VaultValue, path: string): unknown {
  const walk = (root: unknown) =>
    path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as any)[key] : undefined), root);
  const direct = walk(value);
  return direct !== undefined ? direct : walk(value.credentials);
}
