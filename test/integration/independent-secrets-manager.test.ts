/**
 * `rotator rotate` with the AWS Secrets Manager vault against a second, deliberately separate
 * Secrets Manager written here from the AWS API reference and shared/PROVIDERS.md alone (none
 * of the project's emulator or SigV4 code). It verifies every SigV4 signature with the test
 * credentials and keeps AWS's stage rules. Then the real `aws` CLI reads the secret from it, as
 * a consumer would.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNcpStsEmulator, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { configDir, runCli } from '../support/cli';

const AWS_KEY_ID = 'AKIDINDEPENDENT0001';
const AWS_SECRET = 'independent/secret+key=0123456789abcdef';
const REGION = 'ap-northeast-2';

// ---- the independent Secrets Manager ----

interface Version {
  id: string;
  value: string;
  labels: string[];
  created: number;
}
interface Secret {
  arn: string;
  name: string;
  tags: { Key: string; Value: string }[];
  versions: Version[];
}
const store = new Map<string, Secret>();
const calls: string[] = [];
const refusedSignatures: string[] = [];
let server: Server;
let url: string;

class Fail extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const mac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

/** SigV4 (AWS General Reference, "Create a signed AWS API request"), checked from scratch. */
function signatureProblem(req: IncomingMessage, body: Buffer): string | undefined {
  const auth = String(req.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=(.+?), ?SignedHeaders=(.+?), ?Signature=([0-9a-f]+)$/.exec(auth);
  if (!m) return 'no AWS4-HMAC-SHA256 Authorization header';
  const [keyId, day, region, service, terminator] = m[1]!.split('/');
  if (keyId !== AWS_KEY_ID) return 'unknown access key id';
  if (region !== REGION || service !== 'secretsmanager' || terminator !== 'aws4_request') return 'wrong credential scope';
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!(Math.abs(Date.now() - when) < 15 * 60_000) || !amzDate.startsWith(day!)) return 'x-amz-date outside the window';
  const names = m[2]!.split(';');
  if (!names.includes('host')) return 'host not signed';
  const headerBlock = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/ +/g, ' ')}\n`,
    )
    .join('');
  const [path, query = ''] = (req.url ?? '/').split('?');
  const canonical = `${req.method}\n${path}\n${query}\n${headerBlock}\n${m[2]}\n${hex(body)}`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${day}/${region}/${service}/aws4_request\n${hex(canonical)}`;
  let key = mac(`AWS4${AWS_SECRET}`, day!);
  for (const part of [region!, service!, 'aws4_request']) key = mac(key, part);
  return createHmac('sha256', key).update(toSign).digest('hex') === m[3] ? undefined : 'signature mismatch';
}

