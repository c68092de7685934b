/**
 * Sandbox mode (`--sandbox`, `npm start`, `rotator sandbox`): the provider emulators run
 * in-process on loopback, every configured secret is pointed at them with credentials they
 * accept, and a separate file vault is used. The configured vault and the real services are
 * never touched.
 */
import { rm, mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { EmulatorHandle, ProviderDeps, ProviderDescriptor, ProviderPlugin } from './types';
import type { RotatorConfig } from '../config/schema';
import { providers } from '../providers';
import { loadPlugin } from './runtime';
import { RotatorError } from './errors';
import { awsEnv, exportLine } from './sandbox-rehearsal';

/** The credentials the sandbox Secrets Manager emulator accepts (not secret: loopback only). */
export const SANDBOX_AWS_CREDENTIALS = { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' } as const;

export interface Sandbox {
  /** The configuration rewritten to the emulators and the sandbox vault. */
  config: RotatorConfig;
  emulators: { type: string; url: string }[];
  vaultPath: string;
  /** A few lines for the operator saying what is real and what is not. */
  banner(): string;
  close(): Promise<void>;
}

export interface SandboxOptions {
  /** Start from an empty sandbox vault: the emulators keep no state across restarts. */
  fresh?: boolean;
  /** Start every plugin's emulator, not only those the config uses (`rotator sandbox`). */
  allProviders?: boolean;
  /** Default: the registry; only the plugins the sandbox starts are loaded. */
  plugins?: readonly (ProviderPlugin | ProviderDescriptor)[];
  /** Also start the AWS Secrets Manager emulator (`rotator sandbox`), for the AWS CLI or another rotator. */
  secretsManager?: boolean;
}

export function sandboxVaultPath(config: RotatorConfig): string {
  return join(dirname(config.file), '.rotator', 'sandbox', 'vault.json');
}

/** The configuration with its vault replaced by the sandbox vault (same for every command). */
export function withSandboxVault(config: RotatorConfig): RotatorConfig {
  const path = sandboxVaultPath(config);
  return { ...config, vault: { type: 'file', path, keyFile: `${path}.key`, history: 5 } };
}

export async function startSandbox(config: RotatorConfig, deps: ProviderDeps, options: SandboxOptions = {}): Promise<Sandbox> {
  const used = new Set(config.secrets.map((s) => s.provider));
  // Only the plugins this sandbox runs are loaded (with their emulators).
  const plugins = (options.plugins ?? providers).filter((p) => options.allProviders || used.has(p.type)).map(loadPlugin);
  const started = new Map<string, EmulatorHandle>();
  const closeAll = () => Promise.allSettled([...started.values()].map((e) => e.close()));
  let sandboxConfig: RotatorConfig;
  const vaultPath = sandboxVaultPath(config);
  // Whatever fails below, no emulator is left running (it would keep the process alive).
  try {
    for (const plugin of plugins) {
      if (!plugin.sandbox) continue;
      started.set(plugin.type, await plugin.sandbox.start({ ...deps, log: deps.log.child({ emulator: plugin.type }) }));
    }
    if (options.secretsManager) {
      // The emulators load only here, when a sandbox starts.
      const { startSecretsManagerEmulator } =
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('./vaults/aws/emulator') as typeof import('./vaults/aws/emulator');
      const sm = await startSecretsManagerEmulator({
        clock: deps.clock,
        credentials: { [SANDBOX_AWS_CREDENTIALS.accessKeyId]: SANDBOX_AWS_CREDENTIALS.secretAccessKey },
      });
      started.set('aws-secrets-manager', sm);
    }
    const secrets = config.secrets.map((secret) => {
      const plugin = plugins.find((p) => p.type === secret.provider);
      const emulator = started.get(secret.provider);
      if (!plugin?.sandbox || !emulator) {
        throw new RotatorError(
          'CONFIG',
          `secret '${secret.id}': provider '${secret.provider}' has no emulator, so it cannot run in the sandbox`,
        );
      }
      const rewritten = plugin.sandbox.rewrite(
        { id: secret.id, credentials: secret.credentials, params: secret.params },
        emulator,
      );
      return { ...secret, credentials: rewritten.credentials, params: rewritten.params };
    });
    if (options.fresh) await rm(dirname(vaultPath), { recursive: true, force: true });
    await mkdir(dirname(vaultPath), { recursive: true, mode: 0o700 });
    // Its own key, made here: a throw-away vault needs no "back up your key" warning.
    await writeFile(`${vaultPath}.key`, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      },
    );
    // Outputs land under the sandbox folder and reload commands are not run (src/distribute/outputs.ts).
    sandboxConfig = { ...withSandboxVault(config), secrets, sandbox: { outputsDir: join(dirname(vaultPath), 'outputs') } };
  } catch (err) {
    await closeAll();
    throw err;
  }
  const emulators = [...started].map(([type, e]) => ({ type, url: e.url }));
  return {
    config: sandboxConfig,
    emulators,
    vaultPath,
    banner: () =>
      [
        'SANDBOX MODE: no real service is called and the configured vault is not used.',
        ...emulators.map((e) => `  emulator ${e.type.padEnd(24)} ${e.url}`),
        `  sandbox vault ${vaultPath}${options.fresh ? ' (emptied at start)' : ''}`,
        ...(config.secrets.some((s) => s.outputs.length > 0)
          ? [`  outputs       files under ${join(dirname(vaultPath), 'outputs')}; reload commands are logged, not run`]
          : []),
        ...(started.has('aws-secrets-manager')
          ? [
              '  to use the Secrets Manager emulator (aws CLI v1 or v2, or a config with vault type aws-secrets-manager):',
              `    ${exportLine(awsEnv(started.get('aws-secrets-manager')!.url, SANDBOX_AWS_CREDENTIALS.accessKeyId, SANDBOX_AWS_CREDENTIALS.secretAccessKey))}`,
            ]
          : []),
      ].join('\n'),
    async close() {
      await closeAll();
    },
  };
}
