import { z } from 'zod';
import type {
  EmulatorHandle,
  IssuedSecret,
  Provider,
  ProviderContext,
  ProviderDeps,
  ProviderLimits,
  ProviderPlugin,
  ProviderSecretInfo,
  ProviderSpec,
  VaultValue,
} from '../../src/types';
import { RotatorError, describeError } from '../../src/errors';
import { secrets } from '../../src/redact';
import { asRecord, badAnswer, isoField, parseSpecPart, sandboxOf } from '../kit';
import { McmApi, type ApiAuth } from './client';
import { digestPoolFor } from './digest';
import { PLUGIN, mcmStep, type AuthDescription, type McmStep } from './errors';
import { TokenRefused, mintToken, revokeToken, tokenLimiter, type TokenClient } from './oauth';
import {
  MAX_HOURS_ATLAS,
  MAX_HOURS_CLOUD_MANAGER,
  MIN_HOURS,
  credentialsSchema,
  paramsSchema,
  resolveParams,
  type McmCredentials,
  type McmParams,
  type ResolvedParams,
} from './schema';
import type { McmApiKey, McmEmulator } from './emulator';
import { mongodbCloudManagerSchemas } from './descriptor';

/**
 * MongoDB Cloud Manager / Atlas service-account secrets. A service account holds at most 2
 * secrets; creating one shortens every older one to at most 7 days; secrets expire on their own
 * and can be deleted. The secret value is returned only at creation. Verification mints an OAuth
 * token with the new secret and revokes it at once (100 active tokens per account; 10 token
 * requests per minute per client, which {@link tokenLimiter} respects by waiting).
 */

const HOUR_MS = 3_600_000;
const SEVEN_DAYS_MS = 7 * 24 * HOUR_MS;
/** A cached self-rotation token is replaced this long before it expires. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * secretExpiresAfterHours is 8–8766 h (Atlas v2: 8–8760, or less by the org setting); at most 2
 * secrets per account; creating one shortens every older one to at most 7 days; secrets expire on
 * their own (and can be deleted early: `revoke`).
 */
export function mongoLimits(api: 'cloud-manager' | 'atlas-v2'): ProviderLimits {
  return {
    minLifetimeMs: MIN_HOURS * HOUR_MS,
    maxLifetimeMs: (api === 'atlas-v2' ? MAX_HOURS_ATLAS : MAX_HOURS_CLOUD_MANAGER) * HOUR_MS,
    maxLiveSecrets: 2,
    issueEffectOnOlder: { kind: 'shorten', toAtMostMs: SEVEN_DAYS_MS },
    expiresOnItsOwn: true,
  };
}

const SECRET_ID = /^[0-9a-f]{24}$/;

/** The create-secret answer; extra fields are tolerated. */
const createdSchema = z.object({
  id: z.string().regex(SECRET_ID),
  secret: z.string().min(1),
  createdAt: z.string(),
  expiresAt: z.string(),
});

const accountSchema = z.object({
  secrets: z
    .array(z.object({ id: z.string(), createdAt: z.string().optional(), expiresAt: z.string().optional() }).passthrough())
    .default([]),
});

/** Field names only, never values: the create answer holds the new secret. */
function invalidFields(step: McmStep, issues: readonly { path: PropertyKey[] }[]): RotatorError {
  const fields = [...new Set(issues.map((i) => i.path.join('.') || '(body)'))].join(', ');
  return badAnswer(step, `without valid fields (${fields})`);
}

interface CachedToken {
  client: TokenClient;
  token: string;
  expiresAtMs: number;
}

type AuthMode = AuthDescription['mode'];

class MongoProvider implements Provider {
  readonly type = PLUGIN;
  readonly limits: ProviderLimits;
  readonly revokePreviousAfterMs: number | undefined;
  /** clientId and providerRef are ids, not secrets: logs may show them. */
  readonly publicFields = mongodbCloudManagerSchemas.publicFields;
  private readonly accountPath: string;
  private readonly mode: AuthMode;
  private cachedToken: CachedToken | undefined;

  constructor(
    private readonly params: ResolvedParams,
    private readonly credentials: McmCredentials,
    private readonly log: ProviderDeps['log'],
    /** Where Digest challenges are remembered across processes (nonce-cache.ts); none: not kept. */
    private readonly nonceFile?: string,
  ) {
    this.limits = mongoLimits(params.api);
    this.revokePreviousAfterMs = params.revokePreviousAfterMs;
    const scope = params.projectId ? `/groups/${params.projectId}` : `/orgs/${params.orgId}`;
    this.accountPath = `${scope}/serviceAccounts/${params.clientId}`;
    this.mode =
      credentials.publicKey !== undefined ? 'api-key' : credentials.clientId !== undefined ? 'service-account' : 'self-rotation';
  }

