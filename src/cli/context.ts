/**
 * What every command shares: the injected io, exit codes, the logger, config loading and sandbox
 * preparation, opening the runtime, and error reporting. Commands (src/cli/commands/*.ts) hold
 * only their own options and steps.
 *
 * What loads: read-only commands must not load the daemon, a provider's HTTP client or an
 * emulator (issue 14; test/integration/cli-modules.test.ts checks it, and
 * test/bench/cold-start.bench.ts measures it). Providers come as light descriptors (their plugins
 * load on first rotation), emulators load inside sandbox start, and `run` requires the service.
 */
import type { Clock, Logger } from '../types';
import { ConfigError, formatProblem, loadConfig, resolveConfigPath, type LoadedConfig } from '../config';
import type { RotatorConfig } from '../../config/schema';
import { createRuntime, notConfigured, type Runtime } from '../runtime';
import { startSandbox, withSandboxVault, type Sandbox } from '../sandbox';
import { createLogger, type LogFormat, type LogLevel } from '../log';
import { RotatorError, describeError, isRotatorError } from '../errors';
import { secrets } from '../redact';
import { systemClock } from '../clock';

/**
 * Exit codes: 0 ok · 1 a rotation (or read) failed · 2 bad configuration or usage ·
 * 75 (EX_TEMPFAIL) nothing failed, but a secret was not rotated because another rotator process
 * holds its lease: try again later. When several apply, the most severe wins: 2, then 1, then 75.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, leased: 75 } as const;
const SEVERITY: Record<number, number> = { [EXIT.ok]: 0, [EXIT.leased]: 1, [EXIT.failed]: 2, [EXIT.usage]: 3 };

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** Everything a command touches outside itself, injectable for tests. */
export interface CliIo {
  /** Confirmations and piped credentials (incident commands); default process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** Installs signal handlers for `run` and `sandbox`; resolves with the first signal. */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
  /** Installs a SIGHUP handler for `run` (reload the configuration); absent: no reloads. */
  onHangup?: (handler: () => void) => () => void;
}

export const defaultIo = (): CliIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  clock: systemClock,
  onSignal(handler) {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  },
  onHangup(handler) {
    process.on('SIGHUP', handler);
    return () => process.off('SIGHUP', handler);
  },
});

/** A loaded configuration, rewritten for the sandbox when asked, and the environment to run with. */
export interface Prepared {
  config: RotatorConfig;
  sandbox?: Sandbox;
  env: NodeJS.ProcessEnv;
}

export interface GlobalOptions {
  config?: string;
  logLevel?: LogLevel;
  /** `--log-format`; absent: pretty on a terminal, JSON otherwise (createLogger decides). */
  logFormat?: LogFormat;
}

export interface PrepareOptions {
  sandbox?: boolean;
  /** Start from an empty sandbox vault (`run --sandbox`). */
  fresh?: boolean;
  /** Only reads the vault: unset credentials are fine, and no emulator is started in the sandbox. */
  readOnly?: boolean;
}

export class CliContext {
  private exitCode: number = EXIT.ok;

  constructor(
    readonly io: CliIo,
    readonly argv: readonly string[],
    private readonly globals: () => GlobalOptions,
  ) {}

  get code(): number {
    return this.exitCode;
  }

  /** Records an outcome; the most severe one is the process's exit code. */
  setExit(code: number): void {
    if ((SEVERITY[code] ?? 3) > (SEVERITY[this.exitCode] ?? 3)) this.exitCode = code;
  }

  logger(fallback: LogLevel): Logger {
    const fromEnv = this.io.env.ROTATOR_LOG_LEVEL || undefined;
    if (fromEnv !== undefined && !LOG_LEVELS.includes(fromEnv as LogLevel)) {
      throw new RotatorError('USAGE', `ROTATOR_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got '${fromEnv}')`);
    }
    return createLogger({
      level: this.globals().logLevel ?? (fromEnv as LogLevel | undefined) ?? fallback,
      destination: this.io.stderr,
      ...(this.globals().logFormat ? { format: this.globals().logFormat } : {}),
    });
  }

  /** Reads and validates the config (`-c`, else ROTATOR_CONFIG, else ./rotator.config.yaml). */
  loadConfig(options: { sandbox?: boolean; readOnly?: boolean } = {}): LoadedConfig {
    return loadConfig(resolveConfigPath(this.globals().config, this.io.env), { env: this.io.env, ...options });
  }

  /**
   * Loads and validates the config (logging its warnings for commands that change state); in sandbox mode rewrites it onto the emulators (read-only
   * commands need only the sandbox vault, no emulator). `env` is what the runtime reads: the
   * sandbox vault never sees the operator's ROTATOR_VAULT_KEY.
   */
  async prepare(log: Logger, options: PrepareOptions = {}): Promise<Prepared> {
    const sandbox = Boolean(options.sandbox);
    const config = this.loadConfig({ sandbox, readOnly: Boolean(options.readOnly) });
    // Commands that change state (run, rotate, revoke, rollback, adopt) say what `validate` would
    // warn about, once, in their log; readers (get, exec, status) stay quiet for scripts.
    if (!options.readOnly) for (const warning of config.warnings) log.warn({ warning }, 'configuration warning');
    if (!sandbox) return { config, env: this.io.env };
    const env = withoutVaultKey(this.io.env);
    if (options.readOnly) return { config: withSandboxVault(config), env };
    const box = await startSandbox(config, { log, clock: this.io.clock }, { fresh: Boolean(options.fresh) });
    this.io.stderr.write(`${box.banner()}\n`);
    return { config: box.config, sandbox: box, env };
  }

  /** Opens the runtime (vault, providers on first use) for `prepared`, runs `body`, closes it. */
  async withRuntime<T>(prepared: Prepared, log: Logger, body: (runtime: Runtime) => Promise<T>): Promise<T> {
    const runtime = await createRuntime(prepared.config, { clock: this.io.clock, log, env: prepared.env });
    try {
      return await body(runtime);
    } finally {
      await runtime.close();
    }
  }

  /** Fails with NOT_FOUND (exit 2) naming the configured ids when one of `ids` is not configured. */
  requireConfigured(config: RotatorConfig, ids: readonly string[]): void {
    for (const id of ids) if (!config.secrets.some((s) => s.id === id)) throw notConfigured(id, config);
  }
}

/** Writes `err` for the operator (config problems one per line, secrets scrubbed); returns the exit code. */
export function reportError(io: CliIo, err: unknown): number {
  const code =
    isRotatorError(err) && (err.code === 'CONFIG' || err.code === 'USAGE' || err.code === 'NOT_FOUND') ? EXIT.usage : EXIT.failed;
  if (err instanceof ConfigError && err.problems.length > 0) {
    const n = err.problems.length;
    const lines = err.problems.map((p) => `  ${formatProblem(p)}`);
    io.stderr.write(
      secrets.scrub(`rotator: the configuration has ${n} problem${n === 1 ? '' : 's'}; nothing was done:\n${lines.join('\n')}\n`),
    );
    return code;
  }
  io.stderr.write(`rotator: ${secrets.scrub(isRotatorError(err) ? err.message : describeError(err))}\n`);
  return code;
}

export function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

function withoutVaultKey(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { ROTATOR_VAULT_KEY: _dropped, ...rest } = env;
  return rest;
}
