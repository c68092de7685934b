import type { Command } from 'commander';
import { describeError } from '../../errors';
import { ConfigError, formatProblem } from '../../config';
import type { RotatorConfig } from '../../../config/schema';
import { EXIT, type CliContext } from '../context';

/** Signals closer together than this are one delivery seen twice (see below). */
const DUPLICATE_SIGNAL_MS = 1_000;

/**
 * `rotator run [--sandbox]`: the daemon, until SIGINT/SIGTERM (a second signal forces exit).
 * SIGHUP reloads the configuration file: it is validated first; on any problem the running
 * configuration stays and the problems are logged. A valid one replaces the service: rotations
 * in flight finish (within shutdownTimeout), then the new configuration starts.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('the daemon: rotate every secret before it expires, until SIGINT/SIGTERM (SIGHUP reloads the config)')
    .option('--sandbox', 'use the built-in emulators and a separate sandbox vault (no credentials needed)')
    .action(async (opts: { sandbox?: boolean }) => {
      const { io } = ctx;
      const log = ctx.logger('info');
      const { config, sandbox, env } = await ctx.prepare(log, { sandbox: Boolean(opts.sandbox), fresh: true });
      // The daemon (scheduler, cron, status server) loads only for this command.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RotatorService } = require('../../service') as typeof import('../../service');
      const make = (c: RotatorConfig) => new RotatorService({ config: c, clock: io.clock, log, env });
      let service = make(config);
      let running = config;
      /** A reload in progress; a stop signal waits for it so that it stops the service that runs. */
      let reloading: Promise<void> | undefined;
      let stopping = false;
      let signals = 0;
      let forced = false;
      let resolveStopped!: (code: number) => void;
      const stopped = new Promise<number>((r) => (resolveStopped = r));
      let firstSignalAt = 0;
      const detach = io.onSignal((signal) => {
        // Ctrl-C under `npm start` arrives twice at once: from the terminal and forwarded by npm.
        // Only a signal sent deliberately later counts as the second one that forces exit.
        if (signals > 0 && io.clock.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
        signals++;
        stopping = true;
        if (signals === 1) firstSignalAt = io.clock.now();
        if (signals > 1) {
          log.warn({ signal }, 'second signal: exiting now');
          forced = true;
          service.abortNow();
          resolveStopped(signal === 'SIGINT' ? 130 : 143);
          return;
        }
        log.info(
          { signal, graceMs: running.shutdownTimeoutMs },
          'stopping: finishing rotations in flight (signal again to force)',
        );
        Promise.resolve(reloading)
          .then(() => service.stop())
          .then(
            (clean) => resolveStopped(clean ? EXIT.ok : EXIT.failed),
            (err) => {
              log.error({ error: describeError(err) }, 'shutdown failed');
              resolveStopped(EXIT.failed);
            },
          );
      });
      const reload = async (): Promise<void> => {
        let next: RotatorConfig;
        try {
          next = ctx.loadConfig();
        } catch (err) {
          log.error({ problems: problemsOf(err) }, 'SIGHUP: the configuration was not reloaded; the running one stays');
          return;
        }
        log.info({ file: next.file, secrets: next.secrets.length }, 'SIGHUP: reloading the configuration');
        await service.stop();
        if (stopping) return;
        const replacement = make(next);
        try {
          await replacement.start();
          service = replacement;
          running = next;
          log.info({ secrets: next.secrets.length }, 'SIGHUP: the new configuration is running');
        } catch (err) {
          // E.g. its status port is taken: go back to what ran before rather than run nothing.
          log.error({ error: describeError(err) }, 'SIGHUP: the new configuration failed to start; restarting the previous one');
          service = make(running);
          await service.start();
        }
      };
      const detachHangup = io.onHangup?.(() => {
        if (sandbox) {
          log.warn({}, 'SIGHUP: reloading is not supported with --sandbox; restart the sandbox to apply changes');
          return;
        }
        if (reloading || stopping) {
          log.warn({}, 'SIGHUP ignored: a reload or shutdown is already in progress');
          return;
        }
        reloading = reload()
          .catch((err: unknown) => {
            log.error({ error: describeError(err) }, 'SIGHUP: reload failed; stopping');
            resolveStopped(EXIT.failed);
          })
          .finally(() => (reloading = undefined));
      });
      try {
        // A start-up failure (port taken, vault unreadable) ends the command; a signal during
        // start-up is handled by stop(), which waits for start to settle.
        await Promise.race([service.start(), stopped]);
        const code = await stopped;
        ctx.setExit(code);
        log.info({ exitCode: code }, 'stopped');
      } finally {
        detach();
        detachHangup?.();
        if (!forced) {
          await Promise.resolve(reloading).catch(() => undefined);
          await service.stop(0);
          await sandbox?.close();
        }
      }
    });
}

/** A config error as lines for the log: one per problem (file:line key: message), secrets scrubbed by the logger. */
function problemsOf(err: unknown): string[] {
  if (err instanceof ConfigError && err.problems.length > 0) return err.problems.map(formatProblem);
  return [describeError(err)];
}
