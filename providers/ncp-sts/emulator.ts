import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestTriggers, readBody, serveOnLoopback, type KitListener, type KitPhase } from '../../src/emulator-kit';
import { randomBytes } from 'node:crypto';
import { constantTimeEqual as sameText } from '../kit/compare';
import type { Clock, EmulatorHandle } from '../../src/types';
import { systemClock } from '../../src/clock';
import { totp } from '../../src/totp';
import { HEADER_ACCESS_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, SIGNATURE_WINDOW_MS, signV2 } from './signature';
import { MAX_DURATION_SEC, MIN_DURATION_SEC, DEFAULT_DURATION_SEC, ROLE_NRN_PATTERN } from './schema';

/**
 * An NCP STS emulator: a real HTTP server on loopback that behaves like the service (facts:
 * shared/PROVIDERS.md). It verifies signature v2 over the URI exactly as received and the
 * 5-minute timestamp window against its own (injectable) clock, issues STS keys that it then
 * accepts as signing keys until their expireTime, and checks durationSec, roleNrn and MFA codes.
 * Tests drive faults (429/5xx, dropped connections, latency) and read what it saw.
 *
 * Where the public documentation is silent (marked unconfirmed in PROVIDERS.md), it picks one
 * documented-looking behaviour: STS errors are `{"errorCode","message"}` at the top level;
 * an expired STS key is answered 404 (option `expiredKeyStatus: 401` gives the gateway's 401).
 */

export interface NcpEmulatorAccount {
  /** The NCP account number, used in role NRNs. */
  accountId: string;
  loginAlias: string;
  /** The permanent sub-account key (the rotator's master credential). */
  accessKey: string;
  secretKey: string;
  /** When set, issuing needs serialNumber and a current TOTP tokenCode. */
  mfa?: { serialNumber: string; totpSeed: string };
}

export interface NcpFault {
  status: 429 | 500 | 503 | 504;
  /** How many matching requests get this answer. */
  times: number;
  /** Only requests to this path (no query); every path when absent. */
  path?: string;
}

export interface NcpEmulatorOptions {
  clock?: Clock;
  /** Default: one account with random keys. */
  accounts?: NcpEmulatorAccount[];
  /** Role NRNs that exist. Default: any well-formed `Role/<name>` under the caller's own account. */
  roles?: string[];
  latencyMs?: number;
  /** Default 0: any free port. */
  port?: number;
  /** How an expired STS key is answered; default 404 (STS "invalid/expired credential"). */
  expiredKeyStatus?: 401 | 404;
  /** How times are written: ISO with Z (default), ISO without zone, or epoch milliseconds. */
  timeFormat?: 'iso' | 'zoneless' | 'epoch';
}

export interface RecordedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  /** Path and query exactly as received. */
  uri: string;
  accessKey?: string;
  /** 0 when the connection was dropped without an answer. */
  status: number;
}

export interface IssuedKeyInfo {
  accessKey: string;
  accountId: string;
  /** The role NRN for switch-role keys. */
  roleNrn?: string;
  /** ISO 8601 (whatever `timeFormat` the wire uses). */
  createTime: string;
  expireTime: string;
  /** The key that signed the issuing request. */
  issuedBy: string;
}

/** The STS operations, as triggers name them. */
export type NcpOp = 'createCredentials' | 'switchRole' | 'describeCredentials' | 'callerIdentity' | 'unknown';

const OPS: Record<string, NcpOp> = {
  'POST /api/v1/credentials': 'createCredentials',
  'POST /api/v1/switch-role': 'switchRole',
  'GET /api/v1/credentials': 'describeCredentials',
  'GET /api/v1/caller-identity': 'callerIdentity',
};

export interface NcpStsEmulator extends EmulatorHandle {
  readonly accounts: readonly NcpEmulatorAccount[];
  /** Pending faults; push to inject, consumed in order of matching. */
  readonly faults: NcpFault[];
  latencyMs: number;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /**
   * The next `n` requests get their connection destroyed without an answer. Counted per request,
   * not per socket, so keep-alive connections reused by the client are dropped too.
   */
  dropConnections(n: number): void;
  count(method?: string, path?: string): number;
  issuedKeys(): IssuedKeyInfo[];
  /** For tests that assert a secret is absent from files and logs; any key the emulator knows. */
  lookupSecret(accessKey: string): string | undefined;
  /**
   * Calls `listener` when a request for `operation` is received, or once it succeeded (`applied`:
   * a key issued or an identity read; the answer not yet sent). The request waits for the
   * listener (see RequestTriggers). `resource` is the signing access key. Returns `off`.
   */
  on(operation: NcpOp | '*', phase: KitPhase, listener: KitListener<NcpOp>): () => void;
}

