import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ncpSts, type NcpSandboxHandle } from '../../providers/ncp-sts';
import { NcpStsClient } from '../../providers/ncp-sts/client';
import {
  generateAccount,
  startNcpStsEmulator,
  type NcpEmulatorOptions,
  type NcpStsEmulator,
} from '../../providers/ncp-sts/emulator';
import { signV2 } from '../../providers/ncp-sts/signature';
import { ManualClock, systemClock } from '../../src/clock';
import { RotatorError } from '../../src/errors';
import { memoryLogger } from '../../src/log';
import { secrets } from '../../src/redact';
import { totp } from '../../src/totp';
import type { Clock, IssuedSecret, Provider, ProviderContext, VaultValue } from '../../src/types';

const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const TRACE_ID = /x-ncp-trace-id [0-9a-f]{32}/;
/** A base64 HMAC-SHA256 signature, wherever it might leak. */
const SIGNATURE_LIKE = /[A-Za-z0-9+/]{43}=/;

const emulators: NcpStsEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function emulator(options: NcpEmulatorOptions = {}): Promise<NcpStsEmulator> {
  const emu = await startNcpStsEmulator(options);
  emulators.push(emu);
  return emu;
}

function context(clock: Clock = systemClock): ProviderContext & { log: ReturnType<typeof memoryLogger> } {
  return { secretId: 'ncp-deployer', rotationId: 'rot-1', clock, log: memoryLogger() };
}

/** A provider built the way config/ builds it: from raw config through the plugin's schemas. */
function configured(credentials: unknown, params: unknown, clock: Clock = systemClock): Provider {
  return ncpSts.create(
    { id: 'ncp-deployer', credentials: ncpSts.credentialsSchema.parse(credentials), params: ncpSts.paramsSchema.parse(params) },
    { log: memoryLogger(), clock },
  );
}

function provider(emu: NcpStsEmulator, params: Record<string, unknown> = {}, credentials?: object): Provider {
  return configured(credentials ?? master(emu), { endpoint: emu.url, ...params });
}

function vaultValue(issued: IssuedSecret): VaultValue {
  return { provider: 'ncp-sts', secretId: 'ncp-deployer', rotationId: 'rot-1', ...issued };
}

async function failure(promise: Promise<unknown>): Promise<RotatorError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RotatorError);
    return err as RotatorError;
  }
  throw new Error('expected a rejection');
}

interface RawRequest {
  method: 'GET' | 'POST';
  uri: string;
  body?: unknown;
  accessKey: string;
  secretKey: string;
  timestamp?: number;
  signature?: string;
}

/** What the emulator answers: an STS error (message), a gateway error (error{}) or data. */
interface RawBody {
  message?: string;
  error?: { errorCode: string; message: string; details: string };
  [field: string]: unknown;
}

/** A request built by hand, to test the emulator itself rather than the client. */
async function raw(emu: NcpStsEmulator, req: RawRequest): Promise<{ status: number; body: RawBody; headers: Headers }> {
  const timestamp = req.timestamp ?? Date.now();
  const signature = req.signature ?? signV2({ ...req, timestamp });
  const res = await fetch(emu.url + req.uri, {
    method: req.method,
    headers: {
      'x-ncp-apigw-timestamp': String(timestamp),
      'x-ncp-iam-access-key': req.accessKey,
      'x-ncp-apigw-signature-v2': signature,
      'content-type': 'application/json',
    },
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
  });
  return { status: res.status, body: (await res.json()) as RawBody, headers: res.headers };
}

function master(emu: NcpStsEmulator) {
  const { accessKey, secretKey } = emu.accounts[0]!;
  return { accessKey, secretKey };
}

