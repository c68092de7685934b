/**
 * The library reader: `createSecretReader()` from "rotator". A program reads its credential
 * with `await reader.get(id)` as often as it likes; the value comes from a cache that is
 * refreshed from the vault in the background before the secret's renewal time.
 *
 * Refresh policy (time from the injected clock):
 * - a fresh value is served from memory until the secret's renewal time (src/renewal.ts) or
 *   `maxAgeMs`, whichever comes first; a background timer (unref'd) then re-reads the vault;
 * - once the renewal time has passed, the vault is re-read every `retryMs` until a new version
 *   appears (the rotator may take a sweep or a retry to rotate);
 * - concurrent `get`s during a refresh share one vault read;
 * - when the vault cannot be read, the cached value is served (with a warning) while it has not
 *   expired; after its expiry, `get` rejects with VAULT_UNAVAILABLE naming the secret and when
 *   it expired.
 * Only the Vault interface is used, through createRuntime, so it works with any vault type.
 */
import type { Clock, Logger, Vault, VaultValue } from '../types';
import type { RotatorConfig, SecretConfig } from '../../config/schema';
import { loadConfig, resolveConfigPath } from '../config';
import { createRuntime, notConfigured, policyOf, type Runtime } from '../runtime';
import { renewalTime } from '../renewal';
import { credentialOf } from '../rotate';
import { systemClock, clampDelay } from '../clock';
import { silentLogger } from '../log';
import { RotatorError, describeError } from '../errors';
import { secrets } from '../redact';

export interface SecretReaderOptions {
  /** A config file path (default: $ROTATOR_CONFIG, else ./rotator.config.yaml) or a loaded config. */
  config?: string | RotatorConfig;
  /** Where ROTATOR_VAULT_KEY, ROTATOR_CONFIG and ${VAR}s come from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  log?: Logger;
  /** Read this vault instead of opening the configured one (tests; sharing an open vault). */
  vault?: Vault;
  /** Re-read at least this often, to see out-of-schedule rotations. Default 5 min. */
  maxAgeMs?: number;
  /** Re-read interval after the renewal time has passed or a read failed. Default 30 s. */
  retryMs?: number;
}

export interface SecretReaderStats {
  /** Vault reads made (each shared by every `get` waiting on it). */
  refreshes: number;
  /** `get` calls answered. */
  gets: number;
  /** Refreshes that failed. */
  failures: number;
}

export interface SecretReader {
  /** The current value of a configured secret. */
  get(secretId: string): Promise<VaultValue>;
  stats(): SecretReaderStats;
  /** Stops the background refreshes and closes the vault. */
  close(): Promise<void>;
}

export const READER_DEFAULTS = { maxAgeMs: 300_000, retryMs: 30_000 } as const;

interface Entry {
  value?: VaultValue;
  /** When the next vault read is due (epoch ms). */
  refreshAt: number;
  inflight?: Promise<VaultValue>;
  looping: boolean;
  /** Why the last read could not give a usable credential; repeated until the next read is due. */
  failure?: RotatorError;
  /** When the last vault read finished (epoch ms). */
  readAt?: number;
}

/**
 * With nothing valid to serve, `get` asks the vault at most this often: a program calling it in
 * a loop while the rotator or the vault is down must not hammer the vault, yet a vault that
 * comes back is noticed within a second.
 */
export const UNSERVABLE_READ_INTERVAL_MS = 1_000;

/**
 * When to re-read after reading `value` at `now`: its renewal time (capped by maxAge), or, once
 * that has passed, `retryMs` later. Pure; exported for tests.
 */
export function nextRefreshAt(
  value: VaultValue,
  secret: SecretConfig,
  config: RotatorConfig,
  now: number,
  maxAgeMs: number,
  retryMs: number,
): number {
  const renewAt = renewalTime(secret.id, credentialOf(value), policyOf(config, secret));
  if (now < renewAt) return Math.min(renewAt, now + maxAgeMs);
  return now + retryMs;
}

