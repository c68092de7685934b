/**
 * The per-key file vault at 100 and at 10,000 keys: the cost of a read, a rotation's two writes
 * (putPending + promote) and open must not grow with the number of keys; list is one directory
 * read and does. Run with `npx jest --config jest.bench.config.js test/bench/file-vault.bench.ts`
 * (or `npm run bench`).
 *
 * Seeding 10,000 keys through the vault would cost 10,000 × two fsyncs (minutes on a small VM),
 * so the seed writes record files directly, in the store's format, without fsync; only the
 * measured operations go through the vault.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, report } from './harness';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { sealEnvelope } from '../../src/vaults/file-envelope';
import { encodeKey } from '../../src/vaults/file-names';
import { openFileVault, type FileVault } from '../../src/vaults/file';
import { sampleValue } from '../vault-contract';

const env = { ROTATOR_VAULT_KEY: 'd4'.repeat(32) };
const KEY = Buffer.from(env.ROTATOR_VAULT_KEY, 'hex');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-bench-file-vault-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`${report()}\n`);
});

async function seeded(n: number): Promise<{ vault: FileVault; path: string }> {
  const path = join(dir, `v${n}`, 'vault.json');
  const vault = await openFileVault({ path, clock: systemClock, log: silentLogger, env });
  const createdAt = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const key = `secret-${i}`;
    const versions = [{ versionId: 'seed', value: sampleValue('seed'), stages: ['current'], createdAt }];
    const record = sealEnvelope(Buffer.from(JSON.stringify({ key, versions })), KEY, 'record');
    await writeFile(join(vault.storePath, 'keys', `${encodeKey(key)}.rec`), record, { mode: 0o600 });
  }
  return { vault, path };
}

for (const n of [100, 10_000]) {
  test(`file vault with ${n} keys`, async () => {
    const { vault, path } = await seeded(n);
    let seq = 0;
    const pick = () => `secret-${Math.floor(Math.random() * n)}`;
    await bench(`read() at N=${n}`, 2_000, () => vault.read(pick()));
    await bench(`putPending+promote at N=${n}`, 100, async () => {
      const key = pick();
      const id = `r${seq++}`;
      const current = (await vault.read(key)).current?.versionId ?? null;
      await vault.putPending(key, sampleValue(id), id);
      await vault.promote(key, id, current);
    });
    await bench(`list() at N=${n}`, 20, () => vault.list());
    await bench(`openFileVault() at N=${n}`, 20, async () =>
      (await openFileVault({ path, clock: systemClock, log: silentLogger, env })).close(),
    );
    const states = await vault.readMany(Array.from({ length: n }, (_, i) => `secret-${i}`));
    expect(states.size).toBe(n);
    await vault.close();
  });
}
