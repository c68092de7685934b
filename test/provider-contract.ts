import { RotatorError } from '../src/errors';
import { systemClock } from '../src/clock';
import { memoryLogger } from '../src/log';
import type { IssuedSecret, Provider, ProviderContext, VaultValue } from '../src/types';

/**
 * The Provider contract (src/types.ts) as one suite every provider runs over loopback against its
 * emulator, like the vaults' describeVaultContract:
 *
 *   describeProviderContract('ncp-sts', async () => ({ provider, issueRequests, injectFault, … }));
 *
 * `setup` returns a fresh provider pointed at a fresh emulator for each test.
 */
export interface ProviderUnderTest {
  provider: Provider;
  /** Requests the emulator received for the issue endpoint (Digest challenges not counted). */
  issueRequests(): number;
  /** The next `times` issue requests get `status` (429 or 503). */
  injectFault(status: 429 | 503, times: number): void;
  /** Every secret value in play (master credentials, issued values): none may appear in an error. */
  knownSecrets(): string[];
  /** A reference in the provider's format that names nothing at the provider (revoke/list). */
  unknownRef?: string;
  close(): Promise<void>;
}

function context(): ProviderContext {
  return { secretId: 'contract', rotationId: 'rot-contract', clock: systemClock, log: memoryLogger() };
}

function asValue(issued: IssuedSecret, type: string): VaultValue {
  return { provider: type, secretId: 'contract', rotationId: 'rot-contract', ...issued, ...issued.extra };
}

async function rejection(promise: Promise<unknown>): Promise<RotatorError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RotatorError);
  return err as RotatorError;
}

function expectNoSecret(err: RotatorError, secrets: string[]): void {
  const text = `${err.message} ${JSON.stringify(err.toJSON())}`;
  for (const secret of secrets) expect(text).not.toContain(secret);
}

export function describeProviderContract(name: string, setup: () => Promise<ProviderUnderTest>): void {
  describe(`${name} satisfies the Provider contract`, () => {
    let t: ProviderUnderTest;
    beforeEach(async () => {
      t = await setup();
    });
    afterEach(async () => {
      await t.close();
    });

    it('declares consistent limits: lifetimes positive and ordered; a provider that cannot revoke lets secrets expire', () => {
      const { limits } = t.provider;
      expect(limits.minLifetimeMs).toBeGreaterThan(0);
      expect(limits.maxLifetimeMs).toBeGreaterThanOrEqual(limits.minLifetimeMs);
      if (!t.provider.revoke) expect(limits.expiresOnItsOwn).toBe(true);
      // The engine makes room by listing and deleting: a live-secret limit needs both.
      if (limits.maxLiveSecrets !== undefined) {
        expect(t.provider.list).toBeDefined();
        expect(t.provider.revoke).toBeDefined();
      }
    });

    it('issues with one request: valid ISO instants inside the declared lifetimes, a non-secret providerRef', async () => {
      const before = t.issueRequests();
      const issued = await t.provider.issue(context());
      expect(t.issueRequests() - before).toBe(1);
      expect(new Date(issued.issuedAt).toISOString()).toBe(issued.issuedAt);
      expect(new Date(issued.expiresAt).toISOString()).toBe(issued.expiresAt);
      const lifetime = Date.parse(issued.expiresAt) - Date.parse(issued.issuedAt);
      expect(lifetime).toBeGreaterThanOrEqual(t.provider.limits.minLifetimeMs);
      expect(lifetime).toBeLessThanOrEqual(t.provider.limits.maxLifetimeMs);
      expect(issued.providerRef).not.toBe('');
      for (const value of Object.values(issued.credentials)) expect(value).not.toBe('');
      // extra is stored beside the credentials as non-secret: no secret value may hide in it.
      for (const secret of t.knownSecrets()) expect(JSON.stringify(issued.extra ?? {})).not.toContain(secret);
    });

    it.each([
      [503, 'PROVIDER_UNAVAILABLE'],
      [429, 'RATE_LIMITED'],
    ] as const)(
      'a %i fails the issue after exactly one request (no internal retries), as a retryable %s without secrets',
      async (status, code) => {
        t.injectFault(status, 1);
        const before = t.issueRequests();
        const err = await rejection(t.provider.issue(context()));
        expect(err).toMatchObject({ code, retryable: true });
        expect(t.issueRequests() - before).toBe(1);
        expectNoSecret(err, t.knownSecrets());
      },
    );

    it('verifies what it issued; a wrong credential fails with VERIFY_FAILED and no secret in the message', async () => {
      if (!t.provider.verify) return;
      const issued = await t.provider.issue(context());
      const value = asValue(issued, t.provider.type);
      await expect(t.provider.verify(value, context())).resolves.toBeUndefined();
      const secretField = Object.keys(issued.credentials).find(
        (k) => issued.credentials[k] !== issued.providerRef && !/id$/i.test(k),
      )!;
      const wrong = `${issued.credentials[secretField]!.slice(0, -4)}XXXX`;
      const bad = { ...value, credentials: { ...value.credentials, [secretField]: wrong } };
      const err = await rejection(t.provider.verify(bad, context()));
      expect(err.code).toBe('VERIFY_FAILED');
      expectNoSecret(err, [...t.knownSecrets(), wrong, issued.credentials[secretField]!]);
    });

    it('revoke is idempotent and not-found is success', async () => {
      if (!t.provider.revoke) return;
      const issued = await t.provider.issue(context());
      await expect(t.provider.revoke(issued.providerRef, context())).resolves.toBeUndefined();
      await expect(t.provider.revoke(issued.providerRef, context())).resolves.toBeUndefined();
      if (t.unknownRef) await expect(t.provider.revoke(t.unknownRef, context())).resolves.toBeUndefined();
    });

    it('list shows issued secrets (not in use with a master credential) and forgets revoked ones', async () => {
      if (!t.provider.list) return;
      const issued = await t.provider.issue(context());
      const listed = await t.provider.list(context());
      const entry = listed.find((s) => s.providerRef === issued.providerRef);
      expect(entry).toBeDefined();
      expect(entry?.inUse ?? false).toBe(false);
      if (entry?.expiresAt) expect(Date.parse(entry.expiresAt)).toBe(Date.parse(issued.expiresAt));
      if (!t.provider.revoke) return;
      await t.provider.revoke(issued.providerRef, context());
      expect((await t.provider.list(context())).map((s) => s.providerRef)).not.toContain(issued.providerRef);
    });
  });
}
