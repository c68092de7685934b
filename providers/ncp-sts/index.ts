import { z } from 'zod';
import type {
  EmulatorHandle,
  IssuedSecret,
  Provider,
  ProviderContext,
  ProviderDeps,
  ProviderLimits,
  ProviderPlugin,
  ProviderSpec,
  VaultValue,
} from '../../src/types';
import { RotatorError, isRotatorError } from '../../src/errors';
import { secrets } from '../../src/redact';
import { totp } from '../../src/totp';
import { asRecord, badAnswer, isoFromMs, parseSpecPart, sandboxOf, type Step } from '../kit';
import { NcpStsClient, PLUGIN, type SigningKey } from './client';
import {
  MAX_DURATION_SEC,
  MIN_DURATION_SEC,
  ROLE_NRN_PATTERN,
  credentialsSchema,
  paramsSchema,
  type NcpCredentials,
  type NcpParams,
} from './schema';
import { SIGNATURE_WINDOW_MS } from './signature';
import type { NcpEmulatorAccount, NcpStsEmulator } from './emulator';
import { ncpStsSchemas } from './descriptor';

/**
 * NAVER Cloud Platform Secure Token Service: temporary access keys issued from a sub-account
 * key (POST /api/v1/credentials) or for a role (POST /api/v1/switch-role). STS keys cannot be
 * revoked or listed; they stop working at expireTime, so this plugin has neither `revoke` nor
 * `list` and declares `expiresOnItsOwn`.
 */

const PATH_CREDENTIALS = '/api/v1/credentials';
const PATH_SWITCH_ROLE = '/api/v1/switch-role';
const PATH_CALLER_IDENTITY = '/api/v1/caller-identity';

/**
 * durationSec is 600–43,200 s (PROVIDERS.md); no revoke and no list (STS keys cannot be
 * revoked), so no live-secret limit the engine could manage; keys expire on their own.
 */
export const NCP_STS_LIMITS: ProviderLimits = {
  minLifetimeMs: MIN_DURATION_SEC * 1000,
  maxLifetimeMs: MAX_DURATION_SEC * 1000,
  issueEffectOnOlder: { kind: 'none' },
  expiresOnItsOwn: true,
};

/** The sandbox's emulator: what `rewrite` needs to point a secret at it. */
export interface NcpSandboxHandle extends EmulatorHandle {
  readonly emulator: NcpStsEmulator;
  readonly account: NcpEmulatorAccount;
}

/** An STS credentials object as the service returns it; extra fields are tolerated. */
const issuedCredentialsSchema = z.object({
  accessKey: z.string().min(1),
  keySecret: z.string().min(1),
  createTime: z.union([z.string(), z.number()]).optional(),
  expireTime: z.union([z.string(), z.number()]),
  useMfa: z.boolean().optional(),
});
type IssuedCredentials = z.output<typeof issuedCredentialsSchema>;

/**
 * Reads an NCP time: ISO 8601 with a zone, ISO without one (taken as UTC), `YYYY-MM-DD hh:mm:ss`,
 * or epoch milliseconds (a number or digits; values below 1e11 are taken as seconds).
 * Returns epoch ms, or undefined when it is none of these.
 */
