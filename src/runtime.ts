/**
 * Turns a validated configuration into live objects: the vault, one provider instance per
 * secret, and rotation targets. Shared by every command (`run`, `rotate`, `status`, `get`) and
 * by the library, so they all see the same secrets the same way.
 */
import { processOwnerId } from './owner';
import type { Clock, Logger, Provider, ProviderDescriptor, ProviderPlugin, ProviderSchemas, Vault } from './types';
import type { RotatorConfig, SecretConfig } from '../config/schema';
import { providers } from '../providers';
import { createVault } from './vaults';
import { RotatorError } from './errors';
import type { RotationDeps, RotationTarget } from './rotate';
import type { RenewalPolicy } from './renewal';
import { Distributor } from './distribute/outputs';
import { auditProvider, auditVault, createAuditLog, noAudit, type AuditSink } from './audit';

export interface RuntimeDeps {
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Default: the registry (providers/index.ts). Descriptors are loaded on first use. */
  plugins?: readonly (ProviderPlugin | ProviderDescriptor)[];
  /**
   * Wraps the vault and each provider as they are created (the daemon counts their calls with
   * src/metrics.ts). Passed in rather than imported so read-only commands never load prom-client.
   */
  instrument?: { vault<V extends Vault>(vault: V): V; provider<P extends Provider>(provider: P): P };
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
  /** The provider's schemas and environment names (its plugin is not loaded for this). */
  pluginFor(secretId: string): ProviderSchemas;
  /** Writes each secret's outputs (files, reload commands): wire it to `onPromoted`. */
  distributor: Distributor;
  /** The audit trail (`audit: { path }`); a no-op sink when not configured. Vault and providers already record through it. */
  audit: AuditSink;
  close(): Promise<void>;
}

/** A secret's renewal policy: its own settings, else the config's `defaults`. */
export function policyOf(config: RotatorConfig, secret: SecretConfig): RenewalPolicy {
  const window = secret.window ?? config.defaults.window;
  const paused = secret.paused ?? config.defaults.paused ?? false;
  return {
    renewBefore: secret.renewBefore ?? config.defaults.renewBefore,
    jitter: secret.jitter ?? config.defaults.jitter,
    ...(window ? { window } : {}),
    ...(paused ? { paused } : {}),
  };
}

export async function createRuntime(config: RotatorConfig, deps: RuntimeDeps): Promise<Runtime> {
  const plugins = deps.plugins ?? providers;
  const pluginFor = (type: string): ProviderPlugin | ProviderDescriptor => {
    const plugin = plugins.find((p) => p.type === type);
    if (!plugin) throw new RotatorError('CONFIG', `unknown provider '${type}'`);
    return plugin;
  };
  const audit = config.audit ? createAuditLog(config.audit.path, { clock: deps.clock, log: deps.log }) : noAudit;
  const targets = new Map<string, RotationTarget>();
  // By id: the daemon asks for every secret at start, and a scan per call made that O(N²).
  const byId = new Map(config.secrets.map((s) => [s.id, s]));
  const target = (secretId: string): RotationTarget => {
    const cached = targets.get(secretId);
    if (cached) return cached;
    const secret = byId.get(secretId);
    if (!secret) throw notConfigured(secretId, config);
    const made: Provider = loadPlugin(pluginFor(secret.provider)).create(
      { id: secret.id, credentials: secret.credentials, params: secret.params },
      {
        log: new LazyChildLogger(deps.log, { secretId: secret.id }),
        clock: deps.clock,
        ...(config.vault.type === 'file' ? { statePath: config.vault.path } : {}),
      },
    );
    const instrumented = deps.instrument ? deps.instrument.provider(made) : made;
    const provider = config.audit ? auditProvider(instrumented, audit, secret.id) : instrumented;
    const created: RotationTarget = {
      secretId: secret.id,
      provider,
      policy: policyOf(config, secret),
      // The in-process memo serves only vaults that cannot record it durably (see RotationTarget).
      ...(vault.updateMeta ? {} : { revokedPrevious: new Set<string>() }),
    };
    targets.set(secretId, created);
    return created;
  };
  // Unknown provider types fail here, before the vault is opened.
  for (const secret of config.secrets) pluginFor(secret.provider);
  const opened = await createVault(config.vault, { clock: deps.clock, log: deps.log, env: deps.env ?? process.env });
  const instrumented = deps.instrument ? deps.instrument.vault(opened) : opened;
  const vault = config.audit ? auditVault(instrumented, audit) : instrumented;
  const pluginOf = (secretId: string) => {
    const secret = byId.get(secretId);
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
    audit,
    async close() {
      await Promise.all([...targets.values()].map((t) => t.provider.close?.()));
      await vault.close?.();
    },
  };
}

/**
 * The rotation's callbacks, wired one way for `rotator rotate` and `rotator run`. A promotion
 * distributes the new value. When a check finds nothing to do, distribution catches up with a
 * peer's rotation: the daemon remembers which version it distributed (`distributeIfNew`); a
 * one-off process has no such memory, so it compares the files (`distributeIfFilesChanged`).
 */
export function rotationDeps(runtime: Runtime, log: Logger, process: 'daemon' | 'one-off'): RotationDeps {
  const { distributor } = runtime;
  return {
    vault: runtime.vault,
    clock: runtime.clock,
    log,
    owner: runtime.owner,
    onPromoted: (value) => distributor.distribute(value),
    onCurrentSeen: (value) =>
      process === 'daemon' ? distributor.distributeIfNew(value) : distributor.distributeIfFilesChanged(value),
  };
}

/**
 * `parent.child(bindings)`, made on first use. The daemon creates a provider per secret at start
 * and most log nothing for hours: a pino child each cost ~210 bytes of heap (2 MB at 10,000
 * secrets); this costs its two fields. Methods live on the prototype, not in per-object closures.
 */
export class LazyChildLogger implements Logger {
  private made?: Logger;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  private get inner(): Logger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  debug(obj: object, msg?: string): void {
    this.inner.debug(obj, msg);
  }

  info(obj: object, msg?: string): void {
    this.inner.info(obj, msg);
  }

  warn(obj: object, msg?: string): void {
    this.inner.warn(obj, msg);
  }

  error(obj: object, msg?: string): void {
    this.inner.error(obj, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    return this.inner.child(bindings);
  }
}

/** The plugin behind a registry entry, loading it (and its HTTP client) now if needed. */
export function loadPlugin(entry: ProviderPlugin | ProviderDescriptor): ProviderPlugin {
  return 'load' in entry ? entry.load() : entry;
}

export function notConfigured(secretId: string, config: RotatorConfig): RotatorError {
  const known = config.secrets.map((s) => s.id);
  return new RotatorError(
    'NOT_FOUND',
    `no secret '${secretId}' in ${config.file}` + (known.length ? ` (configured: ${known.join(', ')})` : ' (it has no secrets)'),
  );
}
