/**
 * Incident commands against the MongoDB emulator over loopback HTTP, with the file vault and an
 * audit log: revoke (previous, and current after a rotation), rollback (verified first, refused
 * once revoked, compare-and-swap against a concurrent promotion), adopt (verified; a credential
 * the provider refuses is not stored), confirmation rules, and the audit lines they leave.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Writable } from 'node:stream';
import { resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { main, type CliIo } from '../../src/cli/main';
import { systemClock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createRuntime } from '../../src/runtime';
import { rollbackSecret } from '../../src/incident/rollback';
import { rotateSecret } from '../../src/rotate';
import { rotationDeps } from '../../src/runtime';
import { createLogger } from '../../src/log';
import type { AuditLine } from '../../src/audit';
import { configDir } from '../support/cli';

const VAULT_KEY = 'e'.repeat(64);
const ORG = generateOrgId();
let emu: McmEmulator;
let env: NodeJS.ProcessEnv;
let dir: Awaited<ReturnType<typeof configDir>> | undefined;
let clientId: string;

beforeEach(async () => {
  const key = generateApiKey();
  emu = await startMcmEmulator({ apiKeys: [key] });
  env = {
    ROTATOR_VAULT_KEY: VAULT_KEY,
    MCM_PUBLIC_KEY: key.publicKey,
    MCM_PRIVATE_KEY: key.privateKey,
    ROTATOR_LOG_LEVEL: 'warn',
  };
  resetDigestPools();
  clientId = generateClientId();
  emu.ensureServiceAccount({ orgId: ORG, clientId });
  dir = await configDir(`
vault: { type: file, path: vault/vault.json }
audit: { path: audit.jsonl }
secrets:
  - id: app
    provider: mongodb-cloud-manager
    credentials: { publicKey: \${MCM_PUBLIC_KEY}, privateKey: \${MCM_PRIVATE_KEY} }
    params: { orgId: ${ORG}, clientId: ${clientId}, secretExpiresAfterHours: 72, baseUrl: ${emu.url}/api/public/v1.0 }
`);
});

afterEach(async () => {
  await emu.close();
  await dir?.cleanup();
  dir = undefined;
});

/** Runs the CLI in-process with `stdin` (default: an empty non-terminal stream). */
async function cli(args: string[], stdin?: NodeJS.ReadableStream & { isTTY?: boolean }) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) =>
    new Writable({
      write(chunk: Buffer, _e, done) {
        into.push(chunk.toString('utf8'));
        done();
      },
    });
  const input = stdin ?? Object.assign(new PassThrough(), { isTTY: false });
  if (!stdin) (input as PassThrough).end();
  const io: CliIo = { stdin: input, stdout: sink(out), stderr: sink(err), env, clock: systemClock, onSignal: () => () => {} };
  const code = await main(['node', 'rotator', ...args, '-c', dir!.file], io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const live = () => emu.secretsOf(clientId).map((s) => s.id);
const auditLines = async (): Promise<AuditLine[]> =>
  (await readFile(join(dir!.dir, 'audit.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditLine);
async function refs() {
  const current = await cli(['get', 'app', '--field', 'providerRef']);
  const previous = await cli(['get', 'app', '--stage', 'previous', '--field', 'providerRef']);
  return { current: current.stdout.trim(), previous: previous.code === 0 ? previous.stdout.trim() : undefined };
}
async function rotateTwice() {
  expect((await cli(['rotate', 'app'])).code).toBe(0);
  expect((await cli(['rotate', 'app', '--force'])).code).toBe(0);
  return refs();
}

test('revoke --stage previous: refused without --yes on a non-terminal, dry run changes nothing, then revoked at the provider and audited', async () => {
  const before = await rotateTwice();
  expect(live()).toEqual(expect.arrayContaining([before.current, before.previous]));

  const refused = await cli(['revoke', 'app']);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/pass --yes/);
  const dry = await cli(['revoke', 'app', '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`would revoke ${before.previous}`);
  expect(live()).toContain(before.previous);

  const done = await cli(['revoke', 'app', '--yes']);
  expect(done.code).toBe(0);
  expect(done.stdout).toContain(`revoked ${before.previous}`);
  expect(live()).toEqual([before.current]);
  const audit = await auditLines();
  expect(audit.at(-1)).toMatchObject({
    event: 'revoked',
    secretId: 'app',
    provider: 'mongodb-cloud-manager',
    providerRef: before.previous,
  });
  expect(audit.map((l) => l.event)).toEqual(expect.arrayContaining(['issued', 'stored', 'verified', 'promoted']));
  // No secret value in the audit log, and the log is 0600.
  const text = await readFile(join(dir!.dir, 'audit.jsonl'), 'utf8');
  for (const s of emu.secretsOf(clientId)) expect(text).not.toContain(s.value);
  expect((await stat(join(dir!.dir, 'audit.jsonl'))).mode & 0o777).toBe(0o600);

  // A rollback to a revoked credential is refused before anything changes.
  const rollback = await cli(['rollback', 'app', '--yes']);
  expect(rollback.code).toBe(2);
  expect(rollback.stderr).toMatch(/was revoked/);
  expect((await refs()).current).toBe(before.current);
});

test('revoke --stage current: rotates first, then revokes the old current', async () => {
  const before = await rotateTwice();
  const done = await cli(['revoke', 'app', '--stage', 'current', '--yes']);
  expect(done.code).toBe(0);
  const after = await refs();
  expect(after.current).not.toBe(before.current);
  expect(after.previous).toBe(before.current);
  expect(live()).not.toContain(before.current);
  expect(live()).toContain(after.current);
  expect(done.stdout).toContain(`revoked ${before.current}`);
});

test('rollback: verified at the provider, previous becomes current, audited; refused once the provider no longer accepts it', async () => {
  const before = await rotateTwice();
  const dry = await cli(['rollback', 'app', '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`would make ${before.previous} current again`);
  expect((await refs()).current).toBe(before.current);

  const done = await cli(['rollback', 'app', '--yes']);
  expect(done.code).toBe(0);
  const after = await refs();
  expect(after).toEqual({ current: before.previous, previous: before.current });
  expect((await auditLines()).at(-1)).toMatchObject({ event: 'rolled-back', providerRef: before.previous });

  // Someone deleted the (now) previous credential at the provider, behind the vault's back:
  // rolling back again is refused by verification and changes nothing.
  const log = createLogger({ level: 'silent' });
  const runtime = await createRuntime(loadConfig(dir!.file, { env }), { clock: systemClock, log, env });
  try {
    await runtime.target('app').provider.revoke!(before.current, {
      secretId: 'app',
      rotationId: 'outside',
      log,
      clock: systemClock,
    });
  } finally {
    await runtime.close();
  }
  expect(live()).not.toContain(before.current);
  const again = await cli(['rollback', 'app', '--yes']);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/no longer accepts the previous credential/);
  expect(await refs()).toEqual({ current: before.previous, previous: before.current });
});

test('rollback loses cleanly to a rotation promoted meanwhile (compare-and-swap)', async () => {
  const before = await rotateTwice();
  const log = createLogger({ level: 'silent' });
  const config = loadConfig(dir!.file, { env });
  const runtime = await createRuntime(config, { clock: systemClock, log, env });
  try {
    // Another process promotes a rotation between our read and our promote.
    const vault = runtime.vault;
    const racing = Object.create(vault) as typeof vault;
    racing.putPending = async (key, value, rotationId) => {
      const other = { ...runtime, vault };
      await rotateSecret(other.target('app'), rotationDeps(other, log, 'one-off'), { force: true });
      return vault.putPending(key, value, rotationId);
    };
    await expect(rollbackSecret({ ...runtime, vault: racing }, 'app', { dryRun: false, log })).rejects.toMatchObject({
      code: 'VAULT_CONFLICT',
      message: expect.stringMatching(/changed meanwhile/),
    });
    const state = await vault.read('app');
    expect(state.current?.value.providerRef).not.toBe(before.previous);
    expect(state.pending).toBeUndefined();
  } finally {
    await runtime.close();
  }
});

test('adopt: a credential that exists at the provider is verified and stored as current; one that fails verification is refused', async () => {
  emu.ensureServiceAccount({ orgId: ORG, clientId, secrets: [{ id: 'f'.repeat(24), value: 'mdb_sa_sk_adoptme' }] });
  const good = JSON.stringify({ credentials: { clientId, clientSecret: 'mdb_sa_sk_adoptme' }, providerRef: 'f'.repeat(24) });

  const bad = JSON.stringify({ credentials: { clientId, clientSecret: 'mdb_sa_sk_wrong' }, providerRef: 'f'.repeat(24) });
  const refused = await cli(['adopt', 'app', '--yes'], streamOf(bad));
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/not adopted: the provider does not accept/);
  expect(refused.stderr).not.toContain('mdb_sa_sk_wrong');
  expect((await cli(['get', 'app'])).code).not.toBe(0);

  const noYes = await cli(['adopt', 'app'], streamOf(good));
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toMatch(/pass --yes/);

  const file = join(dir!.dir, 'cred.json');
  await writeFile(file, good, { mode: 0o600 });
  const done = await cli(['adopt', 'app', '--from-file', file, '--yes']);
  expect(done.code).toBe(0);
  expect(done.stdout).toContain(`adopted ${'f'.repeat(24)} as current`);
  expect(done.stdout).not.toContain('mdb_sa_sk_adoptme');
  expect((await cli(['get', 'app', '--field', 'clientSecret'])).stdout.trim()).toBe('mdb_sa_sk_adoptme');
  const line = (await auditLines()).at(-1)!;
  expect(line).toMatchObject({ event: 'adopted', providerRef: 'f'.repeat(24) });
  expect(JSON.stringify(line)).not.toContain('mdb_sa_sk_adoptme');

  // Rotation takes over from the adopted credential.
  expect((await cli(['rotate', 'app', '--force'])).code).toBe(0);
  expect((await refs()).previous).toBe('f'.repeat(24));
});

function streamOf(text: string): NodeJS.ReadableStream & { isTTY?: boolean } {
  const s = Object.assign(new PassThrough(), { isTTY: false });
  s.end(text);
  return s;
}

test('on a terminal the command asks: anything but "yes" changes nothing', async () => {
  const before = await rotateTwice();
  const terminal = (answer: string) => {
    const s = Object.assign(new PassThrough(), { isTTY: true });
    s.end(answer);
    return s;
  };
  const declined = await cli(['revoke', 'app'], terminal('no\n'));
  expect(declined.code).toBe(2);
  expect(declined.stderr).toContain('Revoke the previous credential of app?');
  expect(declined.stderr).toMatch(/not confirmed; nothing was done/);
  expect(live()).toContain(before.previous);

  const accepted = await cli(['revoke', 'app'], terminal('yes\n'));
  expect(accepted.code).toBe(0);
  expect(live()).not.toContain(before.previous);
});
