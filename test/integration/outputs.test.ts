/**
 * Outputs through the rotation engine, 100 rotations in a row: the file output is replaced
 * atomically (a reader in another process, looping as fast as it can, never sees a partial or
 * empty file, only complete versions), it is 0600, it holds the current version after each
 * rotation, and the reload command runs exactly once per rotation with the new values in its
 * environment. Failures are reported in `distributionError` and never roll the vault back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateSecret } from '../../src/rotate';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { Distributor, renderFileOutput } from '../../src/distribute/outputs';
import { secretEnvEntries } from '../../src/distribute/env';
import type { Logger, ProviderPlugin, VaultValue } from '../../src/types';
import type { RotatorConfig, OutputConfig } from '../../config/schema';
import { MemoryVault } from '../support/memory-vault';
import { FakeProvider } from '../support/fake-provider';

const ROTATIONS = 100;
const plugin = { type: 'fake', envNames: { id: 'FAKE_ID', secret: 'FAKE_SECRET' } } as unknown as ProviderPlugin;

let dir: string;
/** Child processes a test started; killed afterwards so a failed test never keeps jest alive. */
const children: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-outputs-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function setup(outputs: OutputConfig[], extra: Partial<RotatorConfig> = {}, log: Logger = silentLogger) {
  const config: RotatorConfig = {
    file: join(dir, 'rotator.config.yaml'),
    vault: { type: 'file', path: join(dir, 'vault.json'), history: 5 },
    schedule: '* * * * *',
    concurrency: 1,
    shutdownTimeoutMs: 0,
    defaults: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 },
    secrets: [{ id: 'app', provider: 'fake', credentials: {}, params: {}, outputs }],
    ...extra,
  };
  const vault = new MemoryVault(systemClock);
  const provider = new FakeProvider();
  const distributor = new Distributor({
    config,
    pluginFor: () => plugin,
    log,
    env: { PATH: process.env.PATH },
    commandRetry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
  });
  const target = {
    secretId: 'app',
    provider,
    policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
  };
  const deps = {
    vault,
    clock: systemClock,
    log: silentLogger,
    owner: 'test',
    onPromoted: (v: VaultValue) => distributor.distribute(v),
  };
  return { config, vault, provider, distributor, rotate: () => rotateSecret(target, deps) };
}

/** A reader in another process: reads the file in a tight loop until told to stop; reports what it saw. */
const READER = `
const fs = require('node:fs');
const [file, stop, out] = process.argv.slice(1);
const seen = new Map(); let reads = 0, missing = 0;
fs.writeFileSync(out + '.ready', '');
for (;;) {
  for (let i = 0; i < 200; i++) {
    try { const t = fs.readFileSync(file, 'utf8'); reads++; seen.set(t, (seen.get(t) || 0) + 1); }
    catch (e) { if (e.code === 'ENOENT') missing++; else throw e; }
  }
  if (fs.existsSync(stop)) break;
}
fs.writeFileSync(out, JSON.stringify({ reads, missing, seen: [...seen.keys()] }), { mode: 0o600 });
`;

