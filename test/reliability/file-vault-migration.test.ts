import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import type { Stage } from '../../src/types';
import { canonicalJson, serializeDocument, type VaultDocument } from '../../src/vaults/file-document';
import { sealEnvelope } from '../../src/vaults/file-envelope';
import { RecordStore } from '../../src/vaults/file-store';
import { openFileVault } from '../../src/vaults/file';
import { sampleValue } from '../vault-contract';
import { compileFileVault } from './compile-vault';

/**
 * Migration from the single-file vault, killed at every step. A child process (plain node,
 * test/reliability/file-vault-child.js `migrate`) opens a single-file vault and SIGKILLs itself
 * before its k-th changing file operation, for every k; after each kill the old file is intact
 * or the new store is complete (never neither), and opening the vault again yields every
 * version, stage, intent and lease of the original.
 */
const CHILD = path.join(__dirname, 'file-vault-child.js');
const KEY = randomBytes(32);

jest.setTimeout(300_000);

let modulePath: string;
let cleanupBuild: () => Promise<void>;
let root: string;
beforeAll(async () => {
  ({ modulePath, cleanup: cleanupBuild } = await compileFileVault());
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-migration-'));
});
afterAll(async () => {
  await cleanupBuild?.();
  await fs.rm(root, { recursive: true, force: true });
});

function legacyDoc(): VaultDocument {
  const v = (id: string, stages: Stage[]) => ({
    versionId: id,
    value: sampleValue(id),
    stages,
    createdAt: '2026-01-01T00:00:00.000Z',
  });
  const intent = (rotationId: string) => ({ rotationId, startedAt: '2026-01-01T00:00:00.000Z', liveBefore: ['live-1'] });
  return new Map([
    ['ncp-deployer', { versions: [v('n0', []), v('n1', ['previous']), v('n2', ['current']), v('n3', ['pending'])] }],
    ['mongo-ci', { versions: [v('m1', ['current'])], intent: intent('m2'), revokedPrevious: 'm0' }],
    ['Upper/Case key', { versions: [v('u1', ['previous']), v('u2', ['current'])] }],
    ['intent-only', { versions: [], intent: intent('i1') }],
    ['leased', { versions: [v('l1', ['current'])], lease: { owner: 'elsewhere:1:ab', expiresAt: 9e15 } }],
  ]);
}

/** Runs the child; resolves with its output and whether it was killed. */
function runChild(vaultPath: string, killAt?: number): Promise<{ out: string; killed: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, 'migrate', vaultPath], {
      env: {
        ...process.env,
        VAULT_MODULE: modulePath,
        ROTATOR_VAULT_KEY: KEY.toString('hex'),
        ...(killAt ? { KILL_AT_OP: String(killAt) } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ out, killed: signal === 'SIGKILL' && code === null, stderr }));
  });
}

async function writeLegacy(dir: string): Promise<{ vaultPath: string; bytes: Buffer }> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const vaultPath = path.join(dir, 'vault.json');
  const bytes = Buffer.from(sealEnvelope(Buffer.from(serializeDocument(legacyDoc())), KEY));
  await fs.writeFile(vaultPath, bytes, { mode: 0o600 });
  return { vaultPath, bytes };
}

/** Which layouts are readable right now, without opening the vault (which would finish the job). */
async function readableLayouts(vaultPath: string, bytes: Buffer): Promise<{ old: boolean; store: boolean }> {
  const old = await fs.readFile(vaultPath).then(
    (b) => b.equals(bytes),
    () => false,
  );
  const store = new RecordStore(`${vaultPath}.d`, KEY, 'test');
  const complete = await (async () => {
    await store.checkMarker();
    for (const [key, record] of legacyDoc()) {
      const stored = await store.read(key);
      if (canonicalJson(stored) !== canonicalJson(record)) return false;
    }
    return true;
  })().catch(() => false);
  return { old, store: complete };
}

async function expectEverythingThere(vaultPath: string): Promise<void> {
  const vault = await openFileVault({
    path: vaultPath,
    clock: systemClock,
    log: silentLogger,
    env: { ROTATOR_VAULT_KEY: KEY.toString('hex') },
  });
  for (const [key, record] of legacyDoc()) {
    expect(await vault.history(key)).toEqual(record.versions);
    const state = await vault.read(key);
    expect(state.intent).toEqual(record.intent);
    expect(state.revokedPrevious).toEqual(record.revokedPrevious);
  }
  expect(await vault.acquireLease('leased', 'me', 1000)).toBeNull();
  expect(await vault.list()).toEqual(['Upper/Case key', 'leased', 'mongo-ci', 'ncp-deployer']);
  await vault.close();
  expect(await fs.readdir(path.dirname(vaultPath))).toEqual(['vault.json.d']);
}

test('a migration killed before each of its file operations leaves the old or the new layout, and the next open has everything', async () => {
  const full = await writeLegacy(path.join(root, 'full'));
  const complete = await runChild(full.vaultPath);
  expect(complete.stderr).toBe('');
  const total = Number(/opened after (\d+) ops/.exec(complete.out)?.[1]);
  expect(total).toBeGreaterThan(20);
  await expectEverythingThere(full.vaultPath);

  const seen = { old: 0, store: 0, both: 0 };
  for (let k = 1; k <= total; k++) {
    const { vaultPath, bytes } = await writeLegacy(path.join(root, `kill-${k}`));
    const run = await runChild(vaultPath, k);
    expect({ k, killed: run.killed, stderr: run.stderr }).toEqual({ k, killed: true, stderr: '' });
    const layouts = await readableLayouts(vaultPath, bytes);
    expect({ k, readable: layouts.old || layouts.store }).toEqual({ k, readable: true });
    if (layouts.old && layouts.store) seen.both += 1;
    else if (layouts.old) seen.old += 1;
    else seen.store += 1;
    await expectEverythingThere(vaultPath);
  }
  // Every phase was hit: before the store appeared, between its rename and the old file's removal, after.
  expect(seen.old).toBeGreaterThan(0);
  expect(seen.both).toBeGreaterThan(0);
  expect(seen.store).toBeGreaterThan(0);
  console.log(
    `migration kill test: ${total} file operations, killed before each: old only ${seen.old}, both ${seen.both}, store only ${seen.store}; never neither`,
  );
});
