import { z } from 'zod';
import { nonEmpty, show, unknownKeysMessage } from '../fields';
import { DURATION_HINT, FormatError, parseDuration } from '../../src/duration';
import { numericStringToNumber } from '../kit/spec';

/**
 * Config schemas of the mongodb-cloud-manager provider. Strict objects: a typo in a key is an
 * error. The schemas validate without transforming (apart from trailing slashes and numeric
 * strings), so a validated spec parses again to itself; defaults that depend on other keys
 * (the base URL per `api`, the token URL, the revocation delay) are resolved by
 * {@link resolveParams}.
 */

export const CLOUD_MANAGER_BASE_URL = 'https://cloud.mongodb.com/api/public/v1.0';
export const ATLAS_V2_BASE_URL = 'https://cloud.mongodb.com/api/atlas/v2';
export const ATLAS_V2_ACCEPT = 'application/vnd.atlas.2024-08-05+json';
export const MIN_HOURS = 8;
export const MAX_HOURS_CLOUD_MANAGER = 8766;
export const MAX_HOURS_ATLAS = 8760;
/**
 * Default delay before the engine revokes the previous secret: covers the 1 h lifetime of tokens
 * minted with it and consumers that re-read the vault daily, well under the 7-day shortening
 * MongoDB applies to it anyway.
 */
export const DEFAULT_REVOKE_PREVIOUS_AFTER = '24h';
const MAX_REVOKE_PREVIOUS_MS = 7 * 86_400_000;

export const ORG_ID_PATTERN = /^[0-9a-f]{24}$/;
export const CLIENT_ID_PATTERN = /^mdb_sa_id_[0-9a-f]{24}$/;

export type MongoApi = 'cloud-manager' | 'atlas-v2';

const CREDENTIAL_KEYS = ['publicKey', 'privateKey', 'clientId', 'clientSecret'] as const;

/** Which credential pairs are allowed, for messages (validation explains where each belongs). */
export const CREDENTIAL_MODES =
  'set one of: publicKey + privateKey (a programmatic API key, HTTP Digest); clientId + clientSecret (an admin ' +
  'service account, OAuth, Cloud Manager and Atlas v2 alike); clientSecret alone (self-rotation bootstrap); or nothing ' +
  '(self-rotation from the vault)';

/**
 * Three modes. API key: `publicKey` + `privateKey` (a programmatic API key with Organization
 * Owner, or Project Owner with projectId; HTTP Digest). Admin service account: `clientId` +
 * `clientSecret` of another service account with the Owner role (OAuth client credentials, a
 * Bearer token cached until shortly before it expires). Self-rotation: no API key; calls use a
 * token minted from the service account's current secret in the vault, and `clientSecret` alone
 * is only the bootstrap for the first rotation (used while the vault holds no current secret).
 */
export const credentialsSchema = z
  .strictObject(
    {
      publicKey: nonEmpty('publicKey', 'the public part of a programmatic API key').optional(),
      privateKey: nonEmpty('privateKey', 'the private part of the programmatic API key').optional(),
      clientId: z
        .string({ error: 'clientId must be a string: the admin service account client id (mdb_sa_id_…)' })
        .regex(CLIENT_ID_PATTERN, {
          error: (issue) =>
            `credentials.clientId must be mdb_sa_id_ followed by 24 hex characters: the admin service account (got ${show(issue.input)})`,
        })
        .optional(),
      clientSecret: nonEmpty(
        'clientSecret',
        "the admin service account's secret (with clientId), or the rotated account's current secret for the first self-rotation",
      ).optional(),
    },
    { error: unknownKeysMessage(CREDENTIAL_KEYS) },
  )
  .superRefine((c, ctx) => {
    if (c.publicKey !== undefined && c.privateKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'privateKey is required with publicKey (the API key pair)' });
    }
    if (c.privateKey !== undefined && c.publicKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'publicKey is required with privateKey (the API key pair)' });
    }
    const apiKey = c.publicKey !== undefined || c.privateKey !== undefined;
    if (c.clientId !== undefined && c.clientSecret === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: `clientSecret is required with clientId (the admin service account pair); ${CREDENTIAL_MODES}`,
      });
    }
    if ((c.clientSecret !== undefined || c.clientId !== undefined) && apiKey) {
      ctx.addIssue({
        code: 'custom',
        path: [c.clientId !== undefined ? 'clientId' : 'clientSecret'],
        message: `publicKey/privateKey and clientId/clientSecret cannot be combined: ${CREDENTIAL_MODES}`,
      });
    }
  });

const hoursMessage = (issue: { input?: unknown }) =>
  `secretExpiresAfterHours must be an integer from ${MIN_HOURS} to ${MAX_HOURS_CLOUD_MANAGER} (8760 with api: atlas-v2) (got ${show(issue.input)})`;

const secretExpiresAfterHours = z.preprocess(
  numericStringToNumber,
  z.number({ error: hoursMessage }).refine((n) => Number.isInteger(n) && n >= MIN_HOURS && n <= MAX_HOURS_CLOUD_MANAGER, {
    error: hoursMessage,
  }),
);

