/**
 * The light half of the MongoDB Cloud Manager / Atlas provider (registry entry): schemas, the
 * account key and environment names. The plugin (Digest/OAuth clients, emulator) is required by
 * `load()` when a secret is rotated.
 */
import type { ProviderDescriptor, ProviderSchemas } from '../../src/types';
import {
  ATLAS_V2_BASE_URL,
  CLOUD_MANAGER_BASE_URL,
  credentialsSchema,
  paramsSchema,
  type McmCredentials,
  type McmParams,
} from './schema';

export const mongodbCloudManagerSchemas: ProviderSchemas<McmCredentials, McmParams> = {
  type: 'mongodb-cloud-manager',
  credentialsSchema,
  paramsSchema,
  // Service account ids are unique per MongoDB installation (its origin).
  accountOf: (params) =>
    `${new URL(params.baseUrl ?? (params.api === 'atlas-v2' ? ATLAS_V2_BASE_URL : CLOUD_MANAGER_BASE_URL)).origin} ${params.clientId}`,
  // What the Atlas CLI reads for a service account:
  // https://www.mongodb.com/docs/atlas/cli/current/atlas-cli-env-variables/
  envNames: { clientId: 'MONGODB_ATLAS_CLIENT_ID', clientSecret: 'MONGODB_ATLAS_CLIENT_SECRET' },
  // The service account's id is no secret (it names the account in every API path): logs, `get`
  // and errors show it; clientSecret is scrubbed.
  publicFields: ['clientId'],
  // Required by the schema (no default): each issued secret expires this many hours after creation.
  lifetime: { param: 'secretExpiresAfterHours', ms: (params) => params.secretExpiresAfterHours * 3_600_000 },
};

export const mongodbCloudManagerDescriptor: ProviderDescriptor<McmCredentials, McmParams> = {
  ...mongodbCloudManagerSchemas,
  // Required on first use (CommonJS build; `import()` would need ESM paths).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  load: () => (require('./index') as typeof import('./index')).mongodbCloudManager,
};
