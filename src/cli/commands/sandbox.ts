import type { Command } from 'commander';
import type { CliContext } from '../context';

/** `rotator sandbox`: every emulator on loopback until interrupted. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('sandbox')
    .description('run the provider emulators and the AWS Secrets Manager emulator on loopback until interrupted')
    .action(async () => {
      const { io } = ctx;
      const log = ctx.logger('info');
      const config = ctx.loadConfig({ sandbox: true });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startSandbox } = require('../../sandbox') as typeof import('../../sandbox');
      const box = await startSandbox(config, { log, clock: io.clock }, { allProviders: true, secretsManager: true });
      io.stdout.write(`${box.banner()}\n`);
      await new Promise<void>((resolve) => {
        const detach = io.onSignal(() => {
          detach();
          resolve();
        });
      });
      await box.close();
    });
}
