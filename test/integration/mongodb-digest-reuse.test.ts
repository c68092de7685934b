/**
 * Digest nonce reuse across one-off processes (issue 9 item 5) against the emulator over loopback:
 * a pool given the remembered challenge answers pre-emptively (one round trip instead of two),
 * a stale or refused nonce falls back to the normal challenge once, the emulator still rejects a
 * replayed (nonce, cnonce, nc), and two sequential one-off `rotate` runs: the second makes one
 * request fewer. A new process is modelled by a new pool (`resetDigestPools()`): the remembered
 * challenge lives only in the file.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DigestClient } from 'digest-fetch';
import { DigestPool, resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import { fileNonceCache } from '../../providers/mongodb-cloud-manager/nonce-cache';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
  type McmEmulatorOptions,
} from '../../providers/mongodb-cloud-manager/emulator';
import { ManualClock } from '../../src/clock';
import { runCli, configDir, oneMongoSecretYaml } from '../support/cli';

const ORG = generateOrgId();
const CLIENT = generateClientId();
const emulators: McmEmulator[] = [];
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rotator-digest-reuse-'));
  resetDigestPools();
});
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function emulator(options: McmEmulatorOptions = {}): Promise<McmEmulator> {
  const emu = await startMcmEmulator({ serviceAccounts: [{ orgId: ORG, clientId: CLIENT }], ...options });
  emulators.push(emu);
  return emu;
}

/** A pool as a new process builds it, remembering challenges in `file`. */
function processPool(emu: McmEmulator, file: string): DigestPool {
  const key = emu.apiKeys[0]!;
  return new DigestPool(key.publicKey, key.privateKey, 4, { origin: new URL(emu.url).origin, cache: fileNonceCache(file) });
}

const accountUrl = (emu: McmEmulator) => `${emu.url}/api/public/v1.0/orgs/${ORG}/serviceAccounts/${CLIENT}`;

describe('a remembered challenge', () => {
  it('lets the next process answer at once: 1 round trip instead of 2; the file is 0600 and holds no key', async () => {
    const emu = await emulator({ ncScope: 'client' });
    const file = join(dir, 'vault.json.mongodb-digest.json');
    const first = processPool(emu, file);
    expect((await first.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(first.stats.roundTrips).toBe(2);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = readFileSync(file, 'utf8');
    expect(stored).toContain('nonce=');
    expect(stored).not.toContain(emu.apiKeys[0]!.privateKey);

    const second = processPool(emu, file);
    expect((await second.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect((await second.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(second.stats).toEqual({ requests: 2, roundTrips: 2, clients: 1 });
    expect(emu.digest).toMatchObject({ challenges: 1, replays: 0, badResponses: 0 });
  });

  it('the emulator still rejects a replayed (nonce, cnonce, nc)', async () => {
    const emu = await emulator({ ncScope: 'client' });
    const file = join(dir, 'digest.json');
    await processPool(emu, file).request({ method: 'GET', url: accountUrl(emu) });
    const challenge = JSON.parse(readFileSync(file, 'utf8'))[new URL(emu.url).origin].challenge as string;
    const key = emu.apiKeys[0]!;
    const client = new DigestClient(key.publicKey, key.privateKey, { algorithm: 'MD5' });
    client.parseAuth(challenge);
    const headers = (client.addAuth(accountUrl(emu), { method: 'GET' }) as { headers: Record<string, string> }).headers;
    expect((await fetch(accountUrl(emu), { headers })).status).toBe(200);
    expect((await fetch(accountUrl(emu), { headers })).status).toBe(401);
    expect(emu.digest.replays).toBe(1);
  });

  it('a stale nonce costs the usual challenge once, and the new one is remembered', async () => {
    const clock = new ManualClock();
    const emu = await emulator({ ncScope: 'client', clock, nonceLifetimeMs: 60_000 });
    const file = join(dir, 'digest.json');
    await processPool(emu, file).request({ method: 'GET', url: accountUrl(emu) });
    clock.advance(61_000);
    const second = processPool(emu, file);
    expect((await second.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(second.stats.roundTrips).toBe(2);
    expect(emu.digest.stale).toBe(1);
    const third = processPool(emu, file);
    expect((await third.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(third.stats.roundTrips).toBe(1);
  });

  it('a server counting nc per nonce refuses reuse once (its 401 carries the new challenge: no extra round trip); later processes stop offering what it logs as replays', async () => {
    const emu = await emulator(); // ncScope 'nonce': a second client's nc=00000001 is a replay
    const file = join(dir, 'digest.json');
    await processPool(emu, file).request({ method: 'GET', url: accountUrl(emu) });
    const second = processPool(emu, file);
    expect((await second.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(second.stats.roundTrips).toBe(2); // refused with a new challenge, answered
    expect(emu.digest.replays).toBe(1);
    expect(JSON.parse(readFileSync(file, 'utf8'))[new URL(emu.url).origin]).toHaveProperty('refusedAtMs');
    const third = processPool(emu, file);
    expect((await third.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(third.stats.roundTrips).toBe(2);
    expect(emu.digest.replays).toBe(1); // the third process offered no remembered nonce
  });
});

describe('two sequential one-off rotate runs', () => {
  /** Requests the emulator received for the second of two `rotate` runs (each a fresh pool). */
  async function secondRunRequests(forgetBetween: boolean): Promise<number> {
    const key = generateApiKey();
    const emu = await emulator({ apiKeys: [key], ncScope: 'client' });
    const clientId = generateClientId();
    emu.ensureServiceAccount({ orgId: ORG, clientId, secrets: [] });
    const config = await configDir(oneMongoSecretYaml({ orgId: ORG, clientId, url: emu.url }));
    try {
      const env = { ROTATOR_VAULT_KEY: 'f'.repeat(64), MCM_PUBLIC_KEY: key.publicKey, MCM_PRIVATE_KEY: key.privateKey };
      expect((await runCli(['rotate', 'mongo', '-c', config.file], env)).code).toBe(0);
      const nonceFile = join(config.dir, 'vault', 'vault.json.mongodb-digest.json');
      expect(statSync(nonceFile).mode & 0o777).toBe(0o600);
      if (forgetBetween) rmSync(nonceFile);
      resetDigestPools(); // the next process starts with no client
      const before = emu.requests.length;
      expect((await runCli(['rotate', 'mongo', '-c', config.file, '--force'], env)).code).toBe(0);
      return emu.requests.length - before;
    } finally {
      await config.cleanup();
    }
  }

  it('the second process makes one request fewer than without the remembered challenge', async () => {
    const without = await secondRunRequests(true);
    const withReuse = await secondRunRequests(false);
    expect(withReuse).toBe(without - 1);
  });
});
