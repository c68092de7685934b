import type { Command } from 'commander';
import type { CliContext } from '../context';
import { formatData, outputFormat, type OutputFormat } from '../output';
import { outputOptions } from './status';

/**
 * `rotator validate [--sandbox] [-o json|yaml]`: every config problem with file:line, exit 2;
 * else a one-line summary (or `{ file, secrets, vault, warnings }` as JSON/YAML).
 */
export function register(program: Command, ctx: CliContext): void {
  outputOptions(
    program.command('validate').description('check the configuration; exit 2 with file, line and key for every problem'),
  )
    .option('--sandbox', 'validate as `run --sandbox` would (no credentials needed)')
    .action((opts: { sandbox?: boolean; json?: boolean; output?: OutputFormat }) => {
      const config = ctx.loadConfig({ sandbox: Boolean(opts.sandbox) });
      for (const w of config.warnings) ctx.io.stderr.write(`warning: ${w}\n`);
      const n = config.secrets.length;
      const data = formatData(outputFormat(opts), {
        file: config.file,
        ok: true,
        secrets: config.secrets.map((s) => ({ id: s.id, provider: s.provider })),
        vault: config.vault.type,
        warnings: config.warnings,
      });
      ctx.io.stdout.write(data ?? `${config.file}: ok (${n} secret${n === 1 ? '' : 's'}, vault ${config.vault.type})\n`);
    });
}
