import cron from 'node-cron';
import { z } from 'zod';
import type { ProviderSchemas } from '../src/types';
import { parseDuration, parsePercent } from '../src/duration';
import { templateProblems } from '../src/distribute/template';
import { durationField, parsed } from '../src/duration-field';

export { durationField };
import { auditSchema } from '../src/audit';
import { windowSchema, type RotationWindow } from '../src/window';
import { notifySchema, type NotifyTarget } from '../src/notify/schema';

/**
 * The schema of rotator.config.yaml and the configuration type the rest of the code consumes.
 *
 * Two layers:
 * - `configFileSchema` validates the file as written (key names, relative paths, provider
 *   sections left open). Objects are strict: an unknown key is an error, because a typo such as
 *   `renewbefore:` must not silently fall back to a default and change when secrets rotate.
 * - {@link RotatorConfig} is what config/load.ts returns: paths made absolute, durations in ms,
 *   each secret's `credentials` and `params` validated by its provider plugin's own schemas.
 *
 * Numeric fields accept digit-only strings too, because `${VAR}` interpolation yields strings.
 * Transformed fields use `prefault` (a default in the file's notation, parsed like input) so the
 * JSON Schema generated for editors shows `30s`, not `30000`.
 */

export type RenewBefore = { kind: 'fraction'; fraction: number } | { kind: 'duration'; ms: number };

export type OutputConfig =
  | { type: 'file'; path: string; format: 'env' | 'json' | 'template'; template?: string; mode: number }
  | { type: 'command'; run: string; timeoutMs: number };

export interface SecretConfig {
  /** Unique across secrets; the vault key. */
  id: string;
  /** A registered provider plugin type. */
  provider: string;
  /** The plugin's `credentialsSchema` output. Every string in it is a registered secret. */
  credentials: Record<string, unknown>;
  /** The plugin's `paramsSchema` output (its defaults applied). */
  params: Record<string, unknown>;
  /** Overrides `defaults.renewBefore`. */
  renewBefore?: RenewBefore;
  /** Overrides `defaults.jitter`; 0..0.5. */
  jitter?: number;
  /** Overrides `defaults.window`: scheduled rotations happen only inside it (src/window.ts). */
  window?: RotationWindow;
  /** Overrides `defaults.paused`: never rotated by the daemon or `--if-due`; still reported and alerted. */
  paused?: boolean;
  outputs: OutputConfig[];
  /**
   * Environment variable names for credential fields (`get --format env`, `exec`, reload
   * commands), overriding the provider's names: `{ accessKey: AWS_ACCESS_KEY_ID }`.
   */
  env?: Record<string, string>;
}

/** The embedded encrypted file store. `path` and `keyFile` are absolute. */
export interface FileVaultConfig {
  type: 'file';
  path: string;
  /** Filled in by the loader: `<path>.key` when the file does not say. */
  keyFile?: string;
  /** Versions kept besides current/pending/previous, 0..100. */
  history: number;
}

/** AWS Secrets Manager (src/vaults/aws/); credentials from the standard AWS chain. */
export interface AwsSecretsManagerVaultConfig {
  type: 'aws-secrets-manager';
  region: string;
  /** A custom endpoint URL (VPC endpoint, emulator); default: AWS's for the region. */
  endpoint?: string;
  /** Prepended to every key to form the secret name; default `rotator/`. */
  prefix: string;
  /** KMS key for new secrets; default: the account's aws/secretsmanager key. */
  kmsKeyId?: string;
  /** Extra tags on every secret rotator creates. */
  tags: Record<string, string>;
}

/** One member per vault type; `type` discriminates. */
export type VaultConfig = FileVaultConfig | AwsSecretsManagerVaultConfig;

export interface RotatorConfig {
  /** Absolute path of the config file. */
  file: string;
  vault: VaultConfig;
  /** node-cron expression of the sweep. */
  schedule: string;
  /** Rotations in flight at once, 1..64. */
  concurrency: number;
  shutdownTimeoutMs: number;
  /** What a secret gets when it does not say; `window` absent: any time; `paused` absent: false. */
  defaults: { renewBefore: RenewBefore; jitter: number; window?: RotationWindow; paused?: boolean };
  /** Health and metrics listener; absent: none. */
  http?: { host: string; port: number };
  /** Audit trail (src/audit.ts); absent: none. `path` is absolute. */
  audit?: { path: string };
  /** Alert targets (src/notify/); absent or empty: no alerts. */
  notify?: NotifyTarget[];
  secrets: SecretConfig[];
  /**
   * Set by the sandbox (src/sandbox.ts), never by the file: file outputs are written under
   * `outputsDir` instead of their configured paths, and reload commands are only logged.
   */
  sandbox?: { outputsDir: string };
}

