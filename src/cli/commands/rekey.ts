import type { Command } from 'commander';
import { RotatorError } from '../../errors';
import { createAuditLog, noAudit } from '../../audit';
import { NEW_VAULT_KEY_ENV, rekey } from '../../incident/rekey';
import type { CliContext } from '../context';
import { confirmed, fail } from './incident-io';

interface RekeyOpts {
  newKeyFile?: string;
  dryRun?: boolean;
  yes?: boolean;
}

/** `rotator rekey [--new-key-file f] [--dry-run] [--yes]`: see src/incident/rekey.ts. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('rekey')
    .description(`change the file vault's key (new key from $${NEW_VAULT_KEY_ENV}, or generated into --new-key-file)`)
    .option('--new-key-file <file>', 'generate the new key into this new file (0600); it is never printed')
    .option('--dry-run', 'say which key opens the vault and which keys seal its records; change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .addHelpText(
      'after',
      '\nInterrupted? Run the same command again (same keys): it finishes the job. --dry-run says which key each record needs.',
    )
    .action(async (opts: RekeyOpts) => {
      const log = ctx.logger('warn');
      try {
        const { config } = await ctx.prepare(log, { readOnly: true });
        if (config.vault.type !== 'file') {
          throw new RotatorError(
            'USAGE',
            `rekey changes the key of the file vault; vault type ${config.vault.type} has its own key management`,
          );
        }
        const dryRun = Boolean(opts.dryRun);
        if (!dryRun) await confirmed(ctx, opts.yes, `Re-seal the vault ${config.vault.path} under a new key?`);
        const message = await rekey({
          vault: config.vault,
          env: ctx.io.env,
          ...(opts.newKeyFile ? { newKeyFile: opts.newKeyFile } : {}),
          dryRun,
          log,
          audit: config.audit ? createAuditLog(config.audit.path, { clock: ctx.io.clock, log }) : noAudit,
        });
        ctx.io.stdout.write(`${message}\n`);
      } catch (err) {
        fail(ctx, err);
      }
    });
}
