import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { adoptSecret, parseAdoptInput } from '../../incident/adopt';
import { readAll } from '../../incident/confirm';
import { RotatorError } from '../../errors';
import { secrets } from '../../redact';
import { EXIT, type CliContext } from '../context';
import { confirmed, fail, stdinOf } from './incident-io';

interface AdoptOpts {
  fromFile?: string;
  dryRun?: boolean;
  yes?: boolean;
}

/** `rotator adopt <id> [--from-file f] [--dry-run] [--yes]`: see src/incident/adopt.ts. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('adopt')
    .description('store an existing credential (JSON on stdin or --from-file, never an argument) as current, after verifying it')
    .argument('<id>', 'secret id from the configuration')
    .option('--from-file <file>', 'read the credential JSON from this file instead of stdin')
    .option('--dry-run', 'verify and say what would happen; change nothing')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .addHelpText(
      'after',
      '\nInput: {"credentials": {...}, "providerRef": "...", "expiresAt": "ISO 8601" (optional when the provider lists it)}',
    )
    .action(async (id: string, opts: AdoptOpts) => {
      const log = ctx.logger('warn');
      const prepared = await ctx.prepare(log);
      ctx.requireConfigured(prepared.config, [id]);
      try {
        const stdin = stdinOf(ctx);
        if (!opts.fromFile && stdin.isTTY) {
          throw new RotatorError('USAGE', 'pipe the credential JSON on stdin or pass --from-file <file>');
        }
        // With the credential on stdin, stdin is no terminal: only --yes confirms (a terminal asks with --from-file).
        if (!opts.dryRun) await confirmed(ctx, opts.yes, `Adopt a credential as the current version of ${id}?`);
        const text = opts.fromFile ? await readFile(opts.fromFile, 'utf8') : await readAll(stdin);
        const input = parseAdoptInput(text);
        await ctx.withRuntime(prepared, log, async (runtime) => {
          const outcome = await adoptSecret(runtime, id, input, { dryRun: Boolean(opts.dryRun), log });
          ctx.io.stdout.write(`${outcome.message}\n`);
          if (outcome.distributionError) {
            ctx.setExit(EXIT.failed);
            ctx.io.stderr.write(
              `${id}: the vault holds the adopted credential, but distribution failed: ${secrets.scrub(outcome.distributionError)}\n`,
            );
          }
        });
      } catch (err) {
        fail(ctx, err);
      }
    });
}