const TOTP_STEP_MS = 30_000;
const JSON_TYPE = 'application/json; charset=utf-8';

/** The gateway's error code and message per status (PROVIDERS.md). */
const GATEWAY_ERRORS: Record<number, { errorCode: string; message: string }> = {
  400: { errorCode: '100', message: 'Bad Request Exception' },
  401: { errorCode: '200', message: 'Authentication Failed' },
  404: { errorCode: '300', message: 'Not Found Exception' },
  429: { errorCode: '420', message: 'Rate Limited' },
  500: { errorCode: '900', message: 'Unexpected Error' },
  503: { errorCode: '500', message: 'Endpoint Error' },
  504: { errorCode: '510', message: 'Endpoint Timeout' },
};

interface IssuedKey extends IssuedKeyInfo {
  secret: string;
  createdAtMs: number;
  expiresAtMs: number;
  useMfa: boolean;
}

/** Who signed a request: a master sub-account key or an STS key it issued. */
interface Caller {
  account: NcpEmulatorAccount;
  accessKey: string;
  sts?: IssuedKey;
}

/** A reply: status and JSON body. */
interface Reply {
  status: number;
  body: unknown;
}

class EmulatorError {
  constructor(readonly reply: Reply) {}
}

function randomKey(prefix: string, bytes: number): string {
  return prefix + randomBytes(bytes).toString('hex').toUpperCase();
}

/** A sandbox account with random keys, as `rotator sandbox` and tests use by default. */
export function generateAccount(overrides: Partial<NcpEmulatorAccount> = {}): NcpEmulatorAccount {
  return {
    accountId: String(1_000_000 + (randomBytes(3).readUIntBE(0, 3) % 9_000_000)),
    loginAlias: 'sandbox-deployer',
    accessKey: randomKey('ncp_iam_BPAMKR', 6),
    secretKey: randomKey('ncp_iam_BPKMKR', 14),
    ...overrides,
  };
}

function gatewayError(status: number, details: string): EmulatorError {
  const known = GATEWAY_ERRORS[status] ?? { errorCode: String(status), message: 'Error' };
  return new EmulatorError({ status, body: { error: { ...known, details } } });
}

function stsError(status: number, message: string): EmulatorError {
  return new EmulatorError({ status, body: { errorCode: String(status), message } });
}

