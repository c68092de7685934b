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
import { NcpStsClient, PLUGIN, asRecord, type SigningKey } from './client';
import { credentialsSchema, paramsSchema, ROLE_NRN_PATTERN, type NcpCredentials, type NcpParams } from './schema';
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

export const NCP_STS_LIMITS: ProviderLimits = {
  minLifetimeMs: 600_000,
  maxLifetimeMs: 43_200_000,
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

function malformed(what: string, traceId: string | undefined): RotatorError {
  return new RotatorError(
    'PROVIDER_UNAVAILABLE',
    `NCP STS answered ${what}${traceId ? ` [x-ncp-trace-id ${traceId}]` : ''}; the endpoint may not be NCP STS ` +
      'or the API changed. Nothing was stored.',
    { plugin: PLUGIN, retryable: false, details: { traceId } },
  );
}

/** The credentials object of a /credentials or /switch-role answer, plus switchedRole in role mode. */
function readIssueResponse(
  data: unknown,
  roleMode: boolean,
  traceId: string | undefined,
): { creds: IssuedCredentials; switchedRole?: unknown } {
  const record = asRecord(data);
  const raw = roleMode ? record.credentials : data;
  // Register the new secret before validating, so even a half-usable answer never reaches a log.
  const keySecret = asRecord(raw).keySecret;
  if (typeof keySecret === 'string') secrets.add(keySecret);
  const parsed = issuedCredentialsSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(body)'))].join(', ');
    throw malformed(`without valid credential fields (${fields})`, traceId);
  }
  return { creds: parsed.data, switchedRole: roleMode ? record.switchedRole : undefined };
}

function toIssuedSecret(
  creds: IssuedCredentials,
  switchedRole: unknown,
  fallbackNow: number,
  traceId: string | undefined,
): IssuedSecret {
  const expiresAt = parseNcpTime(creds.expireTime);
  if (expiresAt === undefined) throw malformed(`an unreadable expireTime (${String(creds.expireTime)})`, traceId);
  const issuedAt = parseNcpTime(creds.createTime) ?? fallbackNow;
  return {
    credentials: { accessKey: creds.accessKey, keySecret: creds.keySecret },
    issuedAt: new Date(issuedAt).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
    providerRef: creds.accessKey,
    ...(switchedRole === undefined ? {} : { extra: { switchedRole } }),
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
    const res = await this.client.request({
      method: 'POST',
      path: roleMode ? PATH_SWITCH_ROLE : PATH_CREDENTIALS,
      body: this.issueBody(ctx.clock.now()),
      key: this.masterKey,
      clock: ctx.clock,
      signal: ctx.signal,
      log: ctx.log,
      action: roleMode ? `switch-role to ${this.params.roleNrn}` : 'issue STS credentials',
    });
    const { creds, switchedRole } = readIssueResponse(res.data, roleMode, res.traceId);
    const issued = toIssuedSecret(creds, switchedRole, ctx.clock.now(), res.traceId);
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

function parseSpecPart<T>(schema: z.ZodType<T>, value: unknown, what: string, secretId: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`).join('; ');
  throw new RotatorError('CONFIG', `secret ${secretId} (ncp-sts) has invalid ${what}: ${problems}`, { plugin: PLUGIN });
}

function create(spec: ProviderSpec<NcpCredentials, NcpParams>, _deps: ProviderDeps): Provider {
  // Parsing again is idempotent for validated specs and fills defaults for hand-built ones.
  const credentials = parseSpecPart(credentialsSchema, spec.credentials, 'credentials', spec.id);
  const params = parseSpecPart(paramsSchema, spec.params, 'params', spec.id);
  secrets.add(credentials.secretKey, params.totpSeed);
  return new NcpStsProvider(params, credentials);
}

function isSandboxHandle(handle: EmulatorHandle): handle is NcpSandboxHandle {
  return 'account' in handle && 'emulator' in handle;
}

/** Points a secret at the sandbox: its endpoint and keys; MFA off; the role moved into its account. */
function rewrite(spec: ProviderSpec<NcpCredentials, NcpParams>, handle: EmulatorHandle): ProviderSpec<NcpCredentials, NcpParams> {
  if (!isSandboxHandle(handle)) {
    throw new RotatorError('INTERNAL', 'ncp-sts sandbox rewrite needs the handle returned by ncpSts.sandbox.start', {
      plugin: PLUGIN,
    });
  }
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
  deps.log.info({ url: emulator.url, accountId: account.accountId }, 'ncp-sts sandbox emulator started');
  return { url: emulator.url, emulator, account, close: () => emulator.close() };
}

export const ncpSts: ProviderPlugin<NcpCredentials, NcpParams> = {
  ...ncpStsSchemas,
  create,
  sandbox: { start: startSandbox, rewrite },
};

export { credentialsSchema, paramsSchema };
export type { NcpCredentials, NcpParams };
