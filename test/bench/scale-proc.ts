/**
 * Process plumbing for the scale bench: the emulator process over IPC, the rotator CLI spawned
 * with the probe preloaded, and /proc readings of a running daemon (Linux).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { EmulatorCommand, EmulatorCounts, EmulatorInfo } from './scale-emulators';
import type { ProbeReport } from './scale-probe';

/** The repository root (this file runs from dist/test/bench). */
export const ROOT = resolve(__dirname, '../../..');
const BIN = join(ROOT, 'bin', 'rotator.js');
const PROBE = join(__dirname, 'scale-probe.js');

type Command = EmulatorCommand extends infer C ? (C extends { id: number } ? Omit<C, 'id'> : never) : never;

export interface EmulatorProcess {
  info: EmulatorInfo;
  send(command: { cmd: 'counts' }): Promise<EmulatorCounts>;
  send(command: Command): Promise<unknown>;
  close(): Promise<void>;
}

export async function startEmulatorProcess(latencyMs: number): Promise<EmulatorProcess> {
  const child = fork(join(__dirname, 'scale-emulators.js'), [], {
    env: { ...process.env, BENCH_LATENCY_MS: String(latencyMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  child.on('message', (msg: { id: number; ok: boolean; result?: unknown; error?: string }) => {
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (msg.ok) w?.resolve(msg.result);
    else w?.reject(new Error(msg.error));
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`emulator process exited (${code})`));
    waiting.clear();
  });
  let nextId = 1;
  const info = (await new Promise((resolve, reject) => waiting.set(0, { resolve, reject }))) as EmulatorInfo;
  const send = (command: Command) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      child.send({ ...command, id });
    });
  return {
    info,
    send: send as EmulatorProcess['send'],
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      await send({ cmd: 'close' }).catch(() => undefined);
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A free loopback port (closed again before use: a small race, acceptable for a bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exited: Promise<number | string>;
  probe(): ProbeReport | undefined;
}

/** `rotator <args>` as a user would run it, with the probe preloaded; output goes to `logFile`. */
export async function spawnCli(
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; vaultDir: string; probeOut: string; logFile: string },
): Promise<CliProcess> {
  const log = await open(options.logFile, 'w');
  // BENCH_CPU_PROF=<dir>: every CLI process writes a V8 CPU profile there (read the top self times).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF)}`] : [];
  const child = spawn(process.execPath, [...profile, '--require', PROBE, BIN, ...args], {
    cwd: options.cwd,
    env: { ...options.env, BENCH_PROBE_OUT: options.probeOut, BENCH_VAULT_DIR: options.vaultDir },
    stdio: ['ignore', log.fd, log.fd],
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      void log.close();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    exited,
    probe: () => {
      try {
        return JSON.parse(readFileSync(options.probeOut, 'utf8')) as ProbeReport;
      } catch {
        return undefined;
      }
    },
  };
}

export interface ProcSample {
  /** user + system CPU so far, ms. */
  cpuMs: number;
  rssMb: number;
  /** Peak RSS so far (VmHWM). */
  peakRssMb: number;
}

const CLOCK_TICKS_PER_S = 100; // Linux USER_HZ on every common build.

/** CPU and memory of a running process from /proc; undefined once it is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { cpuMs, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}
