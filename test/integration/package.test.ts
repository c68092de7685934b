/**
 * The package as an operator gets it: packed from a copy of the working tree that has no dist/
 * (as a fresh clone has none, so `npm pack` itself must build it), installed globally from the
 * tarball alone into a temporary prefix, and run from an unrelated folder with nothing on PATH
 * but that prefix and node. Dependencies come from the local npm cache (`--prefer-offline`); a
 * cache miss reaches the registry, as the CI machine can.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
/** Packing builds dist/ from scratch and installing fetches ~100 packages: minutes on a loaded machine. */
const SETUP_TIMEOUT_MS = 10 * 60_000;
/** What a checkout holds that is not the package source: never copied. */
const NOT_SOURCE = new Set(['node_modules', 'dist', '.git', '.rotator', 'coverage']);

interface Installed {
  work: string;
  tarball: string;
  entries: string[];
  prefix: string;
  /** The installed package folder (prefix/lib/node_modules/rotator). */
  home: string;
  /** An empty folder that is neither the checkout nor the prefix. */
  elsewhere: string;
}

let pkg: Installed;

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'rotator-pack-'));
  const checkout = join(work, 'checkout');
  cpSync(ROOT, checkout, {
    recursive: true,
    filter: (src) => !(relative(ROOT, src).split('/').length === 1 && NOT_SOURCE.has(basename(src))) && !src.endsWith('.tgz'),
  });
  // The build tools (tsc) come from the checkout's own install, as after `npm ci`.
  symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: checkout, maxBuffer: 16 << 20 });
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const tarball = join(work, filename);

  const elsewhere = join(work, 'elsewhere');
  const prefix = join(work, 'prefix');
  mkdirSync(elsewhere);
  await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: elsewhere,
    maxBuffer: 16 << 20,
  });
  pkg = { work, tarball, entries: files.map((f) => f.path), prefix, home: join(prefix, 'lib/node_modules/rotator'), elsewhere };
}, SETUP_TIMEOUT_MS);

afterAll(() => {
  if (pkg) rmSync(pkg.work, { recursive: true, force: true });
});

const bareEnv = () => ({ PATH: `${join(pkg.prefix, 'bin')}:${dirname(process.execPath)}`, HOME: pkg.elsewhere });

