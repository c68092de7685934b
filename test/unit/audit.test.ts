import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditProvider, auditSchema, auditVault, createAuditLog, type AuditLine } from '../../src/audit';
import type { Clock, Provider, Vault, VaultValue } from '../../src/types';

const clock: Clock = { now: () => Date.parse('2026-01-02T03:04:05.000Z'), sleep: async () => {} };
const log = { error: jest.fn() };
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-audit-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const lines = async (file: string): Promise<AuditLine[]> =>
  (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditLine);

const value: VaultValue = {
  provider: 'mongodb-cloud-manager',
  secretId: 'app',
  credentials: { clientSecret: 'SUPER-SECRET-VALUE' },
  issuedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-02-01T00:00:00.000Z',
  providerRef: 'ref-1',
  rotationId: 'rot-1',
};

test('one JSON line per event with time, host and pid, in a 0600 file; a wider existing file is narrowed', async () => {
  const file = join(dir, 'audit.jsonl');
  await writeFile(file, '', { mode: 0o644 });
  const sink = createAuditLog(file, { clock, log, host: 'h1', pid: 42 });
  await sink.record({ event: 'revoked', secretId: 'app', provider: 'p', providerRef: 'r', detail: 'stage previous' });
  await sink.record({ event: 'rekeyed', detail: 'key id abc' });
  expect(await lines(file)).toEqual([
    {
      time: '2026-01-02T03:04:05.000Z',
      event: 'revoked',
      secretId: 'app',
      provider: 'p',
      providerRef: 'r',
      detail: 'stage previous',
      host: 'h1',
      pid: 42,
    },
    { time: '2026-01-02T03:04:05.000Z', event: 'rekeyed', detail: 'key id abc', host: 'h1', pid: 42 },
  ]);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
});

test('a new audit file is created 0600', async () => {
  const file = join(dir, 'new.jsonl');
  await createAuditLog(file, { clock, log }).record({ event: 'adopted', secretId: 'app' });
  expect((await stat(file)).mode & 0o777).toBe(0o600);
});

test('wrapped vault and provider record stored, promoted, issued, verified, revoked without secret values', async () => {
  const file = join(dir, 'audit.jsonl');
  const sink = createAuditLog(file, { clock, log, host: 'h', pid: 1 });
  const vault = auditVault(
    {
      type: 'mem',
      read: async () => ({}),
      putPending: async (_k, v, r) => ({ versionId: r, value: v, stages: ['pending'], createdAt: v.issuedAt }),
      promote: async () => {},
      discardPending: async () => {},
      list: async () => [],
    } satisfies Vault,
    sink,
  );
  const provider = auditProvider(
    {
      type: 'mongodb-cloud-manager',
      limits: { minLifetimeMs: 1, maxLifetimeMs: 2, issueEffectOnOlder: { kind: 'none' }, expiresOnItsOwn: false },
      issue: async () => ({ ...value }),
      verify: async () => {},
      revoke: async () => {},
    } satisfies Provider,
    sink,
    'app',
  );
  const ctx = { secretId: 'app', rotationId: 'rot-1', log: console as never, clock };
  await provider.issue(ctx);
  await vault.putPending('app', value, 'rot-1');
  await provider.verify!(value, ctx);
  await vault.promote('app', 'rot-1', null);
  await provider.revoke!('ref-0', ctx);
  expect((await lines(file)).map((l) => [l.event, l.providerRef, l.rotationId])).toEqual([
    ['issued', 'ref-1', 'rot-1'],
    ['stored', 'ref-1', 'rot-1'],
    ['verified', 'ref-1', 'rot-1'],
    ['promoted', 'ref-1', 'rot-1'],
    ['revoked', 'ref-0', 'rot-1'],
  ]);
  expect(await readFile(file, 'utf8')).not.toContain('SUPER-SECRET-VALUE');
  expect(provider.limits.maxLifetimeMs).toBe(2);
});

test('a failed step is not audited', async () => {
  const file = join(dir, 'audit.jsonl');
  const provider = auditProvider(
    {
      type: 't',
      limits: { minLifetimeMs: 1, maxLifetimeMs: 2, issueEffectOnOlder: { kind: 'none' }, expiresOnItsOwn: true },
      issue: async () => {
        throw new Error('refused');
      },
    } satisfies Provider,
    createAuditLog(file, { clock, log }),
    'app',
  );
  await expect(provider.issue({ secretId: 'app', rotationId: 'r', log: console as never, clock })).rejects.toThrow('refused');
  await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('the config field names what to write', () => {
  expect(auditSchema.safeParse({ path: '' }).error?.issues[0]?.message).toMatch(/path of the audit log/);
  expect(auditSchema.safeParse({ path: 'a', extra: 1 }).success).toBe(false);
});

test('a failed write never fails the step: it is logged at error with the file and code', async () => {
  const errors: { obj: object; msg?: string }[] = [];
  const sink = createAuditLog(join(dir, 'missing-dir', 'audit.jsonl'), {
    clock,
    log: { error: (obj, msg) => errors.push({ obj, msg }) },
  });
  await expect(sink.record({ event: 'issued', secretId: 'app' })).resolves.toBeUndefined();
  expect(errors).toEqual([
    {
      obj: expect.objectContaining({ event: 'issued', code: 'ENOENT' }),
      msg: expect.stringMatching(/audit log .*missing-dir.* not written \(ENOENT\)/),
    },
  ]);
});
