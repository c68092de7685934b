/**
 * The operator's path end to end against the MongoDB emulator over loopback HTTP, with the file
 * vault: making room past pre-existing secrets (acceptance B), twenty accounts behind one API key
 * rotated concurrently (acceptance C, Digest round trips measured), the previous secret deleted
 * after its grace period, and self-rotation from the vault's current secret.
 */
import { digestStats, resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmApiKey,
  type McmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { systemClock } from '../../src/clock';
import type { Clock } from '../../src/types';
import { runCli, configDir } from '../support/cli';

const VAULT_KEY = 'd'.repeat(64);
const ORG = generateOrgId();

let emu: McmEmulator;
let key: McmApiKey;
let dir: Awaited<ReturnType<typeof configDir>> | undefined;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  key = generateApiKey();
  emu = await startMcmEmulator({ apiKeys: [key] });
  env = { ROTATOR_VAULT_KEY: VAULT_KEY, MCM_PUBLIC_KEY: key.publicKey, MCM_PRIVATE_KEY: key.privateKey };
  resetDigestPools();
});

afterEach(async () => {
  await emu.close();
  await dir?.cleanup();
  dir = undefined;
});

function secretYaml(id: string, clientId: string, extra = ''): string {
  return `
  - id: ${id}
    provider: mongodb-cloud-manager
    credentials: { publicKey: \${MCM_PUBLIC_KEY}, privateKey: \${MCM_PRIVATE_KEY} }
    params: { orgId: ${ORG}, clientId: ${clientId}, secretExpiresAfterHours: 72, baseUrl: ${emu.url}/api/public/v1.0${extra} }`;
}

async function writeConfig(secretsYaml: string, concurrency = 4): Promise<string> {
  dir = await configDir(`
vault: { type: file, path: vault/vault.json }
concurrency: ${concurrency}
secrets:${secretsYaml}
`);
  return dir.file;
}

async function vaultRefs(file: string, id: string): Promise<{ current?: string; previous?: string }> {
  const current = await runCli(['get', id, '-c', file, '--field', 'providerRef'], env);
  const previous = await runCli(['get', id, '-c', file, '--stage', 'previous', '--field', 'providerRef'], env);
  return {
    ...(current.code === 0 ? { current: current.stdout.trim() } : {}),
    ...(previous.code === 0 ? { previous: previous.stdout.trim() } : {}),
  };
}

/** The wall clock moved ahead by `ms`: the engine sees the grace period as passed. */
function ahead(ms: number): Clock {
  return { now: () => Date.now() + ms, sleep: (d, s) => systemClock.sleep(d, s) };
}

test('acceptance B: two pre-existing secrets unknown to the vault; rotate makes room, never deleting the current', async () => {
  const clientId = generateClientId();
  const now = Date.now();
  emu.ensureServiceAccount({
    orgId: ORG,
    clientId,
    secrets: [
      { id: 'a'.repeat(24), createdAtMs: now - 2 * 86_400_000, expiresAtMs: now + 30 * 86_400_000 },
      { id: 'b'.repeat(24), createdAtMs: now - 86_400_000, expiresAtMs: now + 30 * 86_400_000 },
    ],
  });
  const file = await writeConfig(secretYaml('mongo-ci', clientId));

  const first = await runCli(['rotate', 'mongo-ci', '-c', file], env);
  expect(first.code).toBe(0);
  const afterFirst = await vaultRefs(file, 'mongo-ci');
  // The oldest unknown secret made room; the other pre-existing one is untouched.
  expect(
    emu
      .secretsOf(clientId)
      .map((s) => s.id)
      .sort(),
  ).toEqual(['b'.repeat(24), afterFirst.current!].sort());

  for (let i = 0; i < 3; i++) {
    const before = await vaultRefs(file, 'mongo-ci');
    // Back to back: making room deletes the previous secret inside its grace period (--force).
    const run = await runCli(['rotate', 'mongo-ci', '--force', '-c', file], env);
    expect(run.code).toBe(0);
    const after = await vaultRefs(file, 'mongo-ci');
    const live = emu.secretsOf(clientId).map((s) => s.id);
    expect(live).toHaveLength(2);
    // The secret that was current when the rotation started survived it (now previous).
    expect(live).toContain(before.current);
    expect(after.previous).toBe(before.current);
    expect(live).toContain(after.current);
  }
  expect(emu.secretsOf(clientId).map((s) => s.id)).not.toContain('b'.repeat(24));
});

