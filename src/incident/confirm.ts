/**
 * Confirmation for the incident commands: `--yes` skips it; on a terminal the operator types
 * "yes"; on anything else (a pipe, cron, CI) it refuses with a usage error rather than reading a
 * confirmation from a stream that may be a script's data.
 */
import { createInterface } from 'node:readline/promises';
import { RotatorError } from '../errors';

export interface ConfirmIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** Resolves when confirmed; throws USAGE (exit 2) on a non-terminal without --yes, CANCELLED when declined. */
export async function confirm(io: ConfirmIo, yes: boolean, question: string): Promise<void> {
  if (yes) return;
  if (!io.stdin.isTTY) {
    throw new RotatorError('USAGE', `${question} — not asked: stdin is not a terminal; pass --yes to confirm`);
  }
  const rl = createInterface({ input: io.stdin, output: io.stderr });
  try {
    const answer = await rl.question(`${question} Type "yes" to continue: `);
    if (answer.trim().toLowerCase() !== 'yes') throw new RotatorError('USAGE', 'not confirmed; nothing was done');
  } finally {
    rl.close();
  }
}

/** Reads all of `stream` as UTF-8 (a credential piped to `adopt`), refusing more than `maxBytes`. */
export async function readAll(stream: NodeJS.ReadableStream, maxBytes = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > maxBytes) throw new RotatorError('USAGE', `the credential input is larger than ${maxBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
