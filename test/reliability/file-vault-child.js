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
 *   node file-vault-child.js migrate <vault>
 *     opens the vault (migrating a single-file vault), prints "opened after <n> ops"; with
 *     KILL_AT_OP=k it kills itself before its k-th changing file operation (see countOps).
 *
 *   node file-vault-child.js rekey <vault>
 *     changes the key from OLD_VAULT_KEY to NEW_VAULT_KEY (hex, from the environment, never
 *     argv); prints "rekeyed after <n> ops"; KILL_AT_OP as for migrate.
 *
 *   node file-vault-child.js rotator <vault> <name> <rotations> <keys>
 *     performs <rotations> rotations over <keys> keys (putPending then compare-and-swap
 *     promote, retried with a new rotation id after a conflict); prints
 *     "promoted <key> <id> <expected>" for each success and "done <conflicts>" at the end.
 *
 * Every value records the version it expected to replace in `prev`, so the test can rebuild
 * the chain of promotions from the vault alone.
 */
const fs = require('node:fs');

/**
 * `migrate` mode counts the file-system operations that change something (create, write, fsync,
 * rename, link, unlink, mkdir, chmod) and, when KILL_AT_OP=k is set, SIGKILLs itself just before
 * the k-th: a kill at every step of opening (and migrating) a vault, without a failpoint in the
 * product code. Installed before the vault module loads; the vault calls fs.promises.* and
 * FileHandle methods at call time, so the wrappers see every call.
 */
let ops = 0;
function countOps() {
  const killAt = Number(process.env.KILL_AT_OP || 0);
  const step = (name) => {
    ops += 1;
    if (ops === killAt) {
      process.stdout.write(`killing at op ${ops} (${name})\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  };
  const wrap = (target, names, isChange = () => true) => {
    for (const name of names) {
      const original = target[name];
      target[name] = function (...args) {
        if (isChange(args)) step(name);
        return original.apply(this, args);
      };
    }
  };
  wrap(fs.promises, ['mkdir', 'rename', 'unlink', 'rm', 'link', 'writeFile', 'copyFile', 'chmod']);
  // Opening for reading changes nothing; opening to create or write does.
  wrap(fs.promises, ['open'], (args) => typeof args[1] === 'string' && /[wa+]/.test(args[1]));
  return fs.promises.open(process.argv[1], 'r').then(async (handle) => {
    const proto = Object.getPrototypeOf(handle);
    await handle.close();
    wrap(proto, ['writeFile', 'write', 'sync', 'datasync', 'chmod']);
  });
}

let openFileVault;
let rekeyFileVault;
function loadVault() {
  ({ openFileVault, rekeyFileVault } = require(process.env.VAULT_MODULE));
}

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
  if (mode === 'migrate') {
    await countOps();
    loadVault();
    const vault = await openFileVault({ path: vaultPath, clock, log: silent });
    await vault.close();
    say(`opened after ${ops} ops`);
    return;
  }
  if (mode === 'rekey') {
    await countOps();
    loadVault();
    const key = (name) => Buffer.from(process.env[name], 'hex');
    await rekeyFileVault(vaultPath, key('OLD_VAULT_KEY'), key('NEW_VAULT_KEY'), { log: silent });
    say(`rekeyed after ${ops} ops`);
    return;
  }
  loadVault();
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
