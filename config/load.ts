import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { SECRET_KEYS, secrets as processSecrets } from '../src/redact';
import type { SecretRegistry } from '../src/redact';
import type { ProviderSchemas } from '../src/types';
import { hasSandboxPlaceholder } from './interpolate';
import { allowedKeysAt, friendlyError, unknownKeyMessage } from './issues';
import { ConfigError, formatKeyPath, formatProblem, sortProblems, suggest } from './problems';
import type { ConfigProblem, KeyPath } from './problems';
import { configFileSchema } from './schema';
import type { ConfigFile, OutputConfig, RotatorConfig, SecretConfig, VaultConfig } from './schema';
import { parseYamlTree } from './yaml-tree';
import { parseYamlFast } from './yaml-fast';
import { outputPathProblems } from './boundaries';
import { rotationIntervalWarnings, type VaultLimitsTable } from './vault-limits';
import { templateProblems } from '../src/distribute/template';
import type { Position, TreeProblem, YamlTree } from './yaml-tree';
import type { VariableUse } from './interpolate';

export { ConfigError, formatProblem } from './problems';
export type { ConfigProblem } from './problems';

/** Used when neither `-c/--config` nor ROTATOR_CONFIG names a file; relative to the cwd. */
export const DEFAULT_CONFIG_FILE = 'rotator.config.yaml';
export const CONFIG_ENV_VAR = 'ROTATOR_CONFIG';
/** 10,000 secrets in block YAML take about 1.5 MB; anything past 16 MiB is a mistake (or an attack). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export interface LoadOptions {
  /** Where `${VAR}` values come from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * `rotator validate --sandbox` / `rotator run --sandbox`: unset variables become placeholders
   * (see config/interpolate.ts) instead of errors, because the sandbox rewrites credentials to
   * its emulators. A placeholder that fails a provider's format check is kept unvalidated, with a
   * warning.
   */
  sandbox?: boolean;
  /**
   * Commands that only read the vault (`status`, `plan`, `get`): they never call a provider, so
   * unset variables (the master credentials a consumer does not have) become placeholders, as in
   * sandbox mode.
   */
  readOnly?: boolean;
  /**
   * The providers `provider:` may name (their schemas; a plugin will do). Injected, never
   * imported: config/ sits below providers/ (src/config.ts passes the registry).
   */
  plugins: readonly ProviderSchemas[];
  /**
   * Each vault type's limits (src/vaults/limits.ts). Injected like `plugins`: config/ sits below
   * the vaults. A secret renewing more often than its vault allows gets a warning. Default: none.
   */
  vaultLimits?: VaultLimitsTable;
  /** Resolves a relative config path. Default: process.cwd(). */
  cwd?: string;
  /** Where credential values are registered for log scrubbing. Default: the process registry. */
  secretRegistry?: SecretRegistry;
}

/**
 * A valid configuration plus what is legal but suspicious (literal credentials in the file, no
 * secrets, sandbox placeholders that a provider would reject), each formatted like an error:
 * `file:line:column key.path: message`. Callers log warnings; they never stop a run.
 */
export type LoadedConfig = RotatorConfig & { warnings: string[] };

/** `-c/--config` flag, else ROTATOR_CONFIG, else ./rotator.config.yaml. Empty values count as unset. */
export function resolveConfigPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  const fromEnv = env[CONFIG_ENV_VAR];
  return fromEnv ? fromEnv : DEFAULT_CONFIG_FILE;
}

/**
 * Reads, interpolates and validates a config file. Throws {@link ConfigError} listing every
 * problem found, each with file, line, key path and what is allowed. Side effect: registers the
 * credential values (and secret-named params such as totpSeed) with the secret registry, so logs
 * scrub them, even when the file is invalid.
 */
export function loadConfig(path: string, options: LoadOptions): LoadedConfig {
  const absolute = resolve(options.cwd ?? process.cwd(), path);
  return parseConfig(readConfigText(path, absolute), { ...options, file: path, absolute });
}

