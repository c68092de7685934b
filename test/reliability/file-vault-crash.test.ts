import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { systemClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import type { VaultVersion } from '../../src/types';
import { openFileVault, type FileVault } from '../../src/vaults/file';
import { compileFileVault } from './compile-vault';

/**
 * The file vault under real processes: SIGKILL at random moments (atomic replace, stale lock
 * recovery) and concurrent writers (the lock and the compare-and-swap). The children are plain
 * `node` running test/reliability/file-vault-child.js against src/vaults/file.ts compiled into
 * a temp directory by compile-vault.ts (ts-node is not installed; see there why not dist/).
 * The parent checks the vault with the same code through ts-jest.
 */
const CHILD = path.join(__dirname, 'file-vault-child.js');
const KILLS = 36;
const KEY_HEX = randomBytes(32).toString('hex');

jest.setTimeout(60_000);

let modulePath: string;
let cleanupBuild: () => Promise<void>;
let dir: string;
let vaultPath: string;
let storePath: string;

beforeAll(async () => {
  ({ modulePath, cleanup: cleanupBuild } = await compileFileVault());
});
afterAll(() => cleanupBuild?.());
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rotator-vault-reliability-'));
  vaultPath = path.join(dir, 'vault.json');
  storePath = `${vaultPath}.d`;
});
afterEach(() => fs.rm(dir, { recursive: true, force: true }));

/** A running child and the lines it printed so far. */
interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  /** Resolves at the first line matching `pattern`. */
  waitFor(pattern: RegExp): Promise<string>;
}

function startChild(...args: string[]): Child {
  const child = spawn(process.execPath, [CHILD, ...args], {
    env: { ...process.env, VAULT_MODULE: modulePath, ROTATOR_VAULT_KEY: KEY_HEX },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.filter((w) => w.pattern.test(line))) w.resolve(line);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // 'close' waits for the pipes to drain, so every line the child wrote is in `lines`; by then
  // the child has been reaped, so its pid no longer exists (a zombie would still answer kill 0).
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      if (stderr) lines.push(`stderr: ${stderr.trim()}`);
      resolve(code);
    }),
  );
  const waitFor = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return resolve(seen);
      waiters.push({ pattern, resolve });
      void exited.then(() => reject(new Error(`child exited before ${pattern}: ${lines.slice(-3).join(' | ')}`)));
    });
  return { process: child, lines, exited, waitFor };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function openForCheck(): Promise<FileVault> {
  return openFileVault({ path: vaultPath, clock: systemClock, log: silentLogger, env: { ROTATOR_VAULT_KEY: KEY_HEX } });
}

describe('FileVault survives kill -9 at random moments', () => {
  test(`${KILLS} kills of a writer in a tight loop: the vault always opens, whole, with the last acknowledged write`, async () => {
    let lastAck = 0;
    let acks = 0;
    let writingMs = 0;
    let locksLeft = 0;
    let tempsLeft = 0;
    const started = Date.now();
    for (let round = 0; round < KILLS; round++) {
      const child = startChild('writer', vaultPath);
      // Most kills land mid-loop, after the writer acknowledged a random number (1–3) of rotations,
      // so a count of events rather than a time window makes sure it was writing; every fourth
      // kill lands at a random moment after spawn, which can be during start-up, key loading or
      // stale-lock recovery.
      const killAnytime = round % 4 === 3;
      let readyAt = Date.now();
      if (!killAnytime) {
        const ready = Number((await child.waitFor(/^ready /)).slice(6));
        readyAt = Date.now();
        await child.waitFor(new RegExp(`^ack ${ready + 1 + Math.floor(Math.random() * 3)}$`));
        // A few event-loop turns more, so the kill lands anywhere inside the next write.
        for (let turns = Math.floor(Math.random() * 20); turns > 0; turns--) await new Promise(setImmediate);
      } else {
        await sleep(Math.random() * 150);
      }
      child.process.kill('SIGKILL');
      expect(await child.exited).toBeNull();
      writingMs += Date.now() - readyAt;

      const acked = child.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
      // "ready N" is what the child read back from the vault at start: a write that an earlier
      // victim completed but was killed before acknowledging. It is as durable as an ack.
      const readBack = child.lines.filter((l) => l.startsWith('ready ')).map((l) => Number(l.slice(6)));
      expect(child.lines.filter((l) => l.startsWith('stderr'))).toEqual([]);
      acks += acked.length;
      lastAck = Math.max(lastAck, ...acked, ...readBack);

      const locks = await fs.readdir(path.join(storePath, 'locks')).catch((): string[] => []);
      const keys = await fs.readdir(path.join(storePath, 'keys')).catch((): string[] => []);
      if (locks.includes('counter.lock')) locksLeft += 1;

      tempsLeft += [...locks, ...keys].filter((n) => n.includes('.tmp-')).length;
      await expectConsistent(lastAck);
    }
    const total = Date.now() - started;

    // A final writer must get past the lock the last victim may have left, at once.
    const vault = await openForCheck();
    const before = (await vault.read('counter')).current!;
    const t0 = Date.now();
    await vault.putPending('counter', { ...before.value, seq: -1, rotationId: 'final' }, 'final');
    await vault.promote('counter', 'final', before.versionId);
    const finalWriteMs = Date.now() - t0;
    expect((await vault.read('counter')).previous?.versionId).toBe(before.versionId);
    expect(await fs.readdir(dir)).toEqual(['vault.json.d']);
    expect(await fs.readdir(path.join(storePath, 'keys'))).toEqual(['counter.rec']);
    expect(await fs.readdir(path.join(storePath, 'locks'))).toEqual([]);

    // Figures for the report (each ack is two durable writes: putPending and promote).
    console.log(
      `kill -9 test: ${KILLS} kills in ${total} ms; ${acks} acknowledged rotations ` +
        `(${Math.round((2 * acks * 1000) / Math.max(1, writingMs))} writes/s while running); ` +
        `lock file left behind by ${locksLeft} kills, ${tempsLeft} temp files left (all swept); ` +
        `last seq ${lastAck}; final write after the last kill took ${finalWriteMs} ms (lock broken at once)`,
    );
    // Every mid-loop kill came after at least one acknowledged rotation of its own (waited for above).
    expect(acks).toBeGreaterThanOrEqual(KILLS - Math.floor(KILLS / 4));
  });
});

