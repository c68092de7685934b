import { RotatorError } from '../errors';
import type { Clock, Logger, Vault } from '../types';
import { openFileVault } from './file';
import type { AwsSecretsManagerVaultConfig, FileVaultConfig, VaultConfig } from '../../config/schema';

/**
 * Vault configurations are defined once, by the config schema. Adding a vault: its file in
 * src/vaults/, a member of VaultConfig in config/schema.ts, and a case in {@link createVault}. A
 * vault with a heavy SDK (AWS Secrets Manager) is required inside its case, so the file vault
 * never loads it (`import()` is left as-is in this CommonJS build and would need ESM paths).
 */
export type { AwsSecretsManagerVaultConfig, FileVaultConfig, VaultConfig };
/** Each vault type's limits as data (what `validate` compares renewal intervals with). */
export { VAULT_LIMITS } from './limits';

export interface VaultDeps {
  clock: Clock;
  log: Logger;
  /** Where vault keys are read from the environment; default process.env. */
  env?: Record<string, string | undefined>;
}

export const VAULT_TYPES: readonly VaultConfig['type'][] = ['file', 'aws-secrets-manager'];

/** Opens the configured vault. An unknown `type` is a CONFIG error naming the known ones. */
export async function createVault(config: VaultConfig, deps: VaultDeps): Promise<Vault> {
  switch (config.type) {
    case 'file':
      return openFileVault({
        path: config.path,
        keyFile: config.keyFile,
        history: config.history,
        clock: deps.clock,
        log: deps.log,
        env: deps.env,
      });
    case 'aws-secrets-manager': {
      // Required here so the AWS SDK loads only when this vault is configured.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const aws = require('./aws') as typeof import('./aws');
      return aws.openAwsSecretsManagerVault(config, { clock: deps.clock, log: deps.log, ...aws.credentialsFromEnv(deps.env) });
    }
    default:
      // Configs are validated by config/, but a library caller may pass anything.
      return unknownType((config as { type?: unknown }).type);
  }
}

function unknownType(type: unknown): never {
  throw new RotatorError('CONFIG', `unknown vault type ${JSON.stringify(type)}; use one of: ${VAULT_TYPES.join(', ')}`);
}
