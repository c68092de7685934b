import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { RotatorError } from '../../errors';
import { STARTER_VAULTS, starterConfig, type StarterVault } from '../../init-template';

/**
 * `rotator init [file]`: writes the commented starter config (src/init-template.ts) with the
 * editor's schema line pointing at this installation's config/rotator.schema.json. Never
 * overwrites: an existing file is a usage error (exit 2) that says so.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .argument('[file]', 'where to write it', 'rotator.config.yaml')
    .description('write a commented starter configuration (one secret per provider); never overwrites')
    .option('--vault <type>', `the vault: ${STARTER_VAULTS.join(' or ')}`, 'file')
    .option('--region <region>', 'AWS region of the aws-secrets-manager vault')
    .action((file: string, opts: { vault: string; region?: string }) => {
      const target = resolve(file);
      let text: string;
      try {
        text = starterConfig({
          schema: schemaPath(),
          vault: opts.vault as StarterVault,
          ...(opts.region ? { region: opts.region } : {}),
        });
      } catch (err) {
        throw new RotatorError('USAGE', `rotator init: ${(err as Error).message}`);
      }
      // 'wx' refuses an existing file atomically; existsSync only gives the clearer message first.
      if (existsSync(target))
        throw new RotatorError('USAGE', `${file} already exists; not overwritten (remove it or name another file)`);
      try {
        writeFileSync(target, text, { flag: 'wx', mode: 0o644 });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST')
          throw new RotatorError('USAGE', `${file} already exists; not overwritten (remove it or name another file)`);
        throw new RotatorError('USAGE', `cannot write ${file}: ${code ?? (err as Error).message}`);
      }
      ctx.io.stdout.write(
        `wrote ${file}: set the variables it names, then \`rotator validate -c ${file}\` ` +
          `(\`rotator validate --sandbox -c ${file}\` needs none)\n`,
      );
    });
}

/** This installation's JSON Schema (the package root is the nearest folder holding it above src/ or dist/src/). */
function schemaPath(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'config', 'rotator.schema.json');
    if (existsSync(candidate)) return candidate;
  }
  // The package always ships it (package.json `files`), so this means a broken install.
  throw new RotatorError('INTERNAL', 'config/rotator.schema.json not found above ' + __dirname);
}