function httpUrl(name: string, example: string) {
  return z
    .url({
      protocol: /^https?$/,
      error: (issue) => `${name} must be an http(s) URL such as ${example} (got ${show(issue.input)})`,
    })
    .overwrite((url) => url.replace(/\/+$/, ''));
}

/** Parses `revokePreviousAfter`: a duration, or `never` (undefined). Throws FormatError. */
export function parseRevokePreviousAfter(text: string): number | undefined {
  if (text === 'never') return undefined;
  const ms = parseDuration(text);
  if (ms < 1_000 || ms > MAX_REVOKE_PREVIOUS_MS) throw new FormatError('must be from 1s to 7d, or never');
  return ms;
}

const revokePreviousAfter = z
  .string({ error: `revokePreviousAfter must be a duration (${DURATION_HINT}) or never` })
  .superRefine((text, ctx) => {
    try {
      parseRevokePreviousAfter(text);
    } catch (err) {
      const why = err instanceof FormatError ? err.message : String(err);
      ctx.addIssue({ code: 'custom', message: `revokePreviousAfter ${why}; or never` });
    }
  });

const PARAM_KEYS = [
  'orgId',
  'clientId',
  'secretExpiresAfterHours',
  'baseUrl',
  'api',
  'projectId',
  'tokenUrl',
  'revokePreviousAfter',
] as const;

export const paramsSchema = z
  .strictObject(
    {
      orgId: z
        .string({ error: 'orgId must be a string: the organization id (24 hex characters)' })
        .regex(ORG_ID_PATTERN, { error: (issue) => `orgId must be 24 lowercase hex characters (got ${show(issue.input)})` }),
      clientId: z
        .string({ error: 'clientId must be a string: the service account client id (mdb_sa_id_…)' })
        .regex(CLIENT_ID_PATTERN, {
          error: (issue) => `clientId must be mdb_sa_id_ followed by 24 hex characters (got ${show(issue.input)})`,
        }),
      secretExpiresAfterHours,
      /** Default per api: CLOUD_MANAGER_BASE_URL or ATLAS_V2_BASE_URL. */
      baseUrl: httpUrl('baseUrl', CLOUD_MANAGER_BASE_URL).optional(),
      api: z
        .enum(['cloud-manager', 'atlas-v2'], {
          error: (issue) => `api must be cloud-manager or atlas-v2 (got ${show(issue.input)})`,
        })
        .default('cloud-manager'),
      /** Present: the project-level paths /groups/{projectId}/serviceAccounts/… */
      projectId: z
        .string({ error: 'projectId must be a string: the project (group) id, 24 hex characters' })
        .regex(ORG_ID_PATTERN, { error: (issue) => `projectId must be 24 lowercase hex characters (got ${show(issue.input)})` })
        .optional(),
      /** Default: <origin of baseUrl>/api/oauth/token (revoke: …/api/oauth/revoke). */
      tokenUrl: httpUrl('tokenUrl', 'https://cloud.mongodb.com/api/oauth/token').optional(),
      revokePreviousAfter: revokePreviousAfter.default(DEFAULT_REVOKE_PREVIOUS_AFTER),
    },
    { error: unknownKeysMessage(PARAM_KEYS) },
  )
  .superRefine((p, ctx) => {
    if (p.api === 'atlas-v2' && typeof p.secretExpiresAfterHours === 'number' && p.secretExpiresAfterHours > MAX_HOURS_ATLAS) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretExpiresAfterHours'],
        message: `secretExpiresAfterHours must be at most ${MAX_HOURS_ATLAS} with api: atlas-v2 (got ${p.secretExpiresAfterHours})`,
      });
    }
  });

export type McmCredentials = z.output<typeof credentialsSchema>;
export type McmParams = z.output<typeof paramsSchema>;

/** Params with every default resolved. */
export interface ResolvedParams {
  orgId: string;
  clientId: string;
  secretExpiresAfterHours: number;
  api: MongoApi;
  baseUrl: string;
  projectId?: string;
  tokenUrl: string;
  revokeUrl: string;
  revokePreviousAfterMs: number | undefined;
}

export function resolveParams(p: McmParams): ResolvedParams {
  const baseUrl = p.baseUrl ?? (p.api === 'atlas-v2' ? ATLAS_V2_BASE_URL : CLOUD_MANAGER_BASE_URL);
  const origin = new URL(baseUrl).origin;
  const tokenUrl = p.tokenUrl ?? `${origin}/api/oauth/token`;
  // The revoke endpoint sits beside the token endpoint (…/token → …/revoke).
  const revokeUrl = tokenUrl.replace(/\/token$/, '/revoke');
  return {
    orgId: p.orgId,
    clientId: p.clientId,
    secretExpiresAfterHours: p.secretExpiresAfterHours,
    api: p.api,
    baseUrl,
    ...(p.projectId === undefined ? {} : { projectId: p.projectId }),
    tokenUrl,
    revokeUrl: revokeUrl === tokenUrl ? `${new URL(tokenUrl).origin}/api/oauth/revoke` : revokeUrl,
    revokePreviousAfterMs: parseRevokePreviousAfter(p.revokePreviousAfter),
  };
}
