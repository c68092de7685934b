/**
 * Acceptance A: the operator's path (`rotator rotate`, `rotator get`) against a Cloud Manager
 * stand-in that is written here from RFC 7616 alone (MD5, qop=auth, its own nonces and
 * stale=true) and from the documented endpoints, sharing no code with the provider's Digest
 * adapter or the project's emulator. If both sides misread the RFC the same way, this catches it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli, configDir } from '../support/cli';

const VAULT_KEY = 'c'.repeat(64);
const REALM = 'MMS Public API';
const ORG = '0123456789abcdef01234567';
const CLIENT = 'mdb_sa_id_0123456789abcdef01234567';
const PUBLIC = 'standin1';
const PRIVATE = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

const h = (s: string) => createHash('md5').update(s).digest('hex');

/** The stand-in's state, readable by the test. */
interface StandIn {
  url: string;
  secrets: { id: string; value: string; createdAt: string; expiresAt: string }[];
  tokens: Map<string, string>; // token → secret id
  digestFailures: number;
  staleSent: number;
  close(): Promise<void>;
}

async function startStandIn(nonceLifetimeMs: number): Promise<StandIn> {
  const nonces = new Map<string, { issued: number; nc: number }>();
  const state: StandIn = { url: '', secrets: [], tokens: new Map(), digestFailures: 0, staleSent: 0, close: async () => {} };

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const challenge = (res: ServerResponse, stale: boolean) => {
    const nonce = randomBytes(12).toString('base64');
    nonces.set(nonce, { issued: Date.now(), nc: 0 });
    if (stale) state.staleSent++;
    send(
      res,
      401,
      { detail: 'unauthorized', error: 401, errorCode: 'UNAUTHORIZED', parameters: [], reason: 'Unauthorized' },
      {
        'WWW-Authenticate': `Digest realm="${REALM}", nonce="${nonce}", algorithm=MD5, qop="auth", stale=${stale ? 'true' : 'false'}`,
      },
    );
  };
  /** RFC 7616 §3.4: response = H(H(A1):nonce:nc:cnonce:qop:H(A2)), A1 = user:realm:pass, A2 = method:uri. */
  const digestOk = (req: IncomingMessage, res: ServerResponse): boolean => {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Digest ')) {
      challenge(res, false);
      return false;
    }
    const f: Record<string, string> = {};
    for (const part of auth.slice(7).match(/\w+=("[^"]*"|[^,]*)/g) ?? []) {
      const i = part.indexOf('=');
      f[part.slice(0, i)] = part.slice(i + 1).replace(/^"|"$/g, '');
    }
    const n = nonces.get(f.nonce ?? '');
    const expected = h(
      `${h(`${PUBLIC}:${REALM}:${PRIVATE}`)}:${f.nonce}:${f.nc}:${f.cnonce}:auth:${h(`${req.method}:${f.uri}`)}`,
    );
    if (f.username !== PUBLIC || f.uri !== req.url || f.qop !== 'auth' || !n || f.response !== expected) {
      state.digestFailures++;
      challenge(res, false);
      return false;
    }
    if (Date.now() - n.issued > nonceLifetimeMs) {
      nonces.delete(f.nonce!);
      challenge(res, true);
      return false;
    }
    const nc = parseInt(f.nc ?? '', 16);
    if (!(nc > n.nc)) {
      state.digestFailures++;
      challenge(res, false);
      return false;
    }
    n.nc = nc;
    return true;
  };
  const basicSecret = (req: IncomingMessage) => {
    const [id, secret] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    return id === CLIENT ? state.secrets.find((s) => s.value === secret) : undefined;
  };

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const path = req.url ?? '';
      const account = `/api/public/v1.0/orgs/${ORG}/serviceAccounts/${CLIENT}`;
      if (req.method === 'POST' && path === '/api/oauth/token') {
        const secret = basicSecret(req);
        if (!secret || new URLSearchParams(body).get('grant_type') !== 'client_credentials')
          return send(res, 401, { error: 'invalid_client' });
        const token = randomBytes(24).toString('hex');
        state.tokens.set(token, secret.id);
        return send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
      }
      if (req.method === 'POST' && path === '/api/oauth/revoke') {
        if (!basicSecret(req)) return send(res, 401, { error: 'invalid_client' });
        state.tokens.delete(new URLSearchParams(body).get('token') ?? '');
        return send(res, 200);
      }
      if (!digestOk(req, res)) return;
      if (req.method === 'GET' && path === account) {
        return send(res, 200, { clientId: CLIENT, name: 'ci', secrets: state.secrets.map(({ value: _v, ...s }) => s) });
      }
      if (req.method === 'POST' && (path === `${account}/secrets` || path === `${account}/secrets/`)) {
        if (state.secrets.length >= 2)
          return send(res, 400, {
            detail: 'too many secrets',
            error: 400,
            errorCode: 'TOO_MANY',
            parameters: [],
            reason: 'Bad Request',
          });
        const hours = JSON.parse(body).secretExpiresAfterHours as number;
        const now = Date.now();
        const secret = {
          id: randomBytes(12).toString('hex'),
          value: `mdb_sa_sk_${randomBytes(16).toString('hex')}`,
          createdAt: new Date(now).toISOString(),
          expiresAt: new Date(now + hours * 3_600_000).toISOString(),
        };
        state.secrets.push(secret);
        return send(res, 201, { id: secret.id, secret: secret.value, createdAt: secret.createdAt, expiresAt: secret.expiresAt });
      }
      const del = new RegExp(`^${account}/secrets/([0-9a-f]{24})$`).exec(path);
      if (req.method === 'DELETE' && del) {
        const i = state.secrets.findIndex((s) => s.id === del[1]);
        if (i < 0)
          return send(res, 404, {
            detail: 'no such secret',
            error: 404,
            errorCode: 'NOT_FOUND',
            parameters: [],
            reason: 'Not Found',
          });
        const [gone] = state.secrets.splice(i, 1);
        for (const [t, id] of state.tokens) if (id === gone!.id) state.tokens.delete(t);
        return send(res, 204);
      }
      send(res, 404, {
        detail: `no route ${req.method} ${path}`,
        error: 404,
        errorCode: 'NOT_FOUND',
        parameters: [],
        reason: 'Not Found',
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}

async function mint(standIn: StandIn, secret: string): Promise<number> {
  const res = await fetch(`${standIn.url}/api/oauth/token`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${CLIENT}:${secret}`).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return res.status;
}

test('rotate against an independently written Digest stand-in: exit 0, ≤ 2 secrets, the stored secret mints a token, no token left', async () => {
  const standIn = await startStandIn(200);
  const dir = await configDir(`
vault: { type: file, path: vault/vault.json }
secrets:
  - id: mongo-ci
    provider: mongodb-cloud-manager
    credentials: { publicKey: \${MCM_PUBLIC_KEY}, privateKey: \${MCM_PRIVATE_KEY} }
    params: { orgId: ${ORG}, clientId: ${CLIENT}, secretExpiresAfterHours: 72, baseUrl: ${standIn.url}/api/public/v1.0 }
`);
  const env = { ROTATOR_VAULT_KEY: VAULT_KEY, MCM_PUBLIC_KEY: PUBLIC, MCM_PRIVATE_KEY: PRIVATE };
  try {
    const outputs: string[] = [];
    for (let i = 0; i < 3; i++) {
      // Back to back: making room deletes the previous secret inside its grace period (--force).
      const run = await runCli(['rotate', 'mongo-ci', '--force', '-c', dir.file], env);
      outputs.push(run.stdout + run.stderr);
      expect(run.code).toBe(0);
      expect(standIn.secrets.length).toBeLessThanOrEqual(2);
      // runCli runs in-process, so the Digest clients (module level) outlive a run: waiting past
      // the stand-in's nonce lifetime makes the next run meet stale=true and recover from it.
      await new Promise((r) => setTimeout(r, 250));
    }
    const get = await runCli(['get', 'mongo-ci', '-c', dir.file, '--field', 'clientSecret'], env);
    expect(get.code).toBe(0);
    const secret = get.stdout.trim();
    expect(secret).toMatch(/^mdb_sa_sk_/);
    expect(standIn.secrets.map((s) => s.value)).toContain(secret);
    expect(await mint(standIn, secret)).toBe(200);
    // Only the token minted just above is active: every verification token was revoked.
    expect(standIn.tokens.size).toBe(1);
    expect(standIn.digestFailures).toBe(0);
    expect(standIn.staleSent).toBeGreaterThanOrEqual(1);
    const everything = outputs.join('\n');
    expect(everything).not.toContain(PRIVATE);
    for (const s of standIn.secrets) expect(everything).not.toContain(s.value);
  } finally {
    await standIn.close();
    await dir.cleanup();
  }
});
