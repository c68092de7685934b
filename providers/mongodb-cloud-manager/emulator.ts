import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestTriggers, readBody, serveOnLoopback, type KitListener, type KitPhase } from '../../src/emulator-kit';
import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual as sameText } from '../kit/compare';
import type { Clock, EmulatorHandle } from '../../src/types';
import { systemClock } from '../../src/clock';
import { ATLAS_V2_ACCEPT, MAX_HOURS_ATLAS, MAX_HOURS_CLOUD_MANAGER, MIN_HOURS } from './schema';

/**
 * A MongoDB Cloud Manager / Atlas Admin API emulator (service-account secrets and OAuth), a real
 * HTTP server on loopback (facts: shared/PROVIDERS.md). It speaks HTTP Digest MD5 qop=auth with
 * its own nonces (expiry → `stale=true`; a repeated or lower `nc` for a nonce → 401), accepts
 * Bearer tokens it minted, enforces 2 secrets per account, the 8–8766 (Atlas v2: 8–8760) hour
 * bounds, the 7-day shortening of older secrets on create, the token limits (10 token requests
 * per minute per client IP and clientId → 429 Retry-After; 100 active tokens → 403
 * access_denied) and the Atlas v2 versioned Accept header (406 otherwise).
 *
 * Choices where the documentation is silent (unconfirmed): more than 2 secrets → 400
 * `SERVICE_ACCOUNT_MAX_SECRETS_EXCEEDED`; unknown secret → 404 `SERVICE_ACCOUNT_SECRET_NOT_FOUND`;
 * wrong Accept on v2 → 406 `INVALID_VERSION_DATE`; Digest failures → 401 `UNAUTHORIZED`; expired
 * secrets count towards the limit (they stay listed until deleted); revoke needs the client's
 * Basic credentials and answers 200 for any token (RFC 7009).
 */

export interface McmApiKey {
  publicKey: string;
  privateKey: string;
}

export interface McmSecretSeed {
  id?: string;
  value?: string;
  createdAtMs?: number;
  expiresAtMs?: number;
}

export interface McmServiceAccountSeed {
  orgId: string;
  clientId: string;
  name?: string;
  projectIds?: string[];
  secrets?: McmSecretSeed[];
}

export type McmOp =
  'listServiceAccounts' | 'getServiceAccount' | 'createSecret' | 'deleteSecret' | 'token' | 'revoke' | 'unknown';

export interface McmFault {
  /** Only this operation; every operation when absent. */
  op?: McmOp;
  /** How many matching requests get the fault. */
  times: number;
  /**
   * `status` (default): answer `status` (with Retry-After when set, an HTML page when `html`);
   * `drop`: destroy the connection without an answer; `create-then-drop` (createSecret only):
   * create the secret, then destroy the connection before answering.
   */
  kind?: 'status' | 'drop' | 'create-then-drop';
  status?: number;
  retryAfterSec?: number;
  html?: boolean;
}

export interface McmEmulatorOptions {
  clock?: Clock;
  /** Default: one generated key. Every key may manage every org of the emulator. */
  apiKeys?: McmApiKey[];
  serviceAccounts?: McmServiceAccountSeed[];
  /** Nonce lifetime; an older nonce is answered 401 stale=true. Default 5 min. */
  nonceLifetimeMs?: number;
  /**
   * How `nc` replays are detected. `nonce` (default): nc strictly increases per nonce, whoever
   * sends it, so a second client cannot reuse a nonce. `client`: per (nonce, cnonce), so a new
   * client may answer a known nonce with a fresh cnonce and nc=00000001 (RFC 7616 §3.4: the
   * count is the client's); a repeated (nonce, cnonce, nc) is still a replay.
   */
  ncScope?: 'nonce' | 'client';
  /** Write the challenge's qop as the documentation prints it (`op="auth"`). Default qop. */
  challengeQopParam?: 'qop' | 'op';
  latencyMs?: number;
  port?: number;
  /** Called after the answer to a successful create has been written (crash tests). */
  onSecretCreated?: (info: { clientId: string; id: string }) => void;
}

export interface McmRecordedRequest {
  method: string;
  path: string;
  op: McmOp;
  auth: 'none' | 'digest' | 'bearer' | 'basic';
  /** The client id of Basic credentials (token and revoke requests), to count mints per client. */
  clientId?: string;
  /** 0 when the connection was dropped without an answer. */
  status: number;
}

