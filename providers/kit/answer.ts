import { RotatorError, type ErrorCode } from '../../src/errors';
import { secrets } from '../../src/redact';

/**
 * Turning a provider's HTTP answer into data or a RotatorError, the same way for every provider:
 * status classification (with `retryable` set truthfully), Retry-After, quoting provider text
 * safely, and the errors for answers that are malformed.
 *
 * What may be quoted (issue 10): structured error fields of non-2xx answers (scrubbed of every
 * registered secret, control characters removed, shortened); a raw excerpt of a non-2xx body only
 * from endpoints whose bodies never hold a credential; never anything from a 2xx body (a
 * truncated `{"secret": "…` would carry the live value, registered for scrubbing only once it
 * parses). Parse failures name the field that is missing or invalid, never its content.
 */

/** Names one request in messages: `MongoDB token request (POST /api/oauth/token)`. */
export interface Step {
  /** The plugin type, for `RotatorError.plugin`. */
  plugin: string;
  /** The service as operators know it: "NCP STS", "MongoDB". */
  service: string;
  /** What is being done: "token request", "issue STS credentials". */
  action: string;
  method: string;
  /** The path (no query, no host): ids in it are not secret. */
  path: string;
}

export function stepName(step: Step): string {
  return `${step.service} ${step.action} (${step.method} ${step.path})`;
}

const QUOTE_MAX = 300;

/** Provider text as it may appear in a message: scrubbed, on one line, shortened. */
export function quote(text: string, max: number = QUOTE_MAX): string {
  const line = secrets
    .scrub(text)
    // Control characters would break the log line (and forge new ones): they are removed.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * Describes a body that is not the expected JSON: its content type and size, plus (only when
 * `excerpt` is allowed) its first 100 characters. Pass `excerpt: false` for 2xx answers and for
 * endpoints whose bodies may hold a credential.
 */
export function describeBody(contentType: string | null | undefined, text: string, excerpt: boolean): string {
  const type = contentType || 'none';
  if (text.trim() === '') return `an empty body (content-type ${type})`;
  const start = excerpt ? `, starts ${JSON.stringify(quote(text, 100))}` : '';
  return `a non-JSON body (content-type ${type}, ${Buffer.byteLength(text)} bytes${start})`;
}

/** JSON text to a value; undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object as a record; anything else as an empty one, so field checks report it. */
export function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/** An answer the provider should never give: not retried, nothing stored. */
export function badAnswer(step: Step, what: string, details: RotatorErrorDetails = {}): RotatorError {
  return new RotatorError(
    'PROVIDER_BAD_ANSWER',
    `${stepName(step)} answered ${what}; nothing was stored. Is the endpoint ${step.service}, or did its API change?`,
    { plugin: step.plugin, retryable: false, details: { endpoint: step.path, ...details } },
  );
}

type RotatorErrorDetails = Record<string, string | number | boolean | undefined>;

/** The sentences a provider gives per kind of refusal; `byStatus` overrides single statuses. */
export interface StatusAdvice {
  throttled: string;
  unavailable: string;
  auth: string;
  forbidden: string;
  notFound: string;
  rejected: string;
  unexpected: string;
  byStatus?: Readonly<Record<number, string>>;
}

export interface StatusClass {
  code: ErrorCode;
  retryable: boolean;
  advice: string;
}

/**
 * The one status table. Retryable: 429 (throttled), 408 and 5xx (the service, not the request, is
 * at fault). Not retryable: 401/403 (credentials or permissions: only the operator can fix them),
 * other 4xx (the request is wrong), and statuses a JSON API never answers (1xx/3xx: a proxy or a
 * wrong endpoint).
 */
export function classifyStatus(status: number, advice: StatusAdvice): StatusClass {
  const special = advice.byStatus?.[status];
  const pick = (code: ErrorCode, retryable: boolean, text: string): StatusClass => ({ code, retryable, advice: special ?? text });
  if (status === 429) return pick('RATE_LIMITED', true, advice.throttled);
  if (status === 408 || status >= 500) return pick('PROVIDER_UNAVAILABLE', true, advice.unavailable);
  if (status === 401) return pick('PROVIDER_AUTH', false, advice.auth);
  if (status === 403) return pick('PROVIDER_FORBIDDEN', false, advice.forbidden);
  if (status === 404) return pick('PROVIDER_REJECTED', false, advice.notFound);
  if (status >= 400) return pick('PROVIDER_REJECTED', false, advice.rejected);
  return pick('PROVIDER_UNAVAILABLE', false, advice.unexpected);
}

/**
 * Retry-After as milliseconds: delta-seconds, or an HTTP date read against the answer's own `Date`
 * header (so local clock skew does not distort it), else against `now`. Undefined when absent or
 * unreadable. The engine caps the wait (it never sleeps past the lease or the credential).
 */
export function retryAfterMs(
  header: string | null | undefined,
  dateHeader: string | null | undefined,
  now: number,
): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  const serverNow = dateHeader ? Date.parse(dateHeader) : NaN;
  return Math.max(0, at - (Number.isNaN(serverNow) ? now : serverNow));
}
