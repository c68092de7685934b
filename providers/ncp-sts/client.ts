import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { Clock, Logger } from '../../src/types';
import { RotatorError } from '../../src/errors';
import {
  BodyTooLarge,
  MAX_BODY_BYTES,
  classifyStatus,
  deadline,
  isRecord,
  parseJson,
  quote,
  retryAfterMs,
  stepName,
  transportError,
  type StatusAdvice,
  type Step,
} from '../kit';
import { SIGNATURE_WINDOW_MS, signedHeaders } from './signature';

/**
 * A small signed HTTP client for NCP STS on axios (kept for its HTTP(S)_PROXY support). It signs
 * each request with signature v2 (timestamp from the injected clock), sends it once under a total
 * deadline with a capped body (providers/kit/http.ts), and maps the answer to data or to a
 * RotatorError naming the step and endpoint. It never retries: the core does, using `retryable`
 * and `retryAfterMs`.
 *
 * Nothing secret leaves this file in an error: messages and details are built from the status,
 * the gateway's error code and message (scrubbed), the trace id and the clock skew only. axios
 * errors are never attached as `cause` because their `config.headers` hold the signature.
 */

export const PLUGIN = 'ncp-sts';
/** connect + headers + body of one request. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** From this skew on, a 401's message talks about the clock. */
const SKEW_WARNING_MS = 60_000;

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

