/**
 * The scale bench (`npm run bench:scale -- [--n 2000] [--concurrency 4,32] [--vault file,aws]
 * [--aws-n N] [--idle-n 10000] [--idle-seconds 60] [--idle-timeout 600] [--latency 20]
 * [--workspace DIR] [--daemon-node-options FLAGS]`).
 *
 * It drives the real CLI as a user would: a generated config in a temp folder, `rotator rotate
 * --all` with every secret due (empty vault), then `rotator run` idle over a seeded vault. The
 * emulators run in a separate process with injected latency per request. Only public surfaces
 * are used (CLI, config, the emulators' start functions), so the bench keeps measuring whatever
 * the vault and engine become. Figures are printed and written to bench-results.json; nothing
 * is asserted against a time (the machine may be shared: say so next to the figures).
 *
 * `--workspace DIR` keeps the idle run's folder (config, seeded vault, logs) in DIR and, when DIR
 * already holds a seeded workspace for the same N, reuses it instead of seeding again (seeding
 * 10,000 secrets takes minutes). The reused vault's credentials must still be fresh: the NCP
 * secrets last an hour, so a workspace older than ~40 minutes has due secrets and the idle
 * figures then include rotations (the run says how many provider requests it saw).
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchConfig, benchEnv, type BenchVault } from './scale-config';
import { freePort, ROOT, sampleProc, spawnCli, startEmulatorProcess, type EmulatorProcess } from './scale-proc';
import type { EmulatorCounts } from './scale-emulators';

/** Secrets Manager operations that change state: what "vault writes" means for the AWS vault. */
const SM_WRITES = ['CreateSecret', 'PutSecretValue', 'UpdateSecretVersionStage', 'TagResource', 'UntagResource', 'DeleteSecret'];

interface RotateRun {
  kind: 'rotate-all';
  vault: BenchVault;
  n: number;
  concurrency: number;
  latencyMs: number;
  exitCode: number | string;
  rotated: number;
  wallS: number;
  rotationsPerS: number;
  /** Provider and vault requests per rotation, as the emulators counted them. */
  requestsPerRotation: number;
  providerRequestsPerRotation: number;
  /** N × requests-per-rotation × latency / C: the time if only the injected latency cost anything. */
  idealS: number;
  ratio: number;
  cpuMsPerRotation: number | null;
  peakRssMb: number | null;
  /** File vault: durable replaces (renames) under the vault folder; AWS: state-changing calls. */
  vaultWritesPerRotation: number | null;
  fsyncsPerRotation: number | null;
  smCallsPerRotation?: Record<string, number>;
}

interface IdleRun {
  kind: 'idle-daemon';
  n: number;
  /** NODE_OPTIONS the daemon ran with ('' = node's defaults). */
  nodeOptions: string;
  /** `reused`: a kept, already seeded workspace (--workspace); then wallS is 0. */
  seed: { exitCode: number | string; wallS: number; reused: boolean };
  ready: boolean;
  /** Until /readyz answered 200. */
  startupS: number | null;
  /** Until the start-up log line ('scheduler started'), from the line's own timestamp. */
  schedulerStartedS: number | null;
  /** From SIGTERM until the process exited. */
  stopS: number | null;
  rssMbAtReady: number | null;
  rssMbAfterIdle: number | null;
  peakRssMb: number | null;
  idleSeconds: number;
  /** CPU over the idle window as a percentage of one core. */
  idleCpuPercent: number | null;
  providerRequestsWhileIdle: number | null;
}

type Run = RotateRun | IdleRun;

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const elapsedS = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A timer that does not keep the bench alive once everything else is done. */
const deadline = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());

