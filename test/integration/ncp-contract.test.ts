import { ncpSts } from '../../providers/ncp-sts';
import { generateAccount, startNcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { systemClock } from '../../src/clock';
import { memoryLogger } from '../../src/log';
import { describeProviderContract } from '../provider-contract';

describeProviderContract('ncp-sts', async () => {
  const account = generateAccount();
  const emu = await startNcpStsEmulator({ accounts: [account] });
  const provider = ncpSts.create(
    {
      id: 'contract',
      credentials: { accessKey: account.accessKey, secretKey: account.secretKey },
      params: ncpSts.paramsSchema.parse({ endpoint: emu.url }),
    },
    { log: memoryLogger(), clock: systemClock },
  );
  return {
    provider,
    issueRequests: () => emu.count('POST', '/api/v1/credentials'),
    injectFault: (status, times) => emu.faults.push({ status, times, path: '/api/v1/credentials' }),
    knownSecrets: () => [account.secretKey, ...emu.issuedKeys().map((k) => emu.lookupSecret(k.accessKey)!)],
    close: () => emu.close(),
  };
});
