import { Option, type Command } from 'commander';
import { policyOf } from '../../runtime';
import {
  OUTPUT_FORMATS,
  formatData,
  formatPlan,
  formatStatusDetail,
  formatStatusTable,
  formatStatusWide,
  needsAttention,
  outputFormat,
  type OutputFormat,
  type StatusDetail,
  type StatusRow,
} from '../output';
import { statusRow } from '../../status';
import type { OutputConfig, SecretConfig } from '../../../config/schema';
import type { RotationWindow } from '../../window';
import type { RenewalPolicy } from '../../renewal';
import { EXIT, type CliContext } from '../context';

interface ReadOpts {
  json?: boolean;
  output?: OutputFormat;
  sandbox?: boolean;
}

/** `-o/--output` and its `--json` alias, shared by status, plan, rotate and validate. */
export function outputOptions(command: Command): Command {
  return command
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .option('--json', 'same as -o json');
}

/** The rows of `ids` (one vault read each), for `status` and `plan`. */
async function statusRows(
  ctx: CliContext,
  sandbox: boolean,
  ids?: readonly string[],
): Promise<{ rows: StatusRow[]; secrets: SecretConfig[]; policies: RenewalPolicy[]; now: number }> {
  const log = ctx.logger('warn');
  const prepared = await ctx.prepare(log, { sandbox, readOnly: true });
  const { config } = prepared;
  if (ids) ctx.requireConfigured(config, ids);
  const secrets = ids ? config.secrets.filter((s) => ids.includes(s.id)) : config.secrets;
  const now = ctx.io.clock.now();
  const policies = secrets.map((s) => policyOf(config, s));
  const rows = await ctx.withRuntime(prepared, log, (runtime) =>
    Promise.all(secrets.map(async (s, i) => statusRow(s.id, s.provider, await runtime.vault.read(s.id), policies[i]!, now))),
  );
  return { rows, secrets, policies, now };
}

/** An output in words, without anything secret (file path and format, or the command line). */
export function describeOutput(o: OutputConfig): string {
  return o.type === 'file' ? `file ${o.path} (${o.format})` : `command ${o.run}`;
}

function describeWindow(w: RotationWindow): string {
  const minutes = Math.round(w.durationMs / 60_000);
  return `opens at '${w.start}' (${w.timezone ?? 'UTC'}), stays open ${minutes >= 60 && minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`}`;
}

/** `rotator status [id]` and `rotator plan`: the same rows, as a table, in detail or in renewal order. */
export function register(program: Command, ctx: CliContext): void {
  outputOptions(
    program
      .command('status')
      .description('each secret: state, time left and next action (or one secret in detail)')
      .argument('[id]', 'show this secret in detail: versions, last error, window, outputs'),
  )
    .option('--check', 'exit 1 when a secret needs attention (failing, expiring, expired or missing)')
    .option('--sandbox', 'show the sandbox vault')
    .addHelpText(
      'after',
      `\nStates: ok · renewing (due or in progress) · failing (last attempt failed; retrying) · expiring (inside the
emergency margin) · expired · paused (never rotated) · missing (no credential in the vault yet).
The table fits 80 columns; -o wide shows every column, -o json|yaml everything.

For scripts and monitoring: \`rotator status --check\` exits ${EXIT.failed} when any secret is failing, expiring,
expired or missing (0 otherwise; ${EXIT.usage} for bad configuration or usage), e.g.
  rotator status --check -o json > status.json || alert "rotator needs attention"`,
    )
    .action(async (id: string | undefined, opts: ReadOpts & { check?: boolean }) => {
      const format = outputFormat(opts);
      const { rows, secrets, policies, now } = await statusRows(ctx, Boolean(opts.sandbox), id === undefined ? undefined : [id]);
      if (opts.check && rows.some(needsAttention)) ctx.setExit(EXIT.failed);
      if (id !== undefined) {
        const secret = secrets[0]!;
        const window = policies[0]!.window;
        const detail: StatusDetail = {
          ...rows[0]!,
          outputs: secret.outputs.map(describeOutput),
          ...(window ? { window: describeWindow(window) } : {}),
        };
        ctx.io.stdout.write(formatData(format, detail) ?? `${formatStatusDetail(detail, now)}\n`);
        return;
      }
      const table = format === 'wide' ? formatStatusWide(rows, now) : formatStatusTable(rows, now);
      ctx.io.stdout.write(formatData(format, rows) ?? `${table}\n`);
    });

  outputOptions(
    program
      .command('plan')
      .description('what rotates when: every secret in renewal order (windows, pauses, jitter and back-off applied)'),
  )
    .option('--sandbox', 'plan against the sandbox vault')
    .action(async (opts: ReadOpts) => {
      const { rows, now } = await statusRows(ctx, Boolean(opts.sandbox));
      rows.sort((a, b) => planOrder(a, now) - planOrder(b, now) || a.secretId.localeCompare(b.secretId));
      ctx.io.stdout.write(formatData(outputFormat(opts), rows) ?? `${formatPlan(rows, now)}\n`);
    });
}

/** Soonest first; "now" before any time; never (paused) last. */
function planOrder(r: StatusRow, now: number): number {
  if (r.renewsAt === undefined) return Number.POSITIVE_INFINITY;
  return r.renewsAt === 'now' ? now : Date.parse(r.renewsAt);
}