/** One axios instance per endpoint, shared by every secret that uses it. */
function instanceFor(endpoint: string): AxiosInstance {
  let instance = instances.get(endpoint);
  if (!instance) {
    instance = axios.create({
      baseURL: endpoint,
      // axios' own `timeout` only bounds the gap between bytes; the total deadline is a signal.
      timeout: 0,
      // Counted after decompression: a gzip bomb is cut off at the cap.
      maxContentLength: MAX_BODY_BYTES,
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
    instances.set(endpoint, instance);
  }
  return instance;
}

export class NcpStsClient {
  readonly endpoint: string;
  private readonly http: AxiosInstance;
  private readonly timeoutMs: number;

  constructor(options: { endpoint: string; timeoutMs?: number }) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.http = instanceFor(this.endpoint);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Sends one signed request. Resolves with the JSON body of a 2xx; throws RotatorError otherwise. */
  async request(req: NcpRequest): Promise<NcpResponse> {
    const timestamp = req.clock.now();
    const uri = this.wireUri(req.path);
    const headers = signedHeaders({ method: req.method, uri, timestamp, ...req.key });
    const step = this.step(req);
    const limit = deadline(this.timeoutMs, req.signal);
    const started = performance.now();
    let res: AxiosResponse<string>;
    try {
      res = await this.http.request<string>({
        method: req.method,
        url: req.path,
        headers,
        data: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: limit.signal,
      });
    } catch (err) {
      throw transportError(fromAxios(err, limit.signal), step, limit.ms, req.signal);
    }
    const traceId = headerValue(res, 'x-ncp-trace-id');
    const skewMs = clockSkewMs(headerValue(res, 'date'), req.clock.now());
    req.log?.debug(
      { method: req.method, path: req.path, status: res.status, traceId, ms: Math.round(performance.now() - started) },
      'ncp-sts request',
    );
    if (res.status >= 200 && res.status < 300) {
      return { status: res.status, data: parseSuccessBody(res, step, traceId), traceId, skewMs };
    }
    throw statusError(res, step, traceId, skewMs, req.clock.now());
  }

  private step(req: NcpRequest): Step {
    return { plugin: PLUGIN, service: 'NCP STS', action: req.action, method: req.method, path: req.path.split('?')[0]! };
  }

  /** The path and query as they go on the wire (the endpoint may carry a path prefix). */
  private wireUri(path: string): string {
    const url = new URL(this.endpoint + path);
    return url.pathname + url.search;
  }
}

/**
 * axios errors in the kit's terms: the deadline's abort surfaces as ERR_CANCELED (a timeout when
 * the shutdown signal did not fire), the size cap as ERR_BAD_RESPONSE "maxContentLength … exceeded".
 */
function fromAxios(err: unknown, limit: AbortSignal): unknown {
  if (!axios.isAxiosError(err) && !axios.isCancel(err)) return err;
  const code = (err as { code?: string }).code;
  if (/maxContentLength/.test((err as Error).message ?? '')) return new BodyTooLarge(MAX_BODY_BYTES);
  if (axios.isCancel(err) || code === 'ERR_CANCELED') {
    const reason: unknown = limit.reason;
    return reason instanceof Error ? reason : Object.assign(new Error('aborted'), { name: 'TimeoutError' });
  }
  return Object.assign(new Error(code ?? 'network error'), { code: code ?? 'NETWORK_ERROR' });
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

/** A 2xx body is never quoted: on the credentials endpoints it holds the new keySecret. */
function parseSuccessBody(res: AxiosResponse<string>, step: Step, traceId: string | undefined): unknown {
  const parsed = typeof res.data === 'string' ? parseJson(res.data) : undefined;
  if (parsed === undefined) {
    throw new RotatorError(
      'PROVIDER_BAD_ANSWER',
      `${stepName(step)} answered HTTP ${res.status} with a body that is not JSON ` +
        `(content-type ${contentType(res)})${traceSuffix(traceId)}; nothing was stored. Is the endpoint an NCP STS gateway?`,
      { plugin: PLUGIN, retryable: false, details: { status: res.status, traceId, endpoint: step.path } },
    );
  }
  return parsed;
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
  const body = typeof text === 'string' ? parseJson(text) : undefined;
  if (!isRecord(body)) return undefined;
  const inner = [body.error, body.responseError].find(isRecord) ?? body;
  const out: ProviderErrorBody = {
    errorCode: firstScalar(inner, ['errorCode', 'code', 'returnCode']),
    message: firstScalar(inner, ['message', 'errorMessage', 'returnMessage']) ?? firstScalar(body, ['message']),
    details: firstScalar(inner, ['details', 'detail']),
  };
  return out.errorCode || out.message || out.details ? out : undefined;
}

function firstScalar(record: Record<string, unknown>, keys: string[]): string | undefined {
  for (const key of keys) {
    const value = record[key];
    if (typeof value === 'string' && value !== '') return quote(value);
    if (typeof value === 'number') return String(value);
  }
  return undefined;
}

const ADVICE: StatusAdvice = {
  throttled: 'NCP is throttling requests; will retry.',
  unavailable: 'NCP STS is unavailable; will retry.',
  auth:
    "Check that NCP_ACCESS_KEY/NCP_SECRET_KEY (the secret's credentials) are an active sub-account key " +
    'with STS permission; with MFA, check serialNumber and totpSeed/tokenCode.',
  forbidden: 'The key is valid but not allowed: grant the sub-account STS permission (and the role switch for roleNrn).',
  notFound: 'The credential or role was not found or has expired: check roleNrn and the key.',
  rejected: 'The request was refused as invalid: check params (durationSec 600-43200, roleNrn).',
  unexpected: 'This is not an answer NCP STS gives: check the endpoint.',
};

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
  step: Step,
  traceId: string | undefined,
  skewMs: number | undefined,
  now: number,
): RotatorError {
  const body = parseErrorBody(res.data);
  const cls = classifyStatus(res.status, ADVICE);
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
  const message = [`${stepName(step)} failed: HTTP ${res.status}, ${said}${traceSuffix(traceId)}.`, advice].join(' ');
  return new RotatorError(cls.code, message, {
    plugin: PLUGIN,
    retryable: cls.retryable,
    // NCP documents no Retry-After, but a proxy in front of it may send one.
    retryAfterMs: retryAfterMs(headerValue(res, 'retry-after'), headerValue(res, 'date'), now),
    details: {
      status: res.status,
      endpoint: step.path,
      errorCode: body?.errorCode,
      traceId,
      clockSkewSec: clockHint && skewMs !== undefined ? Math.round(skewMs / 1000) : undefined,
    },
  });
}
