import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Clock, Logger } from '../../src/types';
import { RotatorError, type ErrorCode } from '../../src/errors';
import { secrets } from '../../src/redact';
import { SIGNATURE_WINDOW_MS, signedHeaders } from './signature';

/**
 * A small signed HTTP client for NCP STS on axios. It signs each request with signature v2
 * (timestamp from the injected clock), sends it once, and maps the answer to data or to a
 * RotatorError. It never retries: the core does, using `retryable` and `retryAfterMs`.
 *
 * Nothing secret leaves this file in an error: messages and details are built from the status,
 * the gateway's error code and message, the trace id and the clock skew only. axios errors are
 * never attached as `cause` because their `config.headers` hold the signature.
 */

export const PLUGIN = 'ncp-sts';
export const DEFAULT_TIMEOUT_MS = 10_000;
/** From this skew on, a 401's message talks about the clock. */
const SKEW_WARNING_MS = 60_000;
/** Provider text is quoted into messages; keep it to one readable line. */
const MAX_QUOTED_CHARS = 300;

export interface SigningKey {
  accessKey: string;
  secretKey: string;
}

export interface NcpRequest {
  method: 'GET' | 'POST';
  /** Path plus query, relative to the endpoint, e.g. /api/v1/credentials. */
  path: string;
  body?: unknown;
  key: SigningKey;
  clock: Clock;
  signal?: AbortSignal;
  log?: Logger;
  /** What is being done, for messages: "issue STS credentials". */
  action: string;
}

export interface NcpResponse {
  status: number;
  /** The parsed JSON body of a 2xx answer. */
  data: unknown;
  traceId?: string;
  /** Local clock minus the gateway's `Date`, when the gateway sent one. */
  skewMs?: number;
}

/** The error fields NCP puts in gateway and STS error bodies, whichever shape they came in. */
export interface ProviderErrorBody {
  errorCode?: string;
  message?: string;
  details?: string;
}

const instances = new Map<string, AxiosInstance>();

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** One axios instance per endpoint and timeout, shared by every secret that uses it. */
function instanceFor(endpoint: string, timeoutMs: number): AxiosInstance {
  const cacheKey = `${endpoint} ${timeoutMs}`;
  let instance = instances.get(cacheKey);
  if (!instance) {
    instance = axios.create({
      baseURL: endpoint,
      timeout: timeoutMs,
      // Every status is mapped here, not thrown by axios with the request config attached.
      validateStatus: () => true,
      // Bodies are parsed here so a non-JSON answer can be reported with its content type.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
      // HTTP(S)_PROXY is honoured for the real service, but never for loopback (the sandbox and
      // test emulators): a proxy there would break them and see every signed request.
      ...(isLoopback(endpoint) ? { proxy: false as const } : {}),
    });
    instances.set(cacheKey, instance);
  }
  return instance;
}

export class NcpStsClient {
  readonly endpoint: string;
  private readonly http: AxiosInstance;

