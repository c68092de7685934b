/**
 * The `rotator` command. Thin: it parses arguments, loads the configuration, calls the library
 * (runtime, rotateSecret, RotatorService) and maps outcomes to exit codes:
 *   0 ok · 1 a rotation (or read) failed · 2 bad configuration or usage.
 * stdout carries command output (tables, JSON, env); logs go to stderr.
 */
import { Command, CommanderError, Option } from 'commander';
import type { Clock, Logger, VaultValue } from '../types';
import { systemClock } from '../clock';
import { createLogger, type LogLevel } from '../log';
import { ConfigError, formatProblem, loadConfig, resolveConfigPath } from '../../config/load';
import type { RotatorConfig } from '../../config/schema';
import { createRuntime, notConfigured, policyOf, type Runtime } from '../runtime';
import { startSandbox, withSandboxVault, type Sandbox } from '../sandbox';
import { credentialOf, rotateSecret, type RotationResult } from '../rotate';
import { renewalTime } from '../renewal';
import { RotatorService } from '../service';
import { RotatorError, describeError, isRotatorError } from '../errors';
import { inheritableEnv, secrets } from '../redact';
import { createLimiter } from '../limit';
import { formatDotenv, formatEnv, formatShell, mergeEnvEntries, secretEnvEntries, type EnvFormat } from '../distribute/env';
import { execWithSecrets } from '../distribute/exec';
import { parseDuration } from '../../config/duration';
import { constants as osConstants } from 'node:os';
import { formatPlan, formatStatusTable, pickField, type StatusRow } from './output';
import { statusRow } from '../status';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
/** Signals closer together than this are one delivery seen twice (see `run`). */
const DUPLICATE_SIGNAL_MS = 1_000;

/** Everything a command touches outside itself, injectable for tests. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** Installs signal handlers for `run` and `sandbox`; resolves with the first signal. */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

const defaultIo = (): CliIo => ({
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
});

/** A loaded configuration, rewritten for the sandbox when asked, and the environment to run with. */
interface Prepared {
  config: RotatorConfig;
  sandbox?: Sandbox;
  env: NodeJS.ProcessEnv;
}

interface GlobalOptions {
  config?: string;
  logLevel?: LogLevel;
}