/** {@link loadConfig} without the file system: `file` is the name shown in messages. */
export function parseConfig(text: string, options: LoadOptions & { file: string; absolute: string }): LoadedConfig {
  const env = options.env ?? process.env;
  const lenient = options.sandbox === true || options.readOnly === true;
  // The fast tree has no positions, so it is trusted only with nothing to point at: any problem
  // or warning parses again with positions (config/yaml-fast.ts says why and when it declines).
  const fast = parseYamlFast(text, env, { sandbox: lenient });
  if (fast) {
    try {
      const config = fromTree(fast, options, lenient);
      if (config.warnings.length === 0) return config;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  return fromTree(parseYamlTree(text, env, { sandbox: lenient }), options, lenient);
}

/** Validates a parsed tree; throws {@link ConfigError} with every problem. */
function fromTree(tree: YamlTree, options: LoadOptions & { file: string; absolute: string }, lenient: boolean): LoadedConfig {
  const fail = (problems: TreeProblem[]): never => {
    throw new ConfigError(sortProblems(dedupe(problems.map((p) => ({ file: options.file, ...p })))));
  };
  if (tree.problems.length > 0) fail(tree.problems);

  const ctx: Context = {
    tree,
    sandbox: lenient,
    plugins: options.plugins,
    registry: options.secretRegistry ?? processSecrets,
    problems: [],
    warnings: [],
  };
  const file = validate(configFileSchema, tree.value, [], ctx);
  const secrets = validateSecrets(tree.value, ctx);
  if (ctx.problems.length > 0 || file === undefined || secrets === undefined) return fail(ctx.problems);
  if (secrets.length === 0) warn(ctx, ['secrets'], 'no secrets configured: nothing will be rotated');

  const config = toRotatorConfig(file, options.absolute, secrets);
  for (const p of outputPathProblems(config)) ctx.problems.push(problemAt(ctx, p.path, p.message));
  if (ctx.problems.length > 0) return fail(ctx.problems);
  for (const w of rotationIntervalWarnings(config, ctx.plugins, options.vaultLimits ?? {}))
    warn(ctx, ['secrets', w.index], w.message);
  const warnings = sortProblems(ctx.warnings.map((w) => ({ file: options.file, ...w }))).map(formatProblem);
  return { ...config, warnings };
}

interface Context {
  tree: YamlTree;
  sandbox: boolean;
  plugins: readonly ProviderSchemas[];
  registry: SecretRegistry;
  problems: TreeProblem[];
  warnings: TreeProblem[];
  /** Built on first use by {@link credentialStrings}. */
  credentialStrings?: Map<number, [string, VariableUse[]][]>;
}

function readConfigText(shown: string, absolute: string): string {
  const problem = (message: string): never => {
    throw new ConfigError([{ file: shown, path: '', message }]);
  };
  let size: number;
  try {
    const stat = statSync(absolute);
    if (stat.isDirectory()) problem(`${absolute} is a directory, not a config file (set -c/--config or ${CONFIG_ENV_VAR})`);
    // A device (/dev/zero never ends) or a fifo (blocks until a writer comes) is refused before
    // it is opened: only a regular file (or a symlink to one) is read.
    if (!stat.isFile()) problem(`${absolute} is not a regular file (a device, fifo or socket); give the path of a YAML file`);
    size = stat.size;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return problem(`config file not found: ${absolute} (set -c/--config or ${CONFIG_ENV_VAR})`);
    }
    return problem(`cannot read config file ${absolute}: ${code ?? 'error'}`);
  }
  if (size > MAX_CONFIG_BYTES) problem(`config file is larger than ${MAX_CONFIG_BYTES} bytes; is it the right file?`);
  try {
    return readFileSync(absolute, 'utf8');
  } catch (err) {
    return problem(`cannot read config file ${absolute}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Parses `value` (found at `prefix` in the file) with `schema`; records its issues as problems
 * with positions. Returns the output, or undefined when there were issues.
 */
function validate<S extends z.ZodType>(schema: S, value: unknown, prefix: KeyPath, ctx: Context): z.output<S> | undefined {
  const result = schema.safeParse(value, { error: friendlyError });
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.problems.push(...issueProblems(issue, schema, prefix, ctx));
  return undefined;
}

function issueProblems(issue: z.core.$ZodIssue, schema: z.ZodType, prefix: KeyPath, ctx: Context): TreeProblem[] {
  const local = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const path = [...prefix, ...local];
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(schema, local);
    return issue.keys.map((key) => problemAt(ctx, [...path, key], unknownKeyMessage(key, allowed)));
  }
  return [problemAt(ctx, path, describe(issue.message, path, ctx))];
}

/**
 * The issue's message in the form `<what is allowed> (got <value>)`: a leading repeat of the key
 * name is dropped (the path already names it), and the value is shown unless it may be secret.
 */
function describe(message: string, path: KeyPath, ctx: Context): string {
  const last = path[path.length - 1];
  let text = typeof last === 'string' && message.startsWith(`${last} `) ? message.slice(last.length + 1) : message;
  const value = valueAt(ctx.tree.value, path);
  if (isSecretPath(path)) {
    if (typeof value === 'string' && value.length > 0) text = text.split(value).join('[REDACTED]');
    return text;
  }
  if (/\(got /.test(text) || value === undefined || value === null || typeof value === 'object') return text;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : String(value);
  return `${text} (got ${shown})`;
}

/** Credentials and secret-named keys (totpSeed, tokenCode, …) are never echoed. */
function isSecretPath(path: KeyPath): boolean {
  return (path[0] === 'secrets' && path[2] === 'credentials') || path.some((p) => typeof p === 'string' && isSecretKey(p));
}

const SECRET_KEY_NAMES = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));
function isSecretKey(key: string): boolean {
  return SECRET_KEY_NAMES.has(key.toLowerCase());
}

/** A problem at `path`, or at its nearest ancestor written in the file (for missing keys). */
function problemAt(ctx: Context, path: KeyPath, message: string): TreeProblem {
  return { ...positionOf(ctx.tree, path), path: formatKeyPath(path), message };
}

function positionOf(tree: YamlTree, path: KeyPath): Position {
  for (let n = path.length; n >= 0; n--) {
    const found = tree.positions.get(formatKeyPath(path.slice(0, n)));
    if (found) return found;
  }
  return { line: 1, column: 1 };
}

function warn(ctx: Context, path: KeyPath, message: string): void {
  ctx.warnings.push(problemAt(ctx, path, message));
}

function valueAt(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, key)) return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

interface ProviderSections {
  credentials: Record<string, unknown>;
  params: Record<string, unknown>;
}

/**
 * The checks that span secrets or need a plugin: unique ids, known providers, and each
 * provider's own schemas. Runs on the raw tree (even when the file schema failed) so that one
 * run reports every problem. Returns the provider sections, in order, when all are valid.
 */
function validateSecrets(root: unknown, ctx: Context): ProviderSections[] | undefined {
  const entries = isRecord(root) && Array.isArray(root.secrets) ? root.secrets : [];
  const firstById = new Map<string, number>();
  const firstByAccount = new Map<string, number>();
  const out: ProviderSections[] = [];
  let ok = true;
  entries.forEach((entry: unknown, index) => {
    if (!isRecord(entry)) return void (ok = false);
    const at: KeyPath = ['secrets', index];
    registerSecrets(entry, ctx.registry);
    if (typeof entry.id === 'string') {
      const first = firstById.get(entry.id);
      if (first === undefined) firstById.set(entry.id, index);
      else {
        const line = positionOf(ctx.tree, ['secrets', first, 'id']).line;
        ctx.problems.push(
          problemAt(
            ctx,
            [...at, 'id'],
            `duplicate id '${entry.id}': secrets[${first}] at line ${line} already uses it; ids must be unique`,
          ),
        );
      }
    }
    const sections = validateProviderSections(entry, at, ctx);
    if (!sections) return void (ok = false);
    out.push(sections);
    // Two secrets rotating one provider account would each delete the other's secrets to make room.
    const account = ctx.plugins.find((p) => p.type === entry.provider)?.accountOf?.(sections.params);
    if (account !== undefined) {
      const first = firstByAccount.get(account);
      if (first === undefined) firstByAccount.set(account, index);
      else {
        const line = positionOf(ctx.tree, ['secrets', first, 'params']).line;
        ctx.problems.push(
          problemAt(
            ctx,
            [...at, 'params'],
            `secrets[${first}] at line ${line} already rotates this ${String(entry.provider)} account (${account}); two secrets of one account would delete each other's secrets: keep one`,
          ),
        );
      }
    }
  });
  return ok ? out : undefined;
}