describe('ncp-sts against its emulator over HTTP', () => {
  it('issues STS credentials that verify and can call caller-identity', async () => {
    const emu = await emulator();
    const ctx = context();
    const ncp = provider(emu, { durationSec: 900 });
    const issued = await ncp.issue(ctx);

    expect(issued.providerRef).toBe(issued.credentials.accessKey);
    expect(Date.parse(issued.expiresAt) - Date.parse(issued.issuedAt)).toBe(900_000);
    expect(emu.issuedKeys().map((k) => k.accessKey)).toEqual([issued.providerRef]);
    expect(emu.lookupSecret(issued.providerRef)).toBe(issued.credentials.keySecret);
    expect(issued.extra).toEqual({ useMfa: false });
    expect(secrets.scrub(`x ${issued.credentials.keySecret} y`)).toBe('x [REDACTED] y');
    expect(secrets.scrub(issued.providerRef)).toBe(issued.providerRef);

    await ncp.verify!(vaultValue(issued), ctx);
    const verifyCall = emu.requests.find((r) => r.path === '/api/v1/caller-identity');
    expect(verifyCall).toMatchObject({ method: 'GET', accessKey: issued.providerRef, status: 200 });

    const key = { accessKey: issued.credentials.accessKey!, secretKey: issued.credentials.keySecret! };
    const identity = await raw(emu, { method: 'GET', uri: '/api/v1/caller-identity', ...key });
    expect(identity.body).toMatchObject({ userType: 'Sub', loginAlias: emu.accounts[0]!.loginAlias });
    const described = await raw(emu, { method: 'GET', uri: '/api/v1/credentials', ...key });
    expect(described.body).toMatchObject({ accessKey: key.accessKey, keySecret: key.secretKey, useMfa: false });
    const masterDescribed = await raw(emu, { method: 'GET', uri: '/api/v1/credentials', ...master(emu) });
    expect(masterDescribed.body).toEqual({ accessKey: master(emu).accessKey });
    expect(ctx.log.text()).not.toContain(issued.credentials.keySecret);
  });

  it('switches role and the issued key identifies as the role', async () => {
    const emu = await emulator();
    const roleNrn = `nrn:PUB:IAM::${emu.accounts[0]!.accountId}:Role/deployer`;
    const ctx = context();
    const ncp = provider(emu, { roleNrn, durationSec: '1200' });
    const issued = await ncp.issue(ctx);

    expect(issued.extra).toEqual({ useMfa: false, switchedRole: roleNrn });
    expect(Date.parse(issued.expiresAt) - Date.parse(issued.issuedAt)).toBe(1_200_000);
    expect(emu.count('POST', '/api/v1/switch-role')).toBe(1);
    await ncp.verify!(vaultValue(issued), ctx);
    const identity = await raw(emu, {
      method: 'GET',
      uri: '/api/v1/caller-identity',
      accessKey: issued.credentials.accessKey!,
      secretKey: issued.credentials.keySecret!,
    });
    expect(identity.body).toMatchObject({ id: roleNrn, userType: 'Role' });
  });

  it('lets an STS key issue again, like a permanent key', async () => {
    const emu = await emulator();
    const first = await provider(emu).issue(context());
    const second = await provider(
      emu,
      {},
      {
        accessKey: first.credentials.accessKey,
        secretKey: first.credentials.keySecret,
      },
    ).issue(context());
    expect(emu.issuedKeys().find((k) => k.accessKey === second.providerRef)?.issuedBy).toBe(first.providerRef);
  });

  it.each<NonNullable<NcpEmulatorOptions['timeFormat']>>(['zoneless', 'epoch'])('reads %s times', async (timeFormat) => {
    const clock = new ManualClock(Date.now());
    const emu = await emulator({ clock, timeFormat });
    const issued = await provider(emu, { durationSec: 600 }).issue(context(clock));
    expect(issued.issuedAt).toBe(new Date(clock.now()).toISOString());
    expect(issued.expiresAt).toBe(new Date(clock.now() + 600_000).toISOString());
  });

  it('reports a wrong secret as PROVIDER_AUTH with the gateway code and trace id, and no secret', async () => {
    const emu = await emulator();
    const wrongSecret = 'ncp_iam_WRONGSECRETWRONGSECRET';
    const ctx = context();
    const err = await failure(provider(emu, {}, { accessKey: master(emu).accessKey, secretKey: wrongSecret }).issue(ctx));

    expect(err).toMatchObject({ code: 'PROVIDER_AUTH', retryable: false, plugin: 'ncp-sts' });
    expect(err.message).toContain('HTTP 401');
    expect(err.message).toContain('error 200 "Authentication Failed"');
    expect(err.message).toMatch(TRACE_ID);
    expect(err.message).toContain('NCP_ACCESS_KEY/NCP_SECRET_KEY');
    expect(err.details).toMatchObject({ status: 401, errorCode: '200' });
    expect(err.message).toContain(String(err.details.traceId));
    expect(err.cause).toBeUndefined();
    for (const text of [err.message, JSON.stringify(err), ctx.log.text()]) {
      expect(text).not.toContain(wrongSecret);
      expect(text).not.toMatch(SIGNATURE_LIKE);
      expect(text).not.toContain('x-ncp-apigw-signature-v2');
    }
  });

  it.each([
    ['behind', 10 * 60_000],
    ['ahead of', -10 * 60_000],
  ])('names a 10-minute clock skew (local %s the gateway) on the 401', async (direction, gatewayOffset) => {
    const emu = await emulator({ clock: new ManualClock(Date.now() + gatewayOffset) });
    const err = await failure(provider(emu).issue(context(systemClock)));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toMatch(new RegExp(`local clock is (599|600|601) s ${direction} the gateway`));
    expect(err.message).toContain('only valid within 5 minutes: fix the clock (NTP)');
    expect(Math.abs(Number(err.details.clockSkewSec))).toBeGreaterThanOrEqual(599);
  });

  it('keeps the clock advice when verify fails on a skewed clock (not propagation delay)', async () => {
    const gatewayClock = new ManualClock(Date.now() + 10 * 60_000);
    const emu = await emulator({ clock: gatewayClock });
    const ncp = provider(emu);
    const issued = await ncp.issue(context(gatewayClock));
    const err = await failure(ncp.verify!(vaultValue(issued), context(systemClock)));
    expect(err).toMatchObject({ code: 'PROVIDER_AUTH', retryable: false });
    expect(err.message).toMatch(/local clock is (599|600|601) s behind the gateway/);
  });

  it.each([
    [429, 'RATE_LIMITED', '420'],
    [500, 'PROVIDER_UNAVAILABLE', '900'],
    [503, 'PROVIDER_UNAVAILABLE', '500'],
    [504, 'PROVIDER_UNAVAILABLE', '510'],
  ] as const)('maps an injected %i to retryable %s', async (status, code, errorCode) => {
    const emu = await emulator();
    emu.faults.push({ status, times: 1, path: '/api/v1/credentials' });
    const ncp = provider(emu);
    const err = await failure(ncp.issue(context()));
    expect(err).toMatchObject({ code, retryable: true, details: { status, errorCode } });
    expect(err.message).toContain(`HTTP ${status}`);
    expect(err.message).toMatch(TRACE_ID);
    await expect(ncp.issue(context())).resolves.toBeDefined();
  });

  it('maps a dropped connection to retryable PROVIDER_UNAVAILABLE', async () => {
    const emu = await emulator();
    emu.dropConnections(1);
    const ncp = provider(emu);
    const err = await failure(ncp.issue(context()));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    expect(err.message).toMatch(/failed without an answer \((ECONNRESET|ERR_NETWORK|EPIPE)\)/);
    expect(emu.count('POST', '/api/v1/credentials')).toBe(1);
    await expect(ncp.issue(context())).resolves.toBeDefined();
  });

  it('times out slow answers as retryable and stops when aborted', async () => {
    const emu = await emulator({ latencyMs: 300 });
    const client = new NcpStsClient({ endpoint: emu.url, timeoutMs: 50 });
    const request = {
      method: 'GET',
      path: '/api/v1/caller-identity',
      key: master(emu),
      clock: systemClock,
      action: 'test',
    } as const;
    const timedOut = await failure(client.request(request));
    expect(timedOut).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    expect(timedOut.message).toContain('timed out');

    const controller = new AbortController();
    const pending = provider(emu).issue({ ...context(), signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect(await failure(pending)).toMatchObject({ code: 'ABORTED', retryable: false });
  });

  it.each([404, 401] as const)('rejects an expired STS key (answered %i); verify fails retryably', async (expiredKeyStatus) => {
    const clock = new ManualClock(Date.now());
    const emu = await emulator({ clock, expiredKeyStatus });
    const ctx = context(clock);
    const ncp = provider(emu, { durationSec: 600 });
    const issued = await ncp.issue(ctx);
    await ncp.verify!(vaultValue(issued), ctx);

    clock.advance(600_000);
    const err = await failure(ncp.verify!(vaultValue(issued), ctx));
    expect(err).toMatchObject({ code: 'VERIFY_FAILED', retryable: true, details: { status: expiredKeyStatus } });
    const key = { accessKey: issued.credentials.accessKey!, secretKey: issued.credentials.keySecret! };
    const res = await raw(emu, { method: 'GET', uri: '/api/v1/caller-identity', timestamp: clock.now(), ...key });
    expect(res.status).toBe(expiredKeyStatus);
  });

  describe('the emulator validates requests itself', () => {
    it.each([
      [{ durationSec: 599 }, 400, /durationSec 599 is invalid\. valid range: 600 - 43200/],
      [{ durationSec: 43201 }, 400, /valid range: 600 - 43200/],
      [{ durationSec: '3600' }, 400, /valid range: 600 - 43200/],
      [{}, 200, undefined],
    ])('POST /api/v1/credentials %j → %i', async (body, status, message) => {
      const emu = await emulator();
      const res = await raw(emu, { method: 'POST', uri: '/api/v1/credentials', body, ...master(emu) });
      expect(res.status).toBe(status);
      if (message) expect(res.body.message).toMatch(message);
      else expect(res.body.expireTime).toBeDefined();
    });

    it.each([
      ['missing', undefined, 400, /roleNrn is required/],
      ['malformed', 'nrn:PUB:IAM::abc:Role/x', 400, /Invalid roleNrn/],
      ['of another account', 'nrn:PUB:IAM::42:Role/deployer', 404, /Role not found/],
      ['not among the roles', 'ACCOUNT:Role/other', 404, /Role not found/],
      ['existing', 'ACCOUNT:Role/deployer', 200, undefined],
    ])('POST /api/v1/switch-role with a roleNrn %s', async (_name, nrn, status, message) => {
      const account = generateAccount();
      const prefix = `nrn:PUB:IAM::${account.accountId}`;
      const emu = await emulator({ accounts: [account], roles: [`${prefix}:Role/deployer`] });
      const roleNrn = nrn?.replace('ACCOUNT', prefix);
      const res = await raw(emu, { method: 'POST', uri: '/api/v1/switch-role', body: { roleNrn }, ...master(emu) });
      expect(res.status).toBe(status);
      if (message) expect(res.body.message).toMatch(message);
      else expect(res.body).toMatchObject({ switchedRole: roleNrn, credentials: { accessKey: expect.any(String) } });
    });

    it('maps its own 400 and 404 answers to PROVIDER_REJECTED through the client', async () => {
      const emu = await emulator({ roles: [] });
      const nrn = `nrn:PUB:IAM::${emu.accounts[0]!.accountId}:Role/ghost`;
      const err = await failure(provider(emu, { roleNrn: nrn }).issue(context()));
      expect(err).toMatchObject({ code: 'PROVIDER_REJECTED', retryable: false, details: { status: 404, errorCode: '404' } });
      expect(err.message).toContain(`"Role not found: ${nrn}"`);
    });

    it('answers missing headers with the gateway 401 body', async () => {
      const emu = await emulator();
      const res = await fetch(`${emu.url}/api/v1/caller-identity`);
      expect(res.status).toBe(401);
      expect(res.headers.get('x-ncp-trace-id')).toMatch(/^[0-9a-f]{32}$/);
      expect(res.headers.get('date')).toBeTruthy();
      const body = (await res.json()) as { error: { errorCode: string; message: string; details: string } };
      expect(body.error).toMatchObject({ errorCode: '200', message: 'Authentication Failed' });
      expect(body.error.details).toContain('x-ncp-apigw-signature-v2');
    });

    it('rejects a tampered signature and a query the signature did not cover', async () => {
      const emu = await emulator();
      const timestamp = Date.now();
      const signature = signV2({ method: 'GET', uri: '/api/v1/caller-identity', timestamp, ...master(emu) });
      const tampered = signature.slice(0, -2) + (signature.endsWith('A=') ? 'B=' : 'A=');
      const base = { method: 'GET' as const, timestamp, ...master(emu) };
      expect((await raw(emu, { ...base, uri: '/api/v1/caller-identity', signature })).status).toBe(200);
      const bad = await raw(emu, { ...base, uri: '/api/v1/caller-identity', signature: tampered });
      expect(bad.status).toBe(401);
      expect(bad.body.error?.details).toBe('Signature mismatch');
      expect((await raw(emu, { ...base, uri: '/api/v1/caller-identity?x=1', signature })).status).toBe(401);
    });

    it('accepts a replay inside the 5-minute window and rejects it at 5 minutes', async () => {
      const clock = new ManualClock(Date.now());
      const emu = await emulator({ clock });
      const signed = { method: 'GET' as const, uri: '/api/v1/caller-identity', timestamp: clock.now(), ...master(emu) };
      clock.advance(299_000);
      expect((await raw(emu, signed)).status).toBe(200);
      clock.advance(1_000);
      const replay = await raw(emu, signed);
      expect(replay.status).toBe(401);
      expect(replay.body.error?.details).toMatch(/5-minute window/);
    });
  });

  describe('MFA', () => {
    async function mfaEmulator(clock: ManualClock) {
      const account = generateAccount({ mfa: { serialNumber: 'nrn:PUB:IAM::1:MfaDevice/ops', totpSeed: SEED } });
      return emulator({ clock, accounts: [account] });
    }

    it('issues with a TOTP code computed from the seed at call time', async () => {
      const clock = new ManualClock(Date.now());
      const emu = await mfaEmulator(clock);
      const ncp = provider(emu, { serialNumber: 'nrn:PUB:IAM::1:MfaDevice/ops', totpSeed: SEED });
      const first = await ncp.issue(context(clock));
      clock.advance(3_600_000);
      const second = await ncp.issue(context(clock));
      expect(first.providerRef).not.toBe(second.providerRef);
      expect(secrets.scrub(SEED)).toBe('[REDACTED]');
    });

    it.each([
      ['no MFA params', {}],
      ['a wrong code', { serialNumber: 'nrn:PUB:IAM::1:MfaDevice/ops', tokenCode: 'WRONG' }],
      ['a wrong device', { serialNumber: 'nrn:PUB:IAM::1:MfaDevice/other', totpSeed: SEED }],
    ])('refuses %s with 401 MFA failed', async (_name, params) => {
      const clock = new ManualClock(Date.now());
      const emu = await mfaEmulator(clock);
      const wrongCode = String((Number(totp(SEED, clock.now())) + 1) % 1_000_000).padStart(6, '0');
      const resolved = 'tokenCode' in params ? { ...params, tokenCode: wrongCode } : params;
      const err = await failure(provider(emu, resolved).issue(context(clock)));
      expect(err).toMatchObject({ code: 'PROVIDER_AUTH', details: { status: 401 } });
      expect(err.message).toContain('MFA authentication failed');
    });
  });

  describe('the sandbox', () => {
    it('points a configured role secret at the emulator without MFA', async () => {
      const log = memoryLogger();
      const handle = (await ncpSts.sandbox!.start({ log, clock: systemClock })) as NcpSandboxHandle;
      try {
        const spec = ncpSts.sandbox!.rewrite(
          {
            id: 'ncp-deployer-admin',
            credentials: { accessKey: 'REAL', secretKey: 'REAL_SECRET' },
            params: ncpSts.paramsSchema.parse({
              roleNrn: 'nrn:PUB:IAM::999:Role/admin',
              durationSec: 7200,
              serialNumber: 'nrn:PUB:IAM::999:MfaDevice/x',
              totpSeed: SEED,
            }),
          },
          handle,
        );
        const sandboxRole = `nrn:PUB:IAM::${handle.account.accountId}:Role/admin`;
        expect(spec.params).toEqual({ durationSec: 7200, endpoint: handle.url, roleNrn: sandboxRole });
        expect(spec.credentials).toEqual({ accessKey: handle.account.accessKey, secretKey: handle.account.secretKey });
        const issued = await ncpSts.create(spec, { log, clock: systemClock }).issue(context());
        expect(issued.extra).toEqual({ useMfa: false, switchedRole: sandboxRole });
      } finally {
        await handle.close();
      }
    });
  });
});

describe('ncp-sts requests, checked by an independent server', () => {
  let server: Server;
  let url: string;
  let seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[];
  let reply: { status: number; type: string; body: string };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        res.writeHead(reply.status, { 'content-type': reply.type });
        res.end(reply.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen = [];
    reply = {
      status: 200,
      type: 'application/json',
      body: JSON.stringify({ accessKey: 'STSKEY', keySecret: 'sts-key-secret-value', expireTime: '2030-01-01T00:00:00Z' }),
    };
  });

  it('signs METHOD URI timestamp accessKey with HMAC-SHA256 of the secret key, path prefix included', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const ncp = configured(
      { accessKey: 'ncp_iam_EXAMPLEACCESSKEY', secretKey: 'ncp_iam_EXAMPLESECRETKEY' },
      { endpoint: `${url}/sts/`, durationSec: 600 },
      clock,
    );
    await ncp.issue(context(clock));
    const req = seen[0]!;
    const expected = createHmac('sha256', 'ncp_iam_EXAMPLESECRETKEY')
      .update(`POST /sts/api/v1/credentials\n1700000000000\nncp_iam_EXAMPLEACCESSKEY`)
      .digest('base64');
    expect(req.url).toBe('/sts/api/v1/credentials');
    expect(req.headers['x-ncp-apigw-timestamp']).toBe('1700000000000');
    expect(req.headers['x-ncp-iam-access-key']).toBe('ncp_iam_EXAMPLEACCESSKEY');
    expect(req.headers['x-ncp-apigw-signature-v2']).toBe(expected);
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ durationSec: 600 });
  });

  it('sends roleNrn, serialNumber and the TOTP tokenCode as an integer in role mode', async () => {
    const clock = new ManualClock(1_111_111_109_000);
    reply.body = JSON.stringify({
      switchedRole: 'nrn:PUB:IAM::1:Role/r',
      credentials: { accessKey: 'STSKEY', keySecret: 'sts-key-secret-value', expireTime: 1_900_000_000_000 },
    });
    const ncp = configured(
      { accessKey: 'a', secretKey: 'b' },
      { endpoint: url, roleNrn: 'nrn:PUB:IAM::1:Role/r', serialNumber: 'dev', totpSeed: SEED },
      clock,
    );
    await ncp.issue(context(clock));
    expect(seen[0]!.url).toBe('/api/v1/switch-role');
    // RFC 6238: T = 1111111109 → 07081804; six digits 081804, sent as the integer 81804.
    expect(JSON.parse(seen[0]!.body)).toEqual({
      roleNrn: 'nrn:PUB:IAM::1:Role/r',
      durationSec: 3600,
      serialNumber: 'dev',
      tokenCode: 81804,
    });
  });

  it.each([
    [
      502,
      'text/html',
      '<html>Bad Gateway</html>',
      'PROVIDER_UNAVAILABLE',
      true,
      /HTTP 502, non-JSON body \(content-type text\/html\)/,
    ],
    [
      200,
      'text/html',
      '<html>login</html>',
      'PROVIDER_BAD_ANSWER',
      false,
      /\(POST \/api\/v1\/credentials\) answered HTTP 200 with a body that is not JSON \(content-type text\/html\)/,
    ],
    [
      200,
      'application/json',
      '{"accessKey":"K"}',
      'PROVIDER_BAD_ANSWER',
      false,
      /without valid credential fields \(keySecret, expireTime\)/,
    ],
    [
      200,
      'application/json',
      '{"accessKey":"K","keySecret":"secret-value-1","expireTime":"soon"}',
      'PROVIDER_BAD_ANSWER',
      false,
      /unreadable expireTime;/,
    ],
    [
      403,
      'application/json',
      '{"error":{"errorCode":230,"message":"Forbidden"}}',
      'PROVIDER_FORBIDDEN',
      false,
      /HTTP 403, error 230 "Forbidden"/,
    ],
    [
      400,
      'application/json',
      '{"responseError":{"returnCode":"100","returnMessage":"bad"}}',
      'PROVIDER_REJECTED',
      false,
      /HTTP 400, error 100 "bad"/,
    ],
  ])('maps HTTP %i %s %s to %s', async (status, type, body, code, retryable, message) => {
    reply = { status, type, body };
    const ncp = configured({ accessKey: 'a', secretKey: 'b' }, { endpoint: url });
    const err = await failure(ncp.issue(context()));
    expect(err).toMatchObject({ code, retryable });
    expect(err.message).toMatch(message);
  });
});
