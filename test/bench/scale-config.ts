/**
 * The scale bench's configuration, written as a user would write it: half NCP STS secrets (one
 * master key), half MongoDB secrets (one service account each, one API key), every endpoint
 * pointed at the bench's emulator process. Master credentials come from the environment.
 */
import { generateClientId, generateOrgId } from '../../providers/mongodb-cloud-manager/emulator';
import type { EmulatorInfo } from './scale-emulators';

export type BenchVault = 'file' | 'aws';

export interface BenchConfig {
  yaml: string;
  orgId: string;
  /** The MongoDB service accounts the emulator must know before the run. */
  clientIds: string[];
}

export function benchConfig(
  emu: EmulatorInfo,
  options: { n: number; concurrency: number; vault: BenchVault; httpPort?: number; awsPrefix?: string },
): BenchConfig {
  const orgId = generateOrgId();
  const clientIds: string[] = [];
  const lines = [
    options.vault === 'file'
      ? 'vault: { type: file, path: vault/vault.json }'
      : `vault: { type: aws-secrets-manager, region: us-east-1, endpoint: "${emu.smUrl}", prefix: "${options.awsPrefix ?? 'bench/'}" }`,
    `concurrency: ${options.concurrency}`,
    ...(options.httpPort !== undefined ? [`http: { port: ${options.httpPort} }`] : []),
    'secrets:',
  ];
  const width = String(options.n).length;
  for (let i = 0; i < options.n; i++) {
    const n = String(i).padStart(width, '0');
    if (i % 2 === 0) {
      lines.push(
        `  - id: ncp-${n}`,
        '    provider: ncp-sts',
        '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
        `    params: { durationSec: 3600, endpoint: "${emu.ncpUrl}" }`,
      );
    } else {
      const clientId = generateClientId();
      clientIds.push(clientId);
      lines.push(
        `  - id: mdb-${n}`,
        '    provider: mongodb-cloud-manager',
        '    credentials: { publicKey: ${MCM_PUBLIC_KEY}, privateKey: ${MCM_PRIVATE_KEY} }',
        `    params: { orgId: ${orgId}, clientId: ${clientId}, secretExpiresAfterHours: 72, baseUrl: "${emu.mcmUrl}/api/public/v1.0" }`,
      );
    }
  }
  return { yaml: `${lines.join('\n')}\n`, orgId, clientIds };
}

/** The environment the CLI runs with: the master credentials and the vault key, nothing else secret. */
export function benchEnv(emu: EmulatorInfo): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ROTATOR_VAULT_KEY: 'b'.repeat(64),
    ROTATOR_LOG_LEVEL: 'warn',
    NCP_ACCESS_KEY: emu.ncp.accessKey,
    NCP_SECRET_KEY: emu.ncp.secretKey,
    MCM_PUBLIC_KEY: emu.mcm.publicKey,
    MCM_PRIVATE_KEY: emu.mcm.privateKey,
    AWS_ACCESS_KEY_ID: emu.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emu.aws.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
}
