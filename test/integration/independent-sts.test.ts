/**
 * `rotator rotate` against a second, deliberately separate STS implementation written here
 * from PROVIDERS.md alone (none of the project's signing or emulator code), served under a
 * path prefix as a gateway or proxy would. It rejects anything that is not exactly signature
 * v2 over METHOD + " " + URI + "\n" + timestamp + "\n" + accessKey within the 5-minute window.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli, configDir } from '../support/cli';

const MASTER = {
  accessKey: 'ncp_iam_BPAMKR' + randomBytes(6).toString('hex').toUpperCase(),
  secretKey: 'ncp_iam_BPKSKR' + randomBytes(16).toString('hex'),
};
const PREFIX = '/sts-gateway';

interface Key {
  secret: string;
  expires: number;
  role?: string;
}
const keys = new Map<string, Key>([[MASTER.accessKey, { secret: MASTER.secretKey, expires: Infinity }]]);
const seen: string[] = [];
let server: Server;
let base: string;

function reject(res: import('node:http').ServerResponse, status: number, details: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-ncp-trace-id': 'independent-trace' });
  res.end(JSON.stringify({ error: { errorCode: '200', message: 'Authentication Failed', details } }));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const uri = req.url ?? '';
      seen.push(`${req.method} ${uri}`);
      const ts = String(req.headers['x-ncp-apigw-timestamp'] ?? '');
      const ak = String(req.headers['x-ncp-iam-access-key'] ?? '');
      const sig = String(req.headers['x-ncp-apigw-signature-v2'] ?? '');
      const key = keys.get(ak);
      if (!key || key.expires <= Date.now()) return reject(res, 401, 'unknown access key');
      if (!/^\d{13}$/.test(ts) || Math.abs(Date.now() - Number(ts)) >= 5 * 60_000) return reject(res, 401, 'timestamp');
      const expected = createHmac('sha256', key.secret).update(`${req.method} ${uri}\n${ts}\n${ak}`).digest();
      const given = Buffer.from(sig, 'base64');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reject(res, 401, 'signature');
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const path = uri.slice(PREFIX.length);
      if (req.method === 'GET' && path === '/api/v1/caller-identity') {
        return json(200, { id: '1', loginAlias: 'independent', userType: key.role ? 'Role' : 'Sub' });
      }
      if (req.method === 'POST' && (path === '/api/v1/credentials' || path === '/api/v1/switch-role')) {
        const input = JSON.parse(body || '{}');
        const duration = input.durationSec ?? 3600;
        if (!Number.isInteger(duration) || duration < 600 || duration > 43200) {
          return json(400, { errorCode: 400, message: 'durationSec valid range: 600 - 43200' });
        }
        const accessKey = 'ncp_iam_BPASKR' + randomBytes(6).toString('hex').toUpperCase();
        const keySecret = 'ncp_iam_BPKSKR' + randomBytes(16).toString('hex');
        const now = Date.now();
        keys.set(accessKey, {
          secret: keySecret,
          expires: now + duration * 1000,
          ...(input.roleNrn ? { role: input.roleNrn } : {}),
        });
        const credentials = {
          accessKey,
          keySecret,
          createTime: new Date(now).toISOString(),
          expireTime: new Date(now + duration * 1000).toISOString(),
          useMfa: false,
        };
        return path === '/api/v1/switch-role'
          ? json(200, { switchedRole: { roleNrn: input.roleNrn }, credentials })
          : json(200, credentials);
      }
      json(404, { error: { errorCode: '300', message: 'Not Found' } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PREFIX}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

test('rotate, get, verify and role mode work against an independent strict STS server', async () => {
  const dir = await configDir(`
vault: { type: file, path: vault.json }
secrets:
  - id: plain
    provider: ncp-sts
    credentials: { accessKey: \${AK}, secretKey: \${SK} }
    params: { durationSec: 900, endpoint: "${base}" }
  - id: role
    provider: ncp-sts
    credentials: { accessKey: \${AK}, secretKey: \${SK} }
    params: { durationSec: 900, endpoint: "${base}", roleNrn: "nrn:PUB:IAM::123:Role/ops" }
`);
  const env = { ROTATOR_CONFIG: dir.file, ROTATOR_VAULT_KEY: 'e'.repeat(64), AK: MASTER.accessKey, SK: MASTER.secretKey };
  try {
    const rotate = await runCli(['rotate', '--all'], env);
    expect(rotate.stderr).not.toMatch(/failed/);
    expect(rotate.code).toBe(0);
    const plain = JSON.parse((await runCli(['get', 'plain'], env)).stdout);
    const role = JSON.parse((await runCli(['get', 'role'], env)).stdout);
    expect(keys.get(plain.credentials.accessKey)?.secret).toBe(plain.credentials.keySecret);
    expect(keys.get(role.credentials.accessKey)?.role).toBe('nrn:PUB:IAM::123:Role/ops');
    expect(role.switchedRole).toEqual({ roleNrn: 'nrn:PUB:IAM::123:Role/ops' });
    // Issued with the master key, then verified with each new key, all under the prefix.
    expect(seen).toEqual(
      expect.arrayContaining([
        `POST ${PREFIX}/api/v1/credentials`,
        `POST ${PREFIX}/api/v1/switch-role`,
        `GET ${PREFIX}/api/v1/caller-identity`,
      ]),
    );
    expect(seen.filter((s) => s.endsWith('caller-identity'))).toHaveLength(2);
  } finally {
    await dir.cleanup();
  }
});