/** Runs the CLI with `argv` (as process.argv: node, script, args…). Resolves with the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(
    io,
    (code) => {
      exitCode = Math.max(exitCode, code);
    },
    argv,
  );
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    return reportError(io, err);
  }
  return exitCode;
}

function reportError(io: CliIo, err: unknown): number {
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

function buildProgram(io: CliIo, setExit: (code: number) => void, argv: string[]): Command {
  const program = new Command('rotator')
    .description('Keeps service-account secrets fresh: issue, store, verify, promote, distribute.')
    .option('-c, --config <file>', 'configuration file (default: $ROTATOR_CONFIG or ./rotator.config.yaml)')
    .addOption(new Option('--log-level <level>', 'log level (default: $ROTATOR_LOG_LEVEL, else info)').choices(LOG_LEVELS))
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run `rotator --help` for usage)');

  const globals = () => program.opts<GlobalOptions>();
  const logger = (fallback: LogLevel) => {
    const fromEnv = io.env.ROTATOR_LOG_LEVEL || undefined;
    if (fromEnv !== undefined && !LOG_LEVELS.includes(fromEnv as LogLevel)) {
      throw new RotatorError('USAGE', `ROTATOR_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got '${fromEnv}')`);
    }
    return createLogger({ level: globals().logLevel ?? (fromEnv as LogLevel | undefined) ?? fallback, destination: io.stderr });
  };

  /**
   * Loads and validates the config; in sandbox mode rewrites it onto the emulators (read-only
   * commands need only the sandbox vault, no emulator). `env` is what the runtime reads: the
   * sandbox vault never sees the operator's ROTATOR_VAULT_KEY.
   */
  const prepare = async (log: Logger, sandbox: boolean, fresh = false, readOnly = false): Promise<Prepared> => {
    const path = resolveConfigPath(globals().config, io.env);
    const config = loadConfig(path, { env: io.env, sandbox, readOnly });
    if (!sandbox) return { config, env: io.env };
    const env = withoutVaultKey(io.env);
    if (readOnly) return { config: withSandboxVault(config), env };
    const box = await startSandbox(config, { log, clock: io.clock }, { fresh });
    io.stderr.write(`${box.banner()}\n`);
    return { config: box.config, sandbox: box, env };
  };

  const open = (prepared: Prepared, log: Logger) => createRuntime(prepared.config, { clock: io.clock, log, env: prepared.env });

  /** `status` and `plan`: every configured secret's row, one vault read each. */
  const statusRows = async (sandbox: boolean) => {
    const log = logger('warn');
    const prepared = await prepare(log, sandbox, false, true);
    const { config } = prepared;
    const now = io.clock.now();
    const runtime = await open(prepared, log);
    try {
      const rows = await Promise.all(
        config.secrets.map(async (s) => statusRow(s.id, s.provider, await runtime.vault.read(s.id), policyOf(config, s), now)),
      );
      return { rows, now };
    } finally {
      await runtime.close();
    }
  };

  program
    .command('validate')
    .description('check the configuration; exit 2 with file, line and key for every problem')
    .option('--sandbox', 'validate as `run --sandbox` would (no credentials needed)')
    .action(async (opts: { sandbox?: boolean }) => {
      const path = resolveConfigPath(globals().config, io.env);
      const config = loadConfig(path, { env: io.env, sandbox: Boolean(opts.sandbox) });
      for (const w of config.warnings) io.stderr.write(`warning: ${w}\n`);
      io.stdout.write(
        `${config.file}: ok (${config.secrets.length} secret${config.secrets.length === 1 ? '' : 's'}, vault ${config.vault.type})\n`,
      );
    });

  program
    .command('run')
    .description('the daemon: rotate every secret before it expires, until SIGINT/SIGTERM')
    .option('--sandbox', 'use the built-in emulators and a separate sandbox vault (no credentials needed)')
    .action(async (opts: { sandbox?: boolean }) => {
      const log = logger('info');
      const { config, sandbox, env } = await prepare(log, Boolean(opts.sandbox), true);
      const service = new RotatorService({ config, clock: io.clock, log, env });
      let signals = 0;
      let forced = false;
      let resolveStopped!: (code: number) => void;
      const stopped = new Promise<number>((r) => (resolveStopped = r));
      let firstSignalAt = 0;
      const detach = io.onSignal((signal) => {
        // Ctrl-C under `npm start` arrives twice at once: from the terminal and forwarded by npm.
        // Only a signal sent deliberately later counts as the second one that forces exit.
        if (signals > 0 && io.clock.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
        signals++;
        if (signals === 1) firstSignalAt = io.clock.now();
        if (signals > 1) {
          log.warn({ signal }, 'second signal: exiting now');
          forced = true;
          service.abortNow();
          resolveStopped(signal === 'SIGINT' ? 130 : 143);
          return;
        }
        log.info(
          { signal, graceMs: config.shutdownTimeoutMs },
          'stopping: finishing rotations in flight (signal again to force)',
        );
        service.stop().then(
          (clean) => resolveStopped(clean ? EXIT.ok : EXIT.failed),
          (err) => {
            log.error({ error: describeError(err) }, 'shutdown failed');
            resolveStopped(EXIT.failed);
          },
        );
      });
      try {
        // A start-up failure (port taken, vault unreadable) ends the command; a signal during
        // start-up is handled by stop(), which waits for start to settle.
        await Promise.race([service.start(), stopped]);
        const code = await stopped;
        setExit(code);
        log.info({ exitCode: code }, 'stopped');
      } finally {
        detach();
        if (!forced) {
          await service.stop(0);
          await sandbox?.close();
        }
      }
    });

  program
    .command('rotate')
    .description('rotate the named secrets now (one-off)')
    .argument('[ids...]', 'secret ids from the configuration')
    .option('--all', 'every configured secret')
    .option('--if-due', 'only those whose renewal time has come')
    .option('--dry-run', 'say what would happen; change nothing')
    .option('--force', 'rotate a paused secret, or delete a previous secret still inside its grace period')
    .option('--sandbox', 'against the built-in emulators and the sandbox vault')
    .action(
      async (ids: string[], opts: { all?: boolean; ifDue?: boolean; dryRun?: boolean; force?: boolean; sandbox?: boolean }) => {
        if (opts.all && ids.length > 0) throw new RotatorError('USAGE', 'give secret ids or --all, not both');
        if (!opts.all && ids.length === 0) throw new RotatorError('USAGE', 'name the secrets to rotate, or pass --all');
        const log = logger('info');
        const prepared = await prepare(log, Boolean(opts.sandbox));
        const { config, sandbox } = prepared;
        try {
          const selected = opts.all ? config.secrets.map((s) => s.id) : unique(ids);
          for (const id of selected) if (!config.secrets.some((s) => s.id === id)) throw notConfigured(id, config);
          const runtime = await open(prepared, log);
          try {
            const results = await rotateAll(runtime, selected, log, {
              ifDue: Boolean(opts.ifDue),
              dryRun: Boolean(opts.dryRun),
              force: Boolean(opts.force),
            });
            for (const r of results) {
              if ('error' in r) {
                setExit(EXIT.failed);
                io.stderr.write(`${r.secretId}: failed: ${secrets.scrub(describeError(r.error))}\n`);
              } else {
                io.stdout.write(`${describeResult(r)}\n`);
                if (r.distributionError) {
                  setExit(EXIT.failed);
                  io.stderr.write(
                    `${r.secretId}: the vault holds the new credential, but distribution failed: ${secrets.scrub(r.distributionError)}\n`,
                  );
                }
              }
            }
          } finally {
            await runtime.close();
          }
        } finally {
          await sandbox?.close();
        }
      },
    );

  program
    .command('status')
    .description('each secret: state, expiry and renewal time')
    .option('--json', 'machine-readable output')
    .option('--sandbox', 'show the sandbox vault')
    .action(async (opts: { json?: boolean; sandbox?: boolean }) => {
      const { rows, now } = await statusRows(Boolean(opts.sandbox));
      io.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStatusTable(rows, now)}\n`);
    });

  program
    .command('plan')
    .description('what rotates when: every secret in renewal order')
    .option('--json', 'machine-readable output')
    .option('--sandbox', 'plan against the sandbox vault')
    .action(async (opts: { json?: boolean; sandbox?: boolean }) => {
      const { rows, now } = await statusRows(Boolean(opts.sandbox));
      const when = (r: StatusRow) => (r.renewsAt === 'now' || !r.renewsAt ? now : Date.parse(r.renewsAt));
      rows.sort((a, b) => when(a) - when(b) || a.secretId.localeCompare(b.secretId));
      io.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatPlan(rows, now)}\n`);
    });

  /** The current (or previous) value of a configured secret, or a NOT_FOUND that says what to do. */
  const readValue = async (runtime: Runtime, id: string, stage: 'current' | 'previous' = 'current'): Promise<VaultValue> => {
    const version = (await runtime.vault.read(id))[stage];
    if (!version) {
      throw new RotatorError(
        'NOT_FOUND',
        `'${id}' has no ${stage} version in the vault yet` + (stage === 'current' ? ` (run \`rotator rotate ${id}\`)` : ''),
      );
    }
    secrets.addAll(version.value.credentials);
    return version.value;
  };
  const envOf = (runtime: Runtime, value: VaultValue) =>
    secretEnvEntries(
      value,
      runtime.pluginFor(value.secretId).envNames,
      runtime.config.secrets.find((s) => s.id === value.secretId)?.env,
    );

  program
    .command('get')
    .description('print a secret from the vault')
    .argument('<id>', 'secret id')
    .addOption(
      new Option('--format <format>', 'json; env (NAME=value); dotenv (quoted for .env parsers); shell (export lines for eval)')
        .choices(['json', 'env', 'dotenv', 'shell'])
        .default('json'),
    )
    .option('--field <path>', 'print one field, e.g. credentials.accessKey (or just accessKey)')
    .addOption(new Option('--stage <stage>', 'which version').choices(['current', 'previous']).default('current'))
    .option('--sandbox', 'read the sandbox vault')
    .action(
      async (
        id: string,
        opts: { format: 'json' | EnvFormat; field?: string; stage: 'current' | 'previous'; sandbox?: boolean },
      ) => {
        const log = logger('warn');
        const prepared = await prepare(log, Boolean(opts.sandbox), false, true);
        const { config } = prepared;
        if (!config.secrets.some((s) => s.id === id)) throw notConfigured(id, config);
        const runtime = await open(prepared, log);
        try {
          const value = await readValue(runtime, id, opts.stage);
          if (opts.field) {
            const picked = pickField(value, opts.field);
            if (picked === undefined) throw new RotatorError('USAGE', `'${id}' has no field '${opts.field}'`);
            io.stdout.write(`${typeof picked === 'string' ? picked : JSON.stringify(picked)}\n`);
          } else if (opts.format === 'json') {
            io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
          } else {
            const entries = envOf(runtime, value);
            const text =
              opts.format === 'env'
                ? formatEnv(entries)
                : opts.format === 'dotenv'
                  ? formatDotenv(entries)
                  : formatShell(entries);
            io.stdout.write(`${text}\n`);
          }
        } finally {
          await runtime.close();
        }
      },
    );

  program
    .command('exec')
    .description('run a command with the credentials of the named secrets in its environment')
    .usage('[options] <id...> -- <command> [args...]')
    .argument('<words...>', 'secret ids, then -- and the command')
    .option('--watch', 'restart the command (or signal it, with --signal) when a credential changes')
    .option('--interval <duration>', 'with --watch: how often to re-read the vault (e.g. 30s, 5m)', '30s')
    .option('--signal <signal>', 'with --watch: send this signal (e.g. SIGHUP) instead of restarting')
    .option('--sandbox', 'read the sandbox vault')
    .action(async (words: string[], opts: { watch?: boolean; interval: string; signal?: string; sandbox?: boolean }) => {
      const { ids, command } = splitExecArgs(argv, words);
      const intervalMs = parseInterval(opts.interval);
      const signal = opts.signal === undefined ? undefined : parseSignal(opts.signal);
      if (!opts.watch && opts.signal !== undefined) throw new RotatorError('USAGE', '--signal only applies with --watch');
      const log = logger('warn');
      const prepared = await prepare(log, Boolean(opts.sandbox), false, true);
      const { config } = prepared;
      for (const id of ids) if (!config.secrets.some((s) => s.id === id)) throw notConfigured(id, config);
      const runtime = await open(prepared, log);
      try {
        const read = async () => {
          const values = await Promise.all(ids.map((id) => readValue(runtime, id)));
          const renewals = values.map((v) =>
            renewalTime(
              v.secretId,
              credentialOf(v),
              policyOf(
                config,
                config.secrets.find((s) => s.id === v.secretId)!,
              ),
            ),
          );
          return {
            entries: mergeEnvEntries(values.map((v) => ({ secretId: v.secretId, entries: envOf(runtime, v) }))),
            versions: values.map((v) => v.rotationId).join(','),
            renewsAt: Math.min(...renewals),
          };
        };
        const code = await execWithSecrets({
          command: command[0]!,
          args: command.slice(1),
          // The child gets its credentials, not the vault key or the master credentials.
          baseEnv: inheritableEnv(io.env),
          read,
          ...(opts.watch ? { watch: { intervalMs, ...(signal ? { signal } : {}) } } : {}),
          stdio: { stdout: io.stdout, stderr: io.stderr, inherit: io.stdout === process.stdout },
          log,
        });
        setExit(code);
      } finally {
        await runtime.close();
      }
    });

  program
    .command('sandbox')
    .description('run the provider emulators and the AWS Secrets Manager emulator on loopback until interrupted')
    .action(async () => {
      const log = logger('info');
      const path = resolveConfigPath(globals().config, io.env);
      const config = loadConfig(path, { env: io.env, sandbox: true });
      const box = await startSandbox(config, { log, clock: io.clock }, { allProviders: true, secretsManager: true });
      io.stdout.write(`${box.banner()}\n`);
      await new Promise<void>((resolve) => {
        const detach = io.onSignal(() => {
          detach();
          resolve();
        });
      });
      await box.close();
    });

  return program;
}

