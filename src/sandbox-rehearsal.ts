/**
 * What `rotator sandbox` tells an operator so the README's "Using it for real" steps can be
 * rehearsed against it: the master credentials each emulator accepts, as the environment
 * variables the starter config (src/init-template.ts) reads, and a ready config pointing at the
 * running emulators (`--write-config`). Pure: the command starts the sandbox and writes files.
 *
 * These are loopback emulator credentials, generated at start: printing them is the point. They
 * stay registered with the log scrubber (the plugins do that), so they never reach a log line.
 */
import { stringify } from 'yaml';
import type { RotatorConfig } from '../config/schema';
import { STARTER_SECRETS } from './init-template';

/** Region the Secrets Manager emulator is reached with (any region works; the SDK needs one). */
export const SANDBOX_AWS_REGION = 'us-east-1';

/** Credential field → variable name, as the provider's starter secret writes `field: ${VAR}`. */
export function masterVariables(provider: string): Record<string, string> {
  const text = STARTER_SECRETS[provider] ?? '';
  const names: Record<string, string> = {};
  for (const m of text.matchAll(/^\s+(\w+): \$\{(\w+)\}/gm)) names[m[1]!] = m[2]!;
  return names;
}

/** `VAR=value` pairs for one secret's (rewritten) credentials; fields with no starter variable are skipped. */
export function masterEnv(provider: string, credentials: Record<string, unknown>): [string, string][] {
  const names = masterVariables(provider);
  return Object.entries(credentials)
    .filter(([field, value]) => names[field] !== undefined && typeof value === 'string')
    .map(([field, value]) => [names[field]!, value as string]);
}

/** Quotes a value for a POSIX shell (`export` lines an operator pastes). */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The AWS lines: aws CLI v2 and the SDKs read AWS_REGION, aws CLI v1 only AWS_DEFAULT_REGION. */
export function awsEnv(url: string, accessKeyId: string, secretAccessKey: string): [string, string][] {
  return [
    ['AWS_ENDPOINT_URL_SECRETS_MANAGER', url],
    ['AWS_ACCESS_KEY_ID', accessKeyId],
    ['AWS_SECRET_ACCESS_KEY', secretAccessKey],
    ['AWS_REGION', SANDBOX_AWS_REGION],
    ['AWS_DEFAULT_REGION', SANDBOX_AWS_REGION],
  ];
}

export const exportLine = (pairs: readonly [string, string][]): string =>
  `export ${pairs.map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')}`;

/**
 * A config for the running sandbox: every secret of `sandboxConfig` (already rewritten onto the
 * emulators) with its credentials and emulator endpoints as literals, and its own file vault
 * next to the written file (`.rotator/rehearsal/`), so it never mixes with a real vault. The
 * file holds the emulator credentials: the caller writes it 0600.
 */
export function rehearsalConfigText(sandboxConfig: RotatorConfig): string {
  const doc = {
    vault: { type: 'file', path: '.rotator/rehearsal/vault.json' },
    schedule: '* * * * *',
    secrets: sandboxConfig.secrets.map((s) => ({
      id: s.id,
      provider: s.provider,
      credentials: s.credentials,
      params: s.params,
    })),
  };
  return [
    '# Written by `rotator sandbox --write-config`: points at the emulators of that running sandbox',
    '# (their loopback URLs and the credentials they accept, generated at its start). It works while',
    '# that sandbox runs; restart the sandbox and write it again. Not for real services.',
    stringify(doc, { lineWidth: 0 }),
  ].join('\n');
}
