/**
 * The light half of the NCP STS provider (registry entry): schemas and environment names only.
 * The plugin (HTTP client, signing, emulator) is required by `load()` when a secret is rotated.
 */
import type { ProviderDescriptor, ProviderSchemas } from '../../src/types';
import { credentialsSchema, paramsSchema, type NcpCredentials, type NcpParams } from './schema';

export const ncpStsSchemas: ProviderSchemas<NcpCredentials, NcpParams> = {
  type: 'ncp-sts',
  credentialsSchema,
  paramsSchema,
  // What the NCP Terraform provider and ncloud tooling read from the environment.
  envNames: { accessKey: 'NCLOUD_ACCESS_KEY', keySecret: 'NCLOUD_SECRET_KEY' },
  // The schema defaults durationSec (DEFAULT_DURATION_SEC), so validated params always carry it.
  lifetime: { param: 'durationSec', ms: (params) => params.durationSec * 1000 },
};

export const ncpStsDescriptor: ProviderDescriptor<NcpCredentials, NcpParams> = {
  ...ncpStsSchemas,
  // Required on first use (CommonJS build; `import()` would need ESM paths).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  load: () => (require('./index') as typeof import('./index')).ncpSts,
};
