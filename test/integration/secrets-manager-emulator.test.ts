/**
 * The Secrets Manager emulator on its own, through the real SDK client (and raw HTTP for what
 * the SDK would never send): AWS's stage rules, errors, paging, the version quota, SigV4, the
 * injected clock, faults and request counts.
 */
import { request } from 'node:http';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { ManualClock } from '../../src/clock';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';

const CREDS = { accessKeyId: 'AKIDEMU', secretAccessKey: 'emu-secret' };
const token = (n: number) => `tok-${String(n).padStart(28, '0')}`;

let clock: ManualClock;
let emu: SecretsManagerEmulator;
let sm: SecretsManagerClient;
beforeEach(async () => {
  clock = new ManualClock('2026-03-01T12:00:00.250Z');
  emu = await startSecretsManagerEmulator({ clock, credentials: { [CREDS.accessKeyId]: CREDS.secretAccessKey }, maxVersions: 5 });
  sm = new SecretsManagerClient({ region: 'sa-east-1', endpoint: emu.url, credentials: CREDS, maxAttempts: 1 });
});
afterEach(async () => {
  sm.destroy();
  await emu.close();
});

const stagesOf = async (id: string) => (await sm.send(new DescribeSecretCommand({ SecretId: id }))).VersionIdsToStages;
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { name: string; $metadata?: { httpStatusCode?: number } }) => [e.name, e.$metadata?.httpStatusCode],
  );

test('CreateSecret with a value makes AWSCURRENT; PutSecretValue without stages moves AWSCURRENT and AWSPREVIOUS', async () => {
  const created = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'v1', ClientRequestToken: token(1) }));
  expect(created.ARN).toMatch(/^arn:aws:secretsmanager:sa-east-1:\d{12}:secret:app\/db-[A-Za-z0-9]{6}$/);
  await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'v2', ClientRequestToken: token(2) }));
  expect(await stagesOf('app/db')).toEqual({ [token(1)]: ['AWSPREVIOUS'], [token(2)]: ['AWSCURRENT'] });
  await sm.send(new PutSecretValueCommand({ SecretId: created.ARN, SecretString: 'v3', ClientRequestToken: token(3) }));
  // token(1) lost its last stage: deprecated, hidden from Describe, listed only when asked.
  expect(await stagesOf('app/db')).toEqual({ [token(2)]: ['AWSPREVIOUS'], [token(3)]: ['AWSCURRENT'] });
  const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db', IncludeDeprecated: true }));
  expect(all.Versions!.map((v) => [v.VersionId, v.VersionStages])).toEqual([
    [token(1), []],
    [token(2), ['AWSPREVIOUS']],
    [token(3), ['AWSCURRENT']],
  ]);
  expect((await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db' }))).Versions).toHaveLength(2);
  const value = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
  expect(value).toMatchObject({ SecretString: 'v3', VersionId: token(3), VersionStages: ['AWSCURRENT'] });
  expect(value.CreatedDate!.toISOString()).toBe('2026-03-01T12:00:00.250Z'); // injected clock, epoch seconds on the wire
});

test('ClientRequestToken: same value is a no-op, another value ResourceExistsException; bad tokens refused', async () => {
  await sm.send(new CreateSecretCommand({ Name: 's', SecretString: 'first', ClientRequestToken: token(9) }));
  await sm.send(
    new PutSecretValueCommand({ SecretId: 's', SecretString: 'a', ClientRequestToken: token(1), VersionStages: ['AWSPENDING'] }),
  );
  const again = await sm.send(
    new PutSecretValueCommand({ SecretId: 's', SecretString: 'a', ClientRequestToken: token(1), VersionStages: ['AWSCURRENT'] }),
  );
  expect(again.VersionStages).toEqual(['AWSPENDING']); // ignored: the stages did not move
  expect(
    await errorOf(sm.send(new PutSecretValueCommand({ SecretId: 's', SecretString: 'b', ClientRequestToken: token(1) }))),
  ).toEqual(['ResourceExistsException', 400]);
  expect(
    await errorOf(sm.send(new PutSecretValueCommand({ SecretId: 's', SecretString: 'b', ClientRequestToken: 'short' }))),
  ).toEqual(['InvalidParameterException', 400]);
  expect(await errorOf(sm.send(new CreateSecretCommand({ Name: 's' })))).toEqual(['ResourceExistsException', 400]);
  expect(await errorOf(sm.send(new CreateSecretCommand({ Name: 'bad name!' })))).toEqual(['InvalidParameterException', 400]);
  expect(await errorOf(sm.send(new GetSecretValueCommand({ SecretId: 'missing' })))).toEqual(['ResourceNotFoundException', 400]);
});