export function createSecretReader(options: SecretReaderOptions = {}): SecretReader {
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const maxAgeMs = options.maxAgeMs ?? READER_DEFAULTS.maxAgeMs;
  const retryMs = options.retryMs ?? READER_DEFAULTS.retryMs;
  // Consumers hold the config and the vault key, never the master credentials: read-only load.
  const config =
    typeof options.config === 'object'
      ? options.config
      : loadConfig(resolveConfigPath(options.config, env), { env, readOnly: true });
  const entries = new Map<string, Entry>();
  const stats: SecretReaderStats = { refreshes: 0, gets: 0, failures: 0 };
  const stop = new AbortController();
  let runtime: Promise<Runtime> | undefined;
  const vault = async (): Promise<Vault> => {
    if (options.vault) return options.vault;
    runtime ??= createRuntime(config, { clock, log, env }).catch((err: unknown) => {
      runtime = undefined; // e.g. the vault key is not there yet: try again at the next read
      throw err;
    });
    return (await runtime).vault;
  };

  const secretOf = (id: string): SecretConfig => {
    const secret = config.secrets.find((s) => s.id === id);
    if (!secret) throw notConfigured(id, config);
    return secret;
  };

  const refresh = (id: string, entry: Entry): Promise<VaultValue> => {
    entry.inflight ??= read(id, entry).finally(() => (entry.inflight = undefined));
    return entry.inflight;
  };

  const read = async (id: string, entry: Entry): Promise<VaultValue> => {
    stats.refreshes++;
    try {
      const current = (await (await vault()).read(id)).current;
      if (!current)
        throw new RotatorError('NOT_FOUND', `'${id}' has no current version in the vault yet (run \`rotator rotate ${id}\`)`);
      secrets.addCredentials(current.value);
      entry.failure = undefined;
      if (entry.value && entry.value.rotationId !== current.value.rotationId)
        log.info({ secretId: id, expiresAt: current.value.expiresAt }, 'new credential read');
      entry.value = current.value;
      entry.refreshAt = nextRefreshAt(current.value, secretOf(id), config, clock.now(), maxAgeMs, retryMs);
      return current.value;
    } catch (err) {
      stats.failures++;
      const now = clock.now();
      const cached = entry.value;
      if (cached && now < Date.parse(cached.expiresAt)) {
        entry.refreshAt = Math.min(now + retryMs, Date.parse(cached.expiresAt));
        log.warn(
          { secretId: id, expiresAt: cached.expiresAt, error: describeError(err) },
          'cannot read the vault; serving the cached credential until it expires',
        );
        return cached;
      }
      entry.refreshAt = now;
      const why = cached ? `the cached credential expired at ${cached.expiresAt}` : 'no credential is cached';
      entry.failure = new RotatorError(
        'VAULT_UNAVAILABLE',
        `cannot read secret '${id}' from the vault (${describeError(err)}) and ${why}`,
        { cause: err },
      );
      throw entry.failure;
    } finally {
      entry.readAt = clock.now();
      loop(id, entry);
    }
  };

  /** One background loop per secret: sleeps until the entry's refresh time, then refreshes. */
  const loop = (id: string, entry: Entry) => {
    if (entry.looping || stop.signal.aborted) return;
    entry.looping = true;
    void (async () => {
      try {
        while (!stop.signal.aborted) {
          const wait = entry.refreshAt - clock.now();
          if (wait > 0) {
            await sleep(clock, wait, stop.signal);
            continue;
          }
          await refresh(id, entry).catch((err) =>
            log.warn({ secretId: id, error: describeError(err) }, 'background refresh failed'),
          );
          // A failure with nothing servable leaves refreshAt at now: wait retryMs, don't spin.
          if (entry.refreshAt <= clock.now()) await sleep(clock, retryMs, stop.signal);
        }
      } catch {
        // Aborted by close().
      } finally {
        entry.looping = false;
      }
    })();
  };

  return {
    async get(secretId) {
      if (stop.signal.aborted) throw new RotatorError('USAGE', 'the secret reader is closed');
      secretOf(secretId);
      stats.gets++;
      let entry = entries.get(secretId);
      if (!entry) entries.set(secretId, (entry = { refreshAt: 0, looping: false }));
      const now = clock.now();
      const cached = entry.value;
      if (cached && now < Date.parse(cached.expiresAt)) {
        // Still valid: serve it; a due refresh happens in the background.
        if (now >= entry.refreshAt) void refresh(secretId, entry).catch(() => undefined);
        return cached;
      }
      // Nothing valid to serve, and the vault was asked recently: answer without asking again
      // (a program calling get in a loop must not hammer the vault while the rotator is down).
      const recentlyRead = entry.readAt !== undefined && now - entry.readAt < UNSERVABLE_READ_INTERVAL_MS && !entry.inflight;
      if (recentlyRead && (entry.failure || cached)) throw entry.failure ?? expired(secretId, cached!);
      const value = await refresh(secretId, entry);
      if (clock.now() >= Date.parse(value.expiresAt)) throw expired(secretId, value);
      return value;
    },
    stats: () => ({ ...stats }),
    async close() {
      stop.abort();
      await Promise.allSettled([...entries.values()].map((e) => e.inflight));
      if (runtime) await (await runtime).close();
    },
  };
}

function expired(secretId: string, value: VaultValue): RotatorError {
  return new RotatorError(
    'EXPIRED',
    `secret '${secretId}': the current credential in the vault expired at ${value.expiresAt} and nothing newer is there yet; is \`rotator run\` running?`,
  );
}

/** The clock's sleep; with the wall clock, an unref'd timer so the reader never keeps a process alive. */
function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (clock !== systemClock) return clock.sleep(ms, signal);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, clampDelay(ms));
    timer.unref();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
