import type { Command } from 'commander';
import type { Logger } from '../../types';
import type { Runtime } from '../../runtime';
import { rotationDeps } from '../../runtime';
import { rotateSecret, type RotationResult } from '../../rotate';
import { createLimiter } from '../../limit';
import { describeError, RotatorError } from '../../errors';
import { secrets } from '../../redact';
import { EXIT, unique, type CliContext } from '../context';
import { withCronAlerts } from '../cron-alerts';

interface RotateOpts {
  all?: boolean;
  ifDue?: boolean;
  dryRun?: boolean;
  force?: boolean;
  sandbox?: boolean;
}

/** `rotator rotate <id…>|--all [--if-due] [--dry-run] [--sandbox]`: one-off rotations. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('rotate')
    .description('rotate the named secrets now (one-off)')
    .argument('[ids...]', 'secret ids from the configuration')
    .option('--all', 'every configured secret')
    .option('--if-due', 'only those whose renewal time has come')
    .option('--dry-run', 'say what would happen; change nothing')
    .option('--force', 'rotate a paused secret, or delete a previous secret still inside its grace period')
    .option('--sandbox', 'against the built-in emulators and the sandbox vault')
    .addHelpText(
      'after',
      `\nExit codes: 0 rotated (or not due) · 1 a rotation or its distribution failed · 2 bad config or usage ·
${EXIT.leased} another rotator process holds the lease of a secret, so it was not rotated here: try again
later (with --if-due this is not reported: the peer is rotating it).`,
    )
    .action(async (ids: string[], opts: RotateOpts) => {
      if (opts.all && ids.length > 0) throw new RotatorError('USAGE', 'give secret ids or --all, not both');
      if (!opts.all && ids.length === 0) throw new RotatorError('USAGE', 'name the secrets to rotate, or pass --all');
      const { io } = ctx;
      const log = ctx.logger('info');
      const prepared = await ctx.prepare(log, { sandbox: Boolean(opts.sandbox) });
      const { config, sandbox } = prepared;
      try {
        const selected = opts.all ? config.secrets.map((s) => s.id) : unique(ids);
        ctx.requireConfigured(config, selected);
        const options = { ifDue: Boolean(opts.ifDue), dryRun: Boolean(opts.dryRun), force: Boolean(opts.force) };
        const results = await ctx.withRuntime(prepared, log, (runtime) =>
          // `--if-due` is what cron runs: it alerts like the daemon does (src/cli/cron-alerts.ts).
          options.ifDue && !options.dryRun
            ? withCronAlerts(runtime, selected, log, () => rotateAll(runtime, selected, log, options))
            : rotateAll(runtime, selected, log, options),
        );
        for (const r of results) {
          if ('error' in r) {
            ctx.setExit(EXIT.failed);
            io.stderr.write(`${r.secretId}: failed: ${secrets.scrub(describeError(r.error))}\n`);
            continue;
          }
          io.stdout.write(`${describeResult(r)}\n`);
          if (r.outcome === 'leased-elsewhere' && !opts.ifDue) ctx.setExit(EXIT.leased);
          if (r.distributionError) {
            ctx.setExit(EXIT.failed);
            io.stderr.write(
              `${r.secretId}: the vault holds the new credential, but distribution failed: ${secrets.scrub(r.distributionError)}\n`,
            );
          }
        }
      } finally {
        await sandbox?.close();
      }
    });
}

/** Rotates `ids` with the configured concurrency; a failure is returned, not thrown. */
function rotateAll(
  runtime: Runtime,
  ids: string[],
  log: Logger,
  options: { ifDue: boolean; dryRun: boolean; force: boolean },
): Promise<(RotationResult | { secretId: string; error: unknown })[]> {
  const limiter = createLimiter(runtime.config.concurrency);
  const deps = rotationDeps(runtime, log, 'one-off');
  return Promise.all(
    ids.map((id) =>
      limiter.run(() => rotateSecret(runtime.target(id), deps, options).catch((error: unknown) => ({ secretId: id, error }))),
    ),
  );
}

export function describeResult(r: RotationResult): string {
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
      return `${r.secretId}: not rotated: another rotator process holds its lease (exit ${EXIT.leased}: try again later)`;
    case 'superseded':
      return `${r.secretId}: another process rotated it first; ours was cleaned up${expiry}`;
    case 'dry-run':
      return `${r.secretId}: ${r.plan}`;
  }
}
