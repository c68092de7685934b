/**
 * `rotator adopt <id>`: take over a credential that exists today (a MongoDB secret made by hand,
 * an NCP key already in use) as the current version, so rotation continues from it.
 *
 * Input (stdin or --from-file, never argv): JSON `{ "credentials": {…}, "providerRef": "…",
 * "expiresAt"?: ISO, "issuedAt"?: ISO }`. A missing expiry is taken from the provider's list
 * when it has one. The credential is verified at the provider first; one that fails is refused
 * and nothing is stored. Stored with the vault's compare-and-swap against the current version
 * read first (none: there must still be none).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { VaultValue } from '../types';
import type { Runtime } from '../runtime';
import { RotatorError, isRotatorError } from '../errors';
import { providerContext, withLease, type IncidentOptions } from './shared';

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { error: 'must be an ISO 8601 date' });

export const adoptInputSchema = z.strictObject({
  credentials: z.record(z.string(), z.string()).refine((c) => Object.keys(c).length > 0, {
    error: 'must hold the credential fields, e.g. { "clientId": "…", "clientSecret": "…" }',
  }),
  providerRef: z.string().trim().min(1, { error: "must be the provider's id of this credential" }),
  expiresAt: isoDate.optional(),
  issuedAt: isoDate.optional(),
});
export type AdoptInput = z.output<typeof adoptInputSchema>;

/** Parses the input; errors name the field and never echo values. */
export function parseAdoptInput(text: string): AdoptInput {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RotatorError(
      'USAGE',
      'the credential input is not JSON; give {"credentials": {...}, "providerRef": "...", "expiresAt": "..."}',
    );
  }
  const parsed = adoptInputSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'} ${i.message}`);
    throw new RotatorError('USAGE', `the credential input is not valid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export async function adoptSecret(
  runtime: Runtime,
  secretId: string,
  input: AdoptInput,
  options: IncidentOptions,
): Promise<{ message: string; value?: VaultValue; distributionError?: string }> {
  const { provider } = runtime.target(secretId);
  const { vault } = runtime;
  const ctx = providerContext(runtime, secretId, options.log);
  const expiresAt = input.expiresAt ?? (await expiryFromList(runtime, secretId, input.providerRef, options));
  const now = new Date(runtime.clock.now()).toISOString();
  const rotationId = randomUUID();
  const value: VaultValue = {
    provider: provider.type,
    secretId,
    credentials: input.credentials,
    issuedAt: input.issuedAt ?? now,
    expiresAt: new Date(Date.parse(expiresAt)).toISOString(),
    providerRef: input.providerRef,
    rotationId,
  };
  if (Date.parse(value.expiresAt) <= runtime.clock.now()) {
    throw new RotatorError('USAGE', `${secretId}: not adopted: ${input.providerRef} expired at ${value.expiresAt}`);
  }
  if (!provider.verify)
    throw new RotatorError('VERIFY_FAILED', `${secretId}: ${provider.type} cannot verify a credential; not adopted`);
  await provider.verify(value, { ...ctx, rotationId }).catch((err: unknown) => {
    throw new RotatorError(
      'VERIFY_FAILED',
      `${secretId}: not adopted: the provider does not accept ${input.providerRef}` +
        (isRotatorError(err) ? ` (${err.code})` : ''),
    );
  });
  return withLease(runtime, secretId, async () => {
    const state = await vault.read(secretId);
    const replacing = state.current ? ` (replacing ${state.current.value.providerRef})` : '';
    if (options.dryRun) return { message: `${secretId}: verified; would store ${input.providerRef} as current${replacing}` };
    await vault.putPending(secretId, value, rotationId);
    try {
      await vault.promote(secretId, rotationId, state.current?.versionId ?? null);
    } catch (err) {
      await vault.discardPending(secretId, rotationId).catch(() => undefined);
      if (isRotatorError(err) && err.code === 'VAULT_CONFLICT') {
        throw new RotatorError('VAULT_CONFLICT', `${secretId}: not adopted: the current credential changed meanwhile; try again`);
      }
      throw err;
    }
    await runtime.audit.record({
      event: 'adopted',
      secretId,
      provider: provider.type,
      providerRef: input.providerRef,
      rotationId,
    });
    const distributionError = await runtime.distributor.distribute(value).then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    return {
      message: `${secretId}: adopted ${input.providerRef} as current${replacing}; expires ${value.expiresAt}`,
      value,
      ...(distributionError ? { distributionError } : {}),
    };
  });
}

async function expiryFromList(runtime: Runtime, secretId: string, ref: string, options: IncidentOptions): Promise<string> {
  const { provider } = runtime.target(secretId);
  const listed = provider.list ? await provider.list(providerContext(runtime, secretId, options.log)) : [];
  const found = listed.find((s) => s.providerRef === ref)?.expiresAt;
  if (found) return found;
  throw new RotatorError(
    'USAGE',
    `${secretId}: give "expiresAt" in the input: ${provider.type} ${provider.list ? `does not list ${ref}` : 'cannot list its credentials'}`,
  );
}
