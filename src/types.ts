/**
 * The contracts of rotator. Every plugin (provider, vault) is written against these and nothing
 * else; the core (src/rotate.ts, src/scheduler.ts) wraps plugins with retries, redaction and
 * metrics so that plugins stay thin.
 *
 * Words: MUST is required for correctness (a violation can lose or leak a secret); SHOULD is
 * expected of a good plugin.
 */

/** Time, injected so that decision code and tests never read the wall clock directly. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms` (clamped to >= 0). MUST reject with the signal's reason when `signal`
   * aborts, so shutdown never waits for a back-off to finish.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The pino-compatible subset the code uses. Objects first, message second. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Provider-specific credential fields, e.g. `{ accessKey, keySecret }`. Values are secret. */
export type Credentials = Record<string, string>;

/** What a provider hands back from `issue()`. */
export interface IssuedSecret {
  credentials: Credentials;
  /** ISO 8601 instants. `expiresAt` is when the provider stops accepting the credential. */
  issuedAt: string;
  expiresAt: string;
  /**
   * The provider's own name for this credential (NCP: the access key id; MongoDB: the secret
   * id). MUST NOT be secret: it is logged, and used to revoke and to match audit trails.
   */
  providerRef: string;
  /** Extra non-secret facts stored beside the credentials (NCP role mode: `switchedRole`). */
  extra?: Record<string, unknown>;
}

/**
 * The value stored in a vault version and read by consumers (`rotator get`, outputs, the library
 * reader). JSON-serializable; `credentials` are the only secret fields.
 */
export interface VaultValue {
  provider: string;
  secretId: string;
  credentials: Credentials;
  issuedAt: string;
  expiresAt: string;
  providerRef: string;
  rotationId: string;
  [extra: string]: unknown;
}

/** Limits of a provider, as data, so the engine plans around them instead of discovering them. */
export interface ProviderLimits {
  /** Shortest and longest lifetime the provider will issue, in ms. */
  minLifetimeMs: number;
  maxLifetimeMs: number;
  /** How many secrets may be live at once for one account; undefined = no limit. */
  maxLiveSecrets?: number;
  /**
   * What issuing does to older secrets: `none`, or they are shortened to at most `ms` from the
   * moment of issue (MongoDB: 7 days).
   */
  issueEffectOnOlder: { kind: 'none' } | { kind: 'shorten'; toAtMostMs: number };
  /** Old secrets stop working on their own at expiry (NCP STS: there is no revoke endpoint). */
  expiresOnItsOwn: boolean;
}

/** Passed to every provider call. */
export interface ProviderContext {
  secretId: string;
  rotationId: string;
  log: Logger;
  clock: Clock;
  /** Aborted on shutdown; providers SHOULD pass it to their HTTP client. */
  signal?: AbortSignal;
  /**
   * The vault's current value for this secret, when there is one. For providers whose account
   * authenticates with its own current secret (MongoDB self-rotation). Secret: never log it.
   */
  current?: VaultValue;
}

/** A provider-side secret as `list()` reports it (no value: providers only show it at issue). */
export interface ProviderSecretInfo {
  providerRef: string;
  createdAt?: string;
  expiresAt?: string;
  /**
   * The provider authenticates with this secret right now (MongoDB self-rotation before the
   * vault holds one). The engine never deletes it to make room. A provider that cannot tell
   * which of its secrets it uses marks them all.
   */
  inUse?: boolean;
}

/**
 * One provider instance serves one configured secret (it holds that secret's master
 * credentials and params). Created by a {@link ProviderPlugin}.
 */