  constructor(options: { endpoint: string; timeoutMs?: number }) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.http = instanceFor(this.endpoint, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  /** Sends one signed request. Resolves with the JSON body of a 2xx; throws RotatorError otherwise. */
  async request(req: NcpRequest): Promise<NcpResponse> {
    const timestamp = req.clock.now();
    const uri = this.wireUri(req.path);
    const headers = signedHeaders({ method: req.method, uri, timestamp, ...req.key });
    const started = performance.now();
    let res: AxiosResponse<string>;
    try {
      res = await this.http.request<string>({
        method: req.method,
        url: req.path,
        headers,
        data: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: req.signal,
      });
    } catch (err) {
      throw this.networkError(err, req);
    }
    const traceId = headerValue(res, 'x-ncp-trace-id');
    const skewMs = clockSkewMs(headerValue(res, 'date'), req.clock.now());
    req.log?.debug(
      { method: req.method, path: req.path, status: res.status, traceId, ms: Math.round(performance.now() - started) },
      'ncp-sts request',
    );
    if (res.status >= 200 && res.status < 300) {
      return { status: res.status, data: parseSuccessBody(res, req.action, traceId), traceId, skewMs };
    }
    throw statusError(res, req.action, traceId, skewMs);
  }

  /** The path and query as they go on the wire (the endpoint may carry a path prefix). */
  private wireUri(path: string): string {
    const url = new URL(this.endpoint + path);
    return url.pathname + url.search;
  }

  private networkError(err: unknown, req: NcpRequest): RotatorError {
    const code = axios.isAxiosError(err) ? err.code : undefined;
    if (axios.isCancel(err) || code === 'ERR_CANCELED' || req.signal?.aborted) {
      return new RotatorError('ABORTED', `NCP STS ${req.action}: stopped by shutdown`, { plugin: PLUGIN });
    }
    const what = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timed out' : 'failed without an answer';
    return new RotatorError(
      'PROVIDER_UNAVAILABLE',
      `NCP STS ${req.action} ${what} (${code ?? 'network error'}) at ${this.endpoint}; will retry. ` +
        'If it persists, check network access to the endpoint.',
      { plugin: PLUGIN, retryable: true, details: { networkCode: code, endpoint: this.endpoint } },
    );
  }
}

function headerValue(res: AxiosResponse, name: string): string | undefined {
  const value: unknown = res.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Local minus gateway time; undefined without a parseable `Date` header. */
export function clockSkewMs(dateHeader: string | undefined, localNow: number): number | undefined {
  if (!dateHeader) return undefined;
  const gateway = Date.parse(dateHeader);
  return Number.isNaN(gateway) ? undefined : localNow - gateway;
}

function parseSuccessBody(res: AxiosResponse<string>, action: string, traceId: string | undefined): unknown {
  const parsed = parseJson(res.data);
  if (parsed === undefined) {
    throw new RotatorError(
      'PROVIDER_UNAVAILABLE',
      `NCP STS ${action}: HTTP ${res.status} answered with a body that is not JSON ` +
        `(content-type ${contentType(res)})${traceSuffix(traceId)}; is the endpoint an NCP STS gateway?`,
      { plugin: PLUGIN, retryable: false, details: { status: res.status, traceId } },
    );
  }
  return parsed;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function contentType(res: AxiosResponse): string {
  return headerValue(res, 'content-type') ?? 'none';
}

function traceSuffix(traceId: string | undefined): string {
  return traceId ? ` [x-ncp-trace-id ${traceId}]` : '';
}

/**
 * Reads the error fields from any of the shapes NCP uses: the gateway's
 * `{"error":{"errorCode","message","details"}}`, flat `{errorCode|code, message, details}`, and
 * the classic `{"responseError":{"returnCode","returnMessage"}}`. errorCode may be a number.
 */
export function parseErrorBody(text: unknown): ProviderErrorBody | undefined {
  const body = parseJson(text);
  if (!isRecord(body)) return undefined;
  const inner = [body.error, body.responseError].find(isRecord) ?? body;
  const out: ProviderErrorBody = {
    errorCode: firstScalar(inner, ['errorCode', 'code', 'returnCode']),
    message: firstScalar(inner, ['message', 'errorMessage', 'returnMessage']) ?? firstScalar(body, ['message']),
    details: firstScalar(inner, ['details', 'detail']),
  };
  return out.errorCode || out.message || out.details ? out : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object as a record; anything else as an empty one, so field checks report it. */
export function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function firstScalar(record: Record<string, unknown>, keys: string[]): string | undefined {
  for (const key of keys) {
    const value = record[key];
    if (typeof value === 'string' && value !== '') return quote(value);
    if (typeof value === 'number') return String(value);
  }
  return undefined;
}

/** Provider text is scrubbed of registered secrets (defence in depth) and shortened. */
function quote(text: string): string {
  const line = secrets.scrub(text).replace(/\s+/g, ' ').trim();
  return line.length > MAX_QUOTED_CHARS ? `${line.slice(0, MAX_QUOTED_CHARS)}…` : line;
}

interface StatusClass {
  code: ErrorCode;
  retryable: boolean;
  advice: string;
}

function classify(status: number): StatusClass {
  if (status === 429) return { code: 'RATE_LIMITED', retryable: true, advice: 'NCP is throttling requests; will retry.' };
  if (status === 408 || status >= 500) {
    return { code: 'PROVIDER_UNAVAILABLE', retryable: true, advice: 'NCP STS is unavailable; will retry.' };
  }
  if (status === 401) {
    return {
      code: 'PROVIDER_AUTH',
      retryable: false,
      advice:
        "Check that NCP_ACCESS_KEY/NCP_SECRET_KEY (the secret's credentials) are an active sub-account key " +
        'with STS permission; with MFA, check serialNumber and totpSeed/tokenCode.',
    };
  }
  if (status === 403) {
    return {
      code: 'PROVIDER_FORBIDDEN',
      retryable: false,
      advice: 'The key is valid but not allowed: grant the sub-account STS permission (and the role switch for roleNrn).',
    };
  }
  if (status === 404) {
    return {
      code: 'PROVIDER_REJECTED',
      retryable: false,
      advice: 'The credential or role was not found or has expired: check roleNrn and the key.',
    };
  }
  if (status >= 400) {
    return {
      code: 'PROVIDER_REJECTED',
      retryable: false,
      advice: 'The request was refused as invalid: check params (durationSec 600-43200, roleNrn).',
    };
  }
  return {
    code: 'PROVIDER_UNAVAILABLE',
    retryable: false,
    advice: 'This is not an answer NCP STS gives: check the endpoint.',
  };
}

/** The sentence about the clock a 401 gets when local time is off by a minute or more. */
export function skewAdvice(skewMs: number | undefined): string | undefined {
  if (skewMs === undefined || Math.abs(skewMs) < SKEW_WARNING_MS) return undefined;
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  const direction = skewMs > 0 ? 'ahead of' : 'behind';
  return (
    `The local clock is ${seconds} s ${direction} the gateway; signatures are only valid within 5 minutes: ` +
    'fix the clock (NTP).'
  );
}

function statusError(
  res: AxiosResponse<string>,
  action: string,
  traceId: string | undefined,
  skewMs: number | undefined,
): RotatorError {
  const body = parseErrorBody(res.data);
  const cls = classify(res.status);
  const clockHint = res.status === 401 ? skewAdvice(skewMs) : undefined;
  // Beyond the window the clock alone explains the 401; below it the key may be wrong as well.
  const advice =
    clockHint && skewMs !== undefined && Math.abs(skewMs) >= SIGNATURE_WINDOW_MS
      ? clockHint
      : [clockHint, cls.advice].filter(Boolean).join(' ');
  const said = body
    ? [
        body.errorCode ? `error ${body.errorCode}` : undefined,
        body.message ? `"${body.message}"` : undefined,
        body.details ? `(${body.details})` : undefined,
      ]
        .filter(Boolean)
        .join(' ')
    : `non-JSON body (content-type ${contentType(res)})`;
  const message = [`NCP STS ${action} failed: HTTP ${res.status}, ${said}${traceSuffix(traceId)}.`, advice].join(' ');
  return new RotatorError(cls.code, message, {
    plugin: PLUGIN,
    retryable: cls.retryable,
    retryAfterMs: retryAfterMs(headerValue(res, 'retry-after'), headerValue(res, 'date')),
    details: {
      status: res.status,
      errorCode: body?.errorCode,
      traceId,
      clockSkewSec: clockHint && skewMs !== undefined ? Math.round(skewMs / 1000) : undefined,
    },
  });
}

/**
 * NCP documents no Retry-After, but a proxy in front of it may send one: seconds, or a date that
 * is read against the response's own `Date` so local clock skew does not distort it.
 */
function retryAfterMs(header: string | undefined, dateHeader: string | undefined): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header) * 1000;
  const at = Date.parse(header);
  const now = dateHeader ? Date.parse(dateHeader) : NaN;
  return Number.isNaN(at) || Number.isNaN(now) ? undefined : Math.max(0, at - now);
}
