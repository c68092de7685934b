/**
 * The long-running service behind `rotator run`, as a library: `start()` and `stop()`, never
 * `process.exit`. The CLI owns signals and exit codes.
 *
 * Lifecycle contract: `stop()` may be called at any time, also while `start()` is still running
 * (a SIGTERM during start-up); it then waits for start to settle and stops whatever it started.
 * A `start()` that fails stops what it had started before rethrowing, so nothing keeps running.
 */
import type { Clock, Logger } from './types';
import type { RotatorConfig } from '../config/schema';
import { createRuntime, rotationDeps, type Runtime } from './runtime';
import { Scheduler, type SchedulerOptions } from './scheduler';
import { startStatusServer, type StatusServer } from './status-server';
import { RotatorError } from './errors';

export interface ServiceOptions {
  config: RotatorConfig;
  clock: Clock;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Passed through to the scheduler (tests: manual sweeps, attempt callbacks). */
  scheduler?: Partial<Pick<SchedulerOptions, 'manualSweeps' | 'onAttempt' | 'backoff' | 'leaseRecheckMs'>>;
}

export class RotatorService {
  private runtime?: Runtime;
  private schedulerInstance?: Scheduler;
  private statusServer?: StatusServer;
  private starting?: Promise<void>;
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

  start(): Promise<void> {
    this.starting ??= this.startOnce().catch(async (err) => {
      await this.release(0);
      throw err;
    });
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    const { config, clock, log } = this.options;
    this.runtime = await createRuntime(config, { clock, log, env: this.options.env ?? process.env });
    const runtime = this.runtime;
    // A fresh host (or a deleted file) gets its output files from the vault before anything rotates.
    await runtime.distributor.restoreFiles(runtime.vault);
    this.schedulerInstance = new Scheduler({
      targets: config.secrets.map((s) => runtime.target(s.id)),
      rotation: rotationDeps(runtime, log, 'daemon'),
      clock,
      log,
      schedule: config.schedule,
      concurrency: config.concurrency,
      ...this.options.scheduler,
    });
    const scheduler = this.schedulerInstance;
    // Bind the endpoint first: a taken port must fail start-up before anything rotates.
    if (config.http) {
      this.statusServer = await startStatusServer(
        { snapshot: () => scheduler.snapshot(), providerOf: (id) => runtime.pluginFor(id).type },
        { ...config.http, clock, log },
      );
    }
    if (this.stopped) throw new RotatorError('ABORTED', 'stopped during start-up');
    await scheduler.start();
    this.started = true;
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
    const clean = (await this.schedulerInstance?.stop(graceMs)) ?? true;
    await this.statusServer?.close();
    await this.runtime?.close();
    this.schedulerInstance = undefined;
    this.statusServer = undefined;
    this.runtime = undefined;
    return clean;
  }

  /** Second signal: abort everything at once. */
  abortNow(): void {
    this.stopped = true;
    this.schedulerInstance?.abortNow();
  }
}
