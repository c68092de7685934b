/**
 * The `rotator` command. Thin: it builds the commander program from one file per command
 * (src/cli/commands/*.ts), which share src/cli/context.ts (config, sandbox, logger, exit codes,
 * error reporting), and maps the outcome to an exit code (see EXIT in context.ts):
 *   0 ok · 1 a rotation (or read) failed · 2 bad configuration or usage · 75 lease held elsewhere.
 * stdout carries command output (tables, JSON, env); logs go to stderr.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { LOG_FORMATS } from '../log';
import { CliContext, EXIT, LOG_LEVELS, defaultIo, reportError, type CliIo, type GlobalOptions } from './context';
import * as validate from './commands/validate';
import * as run from './commands/run';
import * as rotate from './commands/rotate';
import * as status from './commands/status';
import * as get from './commands/get';
import * as exec from './commands/exec';
import * as sandbox from './commands/sandbox';
import * as init from './commands/init';
import * as revoke from './commands/revoke';
import * as rollback from './commands/rollback';
import * as adopt from './commands/adopt';
import * as rekey from './commands/rekey';

export { EXIT, type CliIo } from './context';
export { splitExecArgs } from './commands/exec';

/** In help order. Adding a command: its file in commands/ and one entry here. */
const COMMANDS: readonly { register(program: Command, ctx: CliContext): void }[] = [
  validate,
  run,
  rotate,
  status,
  get,
  exec,
  sandbox,
  init,
  revoke,
  rollback,
  adopt,
  rekey,
];

/** Runs the CLI with `argv` (as process.argv: node, script, args…). Resolves with the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const program = new Command('rotator')
    .description('Keeps service-account secrets fresh: issue, store, verify, promote, distribute.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('-c, --config <file>', 'configuration file (default: $ROTATOR_CONFIG or ./rotator.config.yaml)')
    .addOption(new Option('--log-level <level>', 'log level (default: $ROTATOR_LOG_LEVEL, else info)').choices(LOG_LEVELS))
    .addOption(
      new Option('--log-format <format>', 'log lines as json or pretty (default: pretty on a terminal, json otherwise)').choices(
        LOG_FORMATS,
      ),
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run `rotator --help` for usage)')
    .addHelpText(
      'after',
      `\nExit codes: ${EXIT.ok} ok · ${EXIT.failed} a rotation or read failed · ${EXIT.usage} bad configuration or usage · ` +
        `${EXIT.leased} not rotated: another process holds the lease (try again later)`,
    );
  const ctx = new CliContext(io, argv, () => program.opts<GlobalOptions>());
  for (const command of COMMANDS) command.register(program, ctx);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    return reportError(io, err);
  }
  return ctx.code;
}

/** The version in rotator's package.json (the nearest one above this file: src/ or dist/src/). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'rotator' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look further up
    }
  }
  return 'unknown';
}
