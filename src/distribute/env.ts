/**
 * Credentials as environment variables: which names (the provider's tools' names, overridable
 * per secret with `env:`), and how to print them for each consumer (`KEY=value` lines, dotenv
 * files, `eval` in sh/bash). Pure functions, table-tested in test/unit/distribute-env.test.ts.
 */
import type { VaultValue } from '../types';
import { RotatorError } from '../errors';

/** Environment variable names for a value's credentials: the plugin's names, else ROTATOR_<ID>_<FIELD>. */
export function envEntries(value: VaultValue, names: Record<string, string> | undefined): [string, string][] {
  return Object.entries(value.credentials).map(([field, v]) => [names?.[field] ?? fallbackEnvName(value.secretId, field), v]);
}

export function fallbackEnvName(secretId: string, field: string): string {
  const snake = (s: string) =>
    s
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/[^A-Za-z0-9]+/g, '_')
      .toUpperCase();
  return `ROTATOR_${snake(secretId)}_${snake(field)}`;
}

/** KEY=value lines; values quoted only when they need it (dotenv and POSIX shells agree then). */
export function formatEnv(entries: [string, string][]): string {
  return entries.map(([k, v]) => `${k}=${/^[A-Za-z0-9_./:@+=-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`}`).join('\n');
}

/** What a POSIX shell accepts as a variable name (and what dotenv parsers agree on). */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type EnvFormat = 'env' | 'dotenv' | 'shell';

/**
 * The variable names for a secret's credential fields: the per-secret `env:` map first, then the
 * provider's names (what its own CLI and Terraform provider read), else ROTATOR_<ID>_<FIELD>.
 */
export function secretEnvEntries(
  value: VaultValue,
  pluginNames: Readonly<Record<string, string>> | undefined,
  overrides: Readonly<Record<string, string>> | undefined,
): [string, string][] {
  return envEntries(value, { ...pluginNames, ...overrides });
}

/** Extra, non-secret facts given to reload commands and `exec` beside the credentials. */
export function metadataEnv(value: VaultValue): [string, string][] {
  return [
    ['ROTATOR_SECRET_ID', value.secretId],
    ['ROTATOR_PROVIDER', value.provider],
    ['ROTATOR_ISSUED_AT', value.issuedAt],
    ['ROTATOR_EXPIRES_AT', value.expiresAt],
    ['ROTATOR_ROTATION_ID', value.rotationId],
  ];
}

/**
 * Merges the variables of several secrets (`rotator exec a b`). Two secrets that would set the
 * same variable are refused: one would silently shadow the other.
 */
export function mergeEnvEntries(perSecret: { secretId: string; entries: [string, string][] }[]): [string, string][] {
  const owner = new Map<string, string>();
  const out: [string, string][] = [];
  for (const { secretId, entries } of perSecret) {
    for (const [name, v] of entries) {
      const first = owner.get(name);
      if (first !== undefined) {
        throw new RotatorError(
          'USAGE',
          `'${first}' and '${secretId}' both set ${name}; give one of them other names with \`env:\` in the config`,
        );
      }
      owner.set(name, secretId);
      out.push([name, v]);
    }
  }
  return out;
}

/**
 * `'…'` for POSIX sh: nothing inside single quotes is special except the quote itself, written
 * `'\''` (close, escaped quote, reopen). Safe for `eval` whatever the value holds.
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `export NAME='value'` lines for `eval "$(rotator get id --format shell)"`. */
export function formatShell(entries: [string, string][]): string {
  return entries.map(([k, v]) => `export ${checkedName(k)}=${shellQuote(v)}`).join('\n');
}

/**
 * A value for dotenv files. Single quotes are literal in every dotenv parser (Node dotenv,
 * python-dotenv, Ruby dotenv, docker compose), so they are used whenever the value has no quote
 * or line break; otherwise double quotes with `\\`, `\"` and `\n` escapes.
 */
export function dotenvQuote(value: string): string {
  if (!/['\r\n]/.test(value)) return `'${value}'`;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
}

export function formatDotenv(entries: [string, string][]): string {
  return entries.map(([k, v]) => `${checkedName(k)}=${dotenvQuote(v)}`).join('\n');
}

function checkedName(name: string): string {
  // Names come from plugins and validated config; a bad one here is a bug, never a value to print.
  if (!ENV_NAME_PATTERN.test(name)) throw new RotatorError('INTERNAL', `invalid environment variable name '${name}'`);
  return name;
}
