import type { Command } from 'commander';
import type { CliContext } from '../context';

/** `rotator validate [--sandbox]`: every config problem with file:line, exit 2; else a one-line summary. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check the configuration; exit 2 with file, line and key for every problem')
    .option('--sandbox', 'validate as `run --sandbox` would (no credentials needed)')
    .action((opts: { sandbox?: boolean }) => {
      const config = ctx.loadConfig({ sandbox: Boolean(opts.sandbox) });
      for (const w of config.warnings) ctx.io.stderr.write(`warning: ${w}\n`);
      const n = config.secrets.length;
      ctx.io.stdout.write(`${config.file}: ok (${n} secret${n === 1 ? '' : 's'}, vault ${config.vault.type})\n`);
    });
}