export interface McmSecretView {
  id: string;
  value: string;
  createdAt: string;
  expiresAt: string;
}

export interface McmEmulator extends EmulatorHandle {
  readonly apiKeys: readonly McmApiKey[];
  readonly faults: McmFault[];
  latencyMs: number;
  readonly requests: readonly McmRecordedRequest[];
  /** Digest events: challenges sent, stale challenges, nc replays rejected, bad responses. */
  readonly digest: { challenges: number; stale: number; replays: number; badResponses: number };
  dropConnections(n: number, op?: McmOp): void;
  count(op?: McmOp): number;
  ensureServiceAccount(seed: McmServiceAccountSeed): void;
  /** The secrets of an account, values included (tests only). */
  secretsOf(clientId: string): McmSecretView[];
  /** Tokens minted and neither revoked, expired nor invalidated, for one account or all. */
  activeTokenCount(clientId?: string): number;
  /**
   * Calls `listener` when a request for `operation` is received, or once it succeeded (`applied`:
   * the secret created or deleted, the token minted; the answer not yet sent). The request waits
   * for the listener (see RequestTriggers). `resource`: the secret id for deleteSecret, the
   * client id for the other service-account operations and for token/revoke. Returns `off`.
   */
  on(operation: McmOp | '*', phase: KitPhase, listener: KitListener<McmOp>): () => void;
}

const REALM = 'MMS Public API';
const DAY_MS = 86_400_000;
const TOKEN_LIFETIME_SEC = 3600;
const TOKEN_WINDOW_MS = 60_000;
const TOKENS_PER_WINDOW = 10;
const MAX_ACTIVE_TOKENS = 100;
const MAX_SECRETS = 2;

interface SecretRecord {
  id: string;
  value: string;
  createdAtMs: number;
  expiresAtMs: number;
  lastUsedAtMs?: number;
}

interface Account {
  orgId: string;
  clientId: string;
  name: string;
  createdAtMs: number;
  projectIds: Set<string>;
  secrets: SecretRecord[];
}

interface TokenRecord {
  clientId: string;
  secretId: string;
  expiresAtMs: number;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Raw text body with its content type (HTML fault pages). */
  raw?: { type: string; text: string };
}

class Fail {
  constructor(readonly reply: Reply) {}
}

type Principal = { kind: 'key'; key: McmApiKey } | { kind: 'account'; account: Account };

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

export function generateApiKey(): McmApiKey {
  return { publicKey: hex(4), privateKey: `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}` };
}

export function generateOrgId(): string {
  return hex(12);
}

export function generateClientId(): string {
  return `mdb_sa_id_${hex(12)}`;
}

const DEFAULT_ITEMS_PER_PAGE = 100;
const MAX_ITEMS_PER_PAGE = 500;

/** An integer query parameter within bounds, its default when absent, else a 400. */
function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = query.get(name);
  if (text === null) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw apiError(400, 'INVALID_QUERY_PARAMETER', `Invalid query parameter ${name}: must be ${min} to ${max}.`, 'Bad Request', [
      name,
    ]);
  }
  return n;
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function apiError(status: number, errorCode: string, detail: string, reason: string, parameters: unknown[] = []): Fail {
  return new Fail({ status, body: { detail, error: status, errorCode, parameters, reason } });
}

function oauthError(status: number, error: string, description: string, headers?: Record<string, string>): Fail {
  return new Fail({ status, body: { error, error_description: description }, ...(headers ? { headers } : {}) });
}