export const DEFAULTS = {
  vaultPath: '.rotator/vault.json',
  vaultHistory: 5,
  awsPrefix: 'rotator/',
  schedule: '* * * * *',
  concurrency: 4,
  shutdownTimeout: '30s',
  renewBefore: '33%',
  jitter: '10%',
  httpHost: '127.0.0.1',
  httpPort: 9464,
  outputMode: 0o600,
  commandTimeout: '30s',
} as const;

export const SECRET_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** An integer from `min` to `max`; digit-only strings count (interpolated values are strings). */
export function integerField(min: number, max: number, unit = '') {
  const allowed = { error: `must be an integer from ${min} to ${max}${unit}` };
  const bounded = z.number(allowed).int(allowed).min(min, allowed).max(max, allowed);
  return z.union([bounded, z.string().regex(/^\d+$/, allowed).transform(Number).pipe(bounded)], allowed);
}

/** A percentage from `min` to `max` (fractions, inclusive), as a fraction. */
export function percentField(min: number, max: number) {
  const range = `from ${min * 100}% to ${max * 100}%`;
  const allowed = { error: `must be a percentage ${range} (e.g. 10%)` };
  return z
    .string(allowed)
    .regex(/^\d{1,3}(\.\d{1,4})?%$/, allowed)
    .transform((text, ctx) => {
      const fraction = parsed(ctx, () => parsePercent(text), `must be ${range}`);
      if (fraction !== undefined && (fraction < min || fraction > max))
        ctx.addIssue({ code: 'custom', message: `must be ${range}` });
      return fraction ?? 0;
    });
}

const RENEW_BEFORE_HINT =
  'must be the share of the lifetime left when renewing, above 0% and below 100% (e.g. 33%), or a positive duration (e.g. 40m)';

/** `33%` (renew when a third of the lifetime remains) or `40m` (when 40 minutes remain). */
export const renewBeforeField = z
  .string({ error: RENEW_BEFORE_HINT })
  .regex(/^(\d{1,3}(\.\d{1,4})?%|\d+(ms|s|m|h|d))$/, { error: RENEW_BEFORE_HINT })
  .transform((text, ctx): RenewBefore => {
    if (text.endsWith('%')) {
      const fraction = parsed(ctx, () => parsePercent(text), RENEW_BEFORE_HINT);
      if (fraction !== undefined && (fraction <= 0 || fraction >= 1))
        ctx.addIssue({ code: 'custom', message: RENEW_BEFORE_HINT });
      return { kind: 'fraction', fraction: fraction ?? 0 };
    }
    const ms = parsed(ctx, () => parseDuration(text));
    if (ms !== undefined && ms <= 0) ctx.addIssue({ code: 'custom', message: RENEW_BEFORE_HINT });
    return { kind: 'duration', ms: ms ?? 0 };
  })
  .meta({ description: 'Renew when this share of the lifetime (33%) or this much time (40m) remains.' });

/** Spread of renewal times, 0%..50% of the renewal point. */
export const jitterField = percentField(0, 0.5).meta({
  description: 'Deterministic spread of renewal times, so secrets issued together do not renew together.',
});

const MODE_HINT = 'must be a file mode from 0o000 to 0o777, written 0o600 or "0600" (unquoted 0600 is the decimal 600 in YAML)';

/** A file mode: an integer 0..0o777, or an octal string `"600"`, `"0600"`, `"0o600"`. */
export const modeField = z.union(
  [
    z.number({ error: MODE_HINT }).int({ error: MODE_HINT }).min(0, { error: MODE_HINT }).max(0o777, { error: MODE_HINT }),
    z
      .string({ error: MODE_HINT })
      .regex(/^(0o|0)?[0-7]{3}$/, { error: MODE_HINT })
      .transform((text) => parseInt(text.replace(/^0o/, ''), 8)),
  ],
  { error: MODE_HINT },
);

/** A non-empty string; says "is required" when the key is missing. */
const nonEmpty = (what: string) => {
  const error = (issue: { input?: unknown }) => (issue.input === undefined ? `is required: ${what}` : `must be ${what}`);
  return z.string({ error }).min(1, { error });
};