test(`${ROTATIONS} rotations: the file is always complete, 0600, current after each rotation; the hook runs once per rotation`, async () => {
  const file = join(dir, 'out', 'app.env');
  const hookLog = join(dir, 'hook.log');
  const output = { type: 'file' as const, path: file, format: 'env' as const, mode: 0o600 };
  const { rotate, vault } = setup([
    output,
    // Values only in the environment: the command line is the operator's, never interpolated.
    {
      type: 'command',
      run: `printf '%s %s %s\\n' "$ROTATOR_ROTATION_ID" "$FAKE_ID" "$ROTATOR_EXPIRES_AT" >> '${hookLog}'`,
      timeoutMs: 10_000,
    },
  ]);
  const render = (v: VaultValue) => renderFileOutput(output, v, secretEnvEntries(v, plugin.envNames, undefined));

  // Every version that was ever current, rendered: the only contents a reader may ever see.
  const versions = new Set<string>();
  const checkCurrent = async () => {
    const current = render((await vault.read('app')).current!.value);
    versions.add(current);
    expect(await readFile(file, 'utf8')).toBe(current);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  };
  const first = await rotate();
  expect(first.distributionError).toBeUndefined();
  await checkCurrent();
  const stop = join(dir, 'stop');
  const result = join(dir, 'reader.json');
  const reader = spawn(process.execPath, ['-e', READER, file, stop, result], { stdio: 'inherit' });
  children.push(reader);
  const exited = new Promise((r) => reader.on('exit', r));
  while (!(await readdir(dir)).includes('reader.json.ready')) await new Promise((r) => setTimeout(r, 10));

  const hookRotations: string[] = [first.rotationId!];
  for (let i = 2; i <= ROTATIONS; i++) {
    const r = await rotate();
    expect(r.outcome).toBe('rotated');
    expect(r.distributionError).toBeUndefined();
    await checkCurrent();
    hookRotations.push(r.rotationId!);
  }
  await writeFile(stop, '');
  await exited;

  const seen = JSON.parse(await readFile(result, 'utf8')) as { reads: number; missing: number; seen: string[] };
  const hookLines = (await readFile(hookLog, 'utf8')).trim().split('\n');
  expect(hookLines).toHaveLength(ROTATIONS);
  expect(hookLines.map((l) => l.split(' ')[0])).toEqual(hookRotations);

  const finalContent = await readFile(file, 'utf8');
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  expect((await stat(join(dir, 'out'))).mode & 0o777).toBe(0o700);
  expect(await readdir(join(dir, 'out'))).toEqual(['app.env']); // no temp file left behind
  expect(versions.size).toBe(ROTATIONS);
  // Any partial or empty read would be a content that was never a version.
  expect(seen.seen.filter((content) => !versions.has(content))).toEqual([]);
  expect(seen.missing).toBe(0);
  expect(seen.seen).toContain(finalContent);
  console.log(
    `file output: ${ROTATIONS} rotations, reader process made ${seen.reads} reads, saw ${seen.seen.length} distinct complete versions, 0 partial/empty; hook ran ${hookLines.length} times`,
  );
  // A safety net, not a budget: 100 rotations each fsync a vault record and run a hook, which on a
  // loaded 2-core machine takes far longer than jest's default.
}, 300_000);

test('the file holds the current version after each rotation, and the hook sees the same values', async () => {
  const file = join(dir, 'app.json');
  const hookLog = join(dir, 'hook.log');
  const { rotate, vault } = setup([
    { type: 'file', path: file, format: 'json', mode: 0o640 },
    { type: 'command', run: `echo "$FAKE_SECRET" > '${hookLog}'`, timeoutMs: 10_000 },
  ]);
  for (let i = 0; i < 5; i++) {
    await rotate();
    const current = (await vault.read('app')).current!.value;
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(current);
    expect((await readFile(hookLog, 'utf8')).trim()).toBe(current.credentials.secret);
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  }
});

test('a failing hook is retried with back-off, then reported; the vault keeps the new credential', async () => {
  const attempts = join(dir, 'attempts');
  const { rotate, vault } = setup([
    { type: 'command', run: `echo x >> '${attempts}'; echo "bad $FAKE_SECRET" >&2; exit 3`, timeoutMs: 10_000 },
  ]);
  const r = await rotate();
  expect(r.outcome).toBe('rotated');
  expect(r.distributionError).toMatch(
    /^DISTRIBUTION: 1 of 1 outputs of 'app' failed: outputs\[0\] \(command\): command exited with code 3 \(stderr: bad \[REDACTED\]\)$/,
  );
  const current = (await vault.read('app')).current!.value;
  expect(r.rotationId).toBe(current.rotationId);
  expect(r.distributionError).not.toContain(current.credentials.secret); // stderr is scrubbed
  expect((await readFile(attempts, 'utf8')).trim().split('\n')).toHaveLength(3);
});

test('a hook that outlives its timeout is killed, with what it started', async () => {
  const { rotate } = setup([{ type: 'command', run: 'sleep 30 & wait', timeoutMs: 300 }]);
  const r = await rotate();
  expect(r.distributionError).toMatch(/command timed out after 300 ms and was killed/);
});

