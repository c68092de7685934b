/**
 * The Digest adapter (digest-fetch behind providers/mongodb-cloud-manager/digest.ts) against the
 * emulator over real HTTP: challenge cost, nonce reuse, stale nonces, nc under concurrency.
 */
import { DigestPool } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
  type McmEmulatorOptions,
} from '../../providers/mongodb-cloud-manager/emulator';
import { ManualClock } from '../../src/clock';

const ORG = generateOrgId();
const CLIENT = generateClientId();

const emulators: McmEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

async function emulator(options: McmEmulatorOptions = {}): Promise<McmEmulator> {
  const emu = await startMcmEmulator({ serviceAccounts: [{ orgId: ORG, clientId: CLIENT }], ...options });
  emulators.push(emu);
  return emu;
}

function pool(emu: McmEmulator, size?: number): DigestPool {
  const key = emu.apiKeys[0]!;
  return new DigestPool(key.publicKey, key.privateKey, size);
}

const accountUrl = (emu: McmEmulator) => `${emu.url}/api/public/v1.0/orgs/${ORG}/serviceAccounts/${CLIENT}`;

describe('digest adapter against the emulator', () => {
  it('pays one challenge: 2 round trips for the first request, 1 for each next one', async () => {
    const emu = await emulator();
    const p = pool(emu);
    const first = await p.request({ method: 'GET', url: accountUrl(emu) });
    expect(first.status).toBe(200);
    expect(p.stats).toEqual({ requests: 1, roundTrips: 2, clients: 1 });
    for (let i = 0; i < 5; i++) expect((await p.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(p.stats).toEqual({ requests: 6, roundTrips: 7, clients: 1 });
    expect(emu.digest).toMatchObject({ challenges: 1, replays: 0, badResponses: 0 });
  });

  it('answers the documented challenge typo op="auth"', async () => {
    const emu = await emulator({ challengeQopParam: 'op' });
    const p = pool(emu);
    expect((await p.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect((await p.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(p.stats.roundTrips).toBe(3);
  });

  it('recovers a stale nonce with one re-challenge', async () => {
    const clock = new ManualClock();
    const emu = await emulator({ clock, nonceLifetimeMs: 60_000 });
    const p = pool(emu);
    await p.request({ method: 'GET', url: accountUrl(emu) });
    clock.advance(61_000);
    const res = await p.request({ method: 'GET', url: accountUrl(emu) });
    expect(res.status).toBe(200);
    expect(emu.digest.stale).toBe(1);
    // 2 (first) + 2 (stale answer, then the re-signed request)
    expect(p.stats.roundTrips).toBe(4);
    expect((await p.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(p.stats.roundTrips).toBe(5);
  });

  it('runs 20 concurrent requests over the pool without an nc replay', async () => {
    const emu = await emulator({ latencyMs: 5 });
    const p = pool(emu, 4);
    const results = await Promise.all(Array.from({ length: 20 }, () => p.request({ method: 'GET', url: accountUrl(emu) })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(emu.digest.replays).toBe(0);
    expect(p.stats.clients).toBeLessThanOrEqual(4);
    // Each client pays one challenge; every other request is one round trip.
    expect(p.stats.roundTrips).toBe(20 + p.stats.clients);
  });

  it('returns the 401 after one challenge when the key is wrong (no loop)', async () => {
    const emu = await emulator();
    const wrong = new DigestPool(emu.apiKeys[0]!.publicKey, generateApiKey().privateKey);
    const res = await wrong.request({ method: 'GET', url: accountUrl(emu) });
    expect(res.status).toBe(401);
    expect(wrong.stats.roundTrips).toBe(2);
    expect(JSON.parse(res.text)).toMatchObject({ error: 401, errorCode: 'UNAUTHORIZED' });
  });

  it('stops on the abort signal', async () => {
    const emu = await emulator({ latencyMs: 2_000 });
    const p = pool(emu);
    const controller = new AbortController();
    const pending = p.request({ method: 'GET', url: accountUrl(emu), signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutdown')), 20);
    await expect(pending).rejects.toBeDefined();
  });
});

describe('emulator Digest checks', () => {
  it('rejects a repeated nc for a nonce (replay); the client re-challenges once and succeeds', async () => {
    const emu = await emulator();
    const p = pool(emu);
    await p.request({ method: 'GET', url: accountUrl(emu) });
    // Reach into the one client and make it offer the nc it just used again.
    const slot = (p as unknown as { slots: { client: { digest: { nc: number } } }[] }).slots[0]!;
    slot.client.digest.nc -= 1;
    const res = await p.request({ method: 'GET', url: accountUrl(emu) });
    expect(res.status).toBe(200);
    expect(emu.digest.replays).toBe(1);
    expect(emu.digest.challenges).toBe(2);
  });

  it('after a dropped connection the next request does not replay the nc', async () => {
    const emu = await emulator();
    const p = pool(emu);
    await p.request({ method: 'GET', url: accountUrl(emu) });
    emu.dropConnections(1);
    await expect(p.request({ method: 'GET', url: accountUrl(emu) })).rejects.toBeDefined();
    expect((await p.request({ method: 'GET', url: accountUrl(emu) })).status).toBe(200);
    expect(emu.digest.replays).toBe(0);
  });
});
