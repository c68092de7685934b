import type { Command } from 'commander';
import type { Logger } from '../../types';
import type { Runtime } from '../../runtime';
import { rotationDeps } from '../../runtime';
import { rotateSecret, type RotationResult } from '../../rotate';
import { createLimiter } from '../../limit';
import { describeError, isRotatorError, RotatorError } from '../../errors';
import { secrets } from '../../redact';
import { EXIT, unique, type CliContext } from '../context';
import { formatData, outputFormat, type OutputFormat } from '../output';
import { createProgress, formatSummary, type SummaryRow } from '../progress';
import { outputOptions } from './status';
import { withCronAlerts } from '../cron-alerts';

interface RotateOpts {
  all?: boolean;
  ifDue?: boolean;
  dryRun?: boolean;
  force?: boolean;
  sandbox?: boolean;
  verbose?: boolean;
  concurrency?: number;
  json?: boolean;
  output?: OutputFormat;
}

type Outcome = RotationResult | { secretId: string; error: unknown };

/** `--concurrency N`: a whole number 1..64, as in the config. */
export function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > 64) {
    throw new RotatorError('USAGE', `--concurrency must be a whole number from 1 to 64 (got '${text}')`);
  }
  return n;
}

/** `rotator rotate <id…>|--all [--if-due] [--dry-run] [--sandbox]`: one-off rotations. */
export function register(program: Command, ctx: CliContext): void {
  outputOptions(
    program
      .command('rotate')
      .description('rotate the named secrets now (one-off)')
      .argument('[ids...]', 'secret ids from the configuration'),
  )
    .option('--all', 'every configured secret')
    .option('--if-due', 'only those whose renewal time has come')
    .option('--dry-run', 'say what would happen; change nothing')
    .option('--force', 'rotate a paused secret, or delete a previous secret still inside its grace period')
    .option('--sandbox', 'against the built-in emulators and the sandbox vault')
    .option('--concurrency <n>', "secrets rotated at once (default: the config's concurrency)", parseConcurrency)
    .option('-v, --verbose', 'show INFO logs on a terminal too (they are hidden behind the progress line)')
    .addHelpText(
      'after',
      `\nOn a terminal, rotate shows progress (done/total, failures) and ends with a summary table; elsewhere
it prints one line per secret, with INFO logs on stderr.

Exit codes: 0 rotated (or not due) · 1 a rotation or its distribution failed · 2 bad config or usage ·
${EXIT.leased} another rotator process holds the lease of a secret, so it was not rotated here: try again
later (with --if-due this is not reported: the peer is rotating it).`,
    )
    .action(async (ids: string[], opts: RotateOpts) => {
      if (opts.all && ids.length > 0) throw new RotatorError('USAGE', 'give secret ids or --all, not both');
      if (!opts.all && ids.length === 0) throw new RotatorError('USAGE', 'name the secrets to rotate, or pass --all');
      const { io } = ctx;
      const format = outputFormat(opts);
      // On a terminal the progress line replaces the INFO logs (-v brings them back).
      const terminal = Boolean(io.stderr.isTTY);
      const log = ctx.logger(terminal && !opts.verbose ? 'warn' : 'info');
      const prepared = await ctx.prepare(log, { sandbox: Boolean(opts.sandbox) });
      const { config, sandbox } = prepared;
      try {
        const selected = opts.all ? config.secrets.map((s) => s.id) : unique(ids);
        ctx.requireConfigured(config, selected);
        const progress = terminal && format === 'table' ? createProgress(io.stderr, selected.length) : undefined;
        const options = { ifDue: Boolean(opts.ifDue), dryRun: Boolean(opts.dryRun), force: Boolean(opts.force) };
        const results = await ctx.withRuntime(prepared, log, (runtime) => {
          const all = () =>
            rotateAll(runtime, selected, log, options, opts.concurrency ?? runtime.config.concurrency, (r) =>
              progress?.finished(!('error' in r) && !r.distributionError),
            );
          // `--if-due` is what cron runs: it alerts like the daemon does (src/cli/cron-alerts.ts).
          return options.ifDue && !options.dryRun ? withCronAlerts(runtime, selected, log, all) : all();
        });
        progress?.end();
        for (const r of results) {
          if ('error' in r) ctx.setExit(EXIT.failed);
          else if (r.distributionError) ctx.setExit(EXIT.failed);
          else if (r.outcome === 'leased-elsewhere' && !opts.ifDue) ctx.setExit(EXIT.leased);
        }
        const data = formatData(format, results.map(resultData));
        if (data !== undefined) io.stdout.write(data);
        else if (progress) io.stdout.write(`${formatSummary(results.map(summaryRow))}\n`);
        else for (const r of results) writeResultLines(io, r);
      } finally {
        await sandbox?.close();
      }
    });
}

/** Rotates `ids`, `concurrency` at a time; a failure is returned, not thrown. */
function rotateAll(
  runtime: Runtime,
  ids: string[],
  log: Logger,
  options: { ifDue: boolean; dryRun: boolean; force: boolean },
  concurrency: number,
  onResult: (r: Outcome) => void,
): Promise<Outcome[]> {
  const limiter = createLimiter(concurrency);
  const deps = rotationDeps(runtime, log, 'one-off');
  return Promise.all(
    ids.map((id) =>
      limiter.run(async () => {
        const r: Outcome = await rotateSecret(runtime.target(id), deps, options).catch((error: unknown) => ({
          secretId: id,
          error,
        }));
        onResult(r);
        return r;
      }),
    ),
  );
}

/** The plain output (not a terminal): one line per secret on stdout, failures on stderr. */
function writeResultLines(io: CliContext['io'], r: Outcome): void {
  if ('error' in r) {
    io.stderr.write(`${r.secretId}: failed: ${secrets.scrub(describeError(r.error))}\n`);
    return;
  }
  io.stdout.write(`${describeResult(r)}\n`);
  if (r.distributionError) {
    io.stderr.write(
      `${r.secretId}: the vault holds the new credential, but distribution failed: ${secrets.scrub(r.distributionError)}\n`,
    );
  }
}

/** `-o json|yaml`: the result as data; a failure as `{ secretId, outcome: 'failed', error: { code, message } }`. */
function resultData(r: Outcome): unknown {
  if (!('error' in r)) return r.distributionError ? { ...r, distributionError: secrets.scrub(r.distributionError) } : r;
  const code = isRotatorError(r.error) ? r.error.code : 'INTERNAL';
  const message = secrets.scrub(isRotatorError(r.error) ? r.error.message : describeError(r.error));
  return { secretId: r.secretId, outcome: 'failed', error: { code, message } };
}

/** A row of the terminal summary. */
function summaryRow(r: Outcome): SummaryRow {
  if ('error' in r) return { secretId: r.secretId, result: 'failed', detail: secrets.scrub(describeError(r.error)) };
  if (r.distributionError) {
    return { secretId: r.secretId, result: 'distribution failed', detail: secrets.scrub(r.distributionError) };
  }
  const detail = describeResult(r).slice(r.secretId.length + 2);
  return { secretId: r.secretId, result: r.outcome === 'dry-run' ? 'dry run' : r.outcome.replace(/-/g, ' '), detail };
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
