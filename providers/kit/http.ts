import { RotatorError } from '../../src/errors';
import { stepName, type Step } from './answer';

/**
 * Bounds on every provider request (issue 10): a total deadline that covers connect, headers and
 * the whole body (a server dripping one byte a second cannot hold a request past it; a timeout
 * between bytes would let it hold one forever), and a cap on the body size counted after
 * decompression (a gzip bomb is cancelled at the cap, never inflated whole).
 */

/** Every provider answer rotator reads is a few KiB; a 500-item list page stays well under this. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** connect + headers + body of one request. */
export const DEFAULT_DEADLINE_MS = 15_000;

/**
 * The bounds in force, read at each request. Tests lower `deadlineMs` to exercise a stalled server
 * without waiting 15 s; product code never changes them.
 */
export const httpBounds = { deadlineMs: DEFAULT_DEADLINE_MS, maxBodyBytes: MAX_BODY_BYTES };

/** The body went past {@link MAX_BODY_BYTES}: thrown by the readers, mapped by {@link transportError}. */
export class BodyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is larger than ${maxBytes} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/** A deadline signal joined with the caller's (shutdown) signal. */
export interface Deadline {
  readonly signal: AbortSignal;
  readonly ms: number;
}

export function deadline(ms: number = httpBounds.deadlineMs, outer?: AbortSignal): Deadline {
  const timeout = AbortSignal.timeout(ms);
  return { signal: outer ? AbortSignal.any([outer, timeout]) : timeout, ms };
}

/**
 * Reads a fetch body as text, cancelling the stream once more than `maxBytes` arrived (after
 * fetch's own decompression). Aborting the request's signal rejects the read too.
 */
export async function readCapped(res: Response, maxBytes: number = httpBounds.maxBodyBytes): Promise<string> {
  if (!res.body) return '';
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes && !res.headers.get('content-encoding')) {
    await res.body.cancel().catch(() => undefined);
    throw new BodyTooLarge(maxBytes);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface BoundedResponse {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * One fetch with a total deadline and a capped body; failures become RotatorErrors naming the
 * step. `redirect: manual`: a redirect is an answer to report, not to follow with credentials.
 */
export async function fetchBounded(
  url: string,
  init: Omit<RequestInit, 'signal' | 'redirect'>,
  step: Step,
  options: { signal?: AbortSignal; deadlineMs?: number; maxBytes?: number } = {},
): Promise<BoundedResponse> {
  const limit = deadline(options.deadlineMs, options.signal);
  try {
    const res = await fetch(url, { ...init, signal: limit.signal, redirect: 'manual' });
    return { status: res.status, headers: res.headers, text: await readCapped(res, options.maxBytes) };
  } catch (err) {
    throw transportError(asTimeout(err, limit.signal, options.signal), step, limit.ms, options.signal);
  }
}

/**
 * fetch reports an abort during the body as a plain AbortError or "terminated", not as the
 * signal's TimeoutError: when the deadline fired and the caller's signal did not, it was a timeout.
 */
export function asTimeout(err: unknown, limit: AbortSignal, outer?: AbortSignal): unknown {
  if (limit.aborted && !outer?.aborted && !(err instanceof BodyTooLarge)) {
    return Object.assign(new Error('deadline exceeded'), { name: 'TimeoutError' });
  }
  return err;
}

/**
 * A request that got no complete answer, as a RotatorError naming the step and endpoint:
 * shutdown → ABORTED; deadline → PROVIDER_UNAVAILABLE "timed out after 15s" (retryable); too
 * large → PROVIDER_BAD_ANSWER (not retryable: the next answer will be as large); anything else
 * (refused, reset, DNS) → PROVIDER_UNAVAILABLE (retryable). Never attaches `cause`: fetch and
 * axios errors can carry the request and its Authorization header.
 */
export function transportError(err: unknown, step: Step, deadlineMs: number, outer?: AbortSignal): RotatorError {
  if (err instanceof RotatorError) return err;
  const name = stepName(step);
  const details = { endpoint: step.path };
  if (outer?.aborted) return new RotatorError('ABORTED', `${name}: stopped by shutdown`, { plugin: step.plugin, details });
  if (err instanceof BodyTooLarge) {
    return new RotatorError(
      'PROVIDER_BAD_ANSWER',
      `${name} answered more than ${err.maxBytes} bytes (the cap on provider answers); nothing was stored. ` +
        `Is the endpoint ${step.service}?`,
      { plugin: step.plugin, retryable: false, details },
    );
  }
  if (isTimeout(err)) {
    return new RotatorError(
      'PROVIDER_UNAVAILABLE',
      `${name} timed out after ${formatSeconds(deadlineMs)} (connect, headers and body); will retry. ` +
        'If it persists, check network access to the endpoint.',
      { plugin: step.plugin, retryable: true, details: { ...details, networkCode: 'timeout' } },
    );
  }
  const code = networkCode(err);
  return new RotatorError(
    'PROVIDER_UNAVAILABLE',
    `${name} failed without an answer (${code}); will retry. If it persists, check network access to the endpoint.`,
    { plugin: step.plugin, retryable: true, details: { ...details, networkCode: code } },
  );
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || (err.name === 'AbortError' && /timeout/i.test(err.message)));
}

/** The system error code under a fetch failure (ECONNREFUSED, ECONNRESET…), or "network error". */
function networkCode(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
  }
  return 'network error';
}

export function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