export function parseNcpTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? epochMs(value) : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return epochMs(Number(text));
  const iso = text.replace(' ', 'T');
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(iso);
  const ms = Date.parse(hasZone ? iso : `${iso}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

function epochMs(n: number): number {
  return n < 1e11 ? n * 1000 : n;
}

/** The credentials object of a /credentials or /switch-role answer, plus switchedRole in role mode. */
function readIssueResponse(
  data: unknown,
  roleMode: boolean,
  step: Step,
  traceId: string | undefined,
): { creds: IssuedCredentials; switchedRole?: unknown } {
  const record = asRecord(data);
  const raw = roleMode ? record.credentials : data;
  // Register the new secret before validating, so even a half-usable answer never reaches a log.
  const keySecret = asRecord(raw).keySecret;
  if (typeof keySecret === 'string') secrets.add(keySecret);
  const parsed = issuedCredentialsSchema.safeParse(raw);
  if (!parsed.success) {
    // Field names only: the values may be the new secret.
    const prefix = roleMode ? 'credentials.' : '';
    const fields = [...new Set(parsed.error.issues.map((i) => prefix + (i.path.join('.') || '(body)')))].join(', ');
    throw badAnswer(step, `without valid credential fields (${fields})`, { traceId });
  }
  return { creds: parsed.data, switchedRole: roleMode ? record.switchedRole : undefined };
}

/**
 * The answer as an IssuedSecret with valid ISO instants (a PROVIDER_BAD_ANSWER naming the field
 * otherwise). Whether the lifetime fits the limits is the engine's check (checkIssued).
 * `useMfa` and, in role mode, `switchedRole` are kept beside the credentials (not secret).
 */
function toIssuedSecret(creds: IssuedCredentials, switchedRole: unknown, fallbackNow: number, step: Step): IssuedSecret {
  const expiresAt = isoFromMs(parseNcpTime(creds.expireTime), 'expireTime', step);
  const issuedAt =
    creds.createTime === undefined
      ? isoFromMs(fallbackNow, 'createTime', step)
      : isoFromMs(parseNcpTime(creds.createTime), 'createTime', step);
  const extra = {
    ...(creds.useMfa === undefined ? {} : { useMfa: creds.useMfa }),
    ...(switchedRole === undefined ? {} : { switchedRole }),
  };
  return {
    credentials: { accessKey: creds.accessKey, keySecret: creds.keySecret },
    issuedAt,
    expiresAt,
    providerRef: creds.accessKey,
    ...(Object.keys(extra).length === 0 ? {} : { extra }),
  };
}

class NcpStsProvider implements Provider {
  readonly type = PLUGIN;
  readonly limits = NCP_STS_LIMITS;
  private readonly client: NcpStsClient;
  private readonly masterKey: SigningKey;

  constructor(
    private readonly params: NcpParams,
    credentials: NcpCredentials,
  ) {
    this.client = new NcpStsClient({ endpoint: params.endpoint });
    this.masterKey = { accessKey: credentials.accessKey, secretKey: credentials.secretKey };
  }

  async issue(ctx: ProviderContext): Promise<IssuedSecret> {
    const roleMode = this.params.roleNrn !== undefined;
    const path = roleMode ? PATH_SWITCH_ROLE : PATH_CREDENTIALS;
    const action = roleMode ? `switch-role to ${this.params.roleNrn}` : 'issue STS credentials';
    const res = await this.client.request({
      method: 'POST',
      path,
      body: this.issueBody(ctx.clock.now()),
      key: this.masterKey,
      clock: ctx.clock,
      signal: ctx.signal,
      log: ctx.log,
      action,
    });
    const step: Step = { plugin: PLUGIN, service: 'NCP STS', action, method: 'POST', path };
    const { creds, switchedRole } = readIssueResponse(res.data, roleMode, step, res.traceId);
    const issued = toIssuedSecret(creds, switchedRole, ctx.clock.now(), step);
    ctx.log.info(
      { accessKey: issued.providerRef, expiresAt: issued.expiresAt, roleNrn: this.params.roleNrn, traceId: res.traceId },
      'issued NCP STS credential',
    );
    return issued;
  }

  /** The issue body; the MFA code is computed now (codes live 30 s), from the injected clock. */
  private issueBody(now: number): Record<string, unknown> {
    const { roleNrn, durationSec, serialNumber, tokenCode, totpSeed } = this.params;
    const code = totpSeed !== undefined ? totp(totpSeed, now) : tokenCode;
    return {
      ...(roleNrn === undefined ? {} : { roleNrn }),
      durationSec,
      ...(serialNumber === undefined ? {} : { serialNumber }),
      // The API documents tokenCode as an integer; a leading zero is lost, as the service expects.
      ...(code === undefined ? {} : { tokenCode: Number(code) }),
    };
  }

  /**
   * Calls caller-identity signed by the new key. A 401/404 right after issue may be propagation
   * delay, so it is VERIFY_FAILED and retryable; other failures keep their mapping.
   */
  async verify(value: VaultValue, ctx: ProviderContext): Promise<void> {
    const { accessKey, keySecret } = value.credentials;
    if (!accessKey || !keySecret) {
      throw new RotatorError('VERIFY_FAILED', `secret ${value.secretId} has no accessKey/keySecret to verify`, {
        plugin: PLUGIN,
      });
    }
    try {
      const res = await this.client.request({
        method: 'GET',
        path: PATH_CALLER_IDENTITY,
        key: { accessKey, secretKey: keySecret },
        clock: ctx.clock,
        signal: ctx.signal,
        log: ctx.log,
        action: `verify of the new key ${accessKey}`,
      });
      ctx.log.debug({ accessKey, userType: asRecord(res.data).userType, traceId: res.traceId }, 'NCP STS key verified');
    } catch (err) {
      throw asVerifyFailure(err);
    }
  }
}

/** A clock beyond the signature window is not propagation delay: that 401 keeps its clock advice. */
function asVerifyFailure(err: unknown): unknown {
  if (!isRotatorError(err) || (err.details.status !== 401 && err.details.status !== 404)) return err;
  const skewSec = Number(err.details.clockSkewSec ?? 0);
  if (Math.abs(skewSec) * 1000 >= SIGNATURE_WINDOW_MS) return err;
  return new RotatorError(
    'VERIFY_FAILED',
    `${err.message} A key that was just issued may take a moment to propagate; verification will be retried.`,
    { plugin: PLUGIN, retryable: true, details: err.details },
  );
}

function create(spec: ProviderSpec<NcpCredentials, NcpParams>, _deps: ProviderDeps): Provider {
  // Parsing again is idempotent for validated specs and fills defaults for hand-built ones.
  const credentials = parseSpecPart(PLUGIN, credentialsSchema, spec.credentials, 'credentials', spec.id);
  const params = parseSpecPart(PLUGIN, paramsSchema, spec.params, 'params', spec.id);
  secrets.add(credentials.secretKey, params.totpSeed);
  return new NcpStsProvider(params, credentials);
}

function isSandboxHandle(handle: EmulatorHandle): handle is NcpSandboxHandle {
  return 'account' in handle && 'emulator' in handle;
}

/** Points a secret at the sandbox: its endpoint and keys; MFA off; the role moved into its account. */
function rewrite(
  spec: ProviderSpec<NcpCredentials, NcpParams>,
  handle: NcpSandboxHandle,
): ProviderSpec<NcpCredentials, NcpParams> {
  const { serialNumber: _serial, tokenCode: _code, totpSeed: _seed, roleNrn, ...params } = spec.params;
  return {
    ...spec,
    credentials: { accessKey: handle.account.accessKey, secretKey: handle.account.secretKey },
    params: {
      ...params,
      endpoint: handle.url,
      ...(roleNrn === undefined ? {} : { roleNrn: sandboxRoleNrn(roleNrn, handle.account.accountId) }),
    },
  };
}

/** The same role name under the sandbox account; role mode is kept even for a placeholder NRN. */
function sandboxRoleNrn(roleNrn: string, accountId: string): string {
  const match = ROLE_NRN_PATTERN.exec(roleNrn);
  return `nrn:${match?.[1] ?? 'PUB'}:IAM::${accountId}:Role/${match?.[3] ?? 'sandbox'}`;
}

async function startSandbox(deps: ProviderDeps): Promise<NcpSandboxHandle> {
  // The emulator loads only here: a real rotation never needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { generateAccount, startNcpStsEmulator } = require('./emulator') as typeof import('./emulator');
  const account = generateAccount();
  secrets.add(account.secretKey);
  const emulator = await startNcpStsEmulator({ clock: deps.clock, accounts: [account] });
  return { url: emulator.url, emulator, account, close: () => emulator.close() };
}

export const ncpSts: ProviderPlugin<NcpCredentials, NcpParams> = {
  ...ncpStsSchemas,
  create,
  sandbox: sandboxOf(PLUGIN, { start: startSandbox, isHandle: isSandboxHandle, rewrite }),
};

export { credentialsSchema, paramsSchema };
export type { NcpCredentials, NcpParams };
