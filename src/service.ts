/**
 * The long-running service behind `rotator run`, as a library: `start()` and `stop()`, never
 * `process.exit`. The CLI owns signals and exit codes.
 */
import type { Clock, Logger } from './types';
import type { RotatorConfig } from '../config/schema';
import { createRuntime, type Runtime } from './runtime';
import { Scheduler, type SchedulerOptions } from './scheduler';
import { startStatusServer, type StatusServer } from './status-server';

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

  constructor(private readonly options: ServiceOptions) {}

  get scheduler(): Scheduler {
    if (!this.schedulerInstance) throw new Error('service not started');
    return this.schedulerInstance;
  }

  async start(): Promise<void> {
    const { config, clock, log } = this.options;
    this.runtime = await createRuntime(config, { clock, log, env: this.options.env ?? process.env });
    this.schedulerInstance = new Scheduler({
      targets: config.secrets.map((s) => this.runtime!.target(s.id)),
      rotation: { vault: this.runtime.vault, clock, log, owner: this.runtime.owner },
      clock,
      log,
      schedule: config.schedule,
      concurrency: config.concurrency,
      ...this.options.scheduler,
    });
    await this.schedulerInstance.start();
    if (config.http) {
      const runtime = this.runtime;
      const scheduler = this.schedulerInstance;
      this.statusServer = await startStatusServer(
        { snapshot: () => scheduler.snapshot(), providerOf: (id) => runtime.pluginFor(id).type },
        { ...config.http, clock, log },
      );
    }
  }

  /** The health and metrics endpoint, when `http` is configured. */
  get statusUrl(): string | undefined {
    return this.statusServer?.url;
  }

  /**
   * Stops sweeping, lets rotations in flight finish within `graceMs` (default: the config's
   * shutdownTimeout), then aborts them. Resolves true when nothing had to be aborted.
   */
  async stop(graceMs = this.options.config.shutdownTimeoutMs): Promise<boolean> {
    const clean = (await this.schedulerInstance?.stop(graceMs)) ?? true;
    await this.statusServer?.close();
    await this.runtime?.close();
    return clean;
  }

  /** Second signal: abort everything at once. */
  abortNow(): void {
    this.schedulerInstance?.abortNow();
  }
}
