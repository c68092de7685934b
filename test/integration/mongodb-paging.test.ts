/**
 * Paging and envelopes of the Cloud Manager Admin API over loopback: a list is read to the end
 * across pages (`pageNum`, `itemsPerPage` ≤ 500), and `envelope=true` answers ({status, content}
 * in a 200) are unwrapped, errors included.
 */
import { McmApi } from '../../providers/mongodb-cloud-manager/client';
import { digestPoolFor, resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import {
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { RotatorError } from '../../src/errors';

const ORG = generateOrgId();
let emu: McmEmulator;

afterEach(async () => {
  await emu.close();
  resetDigestPools();
});

async function setup(accounts: number): Promise<string[]> {
  const ids = Array.from({ length: accounts }, () => generateClientId());
  emu = await startMcmEmulator({ serviceAccounts: ids.map((clientId) => ({ orgId: ORG, clientId })) });
  return ids;
}

function api(envelope = false): McmApi {
  const key = emu.apiKeys[0]!;
  const base = `${emu.url}/api/public/v1.0`;
  return new McmApi(
    base,
    'cloud-manager',
    { kind: 'digest', pool: digestPoolFor(base, key.publicKey, key.privateKey) },
    { mode: 'api-key', orgId: ORG },
    envelope,
  );
}

const listPath = `/orgs/${ORG}/serviceAccounts`;
const pagesRead = () => emu.requests.filter((r) => r.op === 'listServiceAccounts' && r.status === 200).length;

describe('MongoDB lists follow every page', () => {
  it('reads a 3-page service-account list to the end (500 per page)', async () => {
    const ids = await setup(1_001);
    const items = (await api().listAll({ path: listPath, action: 'list service accounts' })) as { clientId: string }[];
    expect(items.map((a) => a.clientId).sort()).toEqual([...ids].sort());
    expect(pagesRead()).toBe(3);
  });

  it('reads small pages the same way, and the emulator refuses itemsPerPage above 500', async () => {
    const ids = await setup(5);
    const items = (await api().listAll({ path: listPath, action: 'list service accounts' }, 2)) as { clientId: string }[];
    expect(new Set(items.map((a) => a.clientId))).toEqual(new Set(ids));
    expect(pagesRead()).toBe(3);
    const err = await api()
      .call({ method: 'GET', path: `${listPath}?itemsPerPage=501`, action: 'list service accounts' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RotatorError);
    expect((err as RotatorError).details.status).toBe(400);
  });
});

describe('envelope=true answers', () => {
  it('unwraps a paged list and a created secret from their envelopes', async () => {
    const ids = await setup(3);
    const items = (await api(true).listAll({ path: listPath, action: 'list service accounts' }, 2)) as { clientId: string }[];
    expect(new Set(items.map((a) => a.clientId))).toEqual(new Set(ids));
    const created = await api(true).call({
      method: 'POST',
      path: `${listPath}/${ids[0]}/secrets`,
      body: { secretExpiresAfterHours: 8 },
      action: 'create a secret',
      holdsCredential: true,
    });
    expect(created.status).toBe(201);
    expect((created.data as { id: string }).id).toBe(emu.secretsOf(ids[0]!)[0]!.id);
    // The emulator records the inner status; the wire answer was a 200 envelope (created.status proves the unwrap).
    expect(emu.requests.filter((r) => r.op === 'createSecret').at(-1)!.status).toBe(201);
  });

  it('maps an enveloped error to the error of its inner status', async () => {
    await setup(1);
    const err = (await api(true)
      .call({ method: 'DELETE', path: `${listPath}/${generateClientId()}/secrets/${'a'.repeat(24)}`, action: 'delete a secret' })
      .catch((e: unknown) => e)) as RotatorError;
    expect(err).toBeInstanceOf(RotatorError);
    expect(err.details.status).toBe(404);
    expect(err.message).toContain('SERVICE_ACCOUNT_NOT_FOUND');
  });
});
