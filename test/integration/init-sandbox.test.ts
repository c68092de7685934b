/**
 * `rotator init` and `rotator sandbox` as an operator rehearsing the README: a starter config that
 * validates in the sandbox and is never overwritten, and a sandbox that needs no config, prints
 * the credentials its emulators accept, and writes a config that rotates against it.
 */
import { Writable } from 'node:stream';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../src/cli/main';
import { systemClock } from '../../src/clock';
import { runCli } from '../support/cli';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-init-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('rotator init', () => {
  test('writes the starter config that validate --sandbox accepts, with the schema line', async () => {
    const file = join(dir, 'rotator.config.yaml');
    const init = await runCli(['init', file], {});
    expect(init).toEqual({ code: 0, stdout: expect.stringContaining('wrote '), stderr: '' });
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=\/.*config\/rotator\.schema\.json$/m);
    const validated = await runCli(['validate', '--sandbox', '-c', file], {});
    expect(validated.code).toBe(0);
    expect(validated.stdout).toContain(': ok (2 secrets, vault file)');
  });

  test('refuses to overwrite an existing file, exit 2, and leaves it as it was', async () => {
    const file = join(dir, 'mine.yaml');
    await writeFile(file, 'secrets: []\n');
    const init = await runCli(['init', file], {});
    expect(init.code).toBe(2);
    expect(init.stderr).toContain('already exists; not overwritten');
    expect(await readFile(file, 'utf8')).toBe('secrets: []\n');
  });

  test('--vault aws-secrets-manager --region picks the vault; a bad region says what to fix', async () => {
    const file = join(dir, 'aws.yaml');
    expect((await runCli(['init', file, '--vault', 'aws-secrets-manager', '--region', 'eu-west-1'], {})).code).toBe(0);
    expect(await readFile(file, 'utf8')).toMatch(/type: aws-secrets-manager[^\n]*\n\s+region: eu-west-1/);
    const bad = await runCli(['init', join(dir, 'bad.yaml'), '--vault', 'aws-secrets-manager', '--region', 'Mars'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('region must be an AWS region');
  });
});

/** `rotator sandbox` in-process; `stop()` delivers the signal it waits for. */
function startSandboxCli(args: string[]) {
  let out = '';
  let listeners: ((text: string) => void)[] = [];
  let signal: (() => void) | undefined;
  const stdout = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString('utf8');
      for (const l of listeners) l(out);
      done();
    },
  });
  const stderr = new Writable({ write: (_c, _e, done) => done() });
  const io: CliIo = {
    stdout,
    stderr,
    env: { ROTATOR_LOG_LEVEL: 'warn' },
    clock: systemClock,
    onSignal: (handler) => {
      signal = () => handler('SIGTERM');
      return () => (signal = undefined);
    },
  };
  const done = main(['node', 'rotator', 'sandbox', ...args], io);
  return {
    done,
    /** Resolves with stdout once it matches `pattern` (or rejects when the command ends first). */
    waitFor: (pattern: RegExp) =>
      new Promise<string>((resolve, reject) => {
        const check = (text: string) => {
          if (pattern.test(text)) {
            listeners = listeners.filter((l) => l !== check);
            resolve(text);
          }
        };
        listeners.push(check);
        check(out);
        void done.then((code) => reject(new Error(`sandbox exited ${code} before ${pattern}: ${out}`)));
      }),
    stop: async () => {
      signal?.();
      return done;
    },
  };
}

describe('rotator sandbox', () => {
  test('needs no config, prints each emulator and its credentials, and AWS lines for aws CLI v1 and v2', async () => {
    const box = startSandboxCli(['-c', join(dir, 'no-such-config.yaml')]);
    try {
      const out = await box.waitFor(/^ready/m);
      expect(out).toMatch(/emulator ncp-sts\s+http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/emulator mongodb-cloud-manager\s+http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/^ {4}export NCP_ACCESS_KEY=\S+ NCP_SECRET_KEY=\S+$/m);
      expect(out).toMatch(/^ {4}export MCM_PUBLIC_KEY=\S+ MCM_PRIVATE_KEY=\S+$/m);
      expect(out).toMatch(/AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1/);
    } finally {
      expect(await box.stop()).toBe(0);
    }
  });

  test('--write-config writes a 0600 config that rotates every secret against it, and refuses to overwrite', async () => {
    const file = join(dir, 'rehearsal.yaml');
    const box = startSandboxCli(['--write-config', file]);
    try {
      await box.waitFor(/^ready/m);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const rotated = await runCli(['rotate', '--all', '-c', file, '--log-level', 'warn'], {});
      expect(rotated).toEqual({
        code: 0,
        stdout: expect.stringMatching(/^ncp-deployer: rotated[\s\S]*^mongo-ci: rotated/m),
        stderr: expect.any(String),
      });
      const got = await runCli(['get', 'ncp-deployer', '--format', 'json', '-c', file], {});
      expect(got.code).toBe(0);
      const again = startSandboxCli(['--write-config', file]);
      expect(await again.done).toBe(2);
    } finally {
      expect(await box.stop()).toBe(0);
    }
  });
});