  private get selfRotating(): boolean {
    return this.mode === 'self-rotation';
  }

  /**
   * A client for this call: Digest with the API key, or a Bearer token (the admin service
   * account's, or in self-rotation one minted from the context's current secret).
   */
  private api(ctx: ProviderContext): McmApi {
    const who: AuthDescription = {
      mode: this.mode,
      orgId: this.params.orgId,
      ...(this.params.projectId ? { projectId: this.params.projectId } : {}),
    };
    const refused = () => (this.cachedToken = undefined);
    const auth: ApiAuth =
      this.mode === 'api-key'
        ? {
            kind: 'digest',
            pool: digestPoolFor(this.params.baseUrl, this.credentials.publicKey!, this.credentials.privateKey!, this.nonceFile),
          }
        : this.mode === 'service-account'
          ? { kind: 'bearer', token: (signal) => this.adminToken(ctx, signal), refused }
          : { kind: 'bearer', token: (signal) => this.selfToken(ctx, signal), refused };
    return new McmApi(this.params.baseUrl, this.params.api, auth, who);
  }

  private tokenClient(clientSecret: string, clientId = this.params.clientId): TokenClient {
    return { tokenUrl: this.params.tokenUrl, revokeUrl: this.params.revokeUrl, clientId, clientSecret };
  }

  /**
   * The cached token for `client` while it has more than {@link TOKEN_REFRESH_MARGIN_MS} left;
   * otherwise a new one (waiting for a slot of the 10-per-minute limit). The token it replaces is
   * forgotten, not revoked: it expires within minutes, or its secret changed (self-rotation) and
   * may already be deleted, which invalidates it.
   */
  private async bearer(client: TokenClient, ctx: ProviderContext, signal: AbortSignal | undefined): Promise<string> {
    const now = ctx.clock.now();
    const cached = this.cachedToken;
    if (
      cached &&
      cached.client.clientId === client.clientId &&
      cached.client.clientSecret === client.clientSecret &&
      cached.expiresAtMs - TOKEN_REFRESH_MARGIN_MS > now
    )
      return cached.token;
    await tokenLimiter.acquire(this.params.tokenUrl, client.clientId, ctx.clock, signal, ctx.log);
    const minted = await mintToken(client, signal);
    // The token it replaces is never sent again: forget it (see SecretRegistry.delete).
    if (this.cachedToken) secrets.delete(this.cachedToken.token);
    this.cachedToken = { client, token: minted.accessToken, expiresAtMs: now + minted.expiresInSec * 1000 };
    return minted.accessToken;
  }

  /** Revokes a cached token (best effort: it expires within 1 h anyway), then forgets it. */
  private async revokeCached(cached: CachedToken): Promise<void> {
    try {
      await revokeToken(cached.client, cached.token, AbortSignal.timeout(15_000));
      secrets.delete(cached.token); // revoked: harmless now (see SecretRegistry.delete)
    } catch (err) {
      this.log.warn(
        { clientId: cached.client.clientId, error: describeError(err) },
        'a MongoDB access token could not be revoked; it expires within 1 h',
      );
    }
  }

  /** Shutdown: revokes the cached Bearer token, so no token outlives the process. */
  async close(): Promise<void> {
    const cached = this.cachedToken;
    this.cachedToken = undefined;
    if (cached) await this.revokeCached(cached);
  }

  /** Admin service account: a Bearer token from credentials.clientId/clientSecret. */
  private async adminToken(ctx: ProviderContext, signal?: AbortSignal): Promise<string> {
    const client = this.tokenClient(this.credentials.clientSecret!, this.credentials.clientId!);
    try {
      return await this.bearer(client, ctx, signal);
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      throw new RotatorError(
        'PROVIDER_AUTH',
        `MongoDB refused a token for the admin service account ${client.clientId} (${err.message}): check ` +
          'credentials.clientId/clientSecret (the secret may have been deleted or have expired)',
        { plugin: PLUGIN, details: { status: err.status } },
      );
    }
  }