test('the first version of a secret always gets AWSCURRENT, whatever VersionStages says (PutSecretValue reference)', async () => {
  await sm.send(new CreateSecretCommand({ Name: 'empty' }));
  expect(await stagesOf('empty')).toEqual({});
  expect(await errorOf(sm.send(new GetSecretValueCommand({ SecretId: 'empty' })))).toEqual(['ResourceNotFoundException', 400]); // no AWSCURRENT yet
  const first = await sm.send(
    new PutSecretValueCommand({
      SecretId: 'empty',
      SecretString: 'a',
      ClientRequestToken: token(1),
      VersionStages: ['AWSPENDING'],
    }),
  );
  expect(first.VersionStages!.sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
  expect(await sm.send(new GetSecretValueCommand({ SecretId: 'empty' }))).toMatchObject({
    SecretString: 'a',
    VersionId: token(1),
  });
  // Only the first: the second version gets what it asked for, AWSCURRENT stays.
  const second = await sm.send(
    new PutSecretValueCommand({
      SecretId: 'empty',
      SecretString: 'b',
      ClientRequestToken: token(2),
      VersionStages: ['AWSPENDING'],
    }),
  );
  expect(second.VersionStages).toEqual(['AWSPENDING']);
  expect(await stagesOf('empty')).toEqual({ [token(1)]: ['AWSCURRENT'], [token(2)]: ['AWSPENDING'] });

  // Any label, not only AWSPENDING.
  await sm.send(new CreateSecretCommand({ Name: 'lease' }));
  await sm.send(
    new PutSecretValueCommand({ SecretId: 'lease', SecretString: 'x', ClientRequestToken: token(3), VersionStages: ['CUSTOM'] }),
  );
  expect(await stagesOf('lease')).toEqual({ [token(3)]: ['CUSTOM', 'AWSCURRENT'] });

  // CreateSecret with a value: that value is the first version, AWSCURRENT; a later PutSecretValue is not first.
  await sm.send(new CreateSecretCommand({ Name: 'valued', SecretString: 'p', ClientRequestToken: token(4) }));
  await sm.send(
    new PutSecretValueCommand({
      SecretId: 'valued',
      SecretString: 'q',
      ClientRequestToken: token(5),
      VersionStages: ['AWSPENDING'],
    }),
  );
  expect(await stagesOf('valued')).toEqual({ [token(4)]: ['AWSCURRENT'], [token(5)]: ['AWSPENDING'] });
});

test('UpdateSecretVersionStage is a compare-and-swap', async () => {
  await sm.send(new CreateSecretCommand({ Name: 's', SecretString: 'a', ClientRequestToken: token(1) }));
  await sm.send(
    new PutSecretValueCommand({ SecretId: 's', SecretString: 'b', ClientRequestToken: token(2), VersionStages: ['AWSPENDING'] }),
  );
  const move = (input: object) =>
    sm.send(new UpdateSecretVersionStageCommand({ SecretId: 's', VersionStage: 'AWSCURRENT', ...input }));
  // attached elsewhere and RemoveFromVersionId missing; or not on RemoveFromVersionId
  expect(await errorOf(move({ MoveToVersionId: token(2) }))).toEqual(['InvalidParameterException', 400]);
  expect(await errorOf(move({ MoveToVersionId: token(2), RemoveFromVersionId: token(2) }))).toEqual([
    'InvalidParameterException',
    400,
  ]);
  expect(await errorOf(move({ MoveToVersionId: token(9), RemoveFromVersionId: token(1) }))).toEqual([
    'ResourceNotFoundException',
    400,
  ]);
  expect(await stagesOf('s')).toEqual({ [token(1)]: ['AWSCURRENT'], [token(2)]: ['AWSPENDING'] });
  await move({ MoveToVersionId: token(2), RemoveFromVersionId: token(1) });
  expect(await stagesOf('s')).toEqual({ [token(1)]: ['AWSPREVIOUS'], [token(2)]: ['AWSPENDING', 'AWSCURRENT'] });
  await sm.send(
    new UpdateSecretVersionStageCommand({ SecretId: 's', VersionStage: 'AWSPENDING', RemoveFromVersionId: token(2) }),
  );
  // A custom label not attached anywhere may be attached without RemoveFromVersionId.
  await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 's', VersionStage: 'MINE', MoveToVersionId: token(1) }));
  expect(await stagesOf('s')).toEqual({ [token(1)]: ['AWSPREVIOUS', 'MINE'], [token(2)]: ['AWSCURRENT'] });
});

