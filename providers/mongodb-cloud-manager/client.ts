import type { Logger } from '../../src/types';
import { RotatorError } from '../../src/errors';
import { badAnswer, describeBody, fetchBounded, httpBounds, isRecord, parseJson, transportError } from '../kit';
import { DigestChallengeError, type DigestPool } from './digest';
import { PLUGIN, mcmStep, statusError, type AuthDescription } from './errors';
import { ATLAS_V2_ACCEPT, type MongoApi } from './schema';

/**
 * The Admin API client: one request, one answer mapped to JSON or a RotatorError naming the step
 * and endpoint. Every request has a total deadline (15 s: connect, headers, body, and the Digest
 * challenge round trip) and a 1 MiB body cap (providers/kit/http.ts). It never retries (the
 * engine does); the only repeat is the Digest re-challenge inside the adapter.
 * Authentication is HTTP Digest with the API key (a shared {@link DigestPool}) or, in
 * self-rotation, a Bearer token supplied by the caller.
 */

export type ApiAuth =
  | { kind: 'digest'; pool: DigestPool }
  | {
      kind: 'bearer';
      token: (signal?: AbortSignal) => Promise<string>;
      /** Called on a 401: a cached token is then minted afresh by the next call. */
      refused?: () => void;
    };

export interface ApiCall {
  method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the base URL, e.g. /orgs/{orgId}/serviceAccounts/{clientId}. */
  path: string;
  body?: unknown;
  signal?: AbortSignal;
  log?: Logger;
  /** What is being done, for messages: "create a secret for mdb_sa_id_…". */
  action: string;
  /** The answer may hold a credential (create-secret): no body excerpt, even for errors. */
  holdsCredential?: boolean;
}

/** The most the API returns per page (`itemsPerPage` 1–500). */
export const MAX_ITEMS_PER_PAGE = 500;

export interface ApiAnswer {
  status: number;
  /** Parsed JSON of a 2xx answer (undefined for 204). */
  data: unknown;
}

export class McmApi {
  constructor(
    readonly baseUrl: string,
    readonly api: MongoApi,
    private readonly auth: ApiAuth,
    private readonly who: AuthDescription,
    /** Ask for `envelope=true` answers (status and content in the body); tests and proxies. */
    private readonly envelope = false,
  ) {}

  /**
   * Every item of a paged list (`{results, totalCount}`): follows `pageNum` with `itemsPerPage`
   * (at most 500) until totalCount items are read or a page comes back short, so a large
   * organisation's list is never cut at the first page. A list that keeps growing is bounded by
   * the page count its first answer announced, plus one.
   */
  async listAll(call: Omit<ApiCall, 'method' | 'body'>, itemsPerPage = MAX_ITEMS_PER_PAGE): Promise<unknown[]> {
    if (!Number.isInteger(itemsPerPage) || itemsPerPage < 1 || itemsPerPage > MAX_ITEMS_PER_PAGE) {
      throw new RangeError(`itemsPerPage must be 1 to ${MAX_ITEMS_PER_PAGE} (got ${itemsPerPage})`);
    }
    const items: unknown[] = [];
    let maxPages = Infinity;
    for (let pageNum = 1; pageNum <= maxPages; pageNum++) {
      const sep = call.path.includes('?') ? '&' : '?';
      const path = `${call.path}${sep}pageNum=${pageNum}&itemsPerPage=${itemsPerPage}`;
      const { data } = await this.call({ ...call, method: 'GET', path });
      const step = mcmStep(call.action, 'GET', new URL(this.baseUrl + call.path).pathname);
      const page = isRecord(data) ? data : undefined;
      const results = page?.results;
      const total = page?.totalCount;
      if (
        !Array.isArray(results) ||
        (total !== undefined && (typeof total !== 'number' || !Number.isInteger(total) || total < 0))
      ) {
        throw badAnswer(step, `page ${pageNum} without a results array and a valid totalCount`, { status: 200 });
      }
      items.push(...results);
      if (typeof total === 'number' && maxPages === Infinity) maxPages = Math.ceil(total / itemsPerPage) + 1;
      if (results.length < itemsPerPage || (typeof total === 'number' && items.length >= total)) break;
    }
    return items;
  }

  async call(call: ApiCall): Promise<ApiAnswer> {
    const url = this.baseUrl + call.path + (this.envelope ? `${call.path.includes('?') ? '&' : '?'}envelope=true` : '');
    const step = mcmStep(call.action, call.method, new URL(url).pathname, call.holdsCredential);
    const headers: Record<string, string> = { Accept: this.api === 'atlas-v2' ? ATLAS_V2_ACCEPT : 'application/json' };
    if (call.body !== undefined) headers['Content-Type'] = this.api === 'atlas-v2' ? ATLAS_V2_ACCEPT : 'application/json';
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    let res: { status: number; headers: Headers; text: string };
    try {
      if (this.auth.kind === 'digest') {
        res = await this.auth.pool.request({
          method: call.method,
          url,
          headers,
          ...(body === undefined ? {} : { body }),
          ...(call.signal ? { signal: call.signal } : {}),
        });
      } else {
        const token = await this.auth.token(call.signal);
        res = await fetchBounded(
          url,
          {
            method: call.method,
            headers: { ...headers, Authorization: `Bearer ${token}` },
            ...(body === undefined ? {} : { body }),
          },
          step,
          { ...(call.signal ? { signal: call.signal } : {}), deadlineMs: httpBounds.deadlineMs },
        );
      }
    } catch (err) {
      if (err instanceof RotatorError) throw err;
      if (err instanceof DigestChallengeError) {
        throw new RotatorError('PROVIDER_AUTH', `MongoDB ${call.action}: ${err.message}`, { plugin: PLUGIN });
      }
      throw transportError(err, step, httpBounds.deadlineMs, call.signal);
    }
    call.log?.debug({ method: call.method, path: call.path, status: res.status }, 'mongodb request');
    if (res.status >= 200 && res.status < 300) {
      if (res.status === 204 || res.text.trim() === '') return { status: res.status, data: undefined };
      const data = parseJson(res.text);
      // A 2xx body is never quoted: a truncated create answer holds the new secret.
      if (data === undefined) {
        throw badAnswer(step, `HTTP ${res.status} with ${describeBody(res.headers.get('content-type'), res.text, false)}`, {
          status: res.status,
        });
      }
      const inner = this.envelope ? envelopeOf(data) : undefined;
      if (!inner) return { status: res.status, data };
      if (inner.status >= 200 && inner.status < 300) return { status: inner.status, data: inner.content };
      if (inner.status === 401 && this.auth.kind === 'bearer') this.auth.refused?.();
      // The real status is in the body: map it like an unwrapped answer (its content is the ApiError).
      throw statusError(
        { status: inner.status, headers: res.headers },
        JSON.stringify(inner.content),
        step,
        this.who,
        Date.now(),
      );
    }
    if (res.status === 401 && this.auth.kind === 'bearer') this.auth.refused?.();
    throw statusError(res, res.text, step, this.who, Date.now());
  }
}

/**
 * An `envelope=true` answer: `{status, content}` with the real HTTP status inside (the service
 * answers 200 on the wire). Undefined when the body is not one.
 */
export function envelopeOf(data: unknown): { status: number; content: unknown } | undefined {
  if (!isRecord(data) || typeof data.status !== 'number' || !Number.isInteger(data.status) || !('content' in data))
    return undefined;
  return { status: data.status, content: data.content };
}
