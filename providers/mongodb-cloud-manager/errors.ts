import { RotatorError } from '../../src/errors';
import {
  classifyStatus,
  describeBody,
  parseJson,
  isRecord,
  quote,
  retryAfterMs,
  stepName,
  type Step,
  type StatusAdvice,
} from '../kit';

/**
 * Mapping of MongoDB answers to RotatorError, on the provider kit. Messages are built from the
 * step (action, method, path), the status, the ApiError fields (`detail`, `errorCode`, `reason`),
 * content types and ids only: never from request headers (the Digest Authorization, Basic or
 * Bearer), the private key, secrets or tokens. Quoted provider text is scrubbed of every
 * registered secret and shortened; raw excerpts only from endpoints whose bodies never hold a
 * credential (see {@link McmStep.holdsCredential}).
 */

export const PLUGIN = 'mongodb-cloud-manager';

/** A MongoDB request for messages; `holdsCredential`: its answers may carry a secret or token. */
export interface McmStep extends Step {
  holdsCredential?: boolean;
}

export function mcmStep(action: string, method: string, path: string, holdsCredential = false): McmStep {
  return { plugin: PLUGIN, service: 'MongoDB', action, method, path: path.split('?')[0]!, holdsCredential };
}

/** The documented error body. */
export interface ApiErrorBody {
  detail?: string;
  error?: number;
  errorCode?: string;
  parameters?: unknown[];
  reason?: string;
}

export function parseApiError(text: string): ApiErrorBody | undefined {
  const b = parseJson(text);
  if (!isRecord(b)) return undefined;
  const out: ApiErrorBody = {
    ...(typeof b.detail === 'string' ? { detail: quote(b.detail) } : {}),
    ...(typeof b.error === 'number' ? { error: b.error } : {}),
    ...(typeof b.errorCode === 'string' ? { errorCode: quote(b.errorCode, 80) } : {}),
    ...(typeof b.reason === 'string' ? { reason: quote(b.reason, 80) } : {}),
    ...(Array.isArray(b.parameters) ? { parameters: b.parameters } : {}),
  };
  return out.detail || out.errorCode || out.reason ? out : undefined;
}

/** Who authenticated the call, for 401 advice. */
export interface AuthDescription {
  mode: 'api-key' | 'service-account' | 'self-rotation';
  orgId: string;
  projectId?: string;
}

function advice(auth: AuthDescription): StatusAdvice {
  const scope = auth.projectId ? `project ${auth.projectId}` : `organization ${auth.orgId}`;
  const role = auth.projectId ? 'Project Owner' : 'Organization Owner';
  const unauthorized = {
    'api-key':
      `The API key (the secret's credentials publicKey/privateKey) is wrong, or lacks the ${role} role on ${scope}, ` +
      "or the caller's IP is not on its access list.",
    'service-account':
      `The admin service account's token (credentials clientId/clientSecret) was refused: check the pair, that the ` +
      `account holds the ${role} role on ${scope}, and its access list.`,
    'self-rotation':
      `The token minted from the service account's current secret was refused: the secret may have been deleted ` +
      `or have expired, or the account lacks the Owner role on ${scope}.`,
  }[auth.mode];
  return {
    throttled: 'MongoDB is throttling requests; will retry.',
    unavailable: 'MongoDB is unavailable; will retry.',
    auth: unauthorized,
    forbidden: `Authenticated but not allowed on ${scope}: grant the ${role} role, or check the access list.`,
    notFound: 'Not found: check orgId, projectId and clientId.',
    rejected: 'The request was refused: check params (secretExpiresAfterHours, ids).',
    unexpected: 'This is not an answer of the MongoDB API: check baseUrl.',
    byStatus: { 406: 'The API version was not accepted: check api (cloud-manager or atlas-v2) and baseUrl.' },
  };
}

/** A non-2xx answer of the Admin API as a RotatorError. */
export function statusError(
  res: { status: number; headers: Headers },
  text: string,
  step: McmStep,
  auth: AuthDescription,
  now: number,
): RotatorError {
  const body = parseApiError(text);
  const cls = classifyStatus(res.status, advice(auth));
  const said = body
    ? [body.errorCode, body.detail ? `"${body.detail}"` : body.reason].filter(Boolean).join(' ')
    : describeBody(res.headers.get('content-type'), text, !step.holdsCredential);
  const retryAfter = retryAfterMs(res.headers.get('retry-after'), res.headers.get('date'), now);
  return new RotatorError(cls.code, `${stepName(step)} failed: HTTP ${res.status}, ${said}. ${cls.advice}`, {
    plugin: PLUGIN,
    retryable: cls.retryable,
    ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
    details: { status: res.status, errorCode: body?.errorCode, endpoint: step.path },
  });
}