export const fileOutputSchema = z
  .strictObject({
    type: z.literal('file'),
    path: nonEmpty('a file path (relative paths are relative to the config file)'),
    format: z.enum(['env', 'json', 'template'], { error: "must be one of 'env', 'json', 'template'" }),
    template: nonEmpty('the template text').optional(),
    mode: modeField.prefault(DEFAULTS.outputMode),
  })
  .superRefine((output, ctx) => {
    if (output.format === 'template' && output.template === undefined) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: "is required when format is 'template'" });
    }
    if (output.format !== 'template' && output.template !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: "is only allowed when format is 'template'" });
    }
    if (output.template !== undefined) {
      for (const message of templateProblems(output.template)) ctx.addIssue({ code: 'custom', path: ['template'], message });
    }
  });

export const commandOutputSchema = z
  .strictObject({
    type: z.literal('command'),
    run: nonEmpty('a command line'),
    timeout: durationField(1_000, 3_600_000).prefault(DEFAULTS.commandTimeout),
  })
  .transform(({ type, run, timeout }) => ({ type, run, timeoutMs: timeout }));

export const outputSchema = z.discriminatedUnion('type', [fileOutputSchema, commandOutputSchema]);

export const fileVaultSchema = z.strictObject({
  type: z.literal('file'),
  path: nonEmpty('a file path (relative paths are relative to the config file)').prefault(DEFAULTS.vaultPath),
  keyFile: nonEmpty('a file path (relative paths are relative to the config file)').optional(),
  history: integerField(0, 100).prefault(DEFAULTS.vaultHistory),
});

const AWS_REGION_HINT = 'must be an AWS region such as us-east-1 or eu-central-1';
const AWS_NAME_CHARS = /^[A-Za-z0-9/_+=.@-]*$/;
const AWS_TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export const awsSecretsManagerVaultSchema = z.strictObject({
  type: z.literal('aws-secrets-manager'),
  region: z
    .string({ error: (issue) => (issue.input === undefined ? `is required: ${AWS_REGION_HINT}` : AWS_REGION_HINT) })
    .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { error: AWS_REGION_HINT }),
  endpoint: z
    .string({ error: 'must be an http(s) URL, e.g. https://secretsmanager.us-east-1.amazonaws.com' })
    .refine((text) => /^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(text) && URL.canParse(text), {
      error: 'must be an http(s) URL, e.g. https://secretsmanager.us-east-1.amazonaws.com',
    })
    .optional(),
  prefix: z
    .string({ error: 'must be a secret-name prefix' })
    .max(256, { error: 'must be at most 256 characters' })
    .regex(AWS_NAME_CHARS, { error: 'may only contain letters, digits and / _ + = . @ - (AWS secret names)' })
    .prefault(DEFAULTS.awsPrefix),
  kmsKeyId: nonEmpty('a KMS key id, ARN or alias (alias/…)').optional(),
  tags: z
    .record(
      z.string(),
      z
        .string({ error: 'tag values must be strings (quote numbers)' })
        .max(256, { error: 'tag values must be at most 256 characters' })
        .regex(AWS_TAG_CHARS, { error: 'tag values may contain letters, digits, spaces and _ . : / = + - @' }),
      { error: 'must be a mapping of tag names to values' },
    )
    .superRefine((tags, ctx) => {
      for (const key of Object.keys(tags)) {
        const problem =
          key.length < 1 || key.length > 128
            ? 'tag keys must be 1 to 128 characters'
            : !AWS_TAG_CHARS.test(key)
              ? 'tag keys may contain letters, digits, spaces and _ . : / = + - @'
              : /^(aws|rotator):/i.test(key)
                ? "tag keys starting with 'aws:' or 'rotator:' are reserved"
                : undefined;
        if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
      }
    })
    .prefault({}),
});

/** Add a vault type: a strict object with its own `type` literal, appended here. */
export const vaultSchema = z.discriminatedUnion('type', [fileVaultSchema, awsSecretsManagerVaultSchema]);

const cronField = z
  .string({ error: 'must be a quoted node-cron expression, e.g. "* * * * *"' })
  .refine((expr) => validCron(expr), {
    error: 'must be a node-cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first',
  });

function validCron(expr: string): boolean {
  try {
    return cron.validate(expr);
  } catch {
    return false;
  }
}

const ENV_NAME_HINT = 'must be an environment variable name: letters, digits and _, not starting with a digit';

/** `env:` — credential field → environment variable name. */
const envMapField = z
  .record(z.string(), z.string({ error: ENV_NAME_HINT }).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: ENV_NAME_HINT }), {
    error: 'must be a mapping of credential field to variable name, e.g. { accessKey: AWS_ACCESS_KEY_ID }',
  })
  .meta({ description: "Environment variable names for credential fields, overriding the provider's names." });

