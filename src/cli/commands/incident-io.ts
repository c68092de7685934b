/**
 * What the incident commands (revoke, rollback, adopt, rekey) share on the CLI side: the
 * confirmation streams, and the exit code for their errors (a lease held elsewhere is 75, as for
 * rotate; a refusal to act without --yes is a usage error, 2).
 */
import { isRotatorError } from '../../errors';
import { confirm } from '../../incident/confirm';
import { EXIT, reportError, type CliContext } from '../context';

export function stdinOf(ctx: CliContext): NodeJS.ReadableStream & { isTTY?: boolean } {
  return ctx.io.stdin ?? process.stdin;
}

/** Asks on a terminal unless --yes; refuses (exit 2) on a non-terminal without --yes. */
export function confirmed(ctx: CliContext, yes: boolean | undefined, question: string): Promise<void> {
  return confirm({ stdin: stdinOf(ctx), stderr: ctx.io.stderr }, Boolean(yes), question);
}

/** Reports `err` and records its exit code (LEASE_HELD: 75). */
export function fail(ctx: CliContext, err: unknown): void {
  const code = reportError(ctx.io, err);
  ctx.setExit(isRotatorError(err) && err.code === 'LEASE_HELD' ? EXIT.leased : code);
}
