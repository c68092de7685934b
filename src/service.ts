/**
 * The long-running service behind `rotator run`, as a library: `start()` and `stop()`, never
 * `process.exit`. The CLI owns signals and exit codes.
 *
 * Lifecycle contract: `stop()` may be called at any time, also while `start()` is still running
 * (a SIGTERM during start-up); it then waits for start to settle and stops whatever it started.
 * A `start()` that fails stops what it had started before rethrowing, so nothing keeps running.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock, Logger } from './types';
import type { RotatorConfig } from '../config/schema';
import { createRuntime, policyOf, rotationDeps, type Runtime } from './runtime';
import { Scheduler, type SchedulerOptions } from './scheduler';
import { startStatusServer, type StatusServer } from './status-server';
import { RotatorError } from './errors';
import { createMetrics, instrumentProvider, instrumentVault, type Metrics } from './metrics';
import { createAlertHub, type AlertHub } from './notify/wire';
import { startupSummary } from './service-summary';

/** Below this many secrets start-up garbage is a few MB: not worth a full collection. */
export const STARTUP_GC_MIN_SECRETS = 1_000;

/**
 * One full, compacting garbage collection once start-up is done. Loading 10,000 secrets
 * allocates ~100 MB that is garbage once the scheduler runs (parse trees, validation copies,
 * vault pages); V8 grows the heap for it and, in a process that then idles, keeps it: the
 * daemon's RSS stayed ~12 MB above what a collection leaves (measured, see the bench). Node
 * offers gc() only under --expose-gc, which `rotator run` is not started with: the flag is set
 * at run time and `gc` read from a fresh context, so the main context gains no global (the
 * expose-gc package does the same in two lines; not worth a dependency). Best effort.
 */
function collectStartupGarbage(): void {
  try {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    // A runtime without the flag: the heap shrinks on its own schedule instead.
  }
}

export interface ServiceOptions {
  config: RotatorConfig;
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /**
   * Passed through to the scheduler (tests: manual sweeps, attempt callbacks). `onAttempt` runs
   * after the service's own (metrics, alerts); it does not replace them.
   */
  scheduler?: Partial<Pick<SchedulerOptions, 'manualSweeps' | 'onAttempt' | 'backoff' | 'leaseRecheckMs'>>;
  /** How often alerts look at secrets between attempts (expiry margins); default 60 s. */
  alertCheckMs?: number;
}

export class RotatorService {
  private runtime?: Runtime;
  private schedulerInstance?: Scheduler;
  private statusServer?: StatusServer;
  private starting?: Promise<void>;
  private metricsInstance?: Metrics;
  private alerts?: AlertHub;
  private stopWatching?: () => void;
  private stopped = false;
  private started = false;

  constructor(private readonly options: ServiceOptions) {}

  get scheduler(): Scheduler {
    if (!this.schedulerInstance) throw new Error('service not started');
    return this.schedulerInstance;
  }

  /** The health and metrics endpoint, when `http` is configured. */
  get statusUrl(): string | undefined {
    return this.statusServer?.url;
  }

  /** The service's metrics (one registry per service), once started. */
  get metrics(): Metrics | undefined {
    return this.metricsInstance;
  }

  start(): Promise<void> {
    this.starting ??= this.startOnce().catch(async (err) => {
      await this.release(0);
      throw err;
    });
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    const { config, clock, log } = this.options;
    const metrics = createMetrics({ clock });
    this.metricsInstance = metrics;
    this.runtime = await createRuntime(config, {
      clock,
      log,
      env: this.options.env ?? process.env,
      instrument: { vault: (v) => instrumentVault(v, metrics), provider: (p) => instrumentProvider(p, metrics) },
    });
    const runtime = this.runtime;
    const providerOf = (id: string) => runtime.pluginFor(id).type;
    const pausedIds = new Set(config.secrets.filter((s) => policyOf(config, s).paused).map((s) => s.id));
    const isPaused = (id: string) => pausedIds.has(id);
    const alerts = createAlertHub(config.notify, { log, clock, providerOf, isPaused });
    this.alerts = alerts;
    // A fresh host (or a deleted file) gets its output files from the vault before anything rotates.
    await runtime.distributor.restoreFiles(runtime.vault);
    const testHook = this.options.scheduler?.onAttempt;
    this.schedulerInstance = new Scheduler({
      targets: config.secrets.map((s) => runtime.target(s.id)),
      rotation: rotationDeps(runtime, log, 'daemon'),
      clock,
      log,
      schedule: config.schedule,
      concurrency: config.concurrency,
      ...this.options.scheduler,
      // Metrics first, then alerts (neither throws nor waits), then the caller's hook.
      onAttempt: (entry, result, error) => {
        metrics.recordAttempt(entry, result, error);
        alerts.onAttempt(entry, result, error);
        testHook?.(entry, result, error);
      },
    });
    const scheduler = this.schedulerInstance;
    const source = { snapshot: () => scheduler.snapshot(), providerOf, isPaused };
    metrics.bindSource(source);
    // Bind the endpoint first: a taken port must fail start-up before anything rotates.
    if (config.http) {
      this.statusServer = await startStatusServer(source, { ...config.http, clock, log, metrics });
    }
    if (this.stopped) throw new RotatorError('ABORTED', 'stopped during start-up');
    await scheduler.start();
    this.stopWatching = alerts.watch(() => scheduler.snapshot(), this.options.alertCheckMs);
    this.started = true;
    const summary = startupSummary(config, scheduler.snapshot(), isPaused, this.statusServer?.url);
    const { message, ...fields } = summary;
    log.info(fields, message);
    if (config.secrets.length >= STARTUP_GC_MIN_SECRETS) collectStartupGarbage();
  }

  /**
   * Stops sweeping, lets rotations in flight finish within `graceMs` (default: the config's
   * shutdownTimeout), then aborts them. Resolves true when nothing had to be aborted.
   */
  async stop(graceMs = this.options.config.shutdownTimeoutMs): Promise<boolean> {
    this.stopped = true;
    // Still starting: make start-up schedule nothing, then stop what it made.
    if (!this.started) this.schedulerInstance?.abortStart();
    await this.starting?.catch(() => undefined);
    return this.release(graceMs);
  }

  private async release(graceMs: number): Promise<boolean> {
    this.stopped = true;
    this.stopWatching?.();
    const clean = (await this.schedulerInstance?.stop(graceMs)) ?? true;
    await this.statusServer?.close();
    await this.runtime?.close();
    await this.alertsDelivered(graceMs);
    this.schedulerInstance = undefined;
    this.statusServer = undefined;
    this.runtime = undefined;
    this.alerts = undefined;
    this.stopWatching = undefined;
    return clean;
  }

  /**
   * Alerts queued by the last attempts get up to `graceMs` to be delivered (a webhook that is
   * down must not hold the process forever); what is left is logged, not silently dropped.
   */
  private async alertsDelivered(graceMs: number): Promise<void> {
    const alerts = this.alerts;
    if (!alerts) return;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), graceMs);
      timer.unref();
    });
    const delivered = await Promise.race([alerts.idle().then(() => true), gaveUp]);
    clearTimeout(timer);
    if (!delivered) this.options.log.warn({ graceMs }, 'alerts still being delivered at shutdown were dropped');
  }

  /** Second signal: abort everything at once. */
  abortNow(): void {
    this.stopped = true;
    this.schedulerInstance?.abortNow();
  }
}
