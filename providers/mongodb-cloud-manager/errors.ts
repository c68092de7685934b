import { RotatorError, type ErrorCode } from '../../src/errors';
import { secrets } from '../../src/redact';

/**
 * Mapping of MongoDB answers to RotatorError. Messages are built from the status, the ApiError
 * fields (`detail`, `errorCode`, `reason`), content types and ids only: never from request
 * headers (the Digest Authorization, Basic or Bearer), the private key, secrets or tokens.
 * Quoted provider text is scrubbed of every registered secret and shortened.
 */

export const PLUGIN = 'mongodb-cloud-manager';
const MAX_QUOTED = 300;
const MAX_EXCERPT = 100;

/** The documented error body. */
export interface ApiErrorBody {
  detail?: string;
  error?: number;
  errorCode?: string;
  parameters?: unknown[];
  reason?: string;
}

export function parseApiError(text: string): ApiErrorBody | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const out: ApiErrorBody = {
    ...(typeof b.detail === 'string' ? { detail: quote(b.detail, MAX_QUOTED) } : {}),
    ...(typeof b.error === 'number' ? { error: b.error } : {}),
    ...(typeof b.errorCode === 'string' ? { errorCode: quote(b.errorCode, 80) } : {}),
    ...(typeof b.reason === 'string' ? { reason: quote(b.reason, 80) } : {}),
    ...(Array.isArray(b.parameters) ? { parameters: b.parameters } : {}),
  };
  return out.detail || out.errorCode || out.reason ? out : undefined;
}

/** Provider text, scrubbed of registered secrets, control characters removed, shortened. */
export function quote(text: string, max: number): string {
  const line = secrets
    .scrub(text)
    // Control characters in a quoted body would break the log line: they are what we remove.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** "non-JSON body (content-type text/html, starts "<html>…")" for answers that are not ApiErrors. */
export function describeBody(res: { headers: Headers }, text: string): string {
  const type = res.headers.get('content-type') ?? 'none';
  const excerpt = quote(text, MAX_EXCERPT);
  return `a non-JSON body (content-type ${type}${excerpt ? `, starts ${JSON.stringify(excerpt)}` : ', empty'})`;
}

/** Retry-After in seconds (MongoDB sends seconds); an HTTP date is read against the local clock. */
export function retryAfterMs(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Who authenticated the call, for 401 advice. */
export interface AuthDescription {
  mode: 'api-key' | 'self-rotation';
  orgId: string;
  projectId?: string;
}

function classify(status: number, auth: AuthDescription): { code: ErrorCode; retryable: boolean; advice: string } {
  const scope = auth.projectId ? `project ${auth.projectId}` : `organization ${auth.orgId}`;
  if (status === 429) return { code: 'RATE_LIMITED', retryable: true, advice: 'MongoDB is throttling requests; will retry.' };
  if (status === 408 || status >= 500) {
    return { code: 'PROVIDER_UNAVAILABLE', retryable: true, advice: 'MongoDB is unavailable; will retry.' };
  }
  if (status === 401) {
    return {
      code: 'PROVIDER_AUTH',
      retryable: false,
      advice:
        auth.mode === 'api-key'
          ? `The API key (the secret's credentials publicKey/privateKey) is wrong, or lacks the ` +
            `${auth.projectId ? 'Project Owner role on' : 'Organization Owner role on'} ${scope}, or the caller's IP is not on its access list.`
          : `The token minted from the service account's current secret was refused: the secret may have been deleted ` +
            `or have expired, or the account lacks the Owner role on ${scope}.`,
    };
  }
  if (status === 403) {
    return {
      code: 'PROVIDER_FORBIDDEN',
      retryable: false,
      advice: `Authenticated but not allowed on ${scope}: grant the ${auth.projectId ? 'Project' : 'Organization'} Owner role, or check the access list.`,
    };
  }
  if (status === 404) {
    return { code: 'PROVIDER_REJECTED', retryable: false, advice: 'Not found: check orgId, projectId and clientId.' };
  }
  if (status === 406) {
    return {
      code: 'PROVIDER_REJECTED',
      retryable: false,
      advice: 'The API version was not accepted: check api (cloud-manager or atlas-v2) and baseUrl.',
    };
  }
  if (status >= 400) {
    return {
      code: 'PROVIDER_REJECTED',
      retryable: false,
      advice: 'The request was refused: check params (secretExpiresAfterHours, ids).',
    };
  }
  return { code: 'PROVIDER_UNAVAILABLE', retryable: false, advice: 'This is not an answer of the MongoDB API: check baseUrl.' };
}

/** A non-2xx answer of the Admin API as a RotatorError. */
export function statusError(
  res: { status: number; headers: Headers },
  text: string,
  action: string,
  auth: AuthDescription,
): RotatorError {
  const body = parseApiError(text);
  const cls = classify(res.status, auth);
  const said = body
    ? [body.errorCode, body.detail ? `"${body.detail}"` : body.reason].filter(Boolean).join(' ')
    : describeBody(res, text);
  const retryAfter = retryAfterMs(res.headers.get('retry-after'));
  return new RotatorError(cls.code, `MongoDB ${action} failed: HTTP ${res.status}, ${said}. ${cls.advice}`, {
    plugin: PLUGIN,
    retryable: cls.retryable,
    ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
    details: { status: res.status, errorCode: body?.errorCode },
  });
}

/** fetch failures: shutdown → ABORTED; timeouts and network errors → retryable. */
export function networkError(err: unknown, signal: AbortSignal | undefined, action: string, url: string): RotatorError {
  if (signal?.aborted) return new RotatorError('ABORTED', `MongoDB ${action}: stopped by shutdown`, { plugin: PLUGIN });
  const name = err instanceof Error ? err.name : '';
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : name === 'TimeoutError' ? 'timeout' : 'network error';
  const what = name === 'TimeoutError' ? 'timed out' : 'failed without an answer';
  return new RotatorError(
    'PROVIDER_UNAVAILABLE',
    `MongoDB ${action} ${what} (${code}) at ${new URL(url).origin}; will retry. If it persists, check network access.`,
    { plugin: PLUGIN, retryable: true, details: { networkCode: code } },
  );
}
