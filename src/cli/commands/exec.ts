import type { Command } from 'commander';
import { constants as osConstants } from 'node:os';
import { policyOf } from '../../runtime';
import { credentialOf } from '../../rotate';
import { renewalTime } from '../../renewal';
import { RotatorError } from '../../errors';
import { inheritableEnv } from '../../redact';
import { mergeEnvEntries } from '../../distribute/env';
import { execWithSecrets } from '../../distribute/exec';
import { parseDuration } from '../../duration';
import { unique, type CliContext } from '../context';
import { envOf, readValue } from './read';

interface ExecOpts {
  watch?: boolean;
  interval: string;
  signal?: string;
  sandbox?: boolean;
}

/** `rotator exec <id…> -- cmd [args…]`: the command runs with the credentials in its environment. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('exec')
    .description('run a command with the credentials of the named secrets in its environment')
    .usage('[options] <id...> -- <command> [args...]')
    .argument('<words...>', 'secret ids, then -- and the command')
    .option('--watch', 'restart the command (or signal it, with --signal) when a credential changes')
    .option('--interval <duration>', 'with --watch: how often to re-read the vault (e.g. 30s, 5m)', '30s')
    .option('--signal <signal>', 'with --watch: send this signal (e.g. SIGHUP) instead of restarting')
    .option('--sandbox', 'read the sandbox vault')
    .action(async (words: string[], opts: ExecOpts) => {
      const { io } = ctx;
      const { ids, command } = splitExecArgs(ctx.argv, words);
      const intervalMs = parseInterval(opts.interval);
      const signal = opts.signal === undefined ? undefined : parseSignal(opts.signal);
      if (!opts.watch && opts.signal !== undefined) throw new RotatorError('USAGE', '--signal only applies with --watch');
      const log = ctx.logger('warn');
      const prepared = await ctx.prepare(log, { sandbox: Boolean(opts.sandbox), readOnly: true });
      const { config } = prepared;
      ctx.requireConfigured(config, ids);
      const code = await ctx.withRuntime(prepared, log, (runtime) => {
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
        return execWithSecrets({
          command: command[0]!,
          args: command.slice(1),
          // The child gets its credentials, not the vault key or the master credentials.
          baseEnv: inheritableEnv(io.env),
          read,
          ...(opts.watch ? { watch: { intervalMs, ...(signal ? { signal } : {}) } } : {}),
          stdio: { stdout: io.stdout, stderr: io.stderr, inherit: io.stdout === process.stdout },
          log,
        });
      });
      ctx.setExit(code);
    });
}

/** `exec a b -- cmd x`: commander hands over every operand; the raw argv says where `--` was. */
export function splitExecArgs(argv: readonly string[], words: string[]): { ids: string[]; command: string[] } {
  const dash = argv.indexOf('--', argv.indexOf('exec'));
  if (dash < 0) throw new RotatorError('USAGE', 'write the command after --: rotator exec <id...> -- <command> [args...]');
  const command = argv.slice(dash + 1);
  const ids = words.slice(0, words.length - command.length);
  if (command.length === 0) throw new RotatorError('USAGE', 'no command after --');
  if (ids.length === 0) throw new RotatorError('USAGE', 'name at least one secret before --');
  return { ids: unique(ids), command };
}

function parseInterval(text: string): number {
  let ms = NaN;
  try {
    ms = parseDuration(text);
  } catch {
    // reported below, with what to write instead
  }
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
