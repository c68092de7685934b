import type { Command } from 'commander';
import { describeError } from '../../errors';
import { EXIT, type CliContext } from '../context';

/** Signals closer together than this are one delivery seen twice (see below). */
const DUPLICATE_SIGNAL_MS = 1_000;

/** `rotator run [--sandbox]`: the daemon, until SIGINT/SIGTERM (a second signal forces exit). */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('the daemon: rotate every secret before it expires, until SIGINT/SIGTERM')
    .option('--sandbox', 'use the built-in emulators and a separate sandbox vault (no credentials needed)')
    .action(async (opts: { sandbox?: boolean }) => {
      const { io } = ctx;
      const log = ctx.logger('info');
      const { config, sandbox, env } = await ctx.prepare(log, { sandbox: Boolean(opts.sandbox), fresh: true });
      // The daemon (scheduler, cron, status server) loads only for this command.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RotatorService } = require('../../service') as typeof import('../../service');
      const service = new RotatorService({ config, clock: io.clock, log, env });
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
        if (signals === 1) firstSignalAt = io.clock.now();
        if (signals > 1) {
          log.warn({ signal }, 'second signal: exiting now');
          forced = true;
          service.abortNow();
          resolveStopped(signal === 'SIGINT' ? 130 : 143);
          return;
        }
        log.info(
          { signal, graceMs: config.shutdownTimeoutMs },
          'stopping: finishing rotations in flight (signal again to force)',
        );
        service.stop().then(
          (clean) => resolveStopped(clean ? EXIT.ok : EXIT.failed),
          (err) => {
            log.error({ error: describeError(err) }, 'shutdown failed');
            resolveStopped(EXIT.failed);
          },
        );
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
        if (!forced) {
          await service.stop(0);
          await sandbox?.close();
        }
      }
    });
}