class NcpStsServer {
  readonly faults: NcpFault[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly triggers = new RequestTriggers<NcpOp>();
  latencyMs: number;
  private drops = 0;
  private readonly clock: Clock;
  private readonly masters = new Map<string, NcpEmulatorAccount>();
  private readonly issued = new Map<string, IssuedKey>();

  constructor(
    readonly accounts: readonly NcpEmulatorAccount[],
    private readonly options: NcpEmulatorOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.latencyMs = options.latencyMs ?? 0;
    for (const account of accounts) this.masters.set(account.accessKey, account);
  }

  dropConnections(n: number): void {
    this.drops += n;
  }

  count(method?: string, path?: string): number {
    return this.requests.filter((r) => (!method || r.method === method) && (!path || r.path === path)).length;
  }

  issuedKeys(): IssuedKeyInfo[] {
    return [...this.issued.values()].map(
      ({ secret: _secret, createdAtMs: _from, expiresAtMs: _to, useMfa: _mfa, ...info }) => info,
    );
  }

  lookupSecret(accessKey: string): string | undefined {
    return this.masters.get(accessKey)?.secretKey ?? this.issued.get(accessKey)?.secret;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const uri = req.url ?? '/';
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: uri.split('?')[0] ?? '/',
      uri,
      accessKey: headerOf(req, HEADER_ACCESS_KEY),
      status: 0,
    };
    this.requests.push(record);
    if (this.drops > 0) {
      this.drops--;
      req.socket.destroy();
      return;
    }
    const body = (await readBody(req)).toString('utf8');
    // unref: a long injected latency must not keep a test process (or the sandbox) alive after close.
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs).unref());
    const operation = OPS[`${record.method} ${record.path}`] ?? 'unknown';
    const event = { operation, ...(record.accessKey ? { resource: record.accessKey } : {}) };
    await this.triggers.emit({ ...event, phase: 'received' });
    const reply = this.answer(record, req, body);
    if (reply.status < 300) await this.triggers.emit({ ...event, phase: 'applied' });
    record.status = reply.status;
    this.send(res, reply);
  }

  private answer(record: RecordedRequest, req: IncomingMessage, body: string): Reply {
    try {
      this.injectedFault(record.path);
      const route = this.route(record.method, record.path);
      const caller = this.authenticate(req, record);
      return route(caller, body);
    } catch (err) {
      if (err instanceof EmulatorError) return err.reply;
      return gatewayError(500, 'emulator bug: ' + String(err)).reply;
    }
  }

  private injectedFault(path: string): void {
    const fault = this.faults.find((f) => f.times > 0 && (!f.path || f.path === path));
    if (!fault) return;
    fault.times--;
    if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    throw gatewayError(fault.status, 'injected fault');
  }

  /** Unknown paths are answered by the gateway before authentication, like a real API gateway. */
  private route(method: string, path: string): (caller: Caller, body: string) => Reply {
    const key = `${method} ${path}`;
    switch (key) {
      case 'POST /api/v1/credentials':
        return (caller, body) => this.createCredentials(caller, parseJsonBody(body));
      case 'POST /api/v1/switch-role':
        return (caller, body) => this.switchRole(caller, parseJsonBody(body));
      case 'GET /api/v1/credentials':
        return (caller) => this.describeCredentials(caller);
      case 'GET /api/v1/caller-identity':
        return (caller) => this.callerIdentity(caller);
      default:
        throw gatewayError(404, `No API for ${key}`);
    }
  }

  /** Signature v2 checks, in the gateway's order: headers, timestamp window, key, signature. */
  private authenticate(req: IncomingMessage, record: RecordedRequest): Caller {
    const timestamp = headerOf(req, HEADER_TIMESTAMP);
    const accessKey = headerOf(req, HEADER_ACCESS_KEY);
    const signature = headerOf(req, HEADER_SIGNATURE);
    const missing = [
      [HEADER_TIMESTAMP, timestamp],
      [HEADER_ACCESS_KEY, accessKey],
      [HEADER_SIGNATURE, signature],
    ]
      .filter(([, value]) => !value)
      .map(([name]) => name);
    if (missing.length > 0 || !timestamp || !accessKey || !signature) {
      throw gatewayError(401, `Missing required header(s): ${missing.join(', ')}`);
    }
    const ts = Number(timestamp);
    if (!/^\d+$/.test(timestamp) || Math.abs(this.clock.now() - ts) >= SIGNATURE_WINDOW_MS) {
      throw gatewayError(401, 'The timestamp is invalid or outside the 5-minute window of the gateway clock');
    }
    const caller = this.callerFor(accessKey);
    const expected = signV2({ method: record.method, uri: record.uri, timestamp, accessKey, secretKey: caller.secret });
    if (!sameText(expected, signature)) throw gatewayError(401, 'Signature mismatch');
    return caller.caller;
  }

  private callerFor(accessKey: string): { caller: Caller; secret: string } {
    const account = this.masters.get(accessKey);
    if (account) return { caller: { account, accessKey }, secret: account.secretKey };
    const sts = this.issued.get(accessKey);
    if (!sts) throw gatewayError(401, 'Invalid access key');
    if (this.clock.now() >= sts.expiresAtMs) {
      if ((this.options.expiredKeyStatus ?? 404) === 401) throw gatewayError(401, 'The access key has expired');
      throw stsError(404, 'Invalid or expired credential');
    }
    return { caller: { account: this.accountOf(sts), accessKey, sts }, secret: sts.secret };
  }

  private accountOf(sts: IssuedKey): NcpEmulatorAccount {
    const account = this.accounts.find((a) => a.accountId === sts.accountId);
    if (!account) throw gatewayError(500, 'issued key without account');
    return account;
  }

  private createCredentials(caller: Caller, body: Record<string, unknown>): Reply {
    const durationSec = this.durationOf(body);
    const useMfa = this.checkMfa(caller, body);
    const key = this.issue(caller, durationSec, useMfa);
    return { status: 200, body: this.credentialsView(key) };
  }

  private switchRole(caller: Caller, body: Record<string, unknown>): Reply {
    const roleNrn = body.roleNrn;
    if (roleNrn === undefined || roleNrn === null || roleNrn === '') throw stsError(400, 'roleNrn is required');
    if (typeof roleNrn !== 'string' || !ROLE_NRN_PATTERN.test(roleNrn)) {
      throw stsError(400, 'Invalid roleNrn: expected nrn:PUB:IAM::<accountId>:Role/<roleName>');
    }
    const durationSec = this.durationOf(body);
    if (!this.roleExists(roleNrn, caller.account)) throw stsError(404, `Role not found: ${roleNrn}`);
    const useMfa = this.checkMfa(caller, body);
    const key = this.issue(caller, durationSec, useMfa, roleNrn);
    return { status: 200, body: { switchedRole: roleNrn, credentials: this.credentialsView(key) } };
  }

  /** A role exists when listed (or, without a list, when well-formed) and belongs to the caller's account. */
  private roleExists(roleNrn: string, account: NcpEmulatorAccount): boolean {
    const accountId = ROLE_NRN_PATTERN.exec(roleNrn)?.[2];
    if (accountId !== account.accountId) return false;
    return this.options.roles ? this.options.roles.includes(roleNrn) : true;
  }

  private durationOf(body: Record<string, unknown>): number {
    const value = body.durationSec ?? DEFAULT_DURATION_SEC;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_DURATION_SEC || value > MAX_DURATION_SEC) {
      throw stsError(
        400,
        `durationSec ${JSON.stringify(value)} is invalid. valid range: ${MIN_DURATION_SEC} - ${MAX_DURATION_SEC}`,
      );
    }
    return value;
  }

  /** An account with MFA needs its device's serialNumber and a code of this, the previous or the next step. */
  private checkMfa(caller: Caller, body: Record<string, unknown>): boolean {
    const mfa = caller.account.mfa;
    if (!mfa) return false;
    const code = typeof body.tokenCode === 'number' ? String(body.tokenCode).padStart(6, '0') : body.tokenCode;
    const now = this.clock.now();
    const valid = [-1, 0, 1].some((step) => totp(mfa.totpSeed, now + step * TOTP_STEP_MS) === code);
    if (body.serialNumber !== mfa.serialNumber || !valid) {
      throw stsError(401, 'MFA authentication failed: serialNumber and a current tokenCode are required');
    }
    return true;
  }

  private issue(caller: Caller, durationSec: number, useMfa: boolean, roleNrn?: string): IssuedKey {
    const now = this.clock.now();
    const key: IssuedKey = {
      accessKey: randomKey('ncp_iam_BPKSTS', 6),
      secret: randomKey('ncp_iam_BPKSTS', 14),
      accountId: caller.account.accountId,
      roleNrn,
      createTime: new Date(now).toISOString(),
      expireTime: new Date(now + durationSec * 1000).toISOString(),
      createdAtMs: now,
      expiresAtMs: now + durationSec * 1000,
      issuedBy: caller.accessKey,
      useMfa,
    };
    this.issued.set(key.accessKey, key);
    return key;
  }

  private credentialsView(key: IssuedKey): Record<string, unknown> {
    return {
      accessKey: key.accessKey,
      keySecret: key.secret,
      createTime: this.time(key.createdAtMs),
      expireTime: this.time(key.expiresAtMs),
      useMfa: key.useMfa,
    };
  }

  /** keySecret, expireTime and useMfa only when the signing key is an STS key. */
  private describeCredentials(caller: Caller): Reply {
    if (caller.sts) return { status: 200, body: this.credentialsView(caller.sts) };
    return { status: 200, body: { accessKey: caller.accessKey } };
  }

  private callerIdentity(caller: Caller): Reply {
    const { account, sts } = caller;
    const body = sts?.roleNrn
      ? { id: sts.roleNrn, loginAlias: account.loginAlias, userType: 'Role' }
      : {
          id: `nrn:PUB:IAM::${account.accountId}:SubAccount/${account.loginAlias}`,
          loginAlias: account.loginAlias,
          userType: 'Sub',
        };
    return { status: 200, body };
  }

  private time(ms: number): string | number {
    switch (this.options.timeFormat ?? 'iso') {
      case 'epoch':
        return ms;
      case 'zoneless':
        return new Date(ms).toISOString().replace('Z', '');
      default:
        return new Date(ms).toISOString();
    }
  }

  /** Every answer carries the gateway's Date (from the emulator's clock) and a trace id. */
  private send(res: ServerResponse, reply: Reply): void {
    res.statusCode = reply.status;
    res.setHeader('Date', new Date(this.clock.now()).toUTCString());
    res.setHeader('x-ncp-trace-id', randomBytes(16).toString('hex'));
    res.setHeader('Content-Type', JSON_TYPE);
    res.end(JSON.stringify(reply.body));
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function parseJsonBody(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Reported below like any other body that is not a JSON object.
  }
  throw stsError(400, 'The request body must be a JSON object');
}

/** Starts the emulator on 127.0.0.1. `close()` also destroys open (keep-alive) connections. */
export async function startNcpStsEmulator(options: NcpEmulatorOptions = {}): Promise<NcpStsEmulator> {
  const accounts = options.accounts ?? [generateAccount()];
  const emu = new NcpStsServer(accounts, options);
  const server = await serveOnLoopback((req, res) => emu.handle(req, res), options.port);
  return {
    url: server.url,
    accounts,
    faults: emu.faults,
    get latencyMs() {
      return emu.latencyMs;
    },
    set latencyMs(ms: number) {
      emu.latencyMs = ms;
    },
    requests: emu.requests,
    dropConnections: (n) => emu.dropConnections(n),
    count: (method, path) => emu.count(method, path),
    issuedKeys: () => emu.issuedKeys(),
    lookupSecret: (accessKey) => emu.lookupSecret(accessKey),
    on: (operation, phase, listener) => emu.triggers.on(operation, phase, listener),
    close: () => server.close(),
  };
}
