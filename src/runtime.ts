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

export interface RuntimeDeps {
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  plugins?: readonly ProviderPlugin[];
}

export interface Runtime {
  config: RotatorConfig;
  vault: Vault;
  targets: Map<string, RotationTarget>;
  /** Unique per process: the lease owner. */
  owner: string;
  pluginFor(secretId: string): ProviderPlugin;
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
  const bySecret = new Map<string, ProviderPlugin>();
  for (const secret of config.secrets) {
    const plugin = pluginFor(secret.provider);
    const provider: Provider = plugin.create(
      { id: secret.id, credentials: secret.credentials, params: secret.params },
      { log: deps.log.child({ secretId: secret.id }), clock: deps.clock },
    );
    bySecret.set(secret.id, plugin);
    targets.set(secret.id, { secretId: secret.id, provider, policy: policyOf(config, secret) });
  }
  const vault = await createVault(config.vault, { clock: deps.clock, log: deps.log, env: deps.env ?? process.env });
  return {
    config,
    vault,
    targets,
    owner: processOwnerId(),
    pluginFor(secretId) {
      const plugin = bySecret.get(secretId);
      if (!plugin) throw notConfigured(secretId, config);
      return plugin;
    },
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