  /**
   * Self-rotation: a Bearer token minted from the vault's current secret (the bootstrap
   * clientSecret only while the vault has none), cached until shortly before it expires.
   */
  private async selfToken(ctx: ProviderContext, signal?: AbortSignal): Promise<string> {
    const secret = ctx.current?.credentials.clientSecret ?? this.credentials.clientSecret;
    if (!secret) {
      throw new RotatorError(
        'PROVIDER_AUTH',
        `secret ${ctx.secretId}: self-rotation (no publicKey/privateKey) needs the service account's current secret in the ` +
          'vault, or credentials.clientSecret to bootstrap the first rotation',
        { plugin: PLUGIN },
      );
    }
    try {
      return await this.bearer(this.tokenClient(secret), ctx, signal);
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      throw new RotatorError(
        'PROVIDER_AUTH',
        `MongoDB refused a token for ${this.params.clientId} from its current secret (${err.message}): the secret was ` +
          'deleted or has expired; bootstrap again with credentials.clientSecret set to a live secret of the account',
        { plugin: PLUGIN, details: { status: err.status } },
      );
    }
  }

  async issue(ctx: ProviderContext): Promise<IssuedSecret> {
    const action = `create a secret for ${this.params.clientId}`;
    const path = `${this.accountPath}/secrets`;
    const res = await this.api(ctx).call({
      method: 'POST',
      path,
      body: { secretExpiresAfterHours: this.params.secretExpiresAfterHours },
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      log: ctx.log,
      action,
      holdsCredential: true,
    });
    const step = mcmStep(action, 'POST', new URL(this.params.baseUrl + path).pathname, true);
    // Register the value before validating, so even a half-usable answer never reaches a log.
    const raw = asRecord(res.data);
    if (typeof raw.secret === 'string') secrets.add(raw.secret);
    const parsed = createdSchema.safeParse(raw);
    if (!parsed.success) throw invalidFields(step, parsed.error.issues);
    const issued: IssuedSecret = {
      credentials: { clientId: this.params.clientId, clientSecret: parsed.data.secret },
      issuedAt: isoField(parsed.data.createdAt, 'createdAt', step),
      expiresAt: isoField(parsed.data.expiresAt, 'expiresAt', step),
      providerRef: parsed.data.id,
    };
    ctx.log.info(
      { clientId: this.params.clientId, providerRef: issued.providerRef, expiresAt: issued.expiresAt },
      'created MongoDB service account secret',
    );
    return issued;
  }

  async list(ctx: ProviderContext): Promise<ProviderSecretInfo[]> {
    const action = `read service account ${this.params.clientId}`;
    const res = await this.api(ctx).call({
      method: 'GET',
      path: this.accountPath,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      log: ctx.log,
      action,
    });
    const parsed = accountSchema.safeParse(res.data);
    if (!parsed.success)
      throw invalidFields(mcmStep(action, 'GET', new URL(this.params.baseUrl + this.accountPath).pathname), parsed.error.issues);
    // Self-rotation before the vault holds a secret: the token comes from the bootstrap secret,
    // and nothing says which of the account's secrets that is. Deleting it would lock rotator
    // out for good, so every secret counts as in use until the vault has its own.
    const bootstrapping = this.selfRotating && !ctx.current;
    return parsed.data.secrets.map((s) => ({
      providerRef: s.id,
      ...(s.createdAt ? { createdAt: s.createdAt } : {}),
      ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
      ...(bootstrapping ? { inUse: true } : {}),
    }));
  }

  async revoke(providerRef: string, ctx: ProviderContext): Promise<void> {
    if (!SECRET_ID.test(providerRef)) {
      throw new RotatorError('PROVIDER_REJECTED', `not a MongoDB secret id: ${JSON.stringify(providerRef.slice(0, 40))}`, {
        plugin: PLUGIN,
      });
    }
    try {
      await this.api(ctx).call({
        method: 'DELETE',
        path: `${this.accountPath}/secrets/${providerRef}`,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        log: ctx.log,
        action: `delete secret ${providerRef} of ${this.params.clientId}`,
      });
      ctx.log.info({ clientId: this.params.clientId, providerRef }, 'deleted MongoDB service account secret');
    } catch (err) {
      // Idempotent: a secret that is already gone is what we wanted.
      if (err instanceof RotatorError && err.details.status === 404) {
        ctx.log.info({ clientId: this.params.clientId, providerRef }, 'MongoDB secret already gone');
        return;
      }
      throw err;
    }
  }

