/**
 * The starter configuration `rotator init` writes: a commented rotator.config.yaml with a vault,
 * one secret per provider and the editor's schema line. Pure: the caller (the CLI) decides where
 * the JSON Schema lives and writes the file, refusing to overwrite one that exists.
 *
 * Contract: the text passes `loadConfig(…, { sandbox: true })` with an empty environment, and
 * without sandbox it fails only for the master-credential variables it names (NCP_ACCESS_KEY,
 * NCP_SECRET_KEY, MCM_PUBLIC_KEY, MCM_PRIVATE_KEY): credentials are never literals in the file.
 * test/unit/init-template.test.ts holds it to this, and to one secret per registered provider.
 */

export type StarterVault = 'file' | 'aws-secrets-manager';

export const STARTER_VAULTS: readonly StarterVault[] = ['file', 'aws-secrets-manager'];

export interface StarterConfigOptions {
  /**
   * Where editors find the JSON Schema (`# yaml-language-server: $schema=…`): a URL, or a path
   * absolute or relative to the config file, e.g. the installed package's
   * `config/rotator.schema.json`.
   */
  schema: string;
  /** The vault: the embedded encrypted file (default) or AWS Secrets Manager. */
  vault?: StarterVault;
  /** AWS region of the Secrets Manager vault. Default: eu-central-1. */
  region?: string;
}

/** One secret of a provider, indented as an item of `secrets:`. Keyed by the plugin's `type`. */
export const STARTER_SECRETS: Readonly<Record<string, string>> = {
  'ncp-sts': `  - id: ncp-deployer # the name programs use: rotator get ncp-deployer
    provider: ncp-sts # NAVER Cloud temporary credentials (STS)
    credentials: # a sub-account key allowed to use STS, from the environment
      accessKey: \${NCP_ACCESS_KEY}
      secretKey: \${NCP_SECRET_KEY}
    params:
      durationSec: 3600 # lifetime of each issued key: 600-43200 seconds
      # roleNrn: nrn:PUB:IAM::<account id>:Role/<role name>   # switch-role credentials instead
    # outputs: # also write the credentials where a program reads them, after each rotation
    #   - { type: file, path: /run/app/ncp.env, format: env }
`,
  'mongodb-cloud-manager': `  - id: mongo-ci
    provider: mongodb-cloud-manager # a MongoDB Cloud Manager (or Atlas) service-account secret
    credentials: # a programmatic API key with Organization Owner, from the environment
      publicKey: \${MCM_PUBLIC_KEY}
      privateKey: \${MCM_PRIVATE_KEY}
    params:
      orgId: 5f1a2b3c4d5e6f7a8b9c0d1e # replace: your organization's id (24 hex digits)
      clientId: mdb_sa_id_65f1a2b3c4d5e6f7a8b9c0d1 # replace: the service account whose secret rotates
      secretExpiresAfterHours: 72 # 8-8766 (atlas-v2: 8-8760)
      # api: atlas-v2 # the Atlas Admin API v2 instead of Cloud Manager
`,
};

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The starter config text. Throws a plain Error saying what to fix on bad options. */
export function starterConfig(options: StarterConfigOptions): string {
  const vault = options.vault ?? 'file';
  const region = options.region ?? 'eu-central-1';
  if (!options.schema || /[\r\n]/.test(options.schema)) {
    throw new Error('schema must be a URL or path to rotator.schema.json on one line');
  }
  if (!STARTER_VAULTS.includes(vault)) {
    throw new Error(`vault must be one of ${STARTER_VAULTS.join(', ')} (got ${JSON.stringify(vault)})`);
  }
  if (!AWS_REGION.test(region))
    throw new Error(`region must be an AWS region such as eu-central-1 (got ${JSON.stringify(region)})`);

  return [
    HEADER,
    `# yaml-language-server: $schema=${options.schema}`,
    vault === 'file' ? FILE_VAULT : awsVault(region),
    SCHEDULE,
    'secrets:',
    ...Object.values(STARTER_SECRETS),
  ].join('\n');
}

const HEADER = `# rotator configuration (rotator init). Check it with \`rotator validate\`;
# \`rotator validate --sandbox\` and \`rotator rotate --all --sandbox\` need none of the \${VARS} below.
# Master credentials always come from the environment, never from this file.`;

const FILE_VAULT = `vault:
  type: file # the embedded encrypted store
  path: .rotator/vault.json # relative to this file
  # key: ROTATOR_VAULT_KEY (openssl rand -hex 32), else a 0600 key file made next to the vault`;

function awsVault(region: string): string {
  return `vault:
  type: aws-secrets-manager # one AWS secret per id, named <prefix><id>
  region: ${region}
  prefix: rotator/ # letters, digits and / _ + = . @ -
  # AWS credentials come from the standard chain (environment, profile, instance or task role)`;
}

const SCHEDULE = `schedule: '* * * * *' # the sweep (node-cron syntax; a 6th leading field is seconds)
# http: { host: 127.0.0.1, port: 9464 } # /healthz, /readyz, /metrics for \`rotator run\`
defaults:
  renewBefore: 33% # renew when a third of the lifetime remains
  jitter: 10% # spread renewals of secrets issued together`;
