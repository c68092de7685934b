import type { Command } from 'commander';
import { policyOf } from '../../runtime';
import { formatPlan, formatStatusTable, type StatusRow } from '../output';
import { statusRow } from '../../status';
import type { CliContext } from '../context';

/** Every configured secret's row (one vault read each), for `status` and `plan`. */
async function statusRows(ctx: CliContext, sandbox: boolean): Promise<{ rows: StatusRow[]; now: number }> {
  const log = ctx.logger('warn');
  const prepared = await ctx.prepare(log, { sandbox, readOnly: true });
  const { config } = prepared;
  const now = ctx.io.clock.now();
  const rows = await ctx.withRuntime(prepared, log, (runtime) =>
    Promise.all(
      config.secrets.map(async (s) => statusRow(s.id, s.provider, await runtime.vault.read(s.id), policyOf(config, s), now)),
    ),
  );
  return { rows, now };
}

/** `rotator status` and `rotator plan`: the same rows, as a table or in renewal order. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('each secret: state, expiry and renewal time')
    .option('--json', 'machine-readable output')
    .option('--sandbox', 'show the sandbox vault')
    .action(async (opts: { json?: boolean; sandbox?: boolean }) => {
      const { rows, now } = await statusRows(ctx, Boolean(opts.sandbox));
      ctx.io.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStatusTable(rows, now)}\n`);
    });

  program
    .command('plan')
    .description('what rotates when: every secret in renewal order')
    .option('--json', 'machine-readable output')
    .option('--sandbox', 'plan against the sandbox vault')
    .action(async (opts: { json?: boolean; sandbox?: boolean }) => {
      const { rows, now } = await statusRows(ctx, Boolean(opts.sandbox));
      const when = (r: StatusRow) => (r.renewsAt === 'now' || !r.renewsAt ? now : Date.parse(r.renewsAt));
      rows.sort((a, b) => when(a) - when(b) || a.secretId.localeCompare(b.secretId));
      ctx.io.stdout.write(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatPlan(rows, now)}\n`);
    });
}