  /**
   * Mints a token with the new secret, then revokes it at once so verification leaves no active
   * token behind. invalid_client is VERIFY_FAILED (not retried: a secret MongoDB has just created
   * is accepted at once, and each attempt costs one of 10 token requests per minute).
   */
  async verify(value: VaultValue, ctx: ProviderContext): Promise<void> {
    const clientId = value.credentials.clientId;
    const clientSecret = value.credentials.clientSecret;
    if (!clientId || !clientSecret) {
      throw new RotatorError('VERIFY_FAILED', `secret ${value.secretId} has no clientId/clientSecret to verify`, {
        plugin: PLUGIN,
      });
    }
    const client = { ...this.tokenClient(clientSecret), clientId };
    await tokenLimiter.acquire(client.tokenUrl, clientId, ctx.clock, ctx.signal, ctx.log);
    let token: string;
    try {
      token = (await mintToken(client, ctx.signal)).accessToken;
    } catch (err) {
      if (!(err instanceof TokenRefused)) throw err;
      throw new RotatorError(
        'VERIFY_FAILED',
        `MongoDB refused a token for the new secret ${value.providerRef} (${err.message})`,
        {
          plugin: PLUGIN,
          details: { status: err.status, providerRef: value.providerRef },
        },
      );
    }
    try {
      // Revocation runs even during shutdown: a token left behind counts against the 100 limit.
      await revokeToken(client, token, AbortSignal.timeout(15_000));
      secrets.delete(token); // revoked: harmless now, and one per verification would pile up
      ctx.log.debug({ clientId, providerRef: value.providerRef }, 'MongoDB secret verified; its token revoked');
    } catch (err) {
      ctx.log.warn(
        { clientId, providerRef: value.providerRef, error: describeError(err) },
        'the verification token could not be revoked; it expires within 1 h',
      );
    }
  }
}

function create(spec: ProviderSpec<McmCredentials, McmParams>, deps: ProviderDeps): Provider {
  const credentials = parseSpecPart(PLUGIN, credentialsSchema, spec.credentials, 'credentials', spec.id);
  const params = parseSpecPart(PLUGIN, paramsSchema, spec.params, 'params', spec.id);
  secrets.add(credentials.privateKey, credentials.clientSecret);
  if (credentials.clientId !== undefined && credentials.clientId === params.clientId) {
    throw new RotatorError(
      'CONFIG',
      `secret ${spec.id} (${PLUGIN}): credentials.clientId is the rotated account itself (params.clientId); to rotate ` +
        "an account's own secrets, drop credentials.clientId and keep clientSecret as the bootstrap (self-rotation)",
      { plugin: PLUGIN },
    );
  }
  const nonceFile = deps.statePath === undefined ? undefined : `${deps.statePath}.mongodb-digest.json`;
  return new MongoProvider(resolveParams(params), credentials, deps.log, nonceFile);
}

/** The sandbox's emulator and the API key it accepts. */
export interface McmSandboxHandle extends EmulatorHandle {
  readonly emulator: McmEmulator;
  readonly apiKey: McmApiKey;
}

function isSandboxHandle(handle: EmulatorHandle): handle is McmSandboxHandle {
  return 'emulator' in handle && 'apiKey' in handle;
}

/**
 * Points a secret at the sandbox: the emulator's API key (self-rotation is replaced by it), its
 * base and token URLs, and the secret's own org/project/service account created there.
 */
function rewrite(
  spec: ProviderSpec<McmCredentials, McmParams>,
  handle: McmSandboxHandle,
): ProviderSpec<McmCredentials, McmParams> {
  const { baseUrl: _base, tokenUrl: _token, ...params } = spec.params;
  handle.emulator.ensureServiceAccount({
    orgId: params.orgId,
    clientId: params.clientId,
    ...(params.projectId ? { projectIds: [params.projectId] } : {}),
  });
  const prefix = params.api === 'atlas-v2' ? '/api/atlas/v2' : '/api/public/v1.0';
  return {
    ...spec,
    credentials: { publicKey: handle.apiKey.publicKey, privateKey: handle.apiKey.privateKey },
    params: { ...params, baseUrl: handle.url + prefix, tokenUrl: `${handle.url}/api/oauth/token` },
  };
}

async function startSandbox(deps: ProviderDeps): Promise<McmSandboxHandle> {
  // The emulator loads only here: a real rotation never needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { generateApiKey, startMcmEmulator } = require('./emulator') as typeof import('./emulator');
  const apiKey = generateApiKey();
  secrets.add(apiKey.privateKey);
  const emulator = await startMcmEmulator({ clock: deps.clock, apiKeys: [apiKey] });
  return { url: emulator.url, emulator, apiKey, close: () => emulator.close() };
}

export const mongodbCloudManager: ProviderPlugin<McmCredentials, McmParams> = {
  ...mongodbCloudManagerSchemas,
  create,
  sandbox: sandboxOf(PLUGIN, { start: startSandbox, isHandle: isSandboxHandle, rewrite }),
};

export { credentialsSchema, paramsSchema };
export type { McmCredentials, McmParams };
