/**
 * The README as a tested artifact: the blocks marked `runnable` (```sh runnable, ```js runnable,
 * ```mjs runnable) run exactly as written against `rotator sandbox --write-config`, with
 * `rotator` on PATH (the built bin/rotator.js) and `ROTATOR_CONFIG` pointing at the written
 * config, as the README's "Rehearse first" paragraph tells an operator. The library snippets run
 * as pasted, in a CommonJS `.js` file and an ES module `.mjs`, with `rotator` resolvable as an
 * installed package.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Block {
  lang: string;
  code: string;
  line: number;
}

/** Fenced blocks whose info string is `<lang> runnable`, dedented (they may sit in a list item). */
function runnableBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  for (const m of text.matchAll(/^( *)```(\w+) runnable\n([\s\S]*?)^\1```$/gm)) {
    const indent = m[1]!.length;
    const code = m[3]!
      .split('\n')
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join('\n');
    blocks.push({ lang: m[2]!, code, line: text.slice(0, m.index).split('\n').length + 1 });
  }
  return blocks;
}

/** The text of the section that starts with `heading`, up to the next `## `. */
function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  expect(start).toBeGreaterThanOrEqual(0);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

let work: string;
let env: NodeJS.ProcessEnv;
let sandbox: ChildProcess;
let sandboxExit: Promise<number | null>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'rotator-readme-'));
  // `rotator` on PATH, as after `npm install --global`, and `require('rotator')` resolvable.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'rotator'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/rotator.js')}" "$@"\n`);
  chmodSync(join(bin, 'rotator'), 0o755);
  mkdirSync(join(work, 'node_modules'));
  symlinkSync(ROOT, join(work, 'node_modules/rotator'), 'dir');

  const config = join(work, 'rehearsal.yaml');
  env = {
    PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: work,
    ROTATOR_CONFIG: config,
    ROTATOR_VAULT_KEY: 'c'.repeat(64),
    ROTATOR_LOG_LEVEL: 'warn',
  };
  sandbox = spawn(join(bin, 'rotator'), ['sandbox', '--write-config', config], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sandboxExit = new Promise((done) => sandbox.on('exit', (code) => done(code)));
  // Waits for the sandbox to say it is ready (the config is written before), however long start-up takes.
  let out = '';
  await new Promise<void>((ready, fail) => {
    sandbox.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (/^ready/m.test(out)) ready();
    });
    void sandboxExit.then((code) => fail(new Error(`rotator sandbox exited ${code}: ${out}`)));
  });
});

afterAll(async () => {
  if (sandbox) {
    sandbox.kill('SIGTERM');
    await sandboxExit;
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('README "Using it for real"', () => {
  const steps = section('## Using it for real');

  test('step 1 names every variable the shipped rotator.config.yaml needs', () => {
    const step1 = steps.slice(steps.indexOf('\n1. '), steps.indexOf('\n2. '));
    // Values only: a comment may mention ${VARS} in general.
    const shipped = readFileSync(join(ROOT, 'rotator.config.yaml'), 'utf8').replace(/#.*$/gm, '');
    const needed = [...new Set([...shipped.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!))];
    expect(needed.length).toBeGreaterThan(0);
    for (const name of [...needed, 'ROTATOR_VAULT_KEY'])
      expect({ name, inStep1: step1.includes(name) }).toEqual({ name, inStep1: true });
  });

  test('the steps say to run the daemon as `rotator run`, not through npx, and link to why', () => {
    expect(steps).toMatch(/`rotator run`[^]*not through\s+`npx`[^]*\(#running-it-as-a-service\)/);
    expect(section('## Running it as a service')).toContain('Not through `npx rotator run`: npm does not forward\nSIGTERM');
  });

  test('it has runnable shell steps, and each one runs as written against the sandbox', async () => {
    const shell = runnableBlocks(steps).filter((b) => b.lang === 'sh');
    expect(shell.length).toBeGreaterThanOrEqual(2);
    for (const block of shell) {
      const result = await run('bash', ['-euo', 'pipefail', '-c', block.code], { cwd: work, env }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
      expect({ block: block.code, ...result }).toEqual({
        block: block.code,
        code: 0,
        stdout: expect.any(String),
        stderr: expect.any(String),
      });
    }
    // Step 3 rotated, and `get --format env` printed the NCP variables programs read.
    const { stdout } = await run('rotator', ['get', 'ncp-deployer', '--format', 'env'], { cwd: work, env });
    expect(stdout).toMatch(/^NCLOUD_ACCESS_KEY=\S+$/m);
  });
});

describe('README library snippets', () => {
  const blocks = runnableBlocks(README).filter((b) => b.lang === 'js' || b.lang === 'mjs');

  test('there is a CommonJS one and an ES module one, with no top-level await in CommonJS', () => {
    expect(blocks.map((b) => b.lang).sort()).toEqual(['js', 'mjs']);
    const cjs = blocks.find((b) => b.lang === 'js')!.code;
    expect(cjs).toContain("require('rotator')");
    expect(cjs).not.toMatch(/^await /m);
  });

  test.each(['js', 'mjs'])('the %s snippet runs as pasted and reads the rotated credential', async (lang) => {
    // The shell steps above rotated ncp-deployer; rotating here too keeps this test independent.
    await run('rotator', ['rotate', 'ncp-deployer'], { cwd: work, env });
    const file = join(work, `snippet.${lang}`);
    writeFileSync(file, blocks.find((b) => b.lang === lang)!.code);
    const { stdout } = await run(process.execPath, [file], { cwd: work, env });
    expect(stdout).toMatch(/^ncp-deployer: accessKey, keySecret valid until \d{4}-\d\d-\d\dT/m);
  });
});
