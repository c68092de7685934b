/**
 * Configuration loading with the provider registry injected: config/ validates against whatever
 * providers it is given and imports none (one-way layers); this is where the two meet. Only the
 * providers' light descriptors are used, so loading a config never loads an HTTP client.
 */
import { loadConfig as loadWith, parseConfig as parseWith, type LoadOptions, type LoadedConfig } from '../config/load';
import { providers } from '../providers';
import { secrets } from './redact';
import { VAULT_LIMITS } from './vaults/limits';

export { resolveConfigPath, ConfigError, formatProblem, type LoadedConfig } from '../config/load';

export type ConfigOptions = Omit<LoadOptions, 'plugins'> & Partial<Pick<LoadOptions, 'plugins'>>;

/** {@link loadWith config/load's loadConfig}, with every registered provider unless `plugins` is given. */
export function loadConfig(path: string, options: ConfigOptions = {}): LoadedConfig {
  declarePublicFields(options);
  return loadWith(path, { ...options, plugins: options.plugins ?? providers, vaultLimits: options.vaultLimits ?? VAULT_LIMITS });
}

/** {@link parseWith config/load's parseConfig} (no file system), with every registered provider by default. */
export function parseConfig(text: string, options: ConfigOptions & { file: string; absolute: string }): LoadedConfig {
  declarePublicFields(options);
  return parseWith(text, { ...options, plugins: options.plugins ?? providers, vaultLimits: options.vaultLimits ?? VAULT_LIMITS });
}

/**
 * The providers' public fields (ids such as MongoDB's clientId) stay readable once a value is
 * read from the vault: declared before anything reads one, here where the registry and the
 * providers meet.
 */
function declarePublicFields(options: ConfigOptions): void {
  const registry = options.secretRegistry ?? secrets;
  for (const p of options.plugins ?? providers) registry.declarePublicFields(p.type, p.publicFields);
}