/** Waits until `file` exists and holds a line; returns it (the hook writes it before exiting). */
async function readPid(file: string): Promise<number> {
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return Number(text.trim());
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a hook that leaves a child running', () => {
  const pids: number[] = [];
  afterEach(() => {
    for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  test('exit 0 after starting `sleep 40 &` is a success at the first attempt; the child is neither waited for nor killed', async () => {
    const pidFile = join(dir, 'bg.pid');
    const attempts = join(dir, 'attempts');
    const { rotate } = setup([
      { type: 'command', run: `echo x >> '${attempts}'; sleep 40 & echo $! > '${pidFile}'; exit 0`, timeoutMs: 5_000 },
    ]);
    const r = await rotate();
    const pid = await readPid(pidFile);
    pids.push(pid);
    expect(r.distributionError).toBeUndefined();
    expect((await readFile(attempts, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(alive(pid)).toBe(true);
  });

  test('a detached child (setsid) does not hang the rotation', async () => {
    const pidFile = join(dir, 'detached.pid');
    const { rotate } = setup([{ type: 'command', run: `setsid sleep 40 & echo $! > '${pidFile}'`, timeoutMs: 5_000 }]);
    const r = await rotate();
    pids.push(await readPid(pidFile));
    expect(r.outcome).toBe('rotated');
    expect(r.distributionError).toBeUndefined();
  });

  test('on timeout the whole process group is killed, and the rotation does not wait for a detached child', async () => {
    const groupPid = join(dir, 'group.pid');
    const detachedPid = join(dir, 'detached.pid');
    const { rotate } = setup([
      {
        type: 'command',
        run: `setsid sleep 40 & echo $! > '${detachedPid}'; sleep 30 & echo $! > '${groupPid}'; wait`,
        timeoutMs: 500,
      },
    ]);
    const r = await rotate();
    pids.push(await readPid(detachedPid));
    const member = await readPid(groupPid);
    pids.push(member);
    expect(r.distributionError).toMatch(/command timed out after 500 ms and was killed/);
    while (alive(member)) await new Promise((res) => setTimeout(res, 20)); // the group's sleep dies
  });
});

test('a template value with a newline is refused for that output only, naming the output and field, never the value', async () => {
  const ini = join(dir, 'app.ini');
  const json = join(dir, 'app.json');
  const { distributor } = setup([
    { type: 'file', path: ini, format: 'template', template: '[app]\nsecret={{credentials.secret}}\n', mode: 0o600 },
    { type: 'file', path: json, format: 'template', template: '{"secret": {{json credentials.secret}}}\n', mode: 0o600 },
  ]);
  const value: VaultValue = {
    provider: 'fake',
    secretId: 'app',
    credentials: { id: 'id-1', secret: 'line1\n[evil]\nadmin=true' },
    issuedAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-02T00:00:00.000Z',
    providerRef: 'id-1',
    rotationId: 'r-1',
  };
  const error = await distributor.distribute(value).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  expect(error?.message).toMatch(
    /1 of 2 outputs of 'app' failed: outputs\[0\] \(file\): .*\{\{credentials\.secret\}\}.*newline or another control character.*\{\{json credentials\.secret\}\}/,
  );
  expect(error?.message).not.toContain('line1');
  expect(error?.message).not.toContain('evil');
  await expect(stat(ini)).rejects.toThrow(/ENOENT/); // nothing half-written
  expect(JSON.parse(await readFile(json, 'utf8'))).toEqual({ secret: 'line1\n[evil]\nadmin=true' });
});

test('a secret output readable by group/other or in a world-writable folder is written with one warning each', async () => {
  const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
  const log: Logger = {
    debug() {},
    info() {},
    error() {},
    warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) }),
    child: () => log,
  };
  const shared = join(dir, 'shared');
  await mkdir(shared);
  await chmod(shared, 0o777);
  const loose = join(dir, 'loose.env');
  const inShared = join(shared, 'app.env');
  const tight = join(dir, 'tight.env');
  const { rotate } = setup(
    [
      { type: 'file', path: loose, format: 'env', mode: 0o644 },
      { type: 'file', path: inShared, format: 'env', mode: 0o600 },
      { type: 'file', path: tight, format: 'env', mode: 0o600 },
    ],
    {},
    log,
  );
  expect((await rotate()).distributionError).toBeUndefined();
  expect((await rotate()).distributionError).toBeUndefined(); // warned once per path, not per rotation
  expect(warnings.map((w) => [w.obj.path, w.msg?.split(':')[0]])).toEqual([
    [loose, 'output file holds credentials but its mode lets group or other access it; set mode'],
    [inShared, 'output folder is world-writable'],
  ]);
  expect((await stat(loose)).mode & 0o777).toBe(0o644);
});

test('an unknown template placeholder is a distribution error, never an empty substitution', async () => {
  const file = join(dir, 't.txt');
  const { rotate } = setup([{ type: 'file', path: file, format: 'template', template: 'x={{credentials.nope}}', mode: 0o600 }]);
  const r = await rotate();
  expect(r.distributionError).toMatch(/\{\{credentials\.nope\}\} names no field of 'app'/);
  await expect(stat(file)).rejects.toThrow(/ENOENT/);
});

test('sandbox: files go under the sandbox folder, commands are not run', async () => {
  const real = join(dir, 'real', 'app.env');
  const hookLog = join(dir, 'hook.log');
  const outputsDir = join(dir, '.rotator', 'sandbox', 'outputs');
  const { rotate } = setup(
    [
      { type: 'file', path: real, format: 'env', mode: 0o600 },
      { type: 'command', run: `echo ran >> '${hookLog}'`, timeoutMs: 10_000 },
    ],
    { sandbox: { outputsDir } },
  );
  const r = await rotate();
  expect(r.distributionError).toBeUndefined();
  await expect(stat(real)).rejects.toThrow(/ENOENT/);
  await expect(stat(hookLog)).rejects.toThrow(/ENOENT/);
  expect(await readFile(join(outputsDir, real), 'utf8')).toMatch(/^FAKE_ID=ref-1\n/);
});

test('restoreFiles writes missing or stale files from the vault and leaves current ones alone', async () => {
  const file = join(dir, 'app.env');
  const { rotate, distributor, vault } = setup([{ type: 'file', path: file, format: 'env', mode: 0o600 }]);
  expect(await distributor.restoreFiles(vault)).toBe(0); // nothing in the vault yet
  await rotate();
  const content = await readFile(file, 'utf8');
  expect(await distributor.restoreFiles(vault)).toBe(0);
  // A writer killed mid-write left its temp file (pid 2^22+1: above any Linux pid, so never alive).
  await writeFile(`${file}.tmp-4194305-abcdef012345`, 'half', { mode: 0o600 });
  await rm(file);
  expect(await distributor.restoreFiles(vault)).toBe(1);
  expect(await readFile(file, 'utf8')).toBe(content);
  // The stale temp file is gone; beside the output only the vault's distribution memo folder.
  expect(await readdir(dir)).toEqual(['app.env', 'vault.json.distributed']);
});

test('a replica that did not rotate catches up at its next check: files re-written and the hook run once for the new version', async () => {
  const file = join(dir, 'app.env');
  const hookLog = join(dir, 'hook.log');
  const outputs: OutputConfig[] = [
    { type: 'file', path: file, format: 'env', mode: 0o600 },
    { type: 'command', run: `echo "$FAKE_ID" >> '${hookLog}'`, timeoutMs: 10_000 },
  ];
  // Replica A rotates; replica B (its own distributor, same vault) only runs scheduled checks.
  const a = setup(outputs);
  await a.rotate();
  const bDistributor = new Distributor({
    config: a.config,
    pluginFor: () => plugin,
    log: silentLogger,
    env: { PATH: process.env.PATH },
  });
  await bDistributor.restoreFiles(a.vault); // B starts: the files already hold this version
  const target = {
    secretId: 'app',
    provider: a.provider,
    policy: { renewBefore: { kind: 'fraction' as const, fraction: 1 / 3 }, jitter: 0 },
  };
  const bCheck = () =>
    rotateSecret(
      target,
      {
        vault: a.vault,
        clock: systemClock,
        log: silentLogger,
        owner: 'replica-b',
        onCurrentSeen: (v) => bDistributor.distributeIfNew(v),
      },
      { ifDue: true },
    );

  expect((await bCheck()).outcome).toBe('not-due');
  expect((await readFile(hookLog, 'utf8')).trim().split('\n')).toEqual(['ref-1']); // A's hook only: B had nothing new

  await a.rotate();
  await rm(file); // B's host lost the file A just re-wrote (think: another host)
  expect((await bCheck()).outcome).toBe('not-due');
  expect(await readFile(file, 'utf8')).toMatch(/^FAKE_ID=ref-2\n/);
  expect((await stat(file)).mode & 0o777).toBe(0o600);
  await bCheck();
  expect((await readFile(hookLog, 'utf8')).trim().split('\n')).toEqual(['ref-1', 'ref-2', 'ref-2']); // A's, then B's once
});
