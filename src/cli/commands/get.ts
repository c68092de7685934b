import { Option, type Command } from 'commander';
import { RotatorError } from '../../errors';
import { formatDotenv, formatEnv, formatShell, type EnvFormat } from '../../distribute/env';
import { pickField } from '../output';
import type { CliContext } from '../context';
import { envOf, readValue } from './read';

interface GetOpts {
  format: 'json' | EnvFormat;
  field?: string;
  stage: 'current' | 'previous';
  sandbox?: boolean;
}

/** `rotator get <id> [--field f] [--format …] [--stage …]`: a secret from the vault on stdout. */
export function register(program: Command, ctx: CliContext): void {
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
    .action(async (id: string, opts: GetOpts) => {
      const log = ctx.logger('warn');
      const prepared = await ctx.prepare(log, { sandbox: Boolean(opts.sandbox), readOnly: true });
      ctx.requireConfigured(prepared.config, [id]);
      const text = await ctx.withRuntime(prepared, log, async (runtime) => {
        const value = await readValue(runtime, id, opts.stage);
        if (opts.field) {
          const picked = pickField(value, opts.field);
          if (picked === undefined) throw new RotatorError('USAGE', `'${id}' has no field '${opts.field}'`);
          return typeof picked === 'string' ? picked : JSON.stringify(picked);
        }
        if (opts.format === 'json') return JSON.stringify(value, null, 2);
        const entries = envOf(runtime, value);
        return opts.format === 'env'
          ? formatEnv(entries)
          : opts.format === 'dotenv'
            ? formatDotenv(entries)
            : formatShell(entries);
      });
      ctx.io.stdout.write(`${text}\n`);
    });
}