test('the version quota: deprecated versions go after 24 h; a write beyond it is LimitExceededException', async () => {
  await sm.send(new CreateSecretCommand({ Name: 'q' }));
  for (let i = 1; i <= 5; i++)
    await sm.send(new PutSecretValueCommand({ SecretId: 'q', SecretString: `v${i}`, ClientRequestToken: token(i) }));
  expect(
    await errorOf(sm.send(new PutSecretValueCommand({ SecretId: 'q', SecretString: 'v6', ClientRequestToken: token(6) }))),
  ).toEqual(['LimitExceededException', 400]);
  clock.advance(24 * 3600_000);
  await sm.send(new PutSecretValueCommand({ SecretId: 'q', SecretString: 'v6', ClientRequestToken: token(6) }));
  expect(emu.versions('q')!.map((v) => v.versionId)).toEqual([token(2), token(3), token(4), token(5), token(6)]);
});

test('ListSecrets: filters (name prefix, tag key, negation), MaxResults and NextToken paging', async () => {
  for (const name of ['team/a', 'team/b', 'team/c', 'other/x', 'TEAM/upper']) {
    await sm.send(new CreateSecretCommand({ Name: name, Tags: name === 'team/c' ? [] : [{ Key: 'managed', Value: 'yes' }] }));
  }
  const names = async (input: object) => {
    const out: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await sm.send(new ListSecretsCommand({ MaxResults: 2, ...input, ...(NextToken ? { NextToken } : {}) }));
      out.push(...page.SecretList!.map((s) => s.Name!));
      NextToken = page.NextToken;
      pages++;
    } while (NextToken);
    return { out, pages };
  };
  expect(await names({ Filters: [{ Key: 'name', Values: ['team/'] }] })).toEqual({
    out: ['TEAM/upper', 'team/a', 'team/b', 'team/c'],
    pages: 2,
  });
  expect(
    (
      await names({
        Filters: [
          { Key: 'name', Values: ['team/'] },
          { Key: 'tag-key', Values: ['managed'] },
        ],
      })
    ).out,
  ).toEqual(['TEAM/upper', 'team/a', 'team/b']);
  expect((await names({ Filters: [{ Key: 'name', Values: ['!team/'] }] })).out).toEqual(['other/x']);
  await sm.send(new TagResourceCommand({ SecretId: 'team/c', Tags: [{ Key: 'managed', Value: 'late' }] }));
  expect((await names({ Filters: [{ Key: 'tag-value', Values: ['late'] }] })).out).toEqual(['team/c']);
  await sm.send(new DeleteSecretCommand({ SecretId: 'team/a', RecoveryWindowInDays: 7 }));
  await sm.send(new DeleteSecretCommand({ SecretId: 'team/b', ForceDeleteWithoutRecovery: true }));
  expect((await names({ Filters: [{ Key: 'name', Values: ['team/'] }] })).out).toEqual(['TEAM/upper', 'team/c']);
  expect(await errorOf(sm.send(new GetSecretValueCommand({ SecretId: 'team/a' })))).toEqual(['InvalidRequestException', 400]);
});

