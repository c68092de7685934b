import { mongodbCloudManager } from '../../providers/mongodb-cloud-manager';
import { resetDigestPools } from '../../providers/mongodb-cloud-manager/digest';
import { generateClientId, generateOrgId, startMcmEmulator } from '../../providers/mongodb-cloud-manager/emulator';
import { systemClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import { describeProviderContract } from '../provider-contract';

describeProviderContract('mongodb-cloud-manager', async () => {
  const orgId = generateOrgId();
  const clientId = generateClientId();
  const emu = await startMcmEmulator({ serviceAccounts: [{ orgId, clientId }] });
  const key = emu.apiKeys[0]!;
  const provider = mongodbCloudManager.create(
    {
      id: 'contract',
      credentials: { publicKey: key.publicKey, privateKey: key.privateKey },
      params: mongodbCloudManager.paramsSchema.parse({
        orgId,
        clientId,
        secretExpiresAfterHours: 72,
        baseUrl: `${emu.url}/api/public/v1.0`,
      }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
  return {
    provider,
    // A Digest challenge (401 to an unauthenticated request) is part of one logical request.
    issueRequests: () => emu.requests.filter((r) => r.op === 'createSecret' && !(r.status === 401 && r.auth === 'none')).length,
    injectFault: (status, times) => emu.faults.push({ op: 'createSecret', status, times }),
    knownSecrets: () => [key.privateKey, ...emu.secretsOf(clientId).map((s) => s.value)],
    unknownRef: 'f'.repeat(24),
    close: async () => {
      await emu.close();
      resetDigestPools();
    },
  };
});
