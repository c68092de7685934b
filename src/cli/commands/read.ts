/** Reading values for `get` and `exec`: the one place a command turns a vault entry into output. */
import type { VaultValue } from '../../types';
import type { Runtime } from '../../runtime';
import { RotatorError } from '../../errors';
import { secrets } from '../../redact';
import { secretEnvEntries } from '../../distribute/env';

/** The current (or previous) value of a configured secret, or a NOT_FOUND that says what to do. */
export async function readValue(runtime: Runtime, id: string, stage: 'current' | 'previous' = 'current'): Promise<VaultValue> {
  const version = (await runtime.vault.read(id))[stage];
  if (!version) {
    throw new RotatorError(
      'NOT_FOUND',
      `'${id}' has no ${stage} version in the vault yet` + (stage === 'current' ? ` (run \`rotator rotate ${id}\`)` : ''),
    );
  }
  secrets.addCredentials(version.value);
  return version.value;
}

/** `value` as environment entries, with the provider's names and the secret's `env:` overrides. */
export function envOf(runtime: Runtime, value: VaultValue): [string, string][] {
  return secretEnvEntries(
    value,
    runtime.pluginFor(value.secretId).envNames,
    runtime.config.secrets.find((s) => s.id === value.secretId)?.env,
  );
}
