/**
 * The distribution memo (src/distribute/memo.ts) and how the Distributor uses it after a crash:
 * a process killed after the file outputs were written but before the memo was (the reload
 * command was running) leaves files that look current; the next process (a restarted daemon's
 * `restoreFiles`, a one-off `rotate --if-due`'s `distributeIfFilesChanged`) runs the command
 * again; once the memo records the version, nothing runs again.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log';
import { systemClock } from '../../src/clock';
import { Distributor, renderFileOutput } from '../../src/distribute/outputs';
import { secretEnvEntries } from '../../src/distribute/env';
import { MemoStore, alreadyDistributed, memoDirectory, outputSetId } from '../../src/distribute/memo';
import type { ProviderPlugin, VaultValue } from '../../src/types';
import type { OutputConfig, RotatorConfig, SecretConfig } from '../../config/schema';
import { MemoryVault } from '../support/memory-vault';

const plugin = { type: 'fake', envNames: { id: 'FAKE_ID', secret: 'FAKE_SECRET' } } as unknown as ProviderPlugin;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-memo-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configWith(
  outputs: OutputConfig[],
  vault: RotatorConfig['vault'] = { type: 'file', path: join(dir, 'v.json'), history: 5 },
): RotatorConfig {
  return {
    file: join(dir, 'rotator.config.yaml'),
    vault,
    schedule: '* * * * *',
    concurrency: 1,
    shutdownTimeoutMs: 0,
    defaults: { renewBefore: { kind: 'fraction', fraction: 1 / 3 }, jitter: 0 },
    secrets: [{ id: 'app', provider: 'fake', credentials: {}, params: {}, outputs }],
  };
}

function value(n: number): VaultValue {
  return {
    provider: 'fake',
    secretId: 'app',
    credentials: { id: `id-${n}`, secret: `s3cret-${n}` },
    issuedAt: '2026-12-01T00:00:00.000Z',
    expiresAt: '2026-12-31T00:00:00.000Z',
    providerRef: `ref-${n}`,
    rotationId: `rot-${n}`,
  };
}

/** A fresh process's distributor (no in-memory record) over `config`. */
const distributor = (config: RotatorConfig) =>
  new Distributor({
    config,
    pluginFor: () => plugin,
    log: silentLogger,
    env: { PATH: process.env.PATH },
    commandRetry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
  });

