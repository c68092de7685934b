/**
 * Defence in depth against leaks. Code never logs secret values on purpose; this catches the
 * accidents. Every secret value the process learns (master credentials from the config, issued
 * credentials, TOTP seeds) is registered here, and every log line, error message printed by the
 * CLI and metric label passes through `scrub`, which replaces any registered value.
 */
const REDACTED = '[REDACTED]';
/** Values shorter than this are too likely to collide with ordinary text to be scrubbed. */
const MIN_SCRUB_LENGTH = 6;

/** One issued credential's secret values, as the registry remembers them. */
interface IssuedEntry {
  values: string[];
  /** Epoch ms; after it the credential can do no harm, so its values may be forgotten. */
  expiresAt: number;
  /** Still current, pending or previous for its secret (set by `retain`). */
  live: boolean;
}

/**
 * Two kinds of values: master credentials (`add`), kept for the life of the process because they
 * never expire on their own; and issued credentials (`addIssued`), remembered per secret and
 * version and forgotten once they are neither current, pending nor previous AND past their
 * expiry. That keeps a daemon rotating for months scrubbing against a bounded set (at most a few
 * versions per secret) while a credential that could still work is never dropped early.
 */
export class SecretRegistry {
  private values = new Set<string>();
  private issued = new Map<string, Map<string, IssuedEntry>>();
  /** How many issued entries hold each value: lets `delete` and `has` skip scanning every owner. */
  private issuedRefs = new Map<string, number>();
  /** Per provider type, the credential fields that are ids, not secrets (see declarePublicFields). */
  private publicFields = new Map<string, ReadonlySet<string>>();

  add(...values: (string | undefined | null)[]): void {
    for (const v of values) if (scrubbable(v)) this.values.add(v);
  }

  /**
   * Declares the credential fields of `provider` that are identifiers, not secrets (MongoDB's
   * `clientId`), as its descriptor says: {@link addCredentials} leaves them readable in logs and
   * errors. Called where the provider registry meets the config (src/config.ts), so every
   * command, the daemon and the library reader agree. Undeclared providers: every field is secret.
   */
  declarePublicFields(provider: string, fields: readonly string[] | undefined): void {
    if (fields && fields.length > 0) this.publicFields.set(provider, new Set(fields));
  }

  /**
   * Registers the secret fields of a stored value (`get`, `exec`, the library reader, a vault
   * read): every string field except the declared public ones of `value.provider`.
   */
  addCredentials(value: { provider: string; credentials: Record<string, unknown> }): void {
    const open = this.publicFields.get(value.provider);
    for (const [field, v] of Object.entries(value.credentials)) if (!open?.has(field) && typeof v === 'string') this.add(v);
  }

  /**
   * Registers the secret values of one issued credential of `owner` (a secret id), identified by
   * `ref` (its provider reference or version id). New or re-registered entries count as live
   * until a `retain` for that owner says otherwise. Forgets this owner's dead, expired entries.
   */
  addIssued(owner: string, ref: string, values: (string | undefined | null)[], expiresAt: number, now: number): void {
    let versions = this.issued.get(owner);
    if (!versions) this.issued.set(owner, (versions = new Map()));
    const kept = values.filter(scrubbable);
    const before = versions.get(ref);
    const merged = [...new Set([...(before?.values ?? []), ...kept])];
    for (const v of merged) if (!before?.values.includes(v)) this.ref(v, 1);
    versions.set(ref, { values: merged, expiresAt, live: true });
    this.forgetDead(owner, now);
  }

  /**
   * Declares which versions of `owner` are still current, pending or previous; the others are
   * forgotten as soon as they expire (now, or at a later call once `now` has passed expiry).
   */
  retain(owner: string, liveRefs: Iterable<string>, now: number): void {
    const versions = this.issued.get(owner);
    if (!versions) return;
    const live = new Set(liveRefs);
    for (const [ref, entry] of versions) entry.live = live.has(ref);
    this.forgetDead(owner, now);
  }

  private forgetDead(owner: string, now: number): void {
    const versions = this.issued.get(owner)!;
    for (const [ref, entry] of versions) {
      if (entry.live || entry.expiresAt > now) continue;
      versions.delete(ref);
      for (const v of entry.values) this.ref(v, -1);
    }
    if (versions.size === 0) this.issued.delete(owner);
  }

  /** How many distinct values are scrubbed (bounded: see the class comment). */
  get size(): number {
    return this.all().size;
  }

  /**
   * Forgets a value that can no longer do harm (a revoked token), so that a long-running
   * process does not scrub every log line against every token it ever minted.
   */
  delete(value: string): void {
    this.values.delete(value);
    if (!this.issuedRefs.has(value)) return; // the common case (a verification token): no scan
    this.issuedRefs.delete(value);
    for (const versions of this.issued.values())
      for (const entry of versions.values()) entry.values = entry.values.filter((v) => v !== value);
  }

  /** Whether `value` is a registered secret. */
  has(value: string): boolean {
    return this.values.has(value) || this.issuedRefs.has(value);
  }

  private ref(value: string, delta: number): void {
    const count = (this.issuedRefs.get(value) ?? 0) + delta;
    if (count > 0) this.issuedRefs.set(value, count);
    else this.issuedRefs.delete(value);
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    for (const v of this.issuedRefs.keys()) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  }

  private all(): Set<string> {
    return new Set([...this.values, ...this.issuedRefs.keys()]);
  }
}

function scrubbable(v: unknown): v is string {
  return typeof v === 'string' && v.length >= MIN_SCRUB_LENGTH;
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
