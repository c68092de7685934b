/**
 * `rotator exec <id…> -- cmd args`: runs a program with credentials in its environment. The
 * command is spawned directly (no shell) and the secrets travel only in `env`, never in argv,
 * where every user of the host could read them (/proc/<pid>/cmdline, ps).
 *
 * Signals SIGINT, SIGTERM and SIGHUP are forwarded to the child; the result is the child's exit
 * code (128 + n when a signal killed it, 127 when it could not be started). With `watch`, the
 * vault is polled (every interval, and just after a secret's renewal time) and, when a secret's current version changes, the child is restarted with the
 * new environment, or sent `watch.signal` instead (for programs that re-read a file on SIGHUP).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../types';
import { describeError } from '../errors';

export interface ExecEnvironment {
  entries: [string, string][];
  /** Changes when any secret's current version changes (e.g. the version ids joined). */
  versions: string;
  /** The earliest renewal time of the secrets (epoch ms): with --watch, the vault is also read then. */
  renewsAt?: number;
}

/** Shortly after the renewal time the rotator has usually promoted the new version. */
const AFTER_RENEWAL_MS = 5_000;

/**
 * The delay before the next poll: the interval, or less when a renewal falls before it (then
 * just after the renewal time, when the new version is likely there). Pure.
 */
export function nextPollDelay(now: number, intervalMs: number, renewsAt: number | undefined): number {
  if (renewsAt === undefined || renewsAt + AFTER_RENEWAL_MS <= now) return intervalMs;
  return Math.min(intervalMs, renewsAt + AFTER_RENEWAL_MS - now);
}

/** With --watch: how long a restarted program has to exit after SIGTERM before SIGKILL. */
const RESTART_KILL_MS = 10_000;

export const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface ExecOptions {
  command: string;
  args: string[];
  /** The environment besides the credentials (the caller strips what the child must not get). */
  baseEnv: NodeJS.ProcessEnv;
  /** Reads the credentials from the vault. */
  read: () => Promise<ExecEnvironment>;
  watch?: { intervalMs: number; signal?: NodeJS.Signals };
  /** 'inherit' for a terminal; else the child's output is copied to these streams. */
  stdio: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; inherit: boolean };
  log: Logger;
  /** Installs signal handlers; returns the function that removes them. Default: process signals. */
  onSignal?: (handler: (signal: NodeJS.Signals) => void) => () => void;
}

function processSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  for (const s of FORWARDED_SIGNALS) process.on(s, handler);
  return () => {
    for (const s of FORWARDED_SIGNALS) process.off(s, handler);
  };
}

/** 128 + n for a signal death, as shells report it. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return 128 + (n ?? 0);
}

export async function execWithSecrets(options: ExecOptions): Promise<number> {
  const { log } = options;
  let environment = await options.read();
  let child: ChildProcess;
  let restarting = false;
  let finished = false;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  const start = () => {
    const stdio: StdioOptions = options.stdio.inherit ? 'inherit' : ['inherit', 'pipe', 'pipe'];
    const env = { ...options.baseEnv, ...Object.fromEntries(environment.entries) };
    const spawned = spawn(options.command, options.args, { env, stdio });
    child = spawned;
    if (!options.stdio.inherit) {
      spawned.stdout!.on('data', (c: Buffer) => options.stdio.stdout.write(c));
      spawned.stderr!.on('data', (c: Buffer) => options.stdio.stderr.write(c));
    }
    spawned.on('error', (err: NodeJS.ErrnoException) => {
      options.stdio.stderr.write(
        `rotator: cannot run '${options.command}': ${err.code === 'ENOENT' ? 'command not found' : describeError(err)}\n`,
      );
      finish(err.code === 'ENOENT' ? 127 : 126);
    });
    spawned.on('close', (code, signal) => {
      if (spawned !== child || finished) return;
      if (restarting) {
        restarting = false;
        log.info({}, 'restarting the command with the new credentials');
        start();
        return;
      }
      finish(exitCodeOf(code, signal));
    });
  };
  const finish = (code: number) => {
    if (finished) return;
    finished = true;
    resolveDone(code);
  };

  const detach = (options.onSignal ?? processSignals)((signal) => {
    if (!finished) child.kill(signal);
  });
  let poller: NodeJS.Timeout | undefined;
  if (options.watch) {
    const { intervalMs, signal } = options.watch;
    const schedule = () => {
      if (finished) return;
      poller = setTimeout(poll, nextPollDelay(Date.now(), intervalMs, environment.renewsAt));
    };
    const poll = () => {
      if (restarting || finished) return schedule();
      options
        .read()
        .then((next) => {
          if (next.versions === environment.versions || finished) return;
          environment = next;
          if (signal) {
            log.info({ signal }, 'credentials changed; signalling the command');
            child.kill(signal);
          } else {
            log.info({}, 'credentials changed; stopping the command to restart it');
            restarting = true;
            const stopping = child;
            stopping.kill('SIGTERM');
            // A program that ignores SIGTERM must not keep the old credentials forever.
            setTimeout(() => {
              if (stopping.exitCode === null && stopping.signalCode === null) stopping.kill('SIGKILL');
            }, RESTART_KILL_MS).unref();
          }
        })
        .catch((err) => log.warn({ error: describeError(err) }, 'could not re-read the vault; the command keeps its credentials'))
        .finally(schedule);
    };
    schedule();
  }
  try {
    start();
    return await done;
  } finally {
    if (poller) clearTimeout(poller);
    detach();
  }
}
