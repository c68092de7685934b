/**
 * The scale bench's emulator process (`test/bench/scale.ts` forks it): NCP STS, MongoDB Cloud
 * Manager and Secrets Manager on loopback with the same injected latency per request, in a
 * process of their own so their CPU does not count against the rotator under test. Driven over
 * the fork IPC channel; each message is answered with `{ id, ok, result | error }`.
 */
import { generateAccount, startNcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { generateApiKey, startMcmEmulator } from '../../providers/mongodb-cloud-manager/emulator';
import { startSecretsManagerEmulator } from '../../src/vaults/aws/emulator';

/** What the parent learns once the emulators listen (loopback only; none of it is a real secret). */
export interface EmulatorInfo {
  ncpUrl: string;
  mcmUrl: string;
  smUrl: string;
  ncp: { accessKey: string; secretKey: string };
  mcm: { publicKey: string; privateKey: string };
  aws: { accessKeyId: string; secretAccessKey: string };
}

/** Requests received so far, per emulator; Secrets Manager per operation too. */
export interface EmulatorCounts {
  ncp: number;
  mcm: number;
  sm: number;
  smByOperation: Record<string, number>;
}

export type EmulatorCommand =
  | { id: number; cmd: 'latency'; ms: number }
  | { id: number; cmd: 'serviceAccounts'; orgId: string; clientIds: string[] }
  | { id: number; cmd: 'counts' }
  | { id: number; cmd: 'close' };

async function main(): Promise<void> {
  const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? '20');
  const account = generateAccount();
  const apiKey = generateApiKey();
  const aws = { accessKeyId: 'AKIDSCALEBENCH', secretAccessKey: 'scale-bench-not-secret' };
  const ncp = await startNcpStsEmulator({ accounts: [account], latencyMs });
  const mcm = await startMcmEmulator({ apiKeys: [apiKey], latencyMs });
  const sm = await startSecretsManagerEmulator({ credentials: { [aws.accessKeyId]: aws.secretAccessKey }, latencyMs });
  const closeAll = () => Promise.allSettled([ncp.close(), mcm.close(), sm.close()]);

  const handle = async (msg: EmulatorCommand): Promise<unknown> => {
    switch (msg.cmd) {
      case 'latency':
        ncp.latencyMs = mcm.latencyMs = sm.latencyMs = msg.ms;
        return null;
      case 'serviceAccounts':
        for (const clientId of msg.clientIds) mcm.ensureServiceAccount({ orgId: msg.orgId, clientId });
        return null;
      case 'counts':
        return { ncp: ncp.count(), mcm: mcm.count(), sm: sm.count(), smByOperation: sm.counts() } satisfies EmulatorCounts;
      case 'close':
        // Answered first; the process ends once the servers closed and the channel is gone.
        setImmediate(() => void closeAll().then(() => process.disconnect?.()));
        return null;
    }
  };
  process.on('message', (msg: EmulatorCommand) => {
    handle(msg).then(
      (result) => process.send?.({ id: msg.id, ok: true, result }),
      (err: unknown) => process.send?.({ id: msg.id, ok: false, error: String(err) }),
    );
  });
  // The parent went away (crashed or killed): do not outlive it.
  process.on('disconnect', () => void closeAll().then(() => process.exit(0)));
  // A reply to a parent that is already gone has nowhere to go.
  process.on('error', () => undefined);
  const info: EmulatorInfo = {
    ncpUrl: ncp.url,
    mcmUrl: mcm.url,
    smUrl: sm.url,
    ncp: { accessKey: account.accessKey, secretKey: account.secretKey },
    mcm: apiKey,
    aws,
  };
  process.send?.({ id: 0, ok: true, result: info });
}

main().catch((err: unknown) => {
  process.stderr.write(`scale-emulators: ${String(err)}\n`);
  process.exit(1);
});
