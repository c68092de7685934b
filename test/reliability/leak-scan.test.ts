/**
 * Leak scan (issue 10, "Prove it"): a full session at debug level against the NCP STS emulator
 * over loopback — rotate (twice, so there is a previous), a reload hook that fails, get, exec,
 * status, plan, and `run` with /metrics, /readyz and /healthz — then every issued secret value
 * (and the master secret key) is searched in all CLI output and logs, the metrics and health
 * answers, every file outside the vault and the requested outputs, and the argv of the exec'd
 * child. Requested places are excluded on purpose: the env output file, and `get`'s stdout.
 * Prints `leaks=N` (must be 0).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { main, type CliIo } from '../../src/cli/main';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { openFileVault } from '../../src/vaults/file';
import { generateAccount, startNcpStsEmulator, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';

const VAULT_KEY = 'c'.repeat(64);
let emu: NcpStsEmulator;
let dir: string;

beforeAll(async () => {
  emu = await startNcpStsEmulator({ accounts: [generateAccount()] });
  dir = await mkdtemp(join(tmpdir(), 'rotator-leak-'));
});
afterAll(async () => {
  await emu?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process; `onLine` sees each stderr chunk (to wait for a log line). */
async function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
  hooks: { onLine?: (text: string, stop: () => void) => void } = {},
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  let signal: ((s: NodeJS.Signals) => void) | undefined;
  const stop = () => signal?.('SIGTERM');
  const sink = (into: string[], watch?: boolean) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        const text = chunk.toString('utf8');
        into.push(text);
        if (watch) hooks.onLine?.(text, stop);
        done();
      },
    });
  const io: CliIo = {
    stdout: sink(out),
    stderr: sink(err, true),
    env: { ROTATOR_LOG_LEVEL: 'debug', ...env },
    clock: systemClock,
    onSignal: (handler) => {
      signal = handler;
      return () => (signal = undefined);
    },
  };
  const code = await main(['node', 'rotator', ...args], io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

async function allFiles(root: string, skip: (rel: string) => boolean): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(root, p);
      if (skip(rel)) continue;
      if (e.isDirectory()) await walk(p);
      else files.set(rel, (await readFile(p)).toString('latin1'));
    }
  };
  await walk(root);
  return files;
}

test('a full debug-level session leaks no issued or master secret outside the vault and requested outputs', async () => {
  const account = emu.accounts[0]!;
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(
    config,
    `vault: { type: file, path: state/vault.json }
http: { host: 127.0.0.1, port: 0 }
secrets:
  - id: ncp
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: "${emu.url}" }
    outputs:
      - { type: file, path: out/ncp.env, format: env }
  - id: hooked
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 3600, endpoint: "${emu.url}" }
    outputs:
      - type: command
        run: "echo reload failed >&2; exit 3"
`,
  );
  const env = { ROTATOR_VAULT_KEY: VAULT_KEY, NCP_ACCESS_KEY: account.accessKey, NCP_SECRET_KEY: account.secretKey };
  const said: Record<string, string> = {};
  const issued = new Set<string>();
  const collect = async () => {
    const vault = await openFileVault({
      path: join(dir, 'state/vault.json'),
      key: Buffer.from(VAULT_KEY, 'hex'),
      clock: systemClock,
      log: silentLogger,
    });
    for (const id of ['ncp', 'hooked']) {
      const s = await vault.read(id);
      for (const v of [s.current, s.previous, s.pending]) if (v) issued.add(v.value.credentials.keySecret!);
    }
  };
  const record = (name: string, run: Run, stdoutRequested = false) => {
    said[`${name} stderr`] = run.stderr;
    if (!stdoutRequested) said[`${name} stdout`] = run.stdout;
  };

  const first = await cli(['-c', config, 'rotate', '--all'], env);
  expect(first.code).toBe(1); // the hook failed; the vault keeps the new credential
  expect(first.stderr).toContain('reload failed');
  record('rotate 1', first);
  await collect();
  const second = await cli(['-c', config, 'rotate', 'ncp'], env);
  expect(second.code).toBe(0);
  record('rotate 2', second);
  await collect();

  const get = await cli(['-c', config, 'get', 'ncp'], env);
  expect(get.code).toBe(0);
  record('get', get, true);
  const getEnv = await cli(['-c', config, 'get', 'ncp', '--format', 'env'], env);
  record('get env', getEnv, true);
  const argvFile = join(dir, 'child-argv.json');
  const exec = await cli(
    [
      '-c',
      config,
      'exec',
      'ncp',
      '--',
      process.execPath,
      '-e',
      `require('fs').writeFileSync(${JSON.stringify(argvFile)}, JSON.stringify(process.argv))`,
    ],
    env,
  );
  expect(exec.code).toBe(0);
  record('exec', exec);
  for (const args of [['status'], ['status', '--json'], ['plan'], ['validate']])
    record(args.join(' '), await cli(['-c', config, ...args], env));

  // The daemon: wait for its "listening" log line, read the endpoints, then stop it.
  const endpoints: Record<string, string> = {};
  const daemon = await cli(['-c', config, 'run'], env, {
    onLine: (text, stop) => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)[^"]*".*endpoint listening/.exec(text);
      if (!m) return;
      void (async () => {
        for (const path of ['/metrics', '/readyz', '/healthz']) endpoints[path] = await (await fetch(`${m[1]}${path}`)).text();
        stop();
      })();
    },
  });
  record('run', daemon);
  expect(endpoints['/metrics']).toContain('rotator_');
  Object.assign(said, endpoints);
  await collect();

  // Files outside the vault and the requested output (out/ncp.env holds the credential on purpose).
  const files = await allFiles(dir, (rel) => rel === 'state' || rel === join('out', 'ncp.env'));
  expect(files.has('child-argv.json')).toBe(true);
  for (const [rel, text] of files) said[`file ${rel}`] = text;
  // The requested places do hold a credential: the scan looks for real values.
  const requested = (await readFile(join(dir, 'out', 'ncp.env'), 'utf8')) + get.stdout;
  expect([...issued].filter((v) => requested.includes(v))).not.toEqual([]);
  expect(issued.size).toBeGreaterThanOrEqual(3);

  const needles = [...issued, account.secretKey];
  const hits = Object.entries(said).flatMap(([where, text]) => needles.filter((n) => text.includes(n)).map(() => where));
  process.stdout.write(`leak scan: values=${needles.length} places=${Object.keys(said).length} leaks=${hits.length}\n`);
  expect(hits).toEqual([]);
});