/** Rotates `ids` with the configured concurrency; a failure is returned, not thrown. */
async function rotateAll(
  runtime: Runtime,
  ids: string[],
  log: Logger,
  options: { ifDue: boolean; dryRun: boolean; force: boolean },
): Promise<(RotationResult | { secretId: string; error: unknown })[]> {
  const limiter = createLimiter(runtime.config.concurrency);
  const deps = {
    vault: runtime.vault,
    clock: runtime.clock,
    log,
    owner: runtime.owner,
    onPromoted: (value: VaultValue) => runtime.distributor.distribute(value),
    // `--if-due` on a host whose peer rotated: bring this host's files (and hooks) up to date.
    onCurrentSeen: (value: VaultValue) => runtime.distributor.distributeIfFilesChanged(value),
  };
  return Promise.all(
    ids.map((id) =>
      limiter.run(() => rotateSecret(runtime.target(id), deps, options).catch((error: unknown) => ({ secretId: id, error }))),
    ),
  );
}

function describeResult(r: RotationResult): string {
  const cleanup = [
    ...(r.orphansRevoked?.length
      ? [`deleted ${r.orphansRevoked.join(', ')} left at the provider by an interrupted rotation`]
      : []),
    ...(r.revokedPrevious ? [`revoked the previous credential ${r.revokedPrevious}`] : []),
  ];
  return cleanup.length ? `${describeOutcome(r)}; ${cleanup.join('; ')}` : describeOutcome(r);
}