test('acceptance C: 20 service accounts behind one API key, rotate --all with concurrency 8', async () => {
  const clientIds = Array.from({ length: 20 }, () => generateClientId());
  for (const clientId of clientIds) emu.ensureServiceAccount({ orgId: ORG, clientId });
  const file = await writeConfig(clientIds.map((c, i) => secretYaml(`mongo-${i}`, c)).join(''), 8);
  // Some latency so that API calls of concurrent rotations overlap (the file vault serializes
  // its own writes): the pool then runs several Digest clients at once.
  emu.latencyMs = 25;

  const run = await runCli(['rotate', '--all', '-c', file], env);
  expect(run.code).toBe(0);
  for (let i = 0; i < 20; i++) expect(run.stdout).toMatch(new RegExp(`^mongo-${i}: rotated`, 'm'));
  for (const clientId of clientIds) expect(emu.secretsOf(clientId)).toHaveLength(1);
  expect(emu.activeTokenCount()).toBe(0);
  expect(emu.digest.replays).toBe(0);

  const stats = digestStats();
  const afterFirst = (stats.roundTrips - 2 * stats.clients) / (stats.requests - stats.clients);
  console.log(
    `acceptance C digest: ${stats.requests} requests, ${stats.roundTrips} round trips, ${stats.clients} clients; ` +
      `${(stats.roundTrips / stats.requests).toFixed(3)} round trips per request overall, ${afterFirst.toFixed(3)} after the first per client`,
  );
  // Every challenge is the first request of a client: one extra round trip per client, none after.
  expect(stats.roundTrips - stats.requests).toBe(stats.clients);
  expect(afterFirst).toBe(1);
  expect(stats.clients).toBeLessThanOrEqual(4);
  // What the emulator saw matches what the adapter counted.
  const apiOps = emu.requests.filter((r) => r.op !== 'token' && r.op !== 'revoke');
  expect(apiOps).toHaveLength(stats.roundTrips);
  expect(emu.digest.challenges).toBe(stats.clients);
});

test('revokePreviousAfter: 1s — the previous secret is deleted at the emulator once the grace has passed', async () => {
  const clientId = generateClientId();
  emu.ensureServiceAccount({ orgId: ORG, clientId });
  const file = await writeConfig(secretYaml('mongo-ci', clientId, ', revokePreviousAfter: 1s'));

  expect((await runCli(['rotate', 'mongo-ci', '-c', file], env)).code).toBe(0);
  expect((await runCli(['rotate', 'mongo-ci', '-c', file], env)).code).toBe(0);
  const refs = await vaultRefs(file, 'mongo-ci');
  // Right after the promotion the grace has not passed: both are live.
  expect(
    emu
      .secretsOf(clientId)
      .map((s) => s.id)
      .sort(),
  ).toEqual([refs.current!, refs.previous!].sort());

  const envOut = await runCli(['get', 'mongo-ci', '-c', file, '--format', 'env'], env);
  expect(envOut.stdout).toMatch(
    new RegExp(`^MONGODB_ATLAS_CLIENT_ID=${clientId}\nMONGODB_ATLAS_CLIENT_SECRET=mdb_sa_sk_[0-9a-f]+\n$`),
  );

  const later = await runCli(['rotate', 'mongo-ci', '--if-due', '-c', file], env, ahead(5_000));
  expect(later.code).toBe(0);
  expect(emu.secretsOf(clientId).map((s) => s.id)).toEqual([refs.current]);
});