/** Parses `Digest k=v, k="v"` (the emulator's own reader, independent of the client's). */
function digestParams(header: string): Record<string, string> | undefined {
  const m = /^Digest\s+(.*)$/is.exec(header);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  const re = /([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g;
  for (let p = re.exec(m[1]!); p; p = re.exec(m[1]!)) out[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return out;
}

class McmServer {
  readonly faults: McmFault[] = [];
  readonly requests: McmRecordedRequest[] = [];
  readonly digest = { challenges: 0, stale: 0, replays: 0, badResponses: 0 };
  readonly triggers = new RequestTriggers<McmOp>();
  latencyMs: number;
  private readonly clock: Clock;
  private readonly accounts = new Map<string, Account>();
  private readonly nonces = new Map<string, { createdAtMs: number; lastNc: number; perClient?: Map<string, number> }>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly tokenRequests = new Map<string, number[]>();

  constructor(
    readonly apiKeys: McmApiKey[],
    private readonly options: McmEmulatorOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.latencyMs = options.latencyMs ?? 0;
    for (const seed of options.serviceAccounts ?? []) this.ensureServiceAccount(seed);
  }

  ensureServiceAccount(seed: McmServiceAccountSeed): void {
    let account = this.accounts.get(seed.clientId);
    if (!account) {
      account = {
        orgId: seed.orgId,
        clientId: seed.clientId,
        name: seed.name ?? `sa-${seed.clientId.slice(-6)}`,
        createdAtMs: this.clock.now(),
        projectIds: new Set(),
        secrets: [],
      };
      this.accounts.set(seed.clientId, account);
    }
    for (const p of seed.projectIds ?? []) account.projectIds.add(p);
    const now = this.clock.now();
    for (const s of seed.secrets ?? []) {
      account.secrets.push({
        id: s.id ?? hex(12),
        value: s.value ?? `mdb_sa_sk_${hex(20)}`,
        createdAtMs: s.createdAtMs ?? now,
        expiresAtMs: s.expiresAtMs ?? now + 30 * DAY_MS,
      });
    }
  }

  secretsOf(clientId: string): McmSecretView[] {
    return (this.accounts.get(clientId)?.secrets ?? []).map((s) => ({
      id: s.id,
      value: s.value,
      createdAt: new Date(s.createdAtMs).toISOString(),
      expiresAt: new Date(s.expiresAtMs).toISOString(),
    }));
  }

  activeTokenCount(clientId?: string): number {
    return [...this.tokens.values()].filter((t) => (!clientId || t.clientId === clientId) && this.tokenLive(t)).length;
  }

  count(op?: McmOp): number {
    return this.requests.filter((r) => !op || r.op === op).length;
  }

  dropConnections(n: number, op?: McmOp): void {
    this.faults.push({ kind: 'drop', times: n, ...(op ? { op } : {}) });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const route = this.route(method, path);
    const authHeader = req.headers.authorization ?? '';
    const record: McmRecordedRequest = {
      method,
      path,
      op: route.op,
      auth: /^Digest /i.test(authHeader)
        ? 'digest'
        : /^Bearer /i.test(authHeader)
          ? 'bearer'
          : /^Basic /i.test(authHeader)
            ? 'basic'
            : 'none',
      status: 0,
    };
    if (record.auth === 'basic') record.clientId = this.basicClientId(req);
    this.requests.push(record);
    const body = (await readBody(req)).toString('utf8');
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs).unref());
    const resource = this.resourceOf(path, route.op, record.clientId);
    const event = { operation: route.op, ...(resource ? { resource } : {}) };
    await this.triggers.emit({ ...event, phase: 'received' });
    const fault = this.takeFault(route.op);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    let reply: Reply;
    try {
      if (fault) throw this.faultReply(fault);
      reply = route.run(req, url, body);
      // Consumed only by a create that succeeded (not by the Digest challenge before it).
      if (reply.status === 201 && this.takeFault(route.op, 'create-then-drop')) {
        req.socket.destroy();
        return;
      }
    } catch (err) {
      reply =
        err instanceof Fail
          ? err.reply
          : apiError(500, 'UNEXPECTED_ERROR', `emulator bug: ${String(err)}`, 'Internal Server Error').reply;
    }
    if (reply.status < 300) await this.triggers.emit({ ...event, phase: 'applied' });
    record.status = reply.status;
    // envelope=true: the status moves into the body ({status, content}) and the HTTP status is 200,
    // as the Cloud Manager API does for clients that cannot read status codes.
    // A Digest challenge stays a 401: a client must read WWW-Authenticate to authenticate at all.
    const challenge = Boolean(reply.headers?.['WWW-Authenticate']);
    const enveloped = new URL(url, 'http://emulator').searchParams.get('envelope') === 'true';
    if (enveloped && !reply.raw && !challenge && route.op !== 'token' && route.op !== 'revoke') {
      reply = { ...reply, status: 200, body: { status: reply.status, content: reply.body ?? {} } };
    }
    this.send(res, reply, path.startsWith('/api/atlas/v2'));
    if (route.op === 'createSecret' && reply.status === 201 && this.options.onSecretCreated) {
      const created = reply.body as { id: string };
      res.once('finish', () =>
        this.options.onSecretCreated?.({
          clientId: path.split('/')[path.split('/').indexOf('serviceAccounts') + 1] ?? '',
          id: created.id,
        }),
      );
    }
  }

  /** What a trigger event names: the secret id of a delete, otherwise the client id. */
  private resourceOf(path: string, op: McmOp, basicClientId: string | undefined): string | undefined {
    const parts = path.split('/');
    const at = parts.indexOf('serviceAccounts');
    if (op === 'deleteSecret') return parts[at + 3];
    if (at >= 0 && parts[at + 1]) return parts[at + 1];
    return basicClientId || undefined;
  }

  /** The next fault for `op`: of `kind`, or (default) any kind but create-then-drop. */
  private takeFault(op: McmOp, kind?: McmFault['kind']): McmFault | undefined {
    const fault = this.faults.find(
      (f) => f.times > 0 && (!f.op || f.op === op) && (kind ? f.kind === kind : f.kind !== 'create-then-drop'),
    );
    if (!fault) return undefined;
    fault.times--;
    if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  private faultReply(fault: McmFault): Fail {
    const status = fault.status ?? 503;
    const headers = fault.retryAfterSec === undefined ? undefined : { 'Retry-After': String(fault.retryAfterSec) };
    if (fault.html) {
      return new Fail({
        status,
        raw: {
          type: 'text/html; charset=utf-8',
          text: `<html><head><title>${status}</title></head><body><h1>Error ${status}</h1>\n<p>proxy says no</p></body></html>`,
        },
        ...(headers ? { headers } : {}),
      });
    }
    const f = apiError(
      status,
      status === 429 ? 'RATE_LIMITED' : 'SERVICE_UNAVAILABLE',
      'injected fault',
      status === 429 ? 'Too Many Requests' : 'Service Unavailable',
    );
    return new Fail({ ...f.reply, ...(headers ? { headers } : {}) });
  }

  private route(method: string, path: string): { op: McmOp; run: (req: IncomingMessage, url: string, body: string) => Reply } {
    if (method === 'POST' && path === '/api/oauth/token') return { op: 'token', run: (req, _u, body) => this.token(req, body) };
    if (method === 'POST' && path === '/api/oauth/revoke')
      return { op: 'revoke', run: (req, _u, body) => this.revokeToken(req, body) };
    const m =
      /^\/api\/(public\/v1\.0|atlas\/v2)\/(orgs|groups)\/([^/]+)\/serviceAccounts(?:\/([^/]+)(?:\/secrets(?:\/([^/]*))?)?)?\/?$/.exec(
        path,
      );
    const notFound = {
      op: 'unknown' as const,
      run: (): Reply => {
        throw apiError(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, 'Not Found');
      },
    };
    if (!m) return notFound;
    const [, version, scopeKind, scopeId, clientId, secretId] = m;
    const v2 = version === 'atlas/v2';
    const hasSecrets = /\/secrets(\/|$)/.test(path);
    const scope = { kind: scopeKind as 'orgs' | 'groups', id: scopeId! };
    const guard = (req: IncomingMessage, url: string) => {
      const principal = this.authenticate(req, url);
      if (v2 && !(req.headers.accept ?? '').includes(ATLAS_V2_ACCEPT)) {
        throw apiError(
          406,
          'INVALID_VERSION_DATE',
          `The Accept header must name a supported version, e.g. ${ATLAS_V2_ACCEPT}.`,
          'Not Acceptable',
        );
      }
      return principal;
    };
    if (!clientId && method === 'GET') {
      return { op: 'listServiceAccounts', run: (req, url) => this.list(guard(req, url), scope, url) };
    }
    if (clientId && !hasSecrets && method === 'GET') {
      return {
        op: 'getServiceAccount',
        run: (req, url) => ({ status: 200, body: this.view(this.account(guard(req, url), scope, clientId)) }),
      };
    }
    if (clientId && hasSecrets && !secretId && method === 'POST') {
      return {
        op: 'createSecret',
        run: (req, url, body) => this.createSecret(this.account(guard(req, url), scope, clientId), body, v2),
      };
    }
    if (clientId && secretId && method === 'DELETE') {
      return {
        op: 'deleteSecret',
        run: (req, url) => this.deleteSecret(this.account(guard(req, url), scope, clientId), secretId),
      };
    }
    return notFound;
  }

  // ---- authentication -------------------------------------------------------------------

  private challenge(stale: boolean): Fail {
    const nonce = hex(16);
    this.nonces.set(nonce, { createdAtMs: this.clock.now(), lastNc: 0 });
    this.digest.challenges++;
    if (stale) this.digest.stale++;
    const qop = this.options.challengeQopParam ?? 'qop';
    const f = apiError(401, 'UNAUTHORIZED', 'You are not authorized for this resource.', 'Unauthorized');
    return new Fail({
      ...f.reply,
      headers: {
        'WWW-Authenticate': `Digest realm="${REALM}", domain="", nonce="${nonce}", algorithm=MD5, ${qop}="auth", stale=${stale}`,
      },
    });
  }

  private authenticate(req: IncomingMessage, url: string): Principal {
    const header = req.headers.authorization ?? '';
    if (/^Bearer /i.test(header)) {
      const record = this.tokens.get(header.slice(7).trim());
      if (!record || !this.tokenLive(record))
        throw apiError(401, 'UNAUTHORIZED', 'Invalid or expired access token.', 'Unauthorized');
      return { kind: 'account', account: this.accounts.get(record.clientId)! };
    }
    const p = digestParams(header);
    if (!p) throw this.challenge(false);
    const key = this.apiKeys.find((k) => k.publicKey === p.username);
    const nonce = this.nonces.get(p.nonce ?? '');
    if (!key || !nonce || p.realm !== REALM || p.qop !== 'auth' || p.uri !== url || !p.nc || !p.cnonce || !p.response) {
      if (key && nonce) this.digest.badResponses++;
      throw this.challenge(false);
    }
    const ha1 = md5(`${key.publicKey}:${REALM}:${key.privateKey}`);
    const ha2 = md5(`${req.method}:${p.uri}`);
    const expected = md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
    if (!sameText(expected, p.response.toLowerCase())) {
      this.digest.badResponses++;
      throw this.challenge(false);
    }
    if (this.clock.now() - nonce.createdAtMs >= (this.options.nonceLifetimeMs ?? 300_000)) {
      this.nonces.delete(p.nonce!);
      throw this.challenge(true);
    }
    const nc = parseInt(p.nc, 16);
    const perClient = this.options.ncScope === 'client' ? (nonce.perClient ??= new Map()) : undefined;
    const last = perClient ? (perClient.get(p.cnonce) ?? 0) : nonce.lastNc;
    if (!Number.isFinite(nc) || nc <= last) {
      this.digest.replays++;
      throw this.challenge(false);
    }
    if (perClient) perClient.set(p.cnonce, nc);
    else nonce.lastNc = nc;
    return { kind: 'key', key };
  }

  /** The account named in the path, if the principal may manage it in that scope. */
  private account(principal: Principal, scope: { kind: 'orgs' | 'groups'; id: string }, clientId: string): Account {
    const account = this.accounts.get(clientId);
    const inScope = account && (scope.kind === 'orgs' ? account.orgId === scope.id : account.projectIds.has(scope.id));
    if (!account || !inScope) {
      throw apiError(
        404,
        'SERVICE_ACCOUNT_NOT_FOUND',
        `Service account ${clientId} not found in ${scope.kind === 'orgs' ? 'organization' : 'project'} ${scope.id}.`,
        'Not Found',
      );
    }
    if (principal.kind === 'account' && principal.account.orgId !== account.orgId) {
      throw apiError(401, 'UNAUTHORIZED', 'You are not authorized for this resource.', 'Unauthorized');
    }
    return account;
  }

  // ---- service accounts and secrets ------------------------------------------------------

  /**
   * One page of the accounts in scope, as the service pages: `pageNum` (1-based, default 1) and
   * `itemsPerPage` (1–500, default 100) → {results, links (self, and next while more remain),
   * totalCount}. Out-of-range values are a 400 INVALID_QUERY_PARAMETER.
   */
  private list(principal: Principal, scope: { kind: 'orgs' | 'groups'; id: string }, url: string): Reply {
    const query = new URL(url, 'http://emulator').searchParams;
    const pageNum = intParam(query, 'pageNum', 1, 1, Number.MAX_SAFE_INTEGER);
    const itemsPerPage = intParam(query, 'itemsPerPage', DEFAULT_ITEMS_PER_PAGE, 1, MAX_ITEMS_PER_PAGE);
    const all = [...this.accounts.values()]
      .filter((a) => (scope.kind === 'orgs' ? a.orgId === scope.id : a.projectIds.has(scope.id)))
      .filter((a) => principal.kind === 'key' || a.orgId === principal.account.orgId)
      .sort((a, b) => a.createdAtMs - b.createdAtMs || a.clientId.localeCompare(b.clientId));
    const results = all.slice((pageNum - 1) * itemsPerPage, pageNum * itemsPerPage).map((a) => this.view(a));
    const page = (n: number) => {
      const u = new URL(url, 'http://emulator');
      u.searchParams.set('pageNum', String(n));
      u.searchParams.set('itemsPerPage', String(itemsPerPage));
      return u.pathname + u.search;
    };
    const links = [{ rel: 'self', href: page(pageNum) }];
    if (pageNum * itemsPerPage < all.length) links.push({ rel: 'next', href: page(pageNum + 1) });
    return { status: 200, body: { results, links, totalCount: all.length } };
  }

  private view(a: Account): Record<string, unknown> {
    return {
      clientId: a.clientId,
      name: a.name,
      description: 'emulated service account',
      createdAt: new Date(a.createdAtMs).toISOString(),
      roles: ['ORG_OWNER'],
      secrets: a.secrets.map((s) => ({
        id: s.id,
        createdAt: new Date(s.createdAtMs).toISOString(),
        expiresAt: new Date(s.expiresAtMs).toISOString(),
        ...(s.lastUsedAtMs === undefined ? {} : { lastUsedAt: new Date(s.lastUsedAtMs).toISOString() }),
        maskedSecretValue: `mdb_sa_sk_${'*'.repeat(8)}${s.value.slice(-4)}`,
      })),
    };
  }

  private createSecret(account: Account, text: string, v2: boolean): Reply {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text || '{}') as Record<string, unknown>;
    } catch {
      throw apiError(400, 'INVALID_JSON', 'Received JSON is malformed.', 'Bad Request');
    }
    const hours = body.secretExpiresAfterHours;
    const max = v2 ? MAX_HOURS_ATLAS : MAX_HOURS_CLOUD_MANAGER;
    if (typeof hours !== 'number' || !Number.isInteger(hours) || hours < MIN_HOURS || hours > max) {
      throw apiError(400, 'VALIDATION_ERROR', `secretExpiresAfterHours must be between ${MIN_HOURS} and ${max}.`, 'Bad Request', [
        'secretExpiresAfterHours',
      ]);
    }
    if (account.secrets.length >= MAX_SECRETS) {
      throw apiError(
        400,
        'SERVICE_ACCOUNT_MAX_SECRETS_EXCEEDED',
        `Service account ${account.clientId} already has the maximum of ${MAX_SECRETS} secrets; delete one first.`,
        'Bad Request',
        [account.clientId, MAX_SECRETS],
      );
    }
    const now = this.clock.now();
    for (const s of account.secrets) s.expiresAtMs = Math.min(s.expiresAtMs, now + 7 * DAY_MS);
    const secret: SecretRecord = {
      id: hex(12),
      value: `mdb_sa_sk_${hex(20)}`,
      createdAtMs: now,
      expiresAtMs: now + hours * 3_600_000,
    };
    account.secrets.push(secret);
    return {
      status: 201,
      body: {
        id: secret.id,
        secret: secret.value,
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(secret.expiresAtMs).toISOString(),
      },
    };
  }

  private deleteSecret(account: Account, secretId: string): Reply {
    const i = account.secrets.findIndex((s) => s.id === secretId);
    if (i < 0)
      throw apiError(
        404,
        'SERVICE_ACCOUNT_SECRET_NOT_FOUND',
        `Secret ${secretId} not found for service account ${account.clientId}.`,
        'Not Found',
      );
    account.secrets.splice(i, 1);
    for (const [token, t] of this.tokens) if (t.secretId === secretId) this.tokens.delete(token);
    return { status: 204 };
  }

  // ---- OAuth -----------------------------------------------------------------------------

  private tokenLive(t: TokenRecord): boolean {
    const account = this.accounts.get(t.clientId);
    const secret = account?.secrets.find((s) => s.id === t.secretId);
    const now = this.clock.now();
    return Boolean(secret) && t.expiresAtMs > now && secret!.expiresAtMs > now;
  }

  /** Basic client credentials → the account and the secret that matched, or invalid_client. */
  private client(req: IncomingMessage): { account: Account; secret: SecretRecord } {
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+(\S+)$/i.exec(header);
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const clientId = colon > 0 ? decoded.slice(0, colon) : '';
    const value = colon > 0 ? decoded.slice(colon + 1) : '';
    const account = this.accounts.get(clientId);
    const now = this.clock.now();
    const secret = account?.secrets.find((s) => sameText(s.value, value) && s.expiresAtMs > now);
    if (!account || !secret) throw oauthError(401, 'invalid_client', 'Client authentication failed.');
    return { account, secret };
  }

  private basicClientId(req: IncomingMessage): string {
    const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    return decoded.split(':')[0] ?? '';
  }

  private token(req: IncomingMessage, body: string): Reply {
    const now = this.clock.now();
    const key = `${req.socket.remoteAddress ?? ''} ${this.basicClientId(req)}`;
    const recent = (this.tokenRequests.get(key) ?? []).filter((t) => t > now - TOKEN_WINDOW_MS);
    if (recent.length >= TOKENS_PER_WINDOW) {
      this.tokenRequests.set(key, recent);
      const retryAfter = Math.max(1, Math.ceil((recent[0]! + TOKEN_WINDOW_MS - now) / 1000));
      throw oauthError(429, 'rate_limited', 'Too many token requests.', { 'Retry-After': String(retryAfter) });
    }
    recent.push(now);
    this.tokenRequests.set(key, recent);
    const form = new URLSearchParams(body);
    const { account, secret } = this.client(req);
    if (form.get('grant_type') !== 'client_credentials')
      throw oauthError(400, 'unsupported_grant_type', 'grant_type must be client_credentials.');
    if (this.activeTokenCount(account.clientId) >= MAX_ACTIVE_TOKENS) {
      throw oauthError(403, 'access_denied', 'The service account has reached the maximum number of active tokens.');
    }
    const token = `eyJ${randomBytes(32).toString('base64url')}`;
    this.tokens.set(token, { clientId: account.clientId, secretId: secret.id, expiresAtMs: now + TOKEN_LIFETIME_SEC * 1000 });
    secret.lastUsedAtMs = now;
    return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: TOKEN_LIFETIME_SEC } };
  }

  private revokeToken(req: IncomingMessage, body: string): Reply {
    const { account } = this.client(req);
    const token = new URLSearchParams(body).get('token') ?? '';
    const record = this.tokens.get(token);
    if (record && record.clientId === account.clientId) this.tokens.delete(token);
    return { status: 200 };
  }

  private send(res: ServerResponse, reply: Reply, v2: boolean): void {
    res.statusCode = reply.status;
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    if (reply.raw) {
      res.setHeader('Content-Type', reply.raw.type);
      res.end(reply.raw.text);
      return;
    }
    if (reply.body === undefined) {
      res.end();
      return;
    }
    res.setHeader('Content-Type', v2 ? ATLAS_V2_ACCEPT : 'application/json');
    res.end(JSON.stringify(reply.body));
  }
}

/** Starts the emulator on 127.0.0.1. `close()` also destroys open (keep-alive) connections. */
export async function startMcmEmulator(options: McmEmulatorOptions = {}): Promise<McmEmulator> {
  const emu = new McmServer(options.apiKeys ?? [generateApiKey()], options);
  const server = await serveOnLoopback((req, res) => emu.handle(req, res), options.port);
  return {
    url: server.url,
    apiKeys: emu.apiKeys,
    faults: emu.faults,
    get latencyMs() {
      return emu.latencyMs;
    },
    set latencyMs(ms: number) {
      emu.latencyMs = ms;
    },
    requests: emu.requests,
    digest: emu.digest,
    dropConnections: (n, op) => emu.dropConnections(n, op),
    count: (op) => emu.count(op),
    ensureServiceAccount: (seed) => emu.ensureServiceAccount(seed),
    secretsOf: (clientId) => emu.secretsOf(clientId),
    activeTokenCount: (clientId) => emu.activeTokenCount(clientId),
    on: (operation, phase, listener) => emu.triggers.on(operation, phase, listener),
    close: () => server.close(),
  };
}