function validateProviderSections(entry: Record<string, unknown>, at: KeyPath, ctx: Context): ProviderSections | undefined {
  if (typeof entry.provider !== 'string' || entry.provider === '') return undefined;
  const plugin = ctx.plugins.find((p) => p.type === entry.provider);
  if (!plugin) {
    const known = ctx.plugins.map((p) => p.type);
    const guess = suggest(entry.provider, known);
    const hint = guess ? ` — did you mean '${guess}'?` : '';
    const list = known.length > 0 ? `known providers: ${known.join(', ')}` : 'no providers are registered';
    ctx.problems.push(problemAt(ctx, [...at, 'provider'], `unknown provider '${entry.provider}'${hint} (${list})`));
    return undefined;
  }
  warnLiteralCredentials(at, ctx);
  validateDistribution(entry, at, plugin, ctx);
  const credentials = validateSection(plugin.credentialsSchema, entry.credentials, [...at, 'credentials'], ctx);
  const params = validateSection(plugin.paramsSchema, entry.params, [...at, 'params'], ctx);
  return credentials && params ? { credentials, params } : undefined;
}

/**
 * What needs the plugin to check: `env:` keys and template placeholders must name credential
 * fields the provider has (when it declares them through `envNames`), and two fields must not
 * get one variable name.
 */