export interface Provider {
  readonly type: string;
  readonly limits: ProviderLimits;
  /**
   * Issues a new credential. MUST NOT retry internally on its own (the core retries, so retry
   * counts and back-off are uniform); MUST throw a {@link RotatorErrorShape}-compatible error
   * with `retryable` set truthfully. Errors MUST NOT contain secret values or signatures.
   */
  issue(ctx: ProviderContext): Promise<IssuedSecret>;
  /**
   * Proves `secret` works against the provider. Resolves when it does; throws otherwise
   * (`retryable: true` when the failure may be propagation delay). SHOULD leave nothing behind
   * (MongoDB: revoke the token it minted).
   */
  verify?(secret: VaultValue, ctx: ProviderContext): Promise<void>;
  /** Revokes a credential by reference. MUST be idempotent: not-found is success. */
  revoke?(providerRef: string, ctx: ProviderContext): Promise<void>;
  /** Lists the provider-side secrets of this account (for slot management and orphans). */
  list?(ctx: ProviderContext): Promise<ProviderSecretInfo[]>;
  /**
   * How long after a promotion the previous credential stays live before the engine revokes it
   * (consumers that have not re-read the vault yet keep working meanwhile), counted from the new
   * credential's `issuedAt`. Undefined: never revoked by the engine (it expires on its own, or is
   * deleted when it blocks a slot). Only meaningful with `revoke`.
   */
  readonly revokePreviousAfterMs?: number;
  /** Credential fields that are ids, not secrets (MongoDB clientId): not registered for scrubbing. */
  readonly publicFields?: readonly string[];
  /** Releases what the provider holds (MongoDB: revokes its cached OAuth token). Idempotent. */
  close?(): Promise<void>;
}

/** Vault stages. AWS names: AWSCURRENT, AWSPENDING, AWSPREVIOUS. */
export type Stage = 'current' | 'pending' | 'previous';
export const STAGES: readonly Stage[] = ['current', 'pending', 'previous'];

export interface VaultVersion {
  /** Equal to the rotation id that wrote it (AWS: the ClientRequestToken). */
  versionId: string;
  value: VaultValue;
  stages: Stage[];
  /** ISO 8601, when the vault stored it. */
  createdAt: string;
}

/**
 * Written to the vault just before issuing at a provider that can list and revoke its secrets,
 * so that after a crash between the provider's answer and the pending write, recovery can tell
 * the secret this rotation created (and lost) from secrets that predate it. Not secret.
 */
export interface RotationIntent {
  rotationId: string;
  /** ISO 8601, when the intent was recorded. */
  startedAt: string;
  /** providerRefs live at the provider just before issuing. */
  liveBefore: string[];
}

/**
 * The outcome of a secret's recent rotation attempts, kept in the vault so that every process
 * and replica (status, plan, metrics, alerts, `rotate --if-due` from cron) sees the same thing.
 * Not secret: `lastError.message` is a RotatorError message, which never holds a secret value.
 */
export interface AttemptStatus {
  /** ISO 8601: when the last attempt that did something (or failed) ended. */
  lastAttemptAt: string;
  lastResult: 'ok' | 'failed';
  /** 0 after a success. */
  consecutiveFailures: number;
  /** Set while lastResult is 'failed'. */
  lastError?: { code: string; message: string };
  /** ISO 8601: when the process that recorded this will try again (back-off), if it said. */
  nextAttemptAt?: string;
  /** ISO 8601: the last attempt that ended with a valid current credential. */
  lastSuccessAt?: string;
  /** The last distribution (outputs, reload hooks) of the current value. */
  distribution?: { at: string; ok: boolean; error?: string };
}

/**
 * Non-secret facts the engine keeps per key beside the versions. Vaults store them as data and
 * never interpret them; `read` returns them flat in {@link SecretState}.
 */
export interface SecretMeta {
  /** The last recorded {@link RotationIntent}, until it is cleared. */
  intent?: RotationIntent;
  /**
   * The providerRef of the last previous credential revoked after its grace period, so that no
   * process (nor a restarted one) revokes it again.
   */
  revokedPrevious?: string;
  /** See {@link AttemptStatus}. */
  status?: AttemptStatus;
}

/** A change to {@link SecretMeta}: a field set to null is removed, an absent field is kept. */
export type SecretMetaPatch = { [K in keyof SecretMeta]?: SecretMeta[K] | null };

/** Everything a vault knows about one key: versions by stage (absent stage: undefined) and meta. */
export interface SecretState extends SecretMeta {
  current?: VaultVersion;
  pending?: VaultVersion;
  previous?: VaultVersion;
}

/** Limits of a vault, as data (like {@link ProviderLimits}), so `validate` can warn about them. */
export interface VaultLimits {
  /**
   * The shortest sensible interval between two rotations of one secret, in ms (AWS Secrets
   * Manager: about one PutSecretValue per secret per 10 minutes). Undefined: no limit.
   */
  minRotationIntervalMs?: number;
}

