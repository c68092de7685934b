import type { Clock, Logger } from '../../src/types';
import { RotatorError } from '../../src/errors';
import { secrets } from '../../src/redact';
import {
  badAnswer,
  describeBody,
  fetchBounded,
  httpBounds,
  isRecord,
  parseJson,
  quote,
  retryAfterMs,
  stepName,
  type BoundedResponse,
} from '../kit';
import { PLUGIN, mcmStep, type McmStep } from './errors';

/**
 * OAuth 2.0 client credentials against MongoDB's token endpoint: mint (POST …/oauth/token,
 * Basic base64(clientId:secret), grant_type=client_credentials) and revoke (POST …/oauth/revoke,
 * token=…&token_type_hint=access_token). Tokens live 1 h. Every token and secret seen here is
 * registered for scrubbing; none is ever put in a message: both endpoints' bodies may hold a
 * credential, so only the OAuth `error`/`error_description` fields of a refusal are quoted, never
 * a raw excerpt. Each request has a 15 s total deadline and a 1 MiB body cap (providers/kit).
 */

export const TOKEN_WINDOW_MS = 60_000;
/** MongoDB: 10 token requests per minute per IP and client. */
export const TOKENS_PER_WINDOW = 10;

/**
 * How long until one more token request fits in the sliding window, given the times of the
 * recent ones (pure; table-tested). 0 when it fits now.
 */
export function tokenSlotDelayMs(
  recent: readonly number[],
  now: number,
  max = TOKENS_PER_WINDOW,
  windowMs = TOKEN_WINDOW_MS,
): number {
  const inWindow = recent.filter((t) => t > now - windowMs).sort((a, b) => a - b);
  if (inWindow.length < max) return 0;
  // The (length - max + 1)-th oldest must leave the window before one more fits.
  return inWindow[inWindow.length - max]! + windowMs - now;
}

/**
 * A sliding-window limiter of token requests keyed by (token URL, clientId), shared by every
 * provider instance of the process (module level), because MongoDB counts per client, not per
 * configured secret. It counts mints only: the documented limit is on token requests, and a
 * revoke is not one (it is also what keeps the 100-active-tokens limit away, so it must never
 * wait behind mints). `acquire` waits for a slot with the injected clock instead of failing.
 */
export class TokenLimiter {
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly max = TOKENS_PER_WINDOW,
    private readonly windowMs = TOKEN_WINDOW_MS,
  ) {}

  async acquire(tokenUrl: string, clientId: string, clock: Clock, signal?: AbortSignal, log?: Logger): Promise<void> {
    const key = `${tokenUrl} ${clientId}`;
    for (;;) {
      const now = clock.now();
      const times = (this.recent.get(key) ?? []).filter((t) => t > now - this.windowMs);
      const delay = tokenSlotDelayMs(times, now, this.max, this.windowMs);
      if (delay <= 0) {
        times.push(now);
        this.recent.set(key, times);
        return;
      }
      this.recent.set(key, times);
      log?.info({ clientId, delayMs: delay }, 'waiting for a token request slot (10 per minute per client)');
      try {
        await clock.sleep(delay, signal);
      } catch {
        throw new RotatorError('ABORTED', 'waiting for a MongoDB token request slot: stopped by shutdown', { plugin: PLUGIN });
      }
    }
  }

  /** Token requests counted in the window now (tests). */
  count(tokenUrl: string, clientId: string, now: number): number {
    return (this.recent.get(`${tokenUrl} ${clientId}`) ?? []).filter((t) => t > now - this.windowMs).length;
  }

  reset(): void {
    this.recent.clear();
  }
}

/** The process-wide limiter. */
export const tokenLimiter = new TokenLimiter();