function validateDistribution(entry: Record<string, unknown>, at: KeyPath, plugin: ProviderSchemas, ctx: Context): void {
  const fields = plugin.envNames ? Object.keys(plugin.envNames) : undefined;
  if (isRecord(entry.env)) {
    const names = new Map<string, string>();
    for (const [field, name] of Object.entries(entry.env)) {
      if (fields && !fields.includes(field)) {
        ctx.problems.push(
          problemAt(
            ctx,
            [...at, 'env', field],
            `'${plugin.type}' has no credential field '${field}' (it has ${fields.join(', ')})`,
          ),
        );
      }
      if (typeof name !== 'string') continue;
      const first = names.get(name);
      if (first !== undefined)
        ctx.problems.push(
          problemAt(ctx, [...at, 'env', field], `${name} is already the name of '${first}'; each field needs its own variable`),
        );
      names.set(name, field);
    }
  }
  if (!Array.isArray(entry.outputs) || !fields) return;
  entry.outputs.forEach((output: unknown, i) => {
    if (!isRecord(output) || typeof output.template !== 'string') return;
    const where: KeyPath = [...at, 'outputs', i, 'template'];
    for (const message of templateProblems(output.template, fields)) {
      // Syntax problems are reported by the file schema; these are the field checks.
      if (message.includes('no credential field')) ctx.problems.push(problemAt(ctx, where, message));
    }
  });
}

/**
 * One provider section (absent: `{}`, so the plugin's defaults and required keys apply).
 * In sandbox mode, issues caused only by placeholders are not problems: the section is kept
 * with the placeholders unvalidated (see {@link sandboxFallback}).
 */
function validateSection(schema: z.ZodType, raw: unknown, at: KeyPath, ctx: Context): Record<string, unknown> | undefined {
  const input = raw === undefined || raw === null ? {} : raw;
  if (!isRecord(input)) return undefined; // the file schema reports the wrong type
  const result = schema.safeParse(input, { error: friendlyError });
  if (result.success) return asRecord(result.data);
  const placeholderIssue = (issue: z.core.$ZodIssue) =>
    ctx.sandbox && issue.path.length > 0 && hasSandboxPlaceholder(valueAt(input, issue.path as KeyPath));
  const real = result.error.issues.filter((i) => !placeholderIssue(i));
  if (real.length > 0) {
    for (const issue of real) ctx.problems.push(...issueProblems(issue, schema, at, ctx));
    return undefined;
  }
  return sandboxFallback(schema, input, result.error.issues, at, ctx);
}

/**
 * Sandbox only: the section failed just because of placeholders (e.g. a roleNrn pattern). Parse
 * it without those keys so defaults still apply, then put the placeholders back unvalidated.
 */
function sandboxFallback(
  schema: z.ZodType,
  input: Record<string, unknown>,
  issues: readonly z.core.$ZodIssue[],
  at: KeyPath,
  ctx: Context,
): Record<string, unknown> {
  const keys = new Set(issues.map((i) => String(i.path[0])));
  for (const key of keys) {
    const uses = ctx.tree.strings.get(formatKeyPath([...at, key])) ?? [];
    const names = uses.filter((u) => u.source === 'placeholder').map((u) => '${' + u.name + '}');
    const what = names.length > 0 ? `${names.join(', ')} unset` : 'unset variable';
    warn(ctx, [...at, key], `${what}: its sandbox placeholder fails the provider's check and is kept unvalidated`);
  }
  const rest = Object.fromEntries(Object.entries(input).filter(([k]) => !keys.has(k)));
  const retry = schema.safeParse(rest);
  const kept = Object.fromEntries(Object.entries(input).filter(([k]) => keys.has(k)));
  return { ...(retry.success ? asRecord(retry.data) : rest), ...kept };
}