function parse() {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '4,32' },
      vault: { type: 'string', default: 'file,aws' },
      'aws-n': { type: 'string' },
      'idle-n': { type: 'string', default: '10000' },
      'idle-seconds': { type: 'string', default: '60' },
      'idle-timeout': { type: 'string', default: '600' },
      latency: { type: 'string', default: '20' },
      out: { type: 'string', default: join(ROOT, 'bench-results.json') },
      workspace: { type: 'string' },
      /** NODE_OPTIONS for the idle daemon (e.g. what deploy/systemd/rotator.service sets). */
      'daemon-node-options': { type: 'string', default: '' },
    },
  });
  const int = (name: string, text: string) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number, got '${text}'`);
    return v;
  };
  const vaults = list(values.vault);
  for (const v of vaults) if (v !== 'file' && v !== 'aws') throw new Error(`--vault takes file and/or aws, got '${v}'`);
  const n = int('n', values.n);
  return {
    n,
    awsN: int('aws-n', values['aws-n'] ?? String(n)),
    concurrency: list(values.concurrency).map((c) => int('concurrency', c)),
    vaults: vaults as BenchVault[],
    idleN: int('idle-n', values['idle-n']),
    idleSeconds: int('idle-seconds', values['idle-seconds']),
    idleTimeoutS: int('idle-timeout', values['idle-timeout']),
    latencyMs: int('latency', values.latency),
    out: values.out,
    workspace: values.workspace === undefined ? undefined : resolve(values.workspace),
    daemonNodeOptions: values['daemon-node-options'],
  };
}

/** A temp folder holding the config; the CLI runs there. */
async function workspace(yaml: string) {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-scale-'));
  const file = join(dir, 'rotator.config.yaml');
  await writeFile(file, yaml);
  return { dir, file, vaultDir: join(dir, 'vault') };
}

/** Written into a kept workspace once its seed succeeded, with the N it was seeded for. */
const SEEDED_MARK = 'seeded.json';

/**
 * The idle run's workspace: a kept one in `dir` (reused when already seeded for `n`: its config
 * gets the new status port) or a fresh temp folder.
 */
async function idleWorkspace(yaml: string, n: number, port: number, dir: string | undefined) {
  if (dir === undefined) return { ...(await workspace(yaml)), seeded: false, keep: false };
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'rotator.config.yaml');
  const mark = await readFile(join(dir, SEEDED_MARK), 'utf8').catch(() => undefined);
  if (mark !== undefined && (JSON.parse(mark) as { n: number }).n === n) {
    const kept = await readFile(file, 'utf8');
    await writeFile(file, kept.replace(/^http: \{ port: \d+ \}$/m, `http: { port: ${port} }`));
    return { dir, file, vaultDir: join(dir, 'vault'), seeded: true, keep: true };
  }
  await rm(join(dir, 'vault'), { recursive: true, force: true });
  await writeFile(file, yaml);
  return { dir, file, vaultDir: join(dir, 'vault'), seeded: false, keep: true };
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

async function rotateAll(
  emu: EmulatorProcess,
  vault: BenchVault,
  n: number,
  concurrency: number,
  latencyMs: number,
): Promise<RotateRun> {
  const config = benchConfig(emu.info, { n, concurrency, vault, awsPrefix: `bench-${Date.now()}/` });
  await emu.send({ cmd: 'serviceAccounts', orgId: config.orgId, clientIds: config.clientIds });
  const ws = await workspace(config.yaml);
  const logFile = join(ws.dir, 'rotate.log');
  const before: EmulatorCounts = await emu.send({ cmd: 'counts' });
  const start = process.hrtime.bigint();
  const cli = await spawnCli(['rotate', '--all', '-c', ws.file], {
    env: benchEnv(emu.info),
    cwd: ws.dir,
    vaultDir: ws.vaultDir,
    probeOut: join(ws.dir, 'probe.json'),
    logFile,
  });
  const exitCode = await cli.exited;
  const wallS = elapsedS(start);
  const after: EmulatorCounts = await emu.send({ cmd: 'counts' });
  const output = await readFile(logFile, 'utf8');
  const rotated = output.split('\n').filter((l) => /^\S+: rotated/.test(l)).length;
  if (exitCode !== 0) process.stderr.write(`rotate --all exited ${exitCode}; last lines:\n${await tail(logFile)}\n`);
  const probe = cli.probe();
  const per = Math.max(rotated, 1);
  const providerRequests = after.ncp - before.ncp + (after.mcm - before.mcm);
  const smCalls: Record<string, number> = {};
  for (const [op, count] of Object.entries(after.smByOperation)) {
    const delta = count - (before.smByOperation[op] ?? 0);
    if (delta > 0) smCalls[op] = round(delta / per);
  }
  const smRequests = after.sm - before.sm;
  const requestsPerRotation = (providerRequests + smRequests) / per;
  const idealS = (n * requestsPerRotation * latencyMs) / 1000 / concurrency;
  const vaultWrites =
    vault === 'file'
      ? (probe?.vaultRenames ?? null)
      : SM_WRITES.reduce((sum, op) => sum + (after.smByOperation[op] ?? 0) - (before.smByOperation[op] ?? 0), 0);
  await rm(ws.dir, { recursive: true, force: true });
  return {
    kind: 'rotate-all',
    vault,
    n,
    concurrency,
    latencyMs,
    exitCode,
    rotated,
    wallS: round(wallS),
    rotationsPerS: round(rotated / wallS),
    requestsPerRotation: round(requestsPerRotation),
    providerRequestsPerRotation: round(providerRequests / per),
    idealS: round(idealS),
    ratio: round(idealS / wallS, 3),
    cpuMsPerRotation: probe ? round((probe.userCpuMs + probe.systemCpuMs) / per) : null,
    peakRssMb: probe ? round(probe.maxRssMb, 1) : null,
    vaultWritesPerRotation: vaultWrites === null ? null : round(vaultWrites / per),
    fsyncsPerRotation: vault === 'file' && probe ? round(probe.fsyncs / per) : null,
    ...(vault === 'aws' ? { smCallsPerRotation: smCalls } : {}),
  };
}

/** Seconds from `sinceEpochMs` to the first JSON log line whose msg is `msg` (its `time` field). */
async function logLineAt(file: string, msg: string, sinceEpochMs: number): Promise<number | null> {
  for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; time?: number | string };
      if (entry.msg === msg && entry.time !== undefined) return round((new Date(entry.time).getTime() - sinceEpochMs) / 1000);
    } catch {
      // not a JSON line (pretty output): no timestamp to read
    }
  }
  return null;
}

/** GET /readyz: the status code, or 0 when nothing answers yet. */
async function readyz(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function idleDaemon(
  emu: EmulatorProcess,
  n: number,
  idleSeconds: number,
  timeoutS: number,
  latencyMs: number,
  keepDir: string | undefined,
  nodeOptions: string,
): Promise<IdleRun> {
  const port = await freePort();
  const config = benchConfig(emu.info, { n, concurrency: 32, vault: 'file', httpPort: port });
  await emu.send({ cmd: 'serviceAccounts', orgId: config.orgId, clientIds: config.clientIds });
  const ws = await idleWorkspace(config.yaml, n, port, keepDir);
  const env = benchEnv(emu.info);
  let seed: IdleRun['seed'] = { exitCode: 0, wallS: 0, reused: true };
  if (!ws.seeded) {
    // Seed: every secret gets a current credential (no latency: the seed is not what is measured).
    await emu.send({ cmd: 'latency', ms: 0 });
    const seedStart = process.hrtime.bigint();
    const seeded = await spawnCli(['rotate', '--all', '-c', ws.file], {
      env,
      cwd: ws.dir,
      vaultDir: ws.vaultDir,
      probeOut: join(ws.dir, 'seed-probe.json'),
      logFile: join(ws.dir, 'seed.log'),
    });
    seed = { exitCode: await seeded.exited, wallS: round(elapsedS(seedStart)), reused: false };
    await emu.send({ cmd: 'latency', ms: latencyMs });
    if (seed.exitCode !== 0) process.stderr.write(`seed exited ${seed.exitCode}:\n${await tail(join(ws.dir, 'seed.log'))}\n`);
    else if (ws.keep) await writeFile(join(ws.dir, SEEDED_MARK), `${JSON.stringify({ n, at: new Date().toISOString() })}\n`);
  }

  const logFile = join(ws.dir, 'run.log');
  const start = process.hrtime.bigint();
  const startEpochMs = Date.now();
  const daemon = await spawnCli(['run', '-c', ws.file], {
    env: { ...env, ROTATOR_LOG_LEVEL: 'info', ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    cwd: ws.dir,
    vaultDir: ws.vaultDir,
    probeOut: join(ws.dir, 'run-probe.json'),
    logFile,
  });
  const pid = daemon.child.pid!;
  let exited = false;
  void daemon.exited.then(() => (exited = true));
  let startupS: number | null = null;
  while (!exited && elapsedS(start) < timeoutS) {
    if ((await readyz(port)) === 200) {
      startupS = round(elapsedS(start));
      break;
    }
    await delay(200);
  }
  const atReady = sampleProc(pid);
  const idleBefore: EmulatorCounts = await emu.send({ cmd: 'counts' });
  let after = atReady;
  let idleCpuPercent: number | null = null;
  let providerRequestsWhileIdle: number | null = null;
  if (startupS !== null && atReady) {
    await delay(idleSeconds * 1000);
    after = sampleProc(pid);
    const idleAfter: EmulatorCounts = await emu.send({ cmd: 'counts' });
    if (after) idleCpuPercent = round(((after.cpuMs - atReady.cpuMs) / (idleSeconds * 1000)) * 100, 3);
    providerRequestsWhileIdle = idleAfter.ncp - idleBefore.ncp + (idleAfter.mcm - idleBefore.mcm);
  } else {
    process.stderr.write(`daemon not ready after ${round(elapsedS(start))} s; last lines:\n${await tail(logFile)}\n`);
  }
  const schedulerStartedS = await logLineAt(logFile, 'scheduler started', startEpochMs);
  const stopStart = process.hrtime.bigint();
  if (!exited) daemon.child.kill('SIGTERM');
  const stopped = await Promise.race([daemon.exited, deadline(60_000)]);
  const stopS = stopped === 'timeout' ? null : round(elapsedS(stopStart));
  if (stopped === 'timeout') {
    process.stderr.write(`daemon still running 60 s after SIGTERM: killed; last lines:\n${await tail(logFile)}\n`);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  const probe = daemon.probe();
  if (!ws.keep) await rm(ws.dir, { recursive: true, force: true });
  return {
    kind: 'idle-daemon',
    nodeOptions,
    n,
    seed,
    ready: startupS !== null,
    startupS,
    schedulerStartedS,
    stopS,
    rssMbAtReady: atReady ? round(atReady.rssMb, 1) : null,
    rssMbAfterIdle: after ? round(after.rssMb, 1) : null,
    peakRssMb: probe ? round(probe.maxRssMb, 1) : after ? round(after.peakRssMb, 1) : null,
    idleSeconds,
    idleCpuPercent,
    providerRequestsWhileIdle,
  };
}

function describe(run: Run): string {
  if (run.kind === 'rotate-all') {
    return (
      `rotate --all  vault=${run.vault} N=${run.n} C=${run.concurrency}: exit ${run.exitCode}, ${run.rotated} rotated in ${run.wallS} s ` +
      `(${run.rotationsPerS}/s); ideal ${run.idealS} s (${run.requestsPerRotation} req/rotation × ${run.latencyMs} ms), ratio ${run.ratio}; ` +
      `CPU ${run.cpuMsPerRotation} ms/rotation, peak RSS ${run.peakRssMb} MB, vault writes ${run.vaultWritesPerRotation}/rotation` +
      (run.fsyncsPerRotation !== null ? `, fsyncs ${run.fsyncsPerRotation}/rotation` : '') +
      (run.smCallsPerRotation ? `, SM calls/rotation ${JSON.stringify(run.smCallsPerRotation)}` : '')
    );
  }
  return (
    `run (idle)    vault=file N=${run.n}${run.nodeOptions ? ` NODE_OPTIONS='${run.nodeOptions}'` : ''}: ` +
    (run.seed.reused ? 'seeded workspace reused; ' : `seed ${run.seed.wallS} s (exit ${run.seed.exitCode}); `) +
    (run.ready
      ? `ready in ${run.startupS} s (scheduler started at ${run.schedulerStartedS} s, stop took ${run.stopS} s), RSS ${run.rssMbAtReady} MB at ready, ` +
        `${run.rssMbAfterIdle} MB after ${run.idleSeconds} s idle (peak ${run.peakRssMb} MB), idle CPU ${run.idleCpuPercent} % of a core, ` +
        `${run.providerRequestsWhileIdle} provider requests while idle`
      : `NOT ready (RSS ${run.rssMbAtReady} MB, peak ${run.peakRssMb} MB)`)
  );
}

async function main(): Promise<void> {
  const args = parse();
  const results = {
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadAverageAtStart: loadavg().map((x) => round(x)),
    args,
    runs: [] as Run[],
  };
  const save = () => writeFile(args.out, `${JSON.stringify(results, null, 2)}\n`);
  const emu = await startEmulatorProcess(args.latencyMs);
  try {
    for (const vault of args.vaults) {
      for (const concurrency of args.concurrency) {
        const n = vault === 'aws' ? args.awsN : args.n;
        if (n === 0) continue;
        const run = await rotateAll(emu, vault, n, concurrency, args.latencyMs);
        results.runs.push(run);
        process.stdout.write(`${describe(run)}\n`);
        await save();
      }
    }
    if (args.idleN > 0) {
      const run = await idleDaemon(
        emu,
        args.idleN,
        args.idleSeconds,
        args.idleTimeoutS,
        args.latencyMs,
        args.workspace,
        args.daemonNodeOptions,
      );
      results.runs.push(run);
      process.stdout.write(`${describe(run)}\n`);
      await save();
    }
  } finally {
    await emu.close();
  }
  process.stdout.write(
    `node ${process.version}, ${cpus().length} cpus, load average at start ${results.loadAverageAtStart.join(' ')}; written to ${args.out}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scale: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