const PAUSED_HINT = 'must be true or false';
/** `paused:` — a boolean; `"true"`/`"false"` too, because `${VAR}` interpolation yields strings. */
const pausedField = z
  .union([z.boolean(), z.enum(['true', 'false']).transform((t) => t === 'true')], { error: PAUSED_HINT })
  .meta({ description: 'Never rotate on schedule (status, plan and alerts still report it); `rotate --force` still can.' });

const secretId = z.string({ error: 'must be a name' }).regex(SECRET_ID_PATTERN, {
  error: "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
});

/** Keys of a secret that are the same whatever its provider. */
const secretCommonShape = {
  id: secretId,
  renewBefore: renewBeforeField.optional(),
  jitter: jitterField.optional(),
  window: windowSchema.optional(),
  paused: pausedField.optional(),
  outputs: z.array(outputSchema, { error: 'must be a list of outputs' }).prefault([]),
  env: envMapField.optional(),
};

const openSection = (what: string) => z.record(z.string(), z.unknown(), { error: `must be a mapping of ${what} (key: value)` });

/**
 * A secret as written, provider sections still open: the loader validates `credentials` and
 * `params` with the plugin that `provider` names, so its errors carry full key paths.
 */
export const secretEntrySchema = z.strictObject({
  ...secretCommonShape,
  provider: nonEmpty('a provider type'),
  credentials: openSection('master credentials').optional(),
  params: openSection('provider parameters').optional(),
});

/** A secret of one provider, with that provider's schemas: for the editor JSON Schema. */
export function pluginSecretSchema(plugin: ProviderSchemas) {
  return z.strictObject({
    ...secretCommonShape,
    provider: z.literal(plugin.type),
    credentials: plugin.credentialsSchema,
    params: plugin.paramsSchema.optional(),
  });
}

function configShape<S extends z.ZodType>(secret: S) {
  return {
    vault: vaultSchema.prefault({ type: 'file' }),
    schedule: cronField.prefault(DEFAULTS.schedule),
    concurrency: integerField(1, 64).prefault(DEFAULTS.concurrency),
    shutdownTimeout: durationField(0, 3_600_000).prefault(DEFAULTS.shutdownTimeout),
    defaults: z
      .strictObject({
        renewBefore: renewBeforeField.prefault(DEFAULTS.renewBefore),
        jitter: jitterField.prefault(DEFAULTS.jitter),
        window: windowSchema.optional(),
        paused: pausedField.optional(),
      })
      .prefault({}),
    http: z
      .strictObject({
        host: nonEmpty('a host name or address').prefault(DEFAULTS.httpHost),
        port: integerField(0, 65535).prefault(DEFAULTS.httpPort),
      })
      .optional(),
    audit: auditSchema.optional(),
    notify: notifySchema,
    secrets: z.array(secret, { error: 'must be a list of secrets (write `secrets: []` for none)' }).prefault([]),
  };
}

/** The file as written; see {@link ConfigFile} for its output. */
export const configFileSchema = z.strictObject(configShape(secretEntrySchema));

export type ConfigFile = z.output<typeof configFileSchema>;
export type SecretEntry = z.output<typeof secretEntrySchema>;

/**
 * The whole file with each provider's own schemas in `secrets[]` (a union on `provider`).
 * Used for the editor JSON Schema; the loader validates in two steps for better messages.
 */
export function buildConfigSchema(plugins: readonly ProviderSchemas[]) {
  const secrets = plugins.map(pluginSecretSchema);
  const secret =
    secrets.length === 0
      ? secretEntrySchema
      : secrets.length === 1
        ? secrets[0]!
        : z.discriminatedUnion(
            'provider',
            secrets as [ReturnType<typeof pluginSecretSchema>, ...ReturnType<typeof pluginSecretSchema>[]],
          );
  return z.strictObject(configShape(secret));
}

/** Compile-time proof that the file schema's output feeds the public types. */
type Assignable<T extends U, U> = T;
export type CheckedOutputs = [
  Assignable<z.output<typeof outputSchema>, OutputConfig>,
  Assignable<z.output<typeof fileVaultSchema>, FileVaultConfig>,
  Assignable<z.output<typeof awsSecretsManagerVaultSchema>, AwsSecretsManagerVaultConfig>,
  Assignable<ConfigFile['defaults'], RotatorConfig['defaults']>,
  Assignable<NonNullable<ConfigFile['http']>, NonNullable<RotatorConfig['http']>>,
  Assignable<NonNullable<ConfigFile['notify']>, NonNullable<RotatorConfig['notify']>>,
];
