/**
 * Turns a validated configuration into live objects: the vault, one provider instance per
 * secret, and rotation targets. Shared by every command (`run`, `rotate`, `status`, `get`) and
 * by the library, so they all see the same secrets the same way.
 */
import { processOwnerId } from './owner';
import type { Clock, Logger, Provider, ProviderPlugin, Vault } from './types';
import type { RotatorConfig, SecretConfig } from '../config/schema';
import { providerPlugins } from '../providers';
import { createVault } from './vaults';
import { RotatorError } from './errors';
import type { RotationTarget } from './rotate';
import type { RenewalPolicy } from './renewal';
import { Distributor } from './distribute/outputs';

export interface RuntimeDeps {
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  plugins?: readonly ProviderPlugin[];
}

export interface Runtime {
  config: RotatorConfig;
  vault: Vault;
  clock: Clock;
  /**
   * The rotation target of a configured secret. Providers are created on first use, so commands
   * that only read the vault never need (or check) the master credentials.
   */
  target(secretId: string): RotationTarget;
  /** Unique per process: the lease owner. */
  owner: string;
  pluginFor(secretId: string): ProviderPlugin;
  /** Writes each secret's outputs (files, reload commands): wire it to `onPromoted`. */
  distributor: Distributor;
  close(): Promise<void>;
}

export function policyOf(config: RotatorConfig, secret: SecretConfig): RenewalPolicy {
  return {
    renewBefore: secret.renewBefore ?? config.defaults.renewBefore,
    jitter: secret.jitter ?? config.defaults.jitter,
  };
}

export async function createRuntime(config: RotatorConfig, deps: RuntimeDeps): Promise<Runtime> {
  const plugins = deps.plugins ?? providerPlugins;
  const pluginFor = (type: string): ProviderPlugin => {
    const plugin = plugins.find((p) => p.type === type);
    if (!plugin) throw new RotatorError('CONFIG', `unknown provider '${type}'`);
    return plugin;
  };
  const targets = new Map<string, RotationTarget>();
  const target = (secretId: string): RotationTarget => {
    const cached = targets.get(secretId);
    if (cached) return cached;
    const secret = config.secrets.find((s) => s.id === secretId);
    if (!secret) throw notConfigured(secretId, config);
    const provider: Provider = pluginFor(secret.provider).create(
      { id: secret.id, credentials: secret.credentials, params: secret.params },
      { log: deps.log.child({ secretId: secret.id }), clock: deps.clock },
    );
    const created: RotationTarget = {
      secretId: secret.id,
      provider,
      policy: policyOf(config, secret),
      revokedPrevious: new Set(),
    };
    targets.set(secretId, created);
    return created;
  };
  // Unknown provider types fail here, before the vault is opened.
  for (const secret of config.secrets) pluginFor(secret.provider);
  const vault = await createVault(config.vault, { clock: deps.clock, log: deps.log, env: deps.env ?? process.env });
  const pluginOf = (secretId: string) => {
    const secret = config.secrets.find((s) => s.id === secretId);
    if (!secret) throw notConfigured(secretId, config);
    return pluginFor(secret.provider);
  };
  return {
    config,
    vault,
    target,
    clock: deps.clock,
    owner: processOwnerId(),
    pluginFor: pluginOf,
    distributor: new Distributor({ config, pluginFor: pluginOf, log: deps.log, env: deps.env ?? process.env }),
    async close() {
      await vault.close?.();
    },
  };
}

export function notConfigured(secretId: string, config: RotatorConfig): RotatorError {
  const known = config.secrets.map((s) => s.id);
  return new RotatorError(
    'NOT_FOUND',
    `no secret '${secretId}' in ${config.file}` + (known.length ? ` (configured: ${known.join(', ')})` : ' (it has no secrets)'),
  );
}
