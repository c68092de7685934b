import { Option, type Command } from 'commander';
import { revokeSecret, type RevokeStage } from '../../incident/revoke';
import { EXIT, type CliContext } from '../context';
import { confirmed, fail } from './incident-io';

interface RevokeOpts {
  stage: RevokeStage;
  dryRun?: boolean;
  yes?: boolean;
}

/** `rotator revoke <id> [--stage previous|current] [--dry-run] [--yes]`: see src/incident/revoke.ts. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('revoke')
    .description('revoke a leaked credential at the provider now (current: rotate first, then revoke the old one)')
    .argument('<id>', 'secret id from the configuration')
    .addOption(new Option('--stage <stage>', 'which credential').choices(['previous', 'current']).default('previous'))
    .option('--dry-run', 'say what would happen; change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .addHelpText(
      'after',
      '\nExit codes: 0 revoked · 1 failed, or the provider cannot revoke (the credential stays valid until it expires) · 2 usage',
    )
    .action(async (id: string, opts: RevokeOpts) => {
      const log = ctx.logger('warn');
      const prepared = await ctx.prepare(log);
      ctx.requireConfigured(prepared.config, [id]);
      await ctx.withRuntime(prepared, log, async (runtime) => {
        try {
          const dryRun = Boolean(opts.dryRun);
          if (!dryRun) {
            await confirmed(
              ctx,
              opts.yes,
              `Revoke the ${opts.stage} credential of ${id}${opts.stage === 'current' ? ' (after rotating it)' : ''}?`,
            );
          }
          const outcome = await revokeSecret(runtime, id, opts.stage, { dryRun, log });
          ctx.io.stdout.write(`${outcome.message}\n`);
          if (!outcome.revoked && !dryRun) ctx.setExit(EXIT.failed);
        } catch (err) {
          fail(ctx, err);
        }
      });
    });
}
