import type { Command } from 'commander';
import { rollbackSecret } from '../../incident/rollback';
import { secrets } from '../../redact';
import { EXIT, type CliContext } from '../context';
import { confirmed, fail } from './incident-io';

interface RollbackOpts {
  dryRun?: boolean;
  yes?: boolean;
}

/** `rotator rollback <id> [--dry-run] [--yes]`: see src/incident/rollback.ts. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('rollback')
    .description('make the previous credential current again, if the provider still accepts it (verified first)')
    .argument('<id>', 'secret id from the configuration')
    .option('--dry-run', 'verify and say what would happen; change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .action(async (id: string, opts: RollbackOpts) => {
      const log = ctx.logger('warn');
      const prepared = await ctx.prepare(log);
      ctx.requireConfigured(prepared.config, [id]);
      await ctx.withRuntime(prepared, log, async (runtime) => {
        try {
          const dryRun = Boolean(opts.dryRun);
          if (!dryRun) await confirmed(ctx, opts.yes, `Make the previous credential of ${id} current again?`);
          const outcome = await rollbackSecret(runtime, id, { dryRun, log });
          ctx.io.stdout.write(`${outcome.message}\n`);
          if (outcome.distributionError) {
            ctx.setExit(EXIT.failed);
            ctx.io.stderr.write(
              `${id}: the vault holds the rolled-back credential, but distribution failed: ${secrets.scrub(outcome.distributionError)}\n`,
            );
          }
        } catch (err) {
          fail(ctx, err);
        }
      });
    });
}