/** A held lease; `release()` MUST be idempotent and MUST NOT throw when the lease already expired. */
export interface Lease {
  readonly key: string;
  readonly owner: string;
  readonly expiresAt: number;
  release(): Promise<void>;
}

/**
 * Versioned secret storage.
 *
 * Concurrency contract: every method MUST be safe to call from several processes sharing one
 * vault. `promote` is the only way `current` changes and it is a compare-and-swap.
 * Not-found is never an error on reads: they resolve to an empty state.
 */
export interface Vault {
  readonly type: string;
  /** Reads every stage of `key`. A key never written reads as `{}`. */
  read(key: string): Promise<SecretState>;
  /**
   * Stores `value` as the `pending` version with versionId = `rotationId`, replacing any other
   * pending version. MUST be idempotent: the same rotationId and the same value is a no-op; the
   * same rotationId with a different value MUST throw `VAULT_CONFLICT`. MUST be durable when it
   * resolves (the engine treats a resolved putPending as "the secret is not lost").
   */
  putPending(key: string, value: VaultValue, rotationId: string): Promise<VaultVersion>;
  /**
   * Compare-and-swap promotion: moves `current` to the pending version `rotationId` if and only
   * if the current version is still `expectedCurrentVersion` (null: there is no current).
   * The old current becomes `previous`; the pending stage is cleared. MUST throw
   * `VAULT_CONFLICT` when current moved or the pending version is not `rotationId`.
   * Idempotent: promoting a version that is already current with the same rotationId resolves.
   */
  promote(key: string, rotationId: string, expectedCurrentVersion: string | null): Promise<void>;
  /** Drops the pending version `rotationId` (verification failed). Missing is success. */
  discardPending(key: string, rotationId: string): Promise<void>;
  /** Keys that start with `prefix` (all keys when omitted), sorted. */
  list(prefix?: string): Promise<string[]>;
  /**
   * Optional lease: resolves to a Lease when `owner` now holds `key` for `ttlMs`, or null when
   * someone else holds an unexpired lease. Owners are `hostname:pid:nonce` (src/owner.ts); a
   * vault SHOULD take over the lease of an owner that is dead on this host. Replicas use it so that one secret is rotated by
   * one process at a time; the compare-and-swap in `promote` stays the last line of defence.
   */
  acquireLease?(key: string, owner: string, ttlMs: number): Promise<Lease | null>;
  /**
   * Optional capability: taking the lease already reads the key's state (the `read` right after
   * a granted lease costs no request), so the engine skips its look-before-lease read. Set when a
   * lease costs no more than that read (AWS: a claim tag and the DescribeSecret that checks it).
   */
  readonly leaseReadsState?: boolean;
  /**
   * Optional, with `clearIntent`: durably records `intent` for `key` (replacing any earlier one)
   * and resolves only once it is durable; `read` then returns it as `state.intent`. `putPending`
   * SHOULD drop an intent naming the same rotationId in the same write, where that costs nothing.
   * A vault without intents still works: an orphan is then only found when it blocks a slot.
   */
  recordIntent?(key: string, intent: RotationIntent): Promise<void>;
  /** Drops the intent of `key` if it names `rotationId`. Missing is success. */
  clearIntent?(key: string, rotationId: string): Promise<void>;
  /**
   * Optional: merges `patch` into the key's {@link SecretMeta} and resolves once it is durable.
   * With `condition.intentRotationId`, the whole patch applies only if the stored intent names
   * that rotation (clearing an intent never drops a newer one); otherwise it resolves unchanged.
   * Supersedes `recordIntent`/`clearIntent` (recordIntent(k, i) = updateMeta(k, { intent: i });
   * clearIntent(k, r) = updateMeta(k, { intent: null }, { intentRotationId: r })).
   */
  updateMeta?(key: string, patch: SecretMetaPatch, condition?: { intentRotationId: string }): Promise<void>;
  /**
   * Optional: reads several keys at once (start-up of the daemon, status). The map holds every
   * key asked for (a key never written maps to `{}`). SHOULD cost less than one `read` per key
   * (AWS: paged ListSecrets plus BatchGetSecretValue) and MUST bound its own concurrency.
   */
  readMany?(keys: string[]): Promise<Map<string, SecretState>>;
  /** Limits as data; undefined means none. */
  readonly limits?: VaultLimits;
  close?(): Promise<void>;
}

