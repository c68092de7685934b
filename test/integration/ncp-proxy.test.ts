/**
 * A proxy in the environment (common on CI runners and corporate hosts) must not capture
 * requests to the loopback emulators: `npm start` and the tests would break, and the proxy would
 * see every signed request.
 */
import { ncpSts } from '../../providers/ncp-sts';
import { startNcpStsEmulator, generateAccount } from '../../providers/ncp-sts/emulator';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';

const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy };
afterAll(() => {
  for (const [k, v] of Object.entries(saved))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

test('HTTP_PROXY pointing nowhere does not affect loopback endpoints', async () => {
  process.env.HTTP_PROXY = 'http://127.0.0.1:9';
  process.env.http_proxy = 'http://127.0.0.1:9';
  const account = generateAccount();
  const emu = await startNcpStsEmulator({ accounts: [account] });
  try {
    const provider = ncpSts.create(
      {
        id: 'p',
        credentials: { accessKey: account.accessKey, secretKey: account.secretKey },
        params: { durationSec: 900, endpoint: emu.url },
      },
      { log: silentLogger, clock: systemClock },
    );
    const issued = await provider.issue({ secretId: 'p', rotationId: 'r', log: silentLogger, clock: systemClock });
    expect(emu.issuedKeys().map((k) => k.accessKey)).toEqual([issued.providerRef]);
  } finally {
    await emu.close();
  }
});