/** A raw POST, for what the SDK would never send. */
function raw(headers: Record<string, string>, body = '{}'): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      emu.url,
      { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('SigV4: unsigned, malformed, unknown-key and wrongly signed requests are refused with AWS error bodies', async () => {
  const target = { 'x-amz-target': 'secretsmanager.ListSecrets' };
  expect(await raw(target)).toEqual({
    status: 400,
    json: { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' },
  });
  expect((await raw({ ...target, authorization: 'Bearer x' })).json.__type).toBe('IncompleteSignatureException');
  const forged = `AWS4-HMAC-SHA256 Credential=AKIDEMU/20260301/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
  const now = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  expect((await raw({ ...target, authorization: forged, 'x-amz-date': now })).json.__type).toBe('InvalidSignatureException');
  const stranger = new SecretsManagerClient({
    region: 'us-east-1',
    endpoint: emu.url,
    credentials: { accessKeyId: 'AKIDEMU', secretAccessKey: 'wrong' },
    maxAttempts: 1,
  });
  expect(await errorOf(stranger.send(new ListSecretsCommand({})))).toEqual(['InvalidSignatureException', 400]);
  stranger.destroy();
  expect(emu.requests.every((r) => r.status === 400)).toBe(true);
});

test('faults, dropped connections and counts per operation', async () => {
  emu.faults.push({ status: 400, times: 1, operation: 'ListSecrets' }, { status: 500, times: 1 }, { status: 503, times: 1 });
  expect(await errorOf(sm.send(new ListSecretsCommand({})))).toEqual(['ThrottlingException', 400]);
  expect(await errorOf(sm.send(new ListSecretsCommand({})))).toEqual(['InternalServiceError', 500]);
  expect(await errorOf(sm.send(new CreateSecretCommand({ Name: 'x' })))).toEqual(['ServiceUnavailable', 503]);
  emu.dropConnections(1);
  await expect(sm.send(new ListSecretsCommand({}))).rejects.toThrow();
  await sm.send(new ListSecretsCommand({}));
  expect(emu.counts()).toEqual({ ListSecrets: 4, CreateSecret: 1 });
  expect(emu.requests.map((r) => r.status)).toEqual([400, 500, 503, 0, 200]);
});

test('BatchGetSecretValue: AWSCURRENT values by id list (≤ 20, errors per secret) or by filter (paged by ≤ 20)', async () => {
  for (let i = 0; i < 23; i++) {
    await sm.send(
      new CreateSecretCommand({
        Name: `b/${String(i).padStart(2, '0')}`,
        SecretString: `v${i}`,
        Tags: [{ Key: 'k', Value: 'x' }],
      }),
    );
  }
  await sm.send(new CreateSecretCommand({ Name: 'b/empty' }));
  const byId = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['b/00', 'b/empty', 'b/missing', 'b/22'] }));
  expect(byId.SecretValues!.map((v) => [v.Name, v.SecretString, v.VersionStages])).toEqual([
    ['b/00', 'v0', ['AWSCURRENT']],
    ['b/22', 'v22', ['AWSCURRENT']],
  ]);
  expect(byId.Errors!.map((e) => [e.SecretId, e.ErrorCode])).toEqual([
    ['b/empty', 'ResourceNotFoundException'],
    ['b/missing', 'ResourceNotFoundException'],
  ]);
  const ids = Array.from({ length: 21 }, (_, i) => `b/${String(i).padStart(2, '0')}`);
  expect(await errorOf(sm.send(new BatchGetSecretValueCommand({ SecretIdList: ids })))).toEqual([
    'InvalidParameterException',
    400,
  ]);
  const filters = [{ Key: 'name' as const, Values: ['b/'] }];
  const first = await sm.send(new BatchGetSecretValueCommand({ Filters: filters }));
  expect(first.SecretValues).toHaveLength(20);
  const second = await sm.send(new BatchGetSecretValueCommand({ Filters: filters, NextToken: first.NextToken }));
  expect(second.NextToken).toBeUndefined();
  expect(second.SecretValues!.map((v) => v.Name)).toEqual(['b/20', 'b/21', 'b/22']);
  expect(second.Errors!.map((e) => e.SecretId)).toEqual(['b/empty']);
  expect(await errorOf(sm.send(new BatchGetSecretValueCommand({ Filters: filters, SecretIdList: ['b/00'] })))).toEqual([
    'InvalidParameterException',
    400,
  ]);
});
