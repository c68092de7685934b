/**
 * A scriptable in-process Provider for engine tests (the network paths are tested against the
 * real emulators over HTTP in test/integration). Each issued credential is tracked so tests can
 * assert what is live, verified and revoked.
 */
import type { Provider, ProviderContext, ProviderLimits, ProviderSecretInfo, IssuedSecret, VaultValue } from '../../src/types';
import { RotatorError } from '../../src/errors';

export interface FakeSecret {
  ref: string;
  value: string;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface FakeProviderOptions {
  lifetimeMs?: number;
  limits?: Partial<ProviderLimits>;
  revocable?: boolean;
  listable?: boolean;
  /** Provider.revokePreviousAfterMs (undefined: never). */
  revokePreviousAfterMs?: number;
}

export class FakeProvider implements Provider {
  readonly type = 'fake';
  readonly limits: ProviderLimits;
  readonly revokePreviousAfterMs?: number;
  readonly issued: FakeSecret[] = [];
  /** Pre-existing provider secrets (e.g. created by hand before the rotator). */
  readonly external: FakeSecret[] = [];
  issueCalls = 0;
  verifyCalls = 0;
  /** Every side effect at the provider, in order: `issue <ref>`, `revoke <ref>` (reads not listed). */
  readonly effects: string[] = [];
  /** Overrides the dates of the next answers (a provider answering nonsense). */
  answerDates: ({ issuedAt?: string; expiresAt?: string } | undefined)[] = [];
  /** Scripted failures: each call shifts one entry; undefined means succeed. */
  issueFailures: (RotatorError | undefined)[] = [];
  verifyFailures: (RotatorError | undefined)[] = [];
  /** Runs at the start of issue (e.g. to hold it open and measure concurrency). */
  onIssue?: (ctx: ProviderContext) => Promise<void>;
  /** Runs inside verify (e.g. to simulate a competing replica). */
  onVerify?: (value: VaultValue) => Promise<void>;
  private seq = 0;
  declare revoke?: (ref: string, ctx: ProviderContext) => Promise<void>;
  declare list?: (ctx: ProviderContext) => Promise<ProviderSecretInfo[]>;

  constructor(private readonly options: FakeProviderOptions = {}) {
    this.limits = {
      minLifetimeMs: 60_000,
      maxLifetimeMs: 86_400_000,
      issueEffectOnOlder: { kind: 'none' },
      expiresOnItsOwn: !options.revocable,
      ...options.limits,
    };
    if (options.revokePreviousAfterMs !== undefined) this.revokePreviousAfterMs = options.revokePreviousAfterMs;
    if (options.revocable) {
      this.revoke = async (ref) => {
        this.effects.push(`revoke ${ref}`);
        const s = this.all().find((x) => x.ref === ref);
        if (s) s.revoked = true;
      };
    }
    if (options.listable) {
      this.list = async (_ctx) =>
        this.all()
          .filter((s) => !s.revoked)
          .map((s) => ({
            providerRef: s.ref,
            createdAt: new Date(s.createdAt).toISOString(),
            expiresAt: new Date(s.expiresAt).toISOString(),
          }));
    }
  }

  all(): FakeSecret[] {
    return [...this.external, ...this.issued];
  }

  live(now: number): FakeSecret[] {
    return this.all().filter((s) => !s.revoked && s.expiresAt > now);
  }

  async issue(ctx: ProviderContext): Promise<IssuedSecret> {
    this.issueCalls++;
    await this.onIssue?.(ctx);
    const failure = this.issueFailures.shift();
    if (failure) throw failure;
    const now = ctx.clock.now();
    const s: FakeSecret = {
      ref: `ref-${++this.seq}`,
      value: `fake-secret-value-${this.seq}-${Math.random().toString(36).slice(2)}`,
      createdAt: now,
      expiresAt: now + (this.options.lifetimeMs ?? 3_600_000),
      revoked: false,
    };
    this.issued.push(s);
    this.effects.push(`issue ${s.ref}`);
    return {
      credentials: { id: s.ref, secret: s.value },
      issuedAt: new Date(s.createdAt).toISOString(),
      expiresAt: new Date(s.expiresAt).toISOString(),
      providerRef: s.ref,
      ...this.answerDates.shift(),
    };
  }

  async verify(value: VaultValue, ctx: ProviderContext): Promise<void> {
    this.verifyCalls++;
    await this.onVerify?.(value);
    const failure = this.verifyFailures.shift();
    if (failure) throw failure;
    const s = this.all().find((x) => x.ref === value.providerRef);
    if (!s || s.revoked || s.value !== value.credentials.secret || s.expiresAt <= ctx.clock.now()) {
      throw new RotatorError('VERIFY_FAILED', `credential ${value.providerRef} rejected`, { retryable: false });
    }
  }
}
