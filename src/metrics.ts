/**
 * Prometheus metrics with prom-client, one Registry per service (never the global one, so that
 * two services in one process, and tests, do not share series).
 *
 * Per-secret gauges are computed at scrape time from the scheduler's snapshot (the source), so
 * they need no wiring and a series without a value is absent rather than 0 (a secret with no
 * credential has no expiry series). Events the snapshot cannot tell are recorded by calls the
 * engine makes: `recordAttempt` (duration histogram, last success, distribution failures) from
 * the scheduler's onAttempt; provider and vault requests through `instrumentProvider` /
 * `instrumentVault`, which wrap the objects without changing them.
 *
 * Labels carry secret ids, provider types, operation names, codes and states: never a
 * credential, a provider reference or a URL.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock, Provider, Vault } from './types';
import type { SecretSchedule } from './scheduler';
import type { RotationResult } from './rotate';
import { EMERGENCY_FRACTION } from './renewal';
import { isRotatorError } from './errors';

/** The state words `status` shows, in the order a person should look at them. */
export const SECRET_STATES = ['missing', 'expired', 'paused', 'renewing', 'failing', 'expiring', 'ok'] as const;
export type SecretStateWord = (typeof SECRET_STATES)[number];

/**
 * One word for a secret, first match wins: no credential (missing), past expiry (expired),
 * paused, a rotation running (renewing), failed attempts (failing), inside the emergency margin
 * (expiring), else ok. Pure, so `status` and the metrics agree.
 */
export function secretStateOf(entry: SecretSchedule, now: number, paused = false): SecretStateWord {
  const current = entry.current;
  if (!current) return 'missing';
  if (current.expiresAt <= now) return 'expired';
  if (paused) return 'paused';
  if (entry.running) return 'renewing';
  if (entry.consecutiveFailures > 0) return 'failing';
  if (current.expiresAt - now < (current.expiresAt - current.issuedAt) * EMERGENCY_FRACTION) return 'expiring';
  return 'ok';
}

export interface MetricsSource {
  snapshot(): SecretSchedule[];
  providerOf(secretId: string): string;
  isPaused?(secretId: string): boolean;
}

