'use strict';
/**
 * A child process for test/reliability/file-vault-crash.test.ts. Plain JavaScript so that it
 * runs under `node` alone; it loads the compiled FileVault from the VAULT_MODULE environment
 * variable (the test compiles src/vaults/file.ts first). The vault key comes from
 * ROTATOR_VAULT_KEY, never from the command line.
 *
 *   node file-vault-child.js writer <vault>
 *     rotates the key "counter" forever, one sequence number at a time; prints "ready <seq>"
 *     once the vault is open and "ack <seq>" after each promote resolved. Meant to be killed.
 *
 *   node file-vault-child.js rotator <vault> <name> <rotations> <keys>
 *     performs <rotations> rotations over <keys> keys (putPending then compare-and-swap
 *     promote, retried with a new rotation id after a conflict); prints
 *     "promoted <key> <id> <expected>" for each success and "done <conflicts>" at the end.
 *
 * Every value records the version it expected to replace in `prev`, so the test can rebuild
 * the chain of promotions from the vault alone.
 */
const { openFileVault } = require(process.env.VAULT_MODULE);

const clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function value(key, id, prev, extra) {
  return {
    provider: 'reliability',
    secretId: key,
    credentials: { secretKey: `secret-value-${id}` },
    issuedAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-02T00:00:00.000Z',
    providerRef: `ref-${id}`,
    rotationId: id,
    prev,
    ...extra,
  };
}

function say(line) {
  // Synchronous on pipes (Linux): once written, the parent can rely on it after a SIGKILL.
  process.stdout.write(`${line}\n`);
}

/** Deterministic values: after a crash, re-storing the same sequence number is a no-op. */
async function writer(vault) {
  const key = 'counter';
  const state = await vault.read(key);
  let current = state.current ? state.current.versionId : null;
  let seq = state.current ? state.current.value.seq : 0;
  say(`ready ${seq}`);
  for (;;) {
    seq += 1;
    const id = `s${seq}`;
    await vault.putPending(key, value(key, id, current, { seq }), id);
    await vault.promote(key, id, current);
    current = id;
    say(`ack ${seq}`);
  }
}

async function rotator(vault, name, rotations, keys) {
  let conflicts = 0;
  for (let n = 0; n < rotations; n++) {
    const key = `k${n % keys}`;
    for (let attempt = 0; ; attempt++) {
      const expected = (await vault.read(key)).current?.versionId ?? null;
      const id = `${name}-${n}-${attempt}`;
      await vault.putPending(key, value(key, id, expected), id);
      try {
        await vault.promote(key, id, expected);
        say(`promoted ${key} ${id} ${expected}`);
        break;
      } catch (err) {
        if (err.code !== 'VAULT_CONFLICT') throw err;
        conflicts += 1;
        await clock.sleep(Math.random() * 5);
      }
    }
  }
  say(`done ${conflicts}`);
}

async function main() {
  const [mode, vaultPath, ...args] = process.argv.slice(2);
  const open = (history) => openFileVault({ path: vaultPath, clock, log: silent, history });
  if (mode === 'writer') return writer(await open(5));
  // Enough history to keep every version, so the test can check the whole chain.
  if (mode === 'rotator') return rotator(await open(100000), args[0], Number(args[1]), Number(args[2]));
  throw new Error(`unknown mode ${mode}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err && err.code ? err.code + ': ' : ''}${err && err.message}\n`);
    process.exit(1);
  },
);
