/**
 * Loaded into the rotator process under test with `node --require` by the scale bench: counts
 * durable replaces (renames) whose target lies under BENCH_VAULT_DIR and fsyncs anywhere, and at
 * exit writes them with the process's CPU time and peak RSS to BENCH_PROBE_OUT as JSON. It only
 * observes Node's fs calls, so it keeps working whatever the vault's layout becomes (one
 * document, one file per key). Nothing else in the process changes.
 */
import fs from 'node:fs';
import { resolve, sep } from 'node:path';

/** What the probe writes at exit. */
export interface ProbeReport {
  vaultRenames: number;
  fsyncs: number;
  userCpuMs: number;
  systemCpuMs: number;
  maxRssMb: number;
}

const out = process.env.BENCH_PROBE_OUT;
const vaultDir = process.env.BENCH_VAULT_DIR ? resolve(process.env.BENCH_VAULT_DIR) + sep : undefined;
const counts = { vaultRenames: 0, fsyncs: 0 };

const countRename = (target: unknown) => {
  if (vaultDir && typeof target === 'string' && resolve(target).startsWith(vaultDir)) counts.vaultRenames++;
};

const promises = fs.promises as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
const rename = promises.rename!;
promises.rename = (from: unknown, to: unknown) => {
  countRename(to);
  return rename(from, to);
};
const renameCb = fs.rename;
(fs as unknown as Record<string, unknown>).rename = (from: fs.PathLike, to: fs.PathLike, cb: fs.NoParamCallback) => {
  countRename(to);
  renameCb(from, to, cb);
};
const renameSync = fs.renameSync;
fs.renameSync = (from, to) => {
  countRename(to);
  renameSync(from, to);
};
for (const name of ['fsync', 'fdatasync'] as const) {
  const original = fs[name];
  (fs as unknown as Record<string, unknown>)[name] = (fd: number, cb: fs.NoParamCallback) => {
    counts.fsyncs++;
    original(fd, cb);
  };
}
for (const name of ['fsyncSync', 'fdatasyncSync'] as const) {
  const original = fs[name];
  (fs as unknown as Record<string, unknown>)[name] = (fd: number) => {
    counts.fsyncs++;
    original(fd);
  };
}
// FileHandle's prototype is reachable only through a handle: patch it at the first open.
const open = promises.open!;
let handlePatched = false;
promises.open = async (...args: unknown[]) => {
  const handle = (await open(...args)) as fs.promises.FileHandle;
  if (!handlePatched) {
    handlePatched = true;
    const proto = Object.getPrototypeOf(handle) as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const name of ['sync', 'datasync']) {
      const original = proto[name]!;
      proto[name] = function (this: unknown, ...a: unknown[]) {
        counts.fsyncs++;
        return original.apply(this, a);
      };
    }
  }
  return handle;
};

process.on('exit', () => {
  if (!out) return;
  const usage = process.resourceUsage();
  const report: ProbeReport = {
    ...counts,
    userCpuMs: usage.userCPUTime / 1000,
    systemCpuMs: usage.systemCPUTime / 1000,
    maxRssMb: usage.maxRSS / 1024,
  };
  fs.writeFileSync(out, JSON.stringify(report));
});