export interface TokenClient {
  tokenUrl: string;
  revokeUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface MintedToken {
  accessToken: string;
  expiresInSec: number;
}

/** What went wrong at the token endpoint, so callers can map invalid_client their own way. */
export class TokenRefused extends Error {
  constructor(
    readonly status: number,
    readonly oauthError: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

function basic(c: TokenClient): string {
  return `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}`;
}

function stepOf(url: string, action: string): McmStep {
  return mcmStep(action, 'POST', new URL(url).pathname, true);
}

function post(
  url: string,
  c: TokenClient,
  form: string,
  signal: AbortSignal | undefined,
  step: McmStep,
): Promise<BoundedResponse> {
  return fetchBounded(
    url,
    {
      method: 'POST',
      headers: { Authorization: basic(c), 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form,
    },
    step,
    { ...(signal ? { signal } : {}), deadlineMs: httpBounds.deadlineMs },
  );
}

function oauthErrorOf(text: string): { error?: string; description?: string } {
  const body = parseJson(text);
  if (!isRecord(body)) return {};
  return {
    ...(typeof body.error === 'string' ? { error: quote(body.error, 80) } : {}),
    ...(typeof body.error_description === 'string' ? { description: quote(body.error_description, 200) } : {}),
  };
}

/** A refusal of the token endpoints in words: the OAuth error fields, or the body's type and size. */
function refusal(res: BoundedResponse): string {
  const oauth = oauthErrorOf(res.text);
  return oauth.error
    ? `${oauth.error}${oauth.description ? ` (${oauth.description})` : ''}`
    : describeBody(res.headers.get('content-type'), res.text, false);
}

/**
 * Mints a token. Throws {@link TokenRefused} for 400/401 (invalid_client and friends: the secret
 * is wrong, deleted or expired), RotatorError otherwise (429 with retryAfterMs, 403 access_denied
 * when the account holds 100 active tokens, 5xx and network errors retryable).
 */
export async function mintToken(c: TokenClient, signal?: AbortSignal): Promise<MintedToken> {
  secrets.add(c.clientSecret);
  const step = stepOf(c.tokenUrl, `token request for ${c.clientId}`);
  const name = stepName(step);
  const res = await post(c.tokenUrl, c, 'grant_type=client_credentials', signal, step);
  const details = { status: res.status, endpoint: step.path };
  if (res.status === 200) {
    // Never quoted: a truncated answer still holds the token.
    const body = parseJson(res.text);
    const token = isRecord(body) ? body.access_token : undefined;
    if (typeof token !== 'string' || token === '') {
      throw badAnswer(
        step,
        `HTTP 200 without a valid access_token (${isRecord(body) ? 'JSON' : 'a body that is not JSON'})`,
        details,
      );
    }
    secrets.add(token);
    const expiresIn = isRecord(body) ? body.expires_in : undefined;
    return { accessToken: token, expiresInSec: validExpiresIn(expiresIn) ? expiresIn : 3600 };
  }
  const said = refusal(res);
  if (res.status === 400 || res.status === 401)
    throw new TokenRefused(res.status, oauthErrorOf(res.text).error, `HTTP ${res.status} ${said}`);
  const retryAfter = retryAfterMs(res.headers.get('retry-after'), res.headers.get('date'), Date.now());
  const wait = retryAfter === undefined ? {} : { retryAfterMs: retryAfter };
  if (res.status === 429) {
    throw new RotatorError('RATE_LIMITED', `${name}: HTTP 429 (10 token requests per minute per client); will retry`, {
      plugin: PLUGIN,
      retryable: true,
      ...wait,
      details,
    });
  }
  if (res.status === 403) {
    throw new RotatorError(
      'PROVIDER_FORBIDDEN',
      `${name}: HTTP 403 ${said}: the service account holds 100 active tokens (something mints tokens without ` +
        'revoking them); they expire within 1 h',
      { plugin: PLUGIN, details },
    );
  }
  const retryable = res.status >= 500 || res.status === 408;
  throw new RotatorError('PROVIDER_UNAVAILABLE', `${name}: HTTP ${res.status} ${said}${retryable ? '; will retry' : ''}`, {
    plugin: PLUGIN,
    retryable,
    ...wait,
    details,
  });
}

/** expires_in: whole seconds, 1 s to 1 day; anything else falls back to the documented 3600. */
function validExpiresIn(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 86_400;
}

/** Revokes a token (RFC 7009). Throws RotatorError when the endpoint does not confirm. */
export async function revokeToken(c: TokenClient, token: string, signal?: AbortSignal): Promise<void> {
  const step = stepOf(c.revokeUrl, `token revocation for ${c.clientId}`);
  const form = `token=${encodeURIComponent(token)}&token_type_hint=access_token`;
  const res = await post(c.revokeUrl, c, form, signal, step);
  if (res.status >= 200 && res.status < 300) return;
  throw new RotatorError('PROVIDER_UNAVAILABLE', `${stepName(step)}: HTTP ${res.status} ${refusal(res)}`, {
    plugin: PLUGIN,
    retryable: res.status >= 500,
    details: { status: res.status, endpoint: step.path },
  });
}
