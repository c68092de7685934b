/**
 * The seam between the vault and AWS: one method per Secrets Manager operation the vault uses,
 * with the SDK's own input and output types (like external-secrets' SMInterface), so the vault
 * is type-checked against the real API and tests can replace the client. Method names are the
 * AWS operation names, which is also how requests are counted.
 */
import type * as SM from '@aws-sdk/client-secrets-manager';
import { secrets as processSecrets } from '../../redact';
import type { Clock, Logger } from '../../types';

export interface SecretsManagerSdk {
  CreateSecret(input: SM.CreateSecretCommandInput): Promise<SM.CreateSecretCommandOutput>;
  DescribeSecret(input: SM.DescribeSecretCommandInput): Promise<SM.DescribeSecretCommandOutput>;
  GetSecretValue(input: SM.GetSecretValueCommandInput): Promise<SM.GetSecretValueCommandOutput>;
  BatchGetSecretValue(input: SM.BatchGetSecretValueCommandInput): Promise<SM.BatchGetSecretValueCommandOutput>;
  PutSecretValue(input: SM.PutSecretValueCommandInput): Promise<SM.PutSecretValueCommandOutput>;
  UpdateSecretVersionStage(input: SM.UpdateSecretVersionStageCommandInput): Promise<SM.UpdateSecretVersionStageCommandOutput>;
  ListSecrets(input: SM.ListSecretsCommandInput): Promise<SM.ListSecretsCommandOutput>;
  TagResource(input: SM.TagResourceCommandInput): Promise<SM.TagResourceCommandOutput>;
  UntagResource(input: SM.UntagResourceCommandInput): Promise<SM.UntagResourceCommandOutput>;
  close(): void;
}

export type SdkOperation = Exclude<keyof SecretsManagerSdk, 'close'>;
export type SdkInput<K extends SdkOperation> = Parameters<SecretsManagerSdk[K]>[0];
export type SdkOutput<K extends SdkOperation> = Awaited<ReturnType<SecretsManagerSdk[K]>>;

/**
 * The SDK behind {@link SecretsManagerSdk}. Required here, not imported at the top, so that the
 * ~100 ms SDK is loaded only when this vault is configured. maxAttempts 1: the engine retries
 * with its own back-off, so requests are counted once and never multiplied.
 */
export function sdkApi(config: { region: string; endpoint?: string; credentials?: AwsCredentials }): SecretsManagerSdk {
  // The SDK warns on Node 20 that its future versions will need Node 22, on stderr, at every
  // command. rotator pins the SDK in its lockfile, so an operator can do nothing about it; it is
  // silenced unless the operator set the variable themselves.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
  const client = new sdk.SecretsManagerClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 20_000 },
  });
  const send = <K extends SdkOperation>(Command: new (input: SdkInput<K>) => unknown) =>
    ((input: SdkInput<K>) => client.send(new Command(input) as never)) as SecretsManagerSdk[K];
  return {
    CreateSecret: send<'CreateSecret'>(sdk.CreateSecretCommand),
    DescribeSecret: send<'DescribeSecret'>(sdk.DescribeSecretCommand),
    GetSecretValue: send<'GetSecretValue'>(sdk.GetSecretValueCommand),
    BatchGetSecretValue: send<'BatchGetSecretValue'>(sdk.BatchGetSecretValueCommand),
    PutSecretValue: send<'PutSecretValue'>(sdk.PutSecretValueCommand),
    UpdateSecretVersionStage: send<'UpdateSecretVersionStage'>(sdk.UpdateSecretVersionStageCommand),
    ListSecrets: send<'ListSecrets'>(sdk.ListSecretsCommand),
    TagResource: send<'TagResource'>(sdk.TagResourceCommand),
    UntagResource: send<'UntagResource'>(sdk.UntagResourceCommand),
    close: () => client.destroy(),
  };
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsVaultDeps {
  clock: Clock;
  log: Logger;
  /** Explicit credentials instead of the SDK's default chain. */
  credentials?: AwsCredentials;
}

/**
 * Credentials from the environment the runtime was given (the CLI's injected env), when it has
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; otherwise {} and the SDK's default chain
 * (environment, profiles, SSO, container and instance roles) decides.
 */
export function credentialsFromEnv(env: Record<string, string | undefined> | undefined): { credentials?: AwsCredentials } {
  const accessKeyId = env?.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env?.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return {};
  processSecrets.add(secretAccessKey, env?.AWS_SESSION_TOKEN);
  return {
    credentials: { accessKeyId, secretAccessKey, ...(env?.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) },
  };
}