test('revokePreviousAfter: never — the previous secret stays until it blocks a slot', async () => {
  const clientId = generateClientId();
  emu.ensureServiceAccount({ orgId: ORG, clientId });
  const file = await writeConfig(secretYaml('mongo-ci', clientId, ', revokePreviousAfter: never'));
  expect((await runCli(['rotate', 'mongo-ci', '-c', file], env)).code).toBe(0);
  expect((await runCli(['rotate', 'mongo-ci', '-c', file], env)).code).toBe(0);
  expect((await runCli(['rotate', 'mongo-ci', '--if-due', '-c', file], env, ahead(2 * 86_400_000))).code).toBe(0);
  expect(emu.secretsOf(clientId)).toHaveLength(2);
});

test('self-rotation through the CLI: bootstrap secret first, then the vault current authenticates', async () => {
  const clientId = generateClientId();
  const bootstrap = `mdb_sa_sk_${'1'.repeat(32)}`;
  emu.ensureServiceAccount({ orgId: ORG, clientId, secrets: [{ id: 'c'.repeat(24), value: bootstrap }] });
  dir = await configDir(`
vault: { type: file, path: vault/vault.json }
secrets:
  - id: mongo-self
    provider: mongodb-cloud-manager
    credentials: { clientSecret: \${MCM_BOOTSTRAP_SECRET} }
    params: { orgId: ${ORG}, clientId: ${clientId}, secretExpiresAfterHours: 72, baseUrl: ${emu.url}/api/public/v1.0, revokePreviousAfter: 1s }
`);
  const selfEnv = { ROTATOR_VAULT_KEY: VAULT_KEY, MCM_BOOTSTRAP_SECRET: bootstrap };
  const first = await runCli(['rotate', 'mongo-self', '-c', dir.file], selfEnv);
  expect(first.code).toBe(0);
  const second = await runCli(['rotate', 'mongo-self', '-c', dir.file], selfEnv);
  expect(second.code).toBe(0);
  // The bootstrap secret made room for the second rotation: only vault-held secrets remain.
  const live = emu.secretsOf(clientId);
  expect(live.map((s) => s.value)).not.toContain(bootstrap);
  expect(live).toHaveLength(2);
  expect(emu.requests.every((r) => r.auth !== 'digest')).toBe(true);
  expect([first, second].map((r) => r.stdout + r.stderr).join('\n')).not.toContain(bootstrap);
});

test('self-rotation bootstrap with the account full: the bootstrap secret is never deleted; rotation is refused with what to do', async () => {
  const clientId = generateClientId();
  const bootstrap = `mdb_sa_sk_${'2'.repeat(32)}`;
  // The bootstrap secret is the older one: "oldest unknown first" would have picked it.
  emu.ensureServiceAccount({
    orgId: ORG,
    clientId,
    secrets: [
      { id: 'd'.repeat(24), value: bootstrap },
      { id: 'e'.repeat(24), value: `mdb_sa_sk_${'3'.repeat(32)}` },
    ],
  });
  dir = await configDir(`
vault: { type: file, path: vault/vault.json }
secrets:
  - id: mongo-self
    provider: mongodb-cloud-manager
    credentials: { clientSecret: \${MCM_BOOTSTRAP_SECRET} }
    params: { orgId: ${ORG}, clientId: ${clientId}, secretExpiresAfterHours: 72, baseUrl: ${emu.url}/api/public/v1.0 }
`);
  const selfEnv = { ROTATOR_VAULT_KEY: VAULT_KEY, MCM_BOOTSTRAP_SECRET: bootstrap };
  const refused = await runCli(['rotate', 'mongo-self', '-c', dir.file], selfEnv);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/rotator authenticates with one of them.*delete the one not in use/);
  expect(emu.secretsOf(clientId).map((s) => s.value)).toContain(bootstrap);
  expect(emu.secretsOf(clientId)).toHaveLength(2);
});
