/**
 * Each vault's limits as data, keyed by vault `type`: the one source of these numbers. Light on
 * purpose (no SDK, no file-system code), so config loading reads it without loading a vault;
 * src/config.ts injects it into config/, and the AWS vault module exposes its entry as
 * `Vault.limits` (AWS_VAULT_LIMITS).
 */
import type { VaultLimitsEntry, VaultLimitsTable } from '../../config/vault-limits';
import type { VaultConfig } from '../../config/schema';

/**
 * AWS Secrets Manager: each rotation creates one version (PutSecretValue), and AWS keeps versions
 * younger than 24 hours against a quota of 100 per secret. AWS's guidance ("at most one
 * PutSecretValue every 10 minutes") is not enough: 144 versions a day hit the quota after about
 * 16.7 hours. 24 h / 100 = 14.4 minutes, so 15 minutes (96 versions a day) is the shortest
 * interval that never reaches it.
 */
const AWS_SECRETS_MANAGER: VaultLimitsEntry = Object.freeze({
  limits: Object.freeze({ minRotationIntervalMs: 15 * 60_000 }),
  reasons: Object.freeze({
    minRotationIntervalMs:
      'every rotation writes a Secrets Manager version, AWS keeps versions younger than 24h and allows about 100 per secret',
  }),
});

/** The file vault keeps `history` versions per key and has no rate limit. */
export const VAULT_LIMITS: VaultLimitsTable & Readonly<Record<VaultConfig['type'], VaultLimitsEntry>> = Object.freeze({
  file: Object.freeze({ limits: Object.freeze({}) }),
  'aws-secrets-manager': AWS_SECRETS_MANAGER,
});
