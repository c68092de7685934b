/**
 * Outputs never touch rotator's own files (issue 10): a file output that resolves to the vault
 * (for the file vault: its file or folder, key file, lock, temp and backup files, which are all
 * named after the vault or key path), the config file, the audit log, the distribution memos
 * (config/host-state.ts), or another output is a config problem.
 * Paths are compared after `..`, the config folder and symlinks are resolved, so a symlinked or
 * roundabout spelling of the vault path is caught too.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { memoDirectory } from './host-state';
import type { KeyPath } from './problems';
import type { RotatorConfig } from './schema';

export interface PathProblem {
  path: KeyPath;
  message: string;
}

/** Problems for every file output of `config` (whose paths are already absolute). */
export function outputPathProblems(config: RotatorConfig): PathProblem[] {
  const protectedPaths: { prefix: string; exact: boolean; what: string }[] = [
    { prefix: canonical(config.file), exact: true, what: 'the config file' },
  ];
  // The audit log is rotator's own append-only trail: an output rewriting it would erase the
  // record of every state change (and put credentials in a file shipped to a SIEM).
  if (config.audit !== undefined) {
    protectedPaths.push({ prefix: canonical(config.audit.path), exact: true, what: `the audit log (${config.audit.path})` });
  }
  // The distribution memos say which version every consumer already has; an output over them
  // would make rotator skip (or endlessly repeat) reload commands.
  const memos = memoDirectory(config);
  protectedPaths.push({ prefix: canonical(memos), exact: false, what: `rotator's distribution records (${memos})` });
  if (config.vault.type === 'file') {
    const keyFile = config.vault.keyFile ?? `${config.vault.path}.key`;
    protectedPaths.push(
      { prefix: canonical(keyFile), exact: false, what: `the vault key file (${keyFile})` },
      { prefix: canonical(config.vault.path), exact: false, what: `the vault (${config.vault.path}, or its lock or temp files)` },
    );
  }
  const problems: PathProblem[] = [];
  const seen = new Map<string, string>();
  config.secrets.forEach((secret, i) =>
    secret.outputs.forEach((output, j) => {
      if (output.type !== 'file') return;
      const at: KeyPath = ['secrets', i, 'outputs', j, 'path'];
      const real = canonical(output.path);
      const hit = protectedPaths.find((p) => real === p.prefix || (!p.exact && real.startsWith(p.prefix)));
      if (hit) {
        problems.push({
          path: at,
          message: `${output.path} is ${hit.what}: writing it would destroy rotator's own data; choose another path`,
        });
        return;
      }
      const other = seen.get(real);
      if (other !== undefined) {
        problems.push({ path: at, message: `${output.path} is already written by ${other}: give each output its own file` });
        return;
      }
      seen.set(real, `secrets[${i}] '${secret.id}' outputs[${j}]`);
    }),
  );
  return problems;
}

/**
 * `path` with symlinks resolved as far as it exists (the rest, not created yet, appended), so
 * two spellings of one file compare equal.
 */
function canonical(path: string): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(canonical(parent), basename(absolute));
  }
}