function lookup(id: unknown): Secret {
  const secret = store.get(String(id)) ?? [...store.values()].find((s) => s.arn === id);
  if (!secret) throw new Fail('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
  return secret;
}

/** Puts `label` on `to`, off every other version; AWSCURRENT leaving a version leaves AWSPREVIOUS behind. */
function label(secret: Secret, label: string, to: Version): void {
  for (const v of secret.versions) {
    if (v === to || !v.labels.includes(label)) continue;
    v.labels = v.labels.filter((l) => l !== label);
    if (label === 'AWSCURRENT') {
      for (const w of secret.versions) w.labels = w.labels.filter((l) => l !== 'AWSPREVIOUS');
      v.labels.push('AWSPREVIOUS');
    }
  }
  if (!to.labels.includes(label)) to.labels.push(label);
  if (label === 'AWSCURRENT') to.labels = to.labels.filter((l) => l !== 'AWSPREVIOUS');
}

const staged = (s: Secret) =>
  Object.fromEntries(s.versions.filter((v) => v.labels.length > 0).map((v) => [v.id, [...v.labels].sort()]));

function operate(op: string, input: any): unknown {
  switch (op) {
    case 'CreateSecret': {
      if (store.has(input.Name))
        throw new Fail('ResourceExistsException', `The operation failed because the secret ${input.Name} already exists.`);
      const secret: Secret = {
        arn: `arn:aws:secretsmanager:${REGION}:210987654321:secret:${input.Name}-AbCdEf`,
        name: input.Name,
        tags: input.Tags ?? [],
        versions: [],
      };
      store.set(input.Name, secret);
      if (typeof input.SecretString === 'string') {
        const v = { id: input.ClientRequestToken ?? randomUUID(), value: input.SecretString, labels: [], created: Date.now() };
        secret.versions.push(v);
        label(secret, 'AWSCURRENT', v);
      }
      return { ARN: secret.arn, Name: secret.name };
    }
    case 'DescribeSecret': {
      const s = lookup(input.SecretId);
      return { ARN: s.arn, Name: s.name, Tags: s.tags, VersionIdsToStages: staged(s) };
    }
    case 'GetSecretValue': {
      const s = lookup(input.SecretId);
      const stage = input.VersionStage ?? (input.VersionId ? undefined : 'AWSCURRENT');
      const v = s.versions.find((x) => (!input.VersionId || x.id === input.VersionId) && (!stage || x.labels.includes(stage)));
      if (!v) throw new Fail('ResourceNotFoundException', "Secrets Manager can't find the specified secret value.");
      return {
        ARN: s.arn,
        Name: s.name,
        VersionId: v.id,
        SecretString: v.value,
        VersionStages: v.labels,
        CreatedDate: v.created / 1000,
      };
    }
    case 'PutSecretValue': {
      const s = lookup(input.SecretId);
      const token = input.ClientRequestToken;
      if (typeof token !== 'string' || token.length < 32 || token.length > 64)
        throw new Fail('InvalidParameterException', 'ClientRequestToken must be 32-64 characters');
      const existing = s.versions.find((v) => v.id === token);
      if (existing) {
        if (existing.value !== input.SecretString)
          throw new Fail('ResourceExistsException', 'A version with this ClientRequestToken already exists with another value.');
        return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: existing.labels };
      }
      const v: Version = { id: token, value: input.SecretString, labels: [], created: Date.now() };
      // "If this operation creates the first version for the secret, then Secrets Manager
      // automatically attaches the staging label AWSCURRENT to it" (PutSecretValue reference).
      const first = s.versions.length === 0;
      s.versions.push(v);
      for (const l of input.VersionStages ?? ['AWSCURRENT']) label(s, l, v);
      if (first) label(s, 'AWSCURRENT', v);
      return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: v.labels };
    }
    case 'UpdateSecretVersionStage': {
      const s = lookup(input.SecretId);
      const holder = s.versions.find((v) => v.labels.includes(input.VersionStage));
      if (input.RemoveFromVersionId !== undefined && holder?.id !== input.RemoveFromVersionId) {
        throw new Fail('InvalidParameterException', `${input.VersionStage} is not attached to ${input.RemoveFromVersionId}`);
      }
      if (input.RemoveFromVersionId === undefined && holder && holder.id !== input.MoveToVersionId) {
        throw new Fail(
          'InvalidParameterException',
          `${input.VersionStage} is attached to ${holder.id}: name it in RemoveFromVersionId`,
        );
      }
      if (input.MoveToVersionId !== undefined) {
        const to = s.versions.find((v) => v.id === input.MoveToVersionId);
        if (!to) throw new Fail('ResourceNotFoundException', 'no such version');
        label(s, input.VersionStage, to);
      } else if (holder) {
        holder.labels = holder.labels.filter((l) => l !== input.VersionStage);
      }
      return { ARN: s.arn, Name: s.name };
    }
    case 'ListSecrets':
      return {
        SecretList: [...store.values()].map((s) => ({
          ARN: s.arn,
          Name: s.name,
          Tags: s.tags,
          SecretVersionsToStages: staged(s),
        })),
      };
    case 'TagResource': {
      const s = lookup(input.SecretId);
      for (const t of input.Tags) s.tags = [...s.tags.filter((x) => x.Key !== t.Key), t];
      return {};
    }
    case 'UntagResource': {
      const s = lookup(input.SecretId);
      s.tags = s.tags.filter((t) => !input.TagKeys.includes(t.Key));
      return {};
    }
    default:
      throw new Fail('UnknownOperationException', op);
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
      calls.push(op);
      const problem = signatureProblem(req, body);
      if (problem) {
        refusedSignatures.push(problem);
        return reply(res, 400, { __type: 'InvalidSignatureException', message: problem });
      }
      try {
        reply(res, 200, operate(op, JSON.parse(body.toString('utf8') || '{}')));
      } catch (err) {
        if (!(err instanceof Fail)) throw err;
        reply(res, 400, { __type: err.type, message: err.message });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

// ---- the test ----

let ncp: NcpStsEmulator;
beforeEach(async () => {
  ncp = await startNcpStsEmulator();
});
afterEach(async () => {
  await ncp.close();
});

/**
 * The real `aws` CLI, with no profile or config of the machine it runs on. Spawned
 * asynchronously: the server it calls runs in this process's event loop.
 */
async function awsCli(args: string[], home: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const found = spawnSync('aws', ['--version'], { encoding: 'utf8' });
  if (found.error) {
    throw new Error(
      'the `aws` CLI is required by this test and was not found on PATH; install it: ' +
        '`apt-get install -y awscli` (Debian/Ubuntu) or see https://aws.amazon.com/cli/ (.ci/run installs it)',
    );
  }
  const child = spawn('aws', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: home,
      AWS_ACCESS_KEY_ID: AWS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: AWS_SECRET,
      AWS_DEFAULT_REGION: REGION,
      AWS_CONFIG_FILE: join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_PAGER: '',
      AWS_MAX_ATTEMPTS: '1',
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}

test('rotate twice through the vault, then the aws CLI reads the current value', async () => {
  const [account] = ncp.accounts;
  const dir = await configDir(`
vault: { type: aws-secrets-manager, region: ${REGION}, endpoint: "${url}", prefix: "indep/", tags: { env: test } }
secrets:
  - id: app
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 900, endpoint: "${ncp.url}" }
`);
  const home = await mkdtemp(join(tmpdir(), 'rotator-aws-home-'));
  const env = {
    ROTATOR_CONFIG: dir.file,
    NCP_ACCESS_KEY: account!.accessKey,
    NCP_SECRET_KEY: account!.secretKey,
    AWS_ACCESS_KEY_ID: AWS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: AWS_SECRET,
  };
  try {
    const first = await runCli(['rotate', 'app'], env);
    expect(first.stderr).not.toMatch(/failed|retrying/);
    expect(first.code).toBe(0);
    const secret = store.get('indep/app')!;
    expect(secret.tags).toEqual(
      expect.arrayContaining([
        { Key: 'rotator:managed', Value: 'true' },
        { Key: 'env', Value: 'test' },
      ]),
    );
    // The first version is rotator's placeholder (AWS makes a secret's first version AWSCURRENT,
    // so the credential must not be it); the first promotion moved AWSCURRENT off it.
    const [placeholder, first1] = secret.versions;
    expect(JSON.parse(placeholder!.value)).toEqual({ rotator: 'no current value yet' });
    // AWSPENDING stays beside AWSCURRENT after a promotion (one UpdateSecretVersionStage).
    expect(staged(secret)).toEqual({ [placeholder!.id]: ['AWSPREVIOUS'], [first1!.id]: ['AWSCURRENT', 'AWSPENDING'] });

    const second = await runCli(['rotate', 'app'], env);
    expect(second.code).toBe(0);
    const [, older, newer] = secret.versions;
    expect(secret.versions).toHaveLength(3);
    expect(staged(secret)).toEqual({ [older!.id]: ['AWSPREVIOUS'], [newer!.id]: ['AWSCURRENT', 'AWSPENDING'] });
    expect(refusedSignatures).toEqual([]);
    expect(calls).toEqual(
      expect.arrayContaining(['CreateSecret', 'PutSecretValue', 'UpdateSecretVersionStage', 'DescribeSecret']),
    );

    const viaRotator = JSON.parse((await runCli(['get', 'app'], env)).stdout);
    const cli = await awsCli(
      ['secretsmanager', 'get-secret-value', '--secret-id', 'indep/app', '--endpoint-url', url, '--output', 'json'],
      home,
    );
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const answer = JSON.parse(cli.stdout);
    expect(answer).toMatchObject({ Name: 'indep/app', VersionId: newer!.id });
    expect([...answer.VersionStages].sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect(JSON.parse(answer.SecretString)).toEqual(viaRotator);
    expect(viaRotator.credentials.accessKey).toBe(ncp.issuedKeys()[1]!.accessKey);
    expect(refusedSignatures).toEqual([]);
  } finally {
    await dir.cleanup();
    await rm(home, { recursive: true, force: true });
  }
});