/**
 * The shape of every error the code throws on purpose (see src/errors.ts for the class).
 * `message` says what happened and what to do; it never contains a secret value.
 */
export interface RotatorErrorShape {
  code: string;
  retryable: boolean;
  /** The provider or vault type that raised it. */
  plugin?: string;
  /** Milliseconds the server asked us to wait (Retry-After), when it said. */
  retryAfterMs?: number;
}

/** What a provider plugin receives besides its own config. */
export interface ProviderDeps {
  log: Logger;
  clock: Clock;
  /**
   * A path prefix beside the vault (the file vault's `vault.path`) under which a provider may keep
   * non-secret protocol state shared by every process, as `<statePath>.<provider-file>` (MongoDB:
   * its remembered Digest challenge). config/boundaries refuses outputs there. Absent (AWS
   * vault, library callers): keep nothing across processes.
   */
  statePath?: string;
}

/** A configured secret as the plugin sees it, after validation by its own schemas. */
export interface ProviderSpec<C = Record<string, unknown>, P = Record<string, unknown>> {
  id: string;
  credentials: C;
  params: P;
}

/** A running emulator (tests, `rotator sandbox`, `npm start`). */
export interface EmulatorHandle {
  /** Base URL on loopback, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * What config validation, the registry and `get --format env` need from a provider, without its
 * HTTP client or emulator: the schemas and a few pure functions. A plugin is a superset.
 */
export type ProviderSchemas<C = any, P = any> = Pick<
  ProviderPlugin<C, P>,
  'type' | 'credentialsSchema' | 'paramsSchema' | 'accountOf' | 'envNames' | 'publicFields' | 'lifetime'
>;

/**
 * A registry entry (providers/index.ts): the light schemas, and `load()` for the plugin itself.
 * `load` MUST be cheap to call twice (module caching) and is called only when a secret of this
 * type is rotated, verified or run in the sandbox, so read-only commands never load HTTP clients.
 */
export interface ProviderDescriptor<C = any, P = any> extends ProviderSchemas<C, P> {
  load(): ProviderPlugin<C, P>;
}

/**
 * A provider plugin: one folder under providers/, one line in providers/index.ts.
 * The schemas are zod schemas; config/ builds the secrets[] union from them so a typo in a
 * provider's params is reported with file, line and key like any other config error.
 */
export interface ProviderPlugin<C = any, P = any> {
  readonly type: string;
  readonly credentialsSchema: import('zod').ZodType<C>;
  readonly paramsSchema: import('zod').ZodType<P>;
  create(spec: ProviderSpec<C, P>, deps: ProviderDeps): Provider;
  /**
   * The provider-side account whose secrets a configured secret manages, from its validated
   * params (non-secret). Two configured secrets with the same account are a config error: each
   * would delete the other's secrets to make room. Omit when secrets never interfere (NCP STS).
   */
  accountOf?(params: P): string | undefined;
  /**
   * The lifetime a secret's validated params ask for (defaults applied), as data: `param` names
   * the key an operator edits to change it, `ms(params)` computes it. Config warns when the
   * renewal interval it implies is below the vault's minimum. Omit when the params do not fix it.
   */
  readonly lifetime?: { readonly param: string; ms(params: P): number };
  /**
   * Environment variable names for the credential fields (`rotator get --format env`), following
   * what the provider's own tools read, e.g. `{ accessKey: 'NCLOUD_ACCESS_KEY' }`.
   */
  readonly envNames?: Readonly<Record<string, string>>;
  /**
   * Credential fields that are identifiers, not secrets (MongoDB `clientId`): `get`, the reader
   * and the logs show them in clear; every other field is registered for scrubbing. The
   * {@link Provider} instance declares the same list for the credentials it issues.
   */
  readonly publicFields?: readonly string[];
  /**
   * Sandbox support: start this provider's emulator on loopback and rewrite a configured secret
   * so it points at it with credentials the emulator accepts. Never touches the real service.
   */
  sandbox?: {
    start(deps: ProviderDeps): Promise<EmulatorHandle>;
    rewrite(spec: ProviderSpec<C, P>, emulator: EmulatorHandle): ProviderSpec<C, P>;
  };
}
