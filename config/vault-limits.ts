/**
 * Renewal interval versus the vault's limits: a secret that renews more often than its vault
 * allows gets a config warning (never an error: the operator may accept the cost). Pure; the
 * vault limits are injected (src/config.ts passes src/vaults/limits.ts), because config/ sits
 * below the vaults and must not import them.
 */
import { formatDuration } from '../src/duration';
import { renewBeforeMs } from '../src/renewal';
import type { ProviderSchemas, VaultLimits } from '../src/types';
import type { RenewBefore, RotatorConfig } from './schema';

/** What a vault declares: its limits (exactly `Vault.limits`) and why each exists. */
export interface VaultLimitsEntry {
  readonly limits: VaultLimits;
  /** One phrase per limit saying why it exists, shown in the warning. */
  readonly reasons?: { readonly [K in keyof VaultLimits]?: string };
}

/** Limits by vault `type`; a type absent from the table has no limits. */
export type VaultLimitsTable = Readonly<Record<string, VaultLimitsEntry | undefined>>;

/**
 * How often a credential of `lifetimeMs` is renewed under `renewBefore`: the lifetime minus the
 * renew-before window, as the scheduler computes it (src/renewal.ts, cap included). Jitter is
 * left out on purpose: it moves some renewals earlier by a fraction of the window, and the
 * declared minimums carry their own margin (AWS: 15 min where the quota needs 14.4).
 */
export function renewalIntervalMs(lifetimeMs: number, renewBefore: RenewBefore): number {
  return lifetimeMs - renewBeforeMs(renewBefore, lifetimeMs);
}

export interface IntervalWarning {
  /** Index into `config.secrets`. */
  index: number;
  message: string;
}

/**
 * One warning per secret whose renewal interval is shorter than the configured vault's
 * `minRotationIntervalMs`. Secrets whose provider declares no `lifetime` are skipped (nothing to
 * compare); an interval exactly at the minimum is fine.
 */
export function rotationIntervalWarnings(
  config: Pick<RotatorConfig, 'vault' | 'defaults' | 'secrets'>,
  plugins: readonly ProviderSchemas[],
  limits: VaultLimitsTable,
): IntervalWarning[] {
  const vault = limits[config.vault.type];
  const minimum = vault?.limits.minRotationIntervalMs;
  if (minimum === undefined) return [];
  const lifetimeOf = new Map(plugins.map((p) => [p.type, p.lifetime]));
  const out: IntervalWarning[] = [];
  config.secrets.forEach((secret, index) => {
    const lifetime = lifetimeOf.get(secret.provider);
    if (!lifetime) return;
    const lifetimeMs = lifetime.ms(secret.params);
    if (!Number.isFinite(lifetimeMs) || lifetimeMs <= 0) return;
    const renewBefore = secret.renewBefore ?? config.defaults.renewBefore;
    const interval = renewalIntervalMs(lifetimeMs, renewBefore);
    if (interval >= minimum) return;
    const reason = vault?.reasons?.minRotationIntervalMs;
    const why = reason ? `: ${reason}` : '';
    out.push({
      index,
      message:
        `'${secret.id}' renews every ${formatDuration(interval)} (${lifetime.param} gives a ${formatDuration(lifetimeMs)} lifetime, ` +
        `renewBefore takes ${formatDuration(lifetimeMs - interval)}), below the ${config.vault.type} vault's ` +
        `${formatDuration(minimum)} minimum${why}; raise ${lifetime.param} or lower renewBefore`,
    });
  });
  return out;
}