/**
 * The vault opens and decrypts; `counter` holds the last acknowledged sequence number or the
 * one after it (written, killed before the ack); previous and pending fit around it.
 */
async function expectConsistent(lastAck: number): Promise<void> {
  const vault = await openForCheck();
  const state = await vault.read('counter');
  if (lastAck === 0 && !state.current) return;
  const seq = state.current!.value.seq as number;
  expect([lastAck, lastAck + 1]).toContain(seq);
  expect(state.current!.versionId).toBe(`s${seq}`);
  expect(state.current!.value.credentials).toEqual({ secretKey: `secret-value-s${seq}` });
  if (seq > 1) expect(state.previous?.versionId).toBe(`s${seq - 1}`);
  if (state.pending) expect(state.pending.versionId).toBe(`s${seq + 1}`);
  const history = await vault.history('counter');
  const seqs = history.map((v) => v.value.seq as number);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  await vault.close();
}

describe('FileVault under concurrent writers', () => {
  const PROCESSES = 3;
  const ROTATIONS = 50;
  const KEYS = 5;

  test(`${PROCESSES} processes × ${ROTATIONS} compare-and-swap rotations on ${KEYS} keys lose no write`, async () => {
    const started = Date.now();
    const children = Array.from({ length: PROCESSES }, (_, i) =>
      startChild('rotator', vaultPath, `p${i}`, String(ROTATIONS), String(KEYS)),
    );
    const all = Promise.all(children.map((c) => c.exited));
    let running = true;
    void all.then(() => (running = false));

    // Meanwhile, read continuously: a reader must never see a partial or undecryptable file.
    let reads = 0;
    const reader = await openForCheck();
    while (running) {
      for (const key of await reader.list()) {
        await reader.read(key);
        reads += 1;
      }
      await sleep(2);
    }
    const codes = await all;
    const elapsed = Date.now() - started;
    for (const c of children) expect(c.lines.filter((l) => l.startsWith('stderr'))).toEqual([]);
    expect(codes).toEqual(children.map(() => 0));

    const promoted = children.flatMap((c) =>
      c.lines
        .filter((l) => l.startsWith('promoted '))
        .map((l) => {
          const [, key, id, expected] = l.split(' ');
          return { key: key!, id: id!, expected: expected === 'null' ? null : expected! };
        }),
    );
    expect(promoted).toHaveLength(PROCESSES * ROTATIONS);
    const vault = await openForCheck();
    expect(await vault.list()).toEqual(Array.from({ length: KEYS }, (_, i) => `k${i}`));
    for (let k = 0; k < KEYS; k++) {
      const key = `k${k}`;
      const chain = promotionChain(await vault.history(key), (await vault.read(key)).current!);
      const reported = promoted.filter((p) => p.key === key);
      // Every reported promotion is in the chain, in each process's own order, after the
      // version it expected; nothing else is.
      expect(chain.map((v) => v.versionId).sort()).toEqual(reported.map((p) => p.id).sort());
      for (const p of reported) {
        const at = chain.findIndex((v) => v.versionId === p.id);
        expect(at === 0 ? null : chain[at - 1]!.versionId).toBe(p.expected);
      }
      for (let i = 0; i < PROCESSES; i++) {
        const mine = reported.filter((p) => p.id.startsWith(`p${i}-`)).map((p) => p.id);
        expect(chain.map((v) => v.versionId).filter((id) => id.startsWith(`p${i}-`))).toEqual(mine);
      }
    }
    const conflicts = children.map((c) => Number(c.lines.find((l) => l.startsWith('done '))!.slice(5)));
    console.log(
      `concurrency test: ${PROCESSES} processes × ${ROTATIONS} rotations in ${elapsed} ms, ` +
        `${conflicts.join('+')} compare-and-swap conflicts retried, ${reads} concurrent reads, none failed`,
    );
  });
});

/** The promotions of a key, oldest first, following each value's `prev` back from current. */
function promotionChain(history: VaultVersion[], current: VaultVersion): VaultVersion[] {
  const byId = new Map(history.map((v) => [v.versionId, v]));
  const chain: VaultVersion[] = [];
  for (let v: VaultVersion | undefined = current; v; v = v.value.prev ? byId.get(v.value.prev as string) : undefined) {
    chain.unshift(v);
    if (v.value.prev && !byId.has(v.value.prev as string)) throw new Error(`chain broken at ${v.versionId}`);
  }
  return chain;
}
