import type { Logger } from '../../src/types';
import { RotatorError } from '../../src/errors';
import { DigestChallengeError, type DigestPool } from './digest';
import { PLUGIN, describeBody, networkError, statusError, type AuthDescription } from './errors';
import { ATLAS_V2_ACCEPT, type MongoApi } from './schema';

/**
 * The Admin API client: one request, one answer mapped to JSON or a RotatorError. It never
 * retries (the engine does); the only repeat is the Digest re-challenge inside the adapter.
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
}

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
  ) {}

  async call(call: ApiCall): Promise<ApiAnswer> {
    const url = this.baseUrl + call.path;
    const headers: Record<string, string> = { Accept: this.api === 'atlas-v2' ? ATLAS_V2_ACCEPT : 'application/json' };
    if (call.body !== undefined) headers['Content-Type'] = this.api === 'atlas-v2' ? ATLAS_V2_ACCEPT : 'application/json';
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    let res: { status: number; headers: Headers; text: string };
    try {
      res =
        this.auth.kind === 'digest'
          ? await this.auth.pool.request({
              method: call.method,
              url,
              headers,
              ...(body === undefined ? {} : { body }),
              ...(call.signal ? { signal: call.signal } : {}),
            })
          : await this.bearer(call, url, headers, body);
    } catch (err) {
      if (err instanceof RotatorError) throw err;
      if (err instanceof DigestChallengeError) {
        throw new RotatorError('PROVIDER_AUTH', `MongoDB ${call.action}: ${err.message}`, { plugin: PLUGIN });
      }
      throw networkError(err, call.signal, call.action, url);
    }
    call.log?.debug({ method: call.method, path: call.path, status: res.status }, 'mongodb request');
    if (res.status >= 200 && res.status < 300) {
      if (res.status === 204 || res.text.trim() === '') return { status: res.status, data: undefined };
      try {
        return { status: res.status, data: JSON.parse(res.text) as unknown };
      } catch {
        throw new RotatorError(
          'PROVIDER_UNAVAILABLE',
          `MongoDB ${call.action}: HTTP ${res.status} with ${describeBody(res, res.text)}; is baseUrl the MongoDB Admin API?`,
          { plugin: PLUGIN, retryable: false, details: { status: res.status } },
        );
      }
    }
    if (res.status === 401 && this.auth.kind === 'bearer') this.auth.refused?.();
    throw statusError(res, res.text, call.action, this.who);
  }

  private async bearer(call: ApiCall, url: string, headers: Record<string, string>, body: string | undefined) {
    const token = await (this.auth as Extract<ApiAuth, { kind: 'bearer' }>).token(call.signal);
    const timeout = AbortSignal.timeout(15_000);
    const res = await fetch(url, {
      method: call.method,
      headers: { ...headers, Authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body }),
      signal: call.signal ? AbortSignal.any([call.signal, timeout]) : timeout,
      redirect: 'manual',
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
}
