import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { parseConfig } from '../../config';
import { RotatorError } from '../../errors';
import { starterConfig } from '../../init-template';

/**
 * `rotator sandbox [--write-config FILE]`: every emulator on loopback until interrupted. Needs no
 * config: the emulators are set up for the starter config (`rotator init`), so its secrets, and
 * the variables it reads, work against them. Prints each emulator's URL and the master
 * credentials it accepts as `export` lines (loopback emulator credentials: printing them is the
 * point; they are still scrubbed from logs), and with `--write-config` writes a ready config
 * pointing at this sandbox (0600, never overwriting) once everything listens.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('sandbox')
    .description(
      'run the provider emulators and the AWS Secrets Manager emulator on loopback until interrupted; ' +
        'prints their URLs and the credentials they accept (no config needed)',
    )
    .option('--write-config <file>', 'also write a ready config pointing at this sandbox (refuses to overwrite)')
    .action(async (opts: { writeConfig?: string }) => {
      const { io } = ctx;
      const log = ctx.logger('info');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startSandbox } = require('../../sandbox') as typeof import('../../sandbox');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const rehearsal = require('../../sandbox-rehearsal') as typeof import('../../sandbox-rehearsal');
      // The starter config lives in a scratch folder, so is the sandbox vault it implies: a
      // sandbox started from an empty folder leaves nothing behind.
      // Refused before anything starts; the 'wx' write below still refuses atomically.
      if (opts.writeConfig && existsSync(opts.writeConfig)) {
        throw new RotatorError('USAGE', `${opts.writeConfig} already exists; not overwritten (remove it or name another file)`);
      }
      const scratch = mkdtempSync(join(tmpdir(), 'rotator-sandbox-'));
      try {
        const file = join(scratch, 'rotator.config.yaml');
        const starter = parseConfig(starterConfig({ schema: 'rotator.schema.json' }), {
          file,
          absolute: file,
          env: {},
          sandbox: true,
        });
        const box = await startSandbox(starter, { log, clock: io.clock }, { allProviders: true, secretsManager: true });
        try {
          io.stdout.write(`${box.banner()}\n`);
          const seen = new Set<string>();
          for (const secret of box.config.secrets) {
            if (seen.has(secret.provider)) continue;
            seen.add(secret.provider);
            const pairs = rehearsal.masterEnv(secret.provider, secret.credentials as Record<string, unknown>);
            if (pairs.length > 0)
              io.stdout.write(`  master credentials for ${secret.provider}:\n    ${rehearsal.exportLine(pairs)}\n`);
          }
          if (opts.writeConfig) {
            const target = resolve(opts.writeConfig);
            try {
              writeFileSync(target, rehearsal.rehearsalConfigText(box.config), { flag: 'wx', mode: 0o600 });
            } catch (err) {
              const code = (err as NodeJS.ErrnoException).code;
              throw new RotatorError(
                'USAGE',
                code === 'EEXIST'
                  ? `${opts.writeConfig} already exists; not overwritten (remove it or name another file)`
                  : `cannot write ${opts.writeConfig}: ${code ?? (err as Error).message}`,
              );
            }
            io.stdout.write(`  wrote ${opts.writeConfig}: rotator rotate --all -c ${opts.writeConfig}\n`);
          }
          io.stdout.write('ready (Ctrl-C stops it)\n');
          await new Promise<void>((done) => {
            const detach = io.onSignal(() => {
              detach();
              done();
            });
          });
        } finally {
          await box.close();
        }
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
}