export interface MetricsOptions {
  /** rotator_build_info{version}; default the package version. */
  version?: string;
  clock: Clock;
  /** Process and Node.js metrics (CPU, memory, event loop lag, GC); default true. */
  defaultMetrics?: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  /** The per-secret source read at scrape time (the status server binds the scheduler). */
  bindSource(source: MetricsSource): void;
  /** Scheduler onAttempt: the attempt started at `entry.lastAttemptAt` and ends now. */
  recordAttempt(entry: SecretSchedule, result: RotationResult | undefined, error: unknown): void;
  /** One call to a provider; `code` is the HTTP status when known, else `ok` or the error code. */
  recordProviderRequest(provider: string, operation: string, code: string | number): void;
  recordVaultRequest(operation: string, result: 'ok' | 'error'): void;
  /** A distribution (outputs, reload hooks) of a secret's current value that failed. */
  recordDistributionFailure(secretId: string): void;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

const SECRET_LABELS = ['secret', 'provider'] as const;

/**
 * How often the event-loop lag monitor samples (prom-client's default is 10 ms). Each sample is
 * a timer wake-up outside JavaScript: at 10 ms an idle daemon spent ~7 ms of CPU a second on it,
 * more than everything else it does while idle (measured at 10,000 secrets: 0.7 % of a core).
 * At 100 ms a stall long enough to matter to a rotation still shows in the lag metrics.
 */
export const EVENT_LOOP_PRECISION_MS = 100;

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const { clock } = options;
  let source: MetricsSource | undefined;
  /** Epoch ms of each secret's last successful attempt seen by this process. */
  const lastSuccess = new Map<string, number>();
  const snapshot = () => source?.snapshot() ?? [];
  const labelsOf = (s: SecretSchedule) => ({ secret: s.secretId, provider: source!.providerOf(s.secretId) });
  const seconds = (ms: number) => Math.floor(ms / 1000);

  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  }

  new Gauge({
    name: 'rotator_build_info',
    help: 'Always 1; the labels say which rotator is running.',
    labelNames: ['version', 'node'],
    registers: [registry],
  }).set({ version: options.version ?? packageVersion(), node: process.version }, 1);
  new Gauge({ name: 'rotator_up', help: 'The rotator daemon is running.', registers: [registry] }).set(1);

  /** A per-secret gauge recomputed at scrape time; `value` undefined leaves the series out. */
  const perSecret = (name: string, help: string, value: (s: SecretSchedule, now: number) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: SECRET_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        const now = clock.now();
        for (const s of snapshot()) {
          const v = value(s, now);
          if (v !== undefined) this.set(labelsOf(s), v);
        }
      },
    });

  perSecret('rotator_secret_expiry_timestamp_seconds', 'When the current credential expires (absent: none).', (s) =>
    s.current ? seconds(s.current.expiresAt) : undefined,
  );
  perSecret(
    'rotator_secret_expires_in_seconds',
    'Seconds until the current credential expires (negative: expired; absent: none).',
    (s, now) => (s.current ? seconds(s.current.expiresAt - now) : undefined),
  );
  perSecret(
    'rotator_secret_next_renewal_timestamp_seconds',
    'When the scheduler next attempts the secret (absent: paused or not scheduled).',
    (s) =>
      source!.isPaused?.(s.secretId) || !(s.nextAttemptAt > 0) || !Number.isFinite(s.nextAttemptAt)
        ? undefined
        : seconds(s.nextAttemptAt),
  );
  perSecret(
    'rotator_secret_last_success_timestamp_seconds',
    'When an attempt last ended with a valid current credential (absent: none since start).',
    (s) => {
      const at = lastSuccess.get(s.secretId);
      return at === undefined ? undefined : seconds(at);
    },
  );
  perSecret('rotator_secret_consecutive_failures', 'Failed attempts since the last success.', (s) => s.consecutiveFailures);
  perSecret('rotator_secret_ready', '1 when the secret has an unexpired current credential, else 0.', (s, now) =>
    s.current && s.current.expiresAt > now ? 1 : 0,
  );
  new Gauge({
    name: 'rotator_secret_state',
    help: `1 for the state the secret is in (${SECRET_STATES.join(', ')}), 0 for the others.`,
    labelNames: [...SECRET_LABELS, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      const now = clock.now();
      for (const s of snapshot()) {
        const state = secretStateOf(s, now, source!.isPaused?.(s.secretId));
        for (const word of SECRET_STATES) this.set({ ...labelsOf(s), state: word }, word === state ? 1 : 0);
      }
    },
  });
  new Counter({
    name: 'rotator_rotations_total',
    help: 'Rotation attempts since start, by result (rotated, not-due, resumed, leased-elsewhere, failed, ...).',
    labelNames: [...SECRET_LABELS, 'result'],
    registers: [registry],
    collect() {
      // The scheduler counts; the counter mirrors its totals, which only grow.
      this.reset();
      for (const s of snapshot()) {
        for (const [result, n] of Object.entries(s.outcomes)) if (n) this.inc({ ...labelsOf(s), result }, n);
      }
    },
  });

  const duration = new Histogram({
    name: 'rotator_rotation_duration_seconds',
    help: 'How long a rotation attempt took, by provider and result.',
    labelNames: ['provider', 'result'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const providerRequests = new Counter({
    name: 'rotator_provider_requests_total',
    help: 'Calls to providers by provider, operation (issue, verify, revoke, list) and code (HTTP status, ok, or error code).',
    labelNames: ['provider', 'operation', 'code'],
    registers: [registry],
  });
  const vaultRequests = new Counter({
    name: 'rotator_vault_requests_total',
    help: 'Vault calls by operation and result (ok, error).',
    labelNames: ['operation', 'result'],
    registers: [registry],
  });
  const distributionFailures = new Counter({
    name: 'rotator_distribution_failures_total',
    help: 'Distributions (outputs, reload hooks) of a current value that failed after it was promoted.',
    labelNames: ['secret'],
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    bindSource(s) {
      source = s;
    },
    recordAttempt(entry, result, error) {
      const now = clock.now();
      const provider = source?.providerOf(entry.secretId) ?? 'unknown';
      const outcome = result?.outcome ?? (error === undefined ? 'unknown' : 'failed');
      if (entry.lastAttemptAt !== undefined)
        duration.observe({ provider, result: outcome }, Math.max(0, now - entry.lastAttemptAt) / 1000);
      if (result && result.outcome !== 'leased-elsewhere' && entry.current) lastSuccess.set(entry.secretId, now);
      if (result?.distributionError !== undefined) distributionFailures.inc({ secret: entry.secretId });
    },
    recordProviderRequest(provider, operation, code) {
      providerRequests.inc({ provider, operation, code: String(code) });
    },
    recordVaultRequest(operation, result) {
      vaultRequests.inc({ operation, result });
    },
    recordDistributionFailure(secretId) {
      distributionFailures.inc({ secret: secretId });
    },
    render: () => registry.metrics(),
  };
}

/** The code label for a failed call: the HTTP status when the error carries one, else its code. */
export function codeOf(err: unknown): string {
  if (isRotatorError(err)) return String(err.details.status ?? err.code);
  return 'error';
}

const PROVIDER_OPS = ['issue', 'verify', 'revoke', 'list'];
const VAULT_OPS = [
  'read',
  'readMany',
  'putPending',
  'promote',
  'discardPending',
  'list',
  'acquireLease',
  'updateMeta',
  'recordIntent',
  'clearIntent',
];

/**
 * Proxy handlers by metrics object and provider type: the daemon wraps one provider per secret,
 * and a handler (with its closures) per provider cost ~330 bytes each at 10,000 secrets; a
 * shared one leaves only the Proxy itself per provider.
 */
const providerHandlers = new WeakMap<object, Map<string, ProxyHandler<object>>>();

/** Wraps a provider so each issue/verify/revoke/list call is counted. Same object shape. */
export function instrumentProvider<P extends Provider>(provider: P, metrics: Pick<Metrics, 'recordProviderRequest'>): P {
  let byType = providerHandlers.get(metrics);
  if (!byType) providerHandlers.set(metrics, (byType = new Map()));
  let handler = byType.get(provider.type);
  if (!handler) {
    const type = provider.type;
    handler = countingHandler(PROVIDER_OPS, (op, outcome) =>
      metrics.recordProviderRequest(type, op, outcome === 'ok' ? 'ok' : codeOf(outcome.error)),
    );
    byType.set(type, handler);
  }
  return new Proxy(provider, handler as ProxyHandler<P>);
}

/** Wraps a vault so each call is counted by operation and result. Same object shape. */
export function instrumentVault<V extends Vault>(vault: V, metrics: Pick<Metrics, 'recordVaultRequest'>): V {
  const handler = countingHandler(VAULT_OPS, (op, outcome) => metrics.recordVaultRequest(op, outcome === 'ok' ? 'ok' : 'error'));
  return new Proxy(vault, handler as ProxyHandler<V>);
}

/**
 * A proxy handler whose listed async methods report their outcome; everything else (properties,
 * optional methods that are absent, `this`) behaves as on the target. It holds no target, so one
 * handler serves many proxies.
 */
function countingHandler(
  methods: string[],
  report: (op: string, outcome: 'ok' | { error: unknown }) => void,
): ProxyHandler<object> {
  return {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !methods.includes(prop) || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
          report(prop, 'ok');
          return out;
        } catch (error) {
          report(prop, { error });
          throw error;
        }
      };
    },
  };
}

function packageVersion(): string {
  // Two levels up from src/ and from dist/src/ alike.
  for (const path of ['../package.json', '../../package.json']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require(path) as { name?: string; version?: string };
      if (pkg.name === 'rotator' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}