/** Runs the installed `rotator` from the unrelated folder; only the prefix and node are on PATH. */
async function rotator(args: string[], env: NodeJS.ProcessEnv = {}, cwd = pkg.elsewhere) {
  const child = run(join(pkg.prefix, 'bin/rotator'), args, { cwd, env: { ...bareEnv(), ...env } });
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('npm pack', () => {
  test('the tarball holds the built CLI, the JSON schema, the examples and the licence', () => {
    expect(pkg.entries).toEqual(
      expect.arrayContaining([
        'bin/rotator.js',
        'dist/src/cli/main.js',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'config/rotator.schema.json',
        'config/examples/minimal.yaml',
        'README.md',
        'LICENSE',
        'package.json',
      ]),
    );
  });

  test('the tarball holds no sources, tests, CI files, build caches or local state', () => {
    const stray = pkg.entries.filter(
      (p) =>
        /^(src|test|providers|\.ci|\.rotator|node_modules)\//.test(p) ||
        (p.endsWith('.ts') && !p.endsWith('.d.ts')) ||
        /\.(map|tsbuildinfo|tgz|log)$/.test(p) ||
        p === 'rotator.config.yaml' ||
        p.includes('generate-json-schema'),
    );
    expect(stray).toEqual([]);
  });

  test('the packed manifest is publishable: not private, Apache-2.0 with its full text, engines kept', () => {
    const manifest = JSON.parse(readFileSync(join(pkg.home, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.private).toBeUndefined();
    expect(manifest.license).toBe('Apache-2.0');
    expect(manifest.engines).toEqual({ node: expect.stringMatching(/^>=20/) });
    const licence = readFileSync(join(pkg.home, 'LICENSE'), 'utf8');
    expect(licence).toMatch(/Apache License\s+Version 2\.0, January 2004/);
    expect(licence).toMatch(/END OF TERMS AND CONDITIONS/);
  });
});

describe('the installed package, run from an unrelated folder', () => {
  test('is installed as a `rotator` command with its own dependencies', () => {
    expect(existsSync(join(pkg.prefix, 'bin/rotator'))).toBe(true);
    expect(existsSync(join(pkg.home, 'node_modules/commander'))).toBe(true);
    // Development tools stay out of an operator's install.
    expect(existsSync(join(pkg.home, 'node_modules/typescript'))).toBe(false);
  });

  test('rotator --help lists the commands and exits 0', async () => {
    const result = await rotator(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: rotator /);
    for (const command of ['validate', 'run', 'rotate', 'status', 'get', 'exec', 'sandbox']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  test('validate --sandbox accepts every shipped example', async () => {
    const examples = readdirSync(join(pkg.home, 'config/examples')).filter((f) => f.endsWith('.yaml'));
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      const result = await rotator(['validate', '--sandbox', '-c', join(pkg.home, 'config/examples', example)]);
      expect({ example, code: result.code, stderr: result.stderr }).toEqual({ example, code: 0, stderr: expect.any(String) });
      expect(result.stdout).toContain(': ok (');
    }
  });

  test('validate names a missing config and what to set, with exit code 2', async () => {
    const result = await rotator(['validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`config file not found: ${join(pkg.elsewhere, 'rotator.config.yaml')}`);
    expect(result.stderr).toContain('-c/--config');
  });

  test('rotate --all --sandbox issues, verifies and promotes with the installed emulators and vault', async () => {
    cpSync(join(pkg.home, 'config/examples/minimal.yaml'), join(pkg.elsewhere, 'rotator.config.yaml'));
    const rotated = await rotator(['rotate', '--all', '--sandbox', '--log-level', 'warn']);
    expect(rotated).toEqual({ code: 0, stdout: expect.stringMatching(/^ncp-deployer: rotated/), stderr: expect.any(String) });
    const status = await rotator(['status', '--sandbox', '--json', '--log-level', 'warn']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ secretId: 'ncp-deployer', state: 'ok' })]),
    );
  });

  test('rotator --version prints the package version', async () => {
    const manifest = JSON.parse(readFileSync(join(pkg.home, 'package.json'), 'utf8')) as { version: string };
    expect(await rotator(['--version'])).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
  });

  test('rotator init writes a starter config (schema line to the installed schema) that validate --sandbox accepts', async () => {
    const folder = mkdtempSync(join(pkg.work, 'init-'));
    const init = await rotator(['init'], {}, folder);
    expect(init.code).toBe(0);
    const text = readFileSync(join(folder, 'rotator.config.yaml'), 'utf8');
    expect(text).toContain(`$schema=${join(pkg.home, 'config/rotator.schema.json')}`);
    const validated = await rotator(['validate', '--sandbox'], {}, folder);
    expect(validated.code).toBe(0);
    expect((await rotator(['init'], {}, folder)).code).toBe(2);
  });

  test('rotator sandbox --write-config, then rotate --all -c that config, from an empty folder', async () => {
    const folder = mkdtempSync(join(pkg.work, 'rehearsal-'));
    const file = join(folder, 'rehearsal.yaml');
    const sandbox = spawn(join(pkg.prefix, 'bin/rotator'), ['sandbox', '--write-config', file, '--log-level', 'warn'], {
      cwd: folder,
      env: bareEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => sandbox.on('exit', (code) => resolve(code)));
    try {
      // Waits for the sandbox to say it is ready (the config is written before), however long that takes.
      let out = '';
      await new Promise<void>((resolve, reject) => {
        sandbox.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          if (/^ready/m.test(out)) resolve();
        });
        void exited.then((code) => reject(new Error(`rotator sandbox exited ${code}: ${out}`)));
      });
      expect(existsSync(file)).toBe(true);
      const rotated = await rotator(['rotate', '--all', '-c', file, '--log-level', 'warn'], {}, folder);
      expect(rotated).toEqual({
        code: 0,
        stdout: expect.stringMatching(/^ncp-deployer: rotated[\s\S]*^mongo-ci: rotated/m),
        stderr: expect.any(String),
      });
    } finally {
      sandbox.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
