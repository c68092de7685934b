/**
 * Defence in depth against leaks. Code never logs secret values on purpose; this catches the
 * accidents. Every secret value the process learns (master credentials from the config, issued
 * credentials, TOTP seeds) is registered here, and every log line, error message printed by the
 * CLI and metric label passes through `scrub`, which replaces any registered value.
 */
const REDACTED = '[REDACTED]';
/** Values shorter than this are too likely to collide with ordinary text to be scrubbed. */
const MIN_SCRUB_LENGTH = 6;

export class SecretRegistry {
  private values = new Set<string>();

  add(...values: (string | undefined | null)[]): void {
    for (const v of values) if (typeof v === 'string' && v.length >= MIN_SCRUB_LENGTH) this.values.add(v);
  }

  /** Registers every string value of a credentials object. */
  addAll(record: Record<string, unknown> | undefined): void {
    if (!record) return;
    for (const v of Object.values(record)) if (typeof v === 'string') this.add(v);
  }

  get size(): number {
    return this.values.size;
  }

  /**
   * Forgets a value that can no longer do harm (a revoked token), so that a long-running
   * process does not scrub every log line against every token it ever minted.
   */
  delete(value: string): void {
    this.values.delete(value);
  }

  /** Whether `value` is a registered secret. */
  has(value: string): boolean {
    return this.values.has(value);
  }

  scrub(text: string): string {
    if (this.values.size === 0) return text;
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  }
}

/**
 * The environment a child process (an `exec` command, a reload hook) inherits from rotator: the
 * operator's, minus the vault key and every variable holding a registered secret, such as the
 * master credentials the config read with `${VAR}`. A child gets the credentials meant for it,
 * added by the caller, and not the keys that mint or unlock every other one.
 */
export function inheritableEnv(env: NodeJS.ProcessEnv, registry: SecretRegistry = secrets): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name, value]) => name !== 'ROTATOR_VAULT_KEY' && !(value !== undefined && registry.has(value))),
  );
}

/** The process-wide registry used by the logger and the CLI. */
export const secrets = new SecretRegistry();

/** Keys whose values are always secret, whatever object they appear in. Used by the logger. */
export const SECRET_KEYS = [
  'secretKey',
  'keySecret',
  'privateKey',
  'clientSecret',
  'secret',
  'password',
  'tokenCode',
  'totpSeed',
  'authorization',
  'Authorization',
  'x-ncp-apigw-signature-v2',
  'signature',
  'credentials',
  // Whole request header maps: they carry signatures and Authorization.
  'headers',
];

/** A value that prints as [REDACTED] in logs, JSON and util.inspect; `reveal()` gets it back. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    secrets.add(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

export { REDACTED };