function describeOutcome(r: RotationResult): string {
  const expiry = r.current ? ` (current expires ${r.current.expiresAt})` : '';
  switch (r.outcome) {
    case 'rotated':
      return `${r.secretId}: rotated${r.reason && r.reason !== 'forced' ? ` (${r.reason})` : ''}${expiry}`;
    case 'resumed':
      return `${r.secretId}: resumed an interrupted rotation and promoted it${expiry}`;
    case 'not-due':
      return `${r.secretId}: not due${expiry}`;
    case 'leased-elsewhere':
      return `${r.secretId}: skipped: another rotator process is rotating it`;
    case 'superseded':
      return `${r.secretId}: another process rotated it first; ours was cleaned up${expiry}`;
    case 'dry-run':
      return `${r.secretId}: ${r.plan}`;
  }
}

/**
 * `exec a b -- cmd x`: commander hands over every operand; the raw argv says where `--` was.
 */
export function splitExecArgs(argv: string[], words: string[]): { ids: string[]; command: string[] } {
  const dash = argv.indexOf('--', argv.indexOf('exec'));
  if (dash < 0) throw new RotatorError('USAGE', 'write the command after --: rotator exec <id...> -- <command> [args...]');
  const command = argv.slice(dash + 1);
  const ids = words.slice(0, words.length - command.length);
  if (command.length === 0) throw new RotatorError('USAGE', 'no command after --');
  if (ids.length === 0) throw new RotatorError('USAGE', 'name at least one secret before --');
  return { ids: unique(ids), command };
}

function parseInterval(text: string): number {
  const ms = /^\d+(ms|s|m|h|d)$/.test(text) ? parseDuration(text) : NaN;
  if (!(ms >= 1_000))
    throw new RotatorError('USAGE', `--interval must be a duration of at least 1s, e.g. 30s or 5m (got '${text}')`);
  return ms;
}

function parseSignal(text: string): NodeJS.Signals {
  const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in osConstants.signals))
    throw new RotatorError('USAGE', `--signal: unknown signal '${text}' (e.g. SIGHUP, SIGUSR1)`);
  return name;
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}

function withoutVaultKey(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { ROTATOR_VAULT_KEY: _dropped, ...rest } = env;
  return rest;
}

export type { Runtime };
