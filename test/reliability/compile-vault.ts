import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Compiles src/vaults/file.ts (and only what it imports) with the project's build options into
 * a private temp directory and returns the path of the compiled module, for child processes
 * that run under plain `node` (ts-node is not installed).
 *
 * Why not dist/ from `tsc -p tsconfig.build.json`: that builds the whole project, so an
 * unrelated type error elsewhere fails it, and it writes a directory other test runs may be
 * rebuilding at the same moment. Compiling just this module into a temp directory is faster
 * and isolated; the options still come from tsconfig.build.json.
 */
export async function compileFileVault(): Promise<{ modulePath: string; cleanup(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-vault-build-'));
  const outDir = path.join(dir, 'out');
  const tsconfig = {
    extends: path.join(ROOT, 'tsconfig.build.json'),
    compilerOptions: {
      rootDir: ROOT,
      outDir,
      // Type roots resolve from the tsconfig's own directory, which is the temp directory here.
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      declaration: false,
      sourceMap: false,
      incremental: false,
    },
    files: [path.join(ROOT, 'src', 'vaults', 'file.ts')],
    include: [],
  };
  await fs.writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
  await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', dir], { cwd: ROOT });
  return {
    modulePath: path.join(outDir, 'src', 'vaults', 'file.js'),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
