import { RotatorError } from '../errors';
import type { Clock, Logger, Vault } from '../types';
import { openFileVault } from './file';

/** The embedded encrypted file vault (the default). */
export interface FileVaultConfig {
  type: 'file';
  path: string;
  keyFile?: string;
  history: number;
}

/**
 * Every vault configuration, discriminated by `type`. Adding a vault: its file in src/vaults/,
 * a member here and a case in {@link createVault}; a vault with a heavy SDK (AWS Secrets
 * Manager) is loaded with `await import(...)` inside its case so the file vault never loads it.
 */
export type VaultConfig = FileVaultConfig;

export interface VaultDeps {
  clock: Clock;
  log: Logger;
  /** Where vault keys are read from the environment; default process.env. */
  env?: Record<string, string | undefined>;
}

export const VAULT_TYPES: readonly VaultConfig['type'][] = ['file'];

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
    default:
      // Configs are validated by config/, but a library caller may pass anything.
      return unknownType((config as { type?: unknown }).type);
  }
}

function unknownType(type: unknown): never {
  throw new RotatorError('CONFIG', `unknown vault type ${JSON.stringify(type)}; use one of: ${VAULT_TYPES.join(', ')}`);
}
