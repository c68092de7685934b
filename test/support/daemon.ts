/**
 * Spawns the real `rotator` binary (bin/rotator.js over dist/, built by test/global-setup.js)
 * and reads its JSON log lines from stderr, so tests can wait for a step ("promoted") and then
 * signal or kill the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
const BIN = join(ROOT, 'bin', 'rotator.js');

export interface LogLine {
  msg: string;
  level: string;
  [key: string]: unknown;
}

export class Daemon {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stdout = '';
  stderr = '';
  private waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /**
   * `rotator <args>` by default; `{ npm: true }` runs `npm <args>` instead (for `npm start`
   * exactly as a newcomer types it).
   */
  constructor(args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; npm?: boolean } = {}) {
    const cwd = options.cwd ?? ROOT;
    const [command, argv] = options.npm ? ['npm', args] : [process.execPath, [BIN, ...args]];
    // A process group of its own, so clean-up can also reach what it started (npm's child).
    this.child = spawn(command, argv, {
      detached: true,
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => {
      const text = c.toString();
      this.stderr += text;
      partial += text;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const raw of parts) this.accept(raw);
    });
    this.exited = new Promise((r) => this.child.on('exit', (code, signal) => r({ code, signal })));
  }

  private accept(raw: string): void {
    if (!raw.startsWith('{')) return;
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      return;
    }
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
  }

  /** Resolves with the first log line (past or future) that matches; rejects after `timeoutMs`. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs = 15_000, what = 'log line'): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${this.stderr.slice(-3000)}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`process exited while waiting for ${what}; stderr:\n${this.stderr.slice(-3000)}`));
      });
    });
  }

  count(match: (l: LogLine) => boolean): number {
    return this.lines.filter(match).length;
  }

  /** Ensures the process and everything in its group are gone (test clean-up). */
  async kill(): Promise<void> {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // The group is already empty.
    }
    await this.exited;
  }
}

export const msg = (text: string, secretId?: string) => (l: LogLine) =>
  l.msg === text && (secretId === undefined || l.secretId === secretId);