function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/**
 * Registers for log scrubbing every string under `credentials` and every params value whose key
 * names a secret (totpSeed, tokenCode, …). Done before validation: a typo elsewhere must not
 * leave a credential unregistered.
 */
function registerSecrets(entry: Record<string, unknown>, registry: SecretRegistry): void {
  const visit = (value: unknown, secret: boolean): void => {
    if (typeof value === 'string' || typeof value === 'number') {
      if (secret && !hasSandboxPlaceholder(value)) registry.add(String(value));
    } else if (Array.isArray(value)) value.forEach((v) => visit(v, secret));
    else if (isRecord(value)) for (const [k, v] of Object.entries(value)) visit(v, secret || isSecretKey(k));
  };
  visit(entry.credentials, true);
  visit(entry.params, false);
}

/** Master credentials belong in the environment: a value written in the file gets a warning. */
function warnLiteralCredentials(at: KeyPath, ctx: Context): void {
  for (const [path, uses] of credentialStrings(ctx).get(at[1] as number) ?? []) {
    if (uses.some((u) => u.source === 'env' || u.source === 'placeholder')) continue;
    const position = ctx.tree.positions.get(path) ?? positionOf(ctx.tree, [...at, 'credentials']);
    const how = uses.length > 0 ? 'comes from a default written in the file' : 'is written in the file';
    ctx.warnings.push({ ...position, path, message: `${how}: master credentials belong in the environment (write \${NAME})` });
  }
}

const CREDENTIAL_PATH = /^secrets\[(\d+)\]\.credentials[.[]/;

/**
 * The strings under each secret's `credentials`, by secret index: one pass over the file's
 * strings for the whole config (a pass per secret made 10,000 secrets take a minute).
 */
function credentialStrings(ctx: Context): Map<number, [string, VariableUse[]][]> {
  if (ctx.credentialStrings) return ctx.credentialStrings;
  const bySecret = new Map<number, [string, VariableUse[]][]>();
  for (const [path, uses] of ctx.tree.strings) {
    const match = CREDENTIAL_PATH.exec(path);
    if (!match) continue;
    const index = Number(match[1]);
    const list = bySecret.get(index) ?? [];
    list.push([path, uses]);
    bySecret.set(index, list);
  }
  ctx.credentialStrings = bySecret;
  return bySecret;
}

function toRotatorConfig(file: ConfigFile, absolute: string, sections: ProviderSections[]): RotatorConfig {
  const dir = dirname(absolute);
  const secrets = file.secrets.map((entry, index): SecretConfig => {
    const provider = sections[index]!;
    return {
      id: entry.id,
      provider: entry.provider,
      credentials: provider.credentials,
      params: provider.params,
      ...(entry.renewBefore === undefined ? {} : { renewBefore: entry.renewBefore }),
      ...(entry.jitter === undefined ? {} : { jitter: entry.jitter }),
      ...(entry.window === undefined ? {} : { window: entry.window }),
      ...(entry.paused === undefined ? {} : { paused: entry.paused }),
      outputs: entry.outputs.map((o) => resolveOutput(o, dir)),
      ...(entry.env === undefined ? {} : { env: entry.env }),
    };
  });
  return {
    file: absolute,
    vault: resolveVault(file.vault, dir),
    schedule: file.schedule,
    concurrency: file.concurrency,
    shutdownTimeoutMs: file.shutdownTimeout,
    defaults: file.defaults,
    ...(file.http === undefined ? {} : { http: file.http }),
    ...(file.audit === undefined ? {} : { audit: { path: resolve(dir, file.audit.path) } }),
    ...(file.notify === undefined || file.notify.length === 0 ? {} : { notify: file.notify }),
    secrets,
  };
}

/** Relative paths in a config file are relative to that file, not to the cwd. */
function resolveVault(vault: ConfigFile['vault'], dir: string): VaultConfig {
  switch (vault.type) {
    case 'file': {
      const path = resolve(dir, vault.path);
      const keyFile = vault.keyFile === undefined ? `${path}.key` : resolve(dir, vault.keyFile);
      return { type: 'file', path, keyFile, history: vault.history };
    }
    case 'aws-secrets-manager':
      return vault;
  }
}

function resolveOutput(output: OutputConfig, dir: string): OutputConfig {
  return output.type === 'file' ? { ...output, path: resolve(dir, output.path) } : output;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = formatProblem(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