/** File output first, then a hook that appends the rotation id it was given (the crash order that fooled file comparison). */
function fixture() {
  const file = join(dir, 'out', 'app.env');
  const hookLog = join(dir, 'hook.log');
  const config = configWith([
    { type: 'file', path: file, format: 'env', mode: 0o600 },
    { type: 'command', run: `echo "$ROTATOR_ROTATION_ID" >> '${hookLog}'`, timeoutMs: 10_000 },
  ]);
  const hookRuns = async () => (await readFile(hookLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  /** The disk as a process killed during the hook leaves it: the file holds `v`, the memo still names the version before. */
  const crashedDuringHook = async (v: VaultValue) => {
    const output = config.secrets[0]!.outputs[0] as Extract<OutputConfig, { type: 'file' }>;
    await mkdir(join(dir, 'out'), { recursive: true });
    await writeFile(file, renderFileOutput(output, v, secretEnvEntries(v, plugin.envNames, undefined)), { mode: 0o600 });
  };
  return { config, file, hookRuns, crashedDuringHook };
}

describe('memo decision and store', () => {
  test('alreadyDistributed: only the same version for the same output set', () => {
    const memo = { secretId: 'app', outputSet: 'set-a', rotationId: 'rot-2' };
    expect(alreadyDistributed(memo, 'rot-2', 'set-a')).toBe(true);
    expect(alreadyDistributed(memo, 'rot-3', 'set-a')).toBe(false); // a newer version
    expect(alreadyDistributed(memo, 'rot-2', 'set-b')).toBe(false); // outputs changed since
    expect(alreadyDistributed(undefined, 'rot-2', 'set-a')).toBe(false); // never recorded
  });

  test('the output set id changes with the outputs, the env names and the host, not between calls', () => {
    const config = fixture().config;
    const secret = config.secrets[0]!;
    const id = outputSetId(secret, config, 'host-a');
    expect(outputSetId(secret, config, 'host-a')).toBe(id);
    expect(outputSetId(secret, config, 'host-b')).not.toBe(id);
    const withEnv: SecretConfig = { ...secret, env: { id: 'APP_ID' } };
    expect(outputSetId(withEnv, config, 'host-a')).not.toBe(id);
    const moreOutputs: SecretConfig = { ...secret, outputs: [...secret.outputs, { type: 'command', run: 'true', timeoutMs: 1 }] };
    expect(outputSetId(moreOutputs, config, 'host-a')).not.toBe(id);
  });

  test('memo folder: beside a file vault, under .rotator beside the config otherwise, the sandbox its own', () => {
    const config = fixture().config;
    expect(memoDirectory(config)).toBe(join(dir, 'v.json.distributed'));
    const aws = configWith([], { type: 'aws-secrets-manager', region: 'us-east-1', prefix: 'rotator/', tags: {} });
    expect(memoDirectory(aws)).toBe(join(dir, '.rotator', 'distributed'));
    expect(memoDirectory({ ...config, sandbox: { outputsDir: join(dir, 'sb', 'outputs') } })).toBe(
      join(dir, 'sb', 'distributed'),
    );
  });

  test('written 0600 in a 0700 folder, ids only; a damaged memo reads as none', async () => {
    const store = new MemoStore(join(dir, 'memos'));
    expect(await store.read('app', 'set-a')).toBeUndefined();
    await store.write('app', 'set-a', 'rot-1');
    expect(await store.read('app', 'set-a')).toEqual({ secretId: 'app', outputSet: 'set-a', rotationId: 'rot-1' });
    expect(await store.read('app', 'set-b')).toBeUndefined();
    expect((await stat(store.path('app', 'set-a'))).mode & 0o777).toBe(0o600);
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(store.dir)).toEqual(['app.set-a.json']); // no temp file left
    await writeFile(store.path('app', 'set-a'), '{"secretId":"app","outputSet":"set-a","rotat');
    expect(await store.read('app', 'set-a')).toBeUndefined();
  });
});

describe('after a crash between the file outputs and the memo', () => {
  test('one-off recovery (distributeIfFilesChanged) re-runs the command once, then never for that version', async () => {
    const { config, hookRuns, crashedDuringHook } = fixture();
    await distributor(config).distribute(value(1)); // a complete distribution: memo says rot-1
    expect(await hookRuns()).toEqual(['rot-1']);
    await crashedDuringHook(value(2));

    await distributor(config).distributeIfFilesChanged(value(2));
    expect(await hookRuns()).toEqual(['rot-1', 'rot-2']);
    await distributor(config).distributeIfFilesChanged(value(2)); // the memo is current now
    expect(await hookRuns()).toEqual(['rot-1', 'rot-2']);
  });

  test('daemon start (restoreFiles) re-runs the command once, then a restart leaves it alone', async () => {
    const { config, file, hookRuns, crashedDuringHook } = fixture();
    const vault = new MemoryVault(systemClock);
    await distributor(config).distribute(value(1));
    await vault.putPending('app', value(2), 'rot-2');
    await vault.promote('app', 'rot-2', null);
    await crashedDuringHook(value(2));
    const content = await readFile(file, 'utf8');

    expect(await distributor(config).restoreFiles(vault)).toBe(0); // the file was current: not rewritten
    expect(await hookRuns()).toEqual(['rot-1', 'rot-2']);
    expect(await readFile(file, 'utf8')).toBe(content);
    const restarted = distributor(config);
    expect(await restarted.restoreFiles(vault)).toBe(0);
    expect(await hookRuns()).toEqual(['rot-1', 'rot-2']);
    await restarted.distributeIfNew(value(2)); // and its scheduled checks know it too
    expect(await hookRuns()).toEqual(['rot-1', 'rot-2']);
  });

  test('a command that keeps failing leaves the memo unwritten: the next process tries again', async () => {
    const { config, hookRuns } = fixture();
    const failing = configWith([...config.secrets[0]!.outputs, { type: 'command', run: 'exit 3', timeoutMs: 10_000 }]);
    await expect(distributor(failing).distribute(value(1))).rejects.toThrow(/1 of 3 outputs of 'app' failed/);
    await expect(distributor(failing).distributeIfFilesChanged(value(1))).rejects.toThrow(/exited with code 3/);
    expect(await hookRuns()).toEqual(['rot-1', 'rot-1']);
  });

  test('a first start with current files but no memo distributes once, then records it', async () => {
    const { config, hookRuns, crashedDuringHook } = fixture();
    await crashedDuringHook(value(1)); // files from before the memo existed
    await distributor(config).distributeIfFilesChanged(value(1));
    await distributor(config).distributeIfFilesChanged(value(1));
    expect(await hookRuns()).toEqual(['rot-1']);
  });
});
