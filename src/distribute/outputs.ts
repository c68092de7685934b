/**
 * Outputs: what happens after each promotion (and, for files, when `rotator run` starts).
 *
 * - `file`: the value rendered as env lines, JSON or a template, replaced atomically with its
 *   mode (default 0600); parent directories are created 0700.
 * - `command`: an operator-written command line run with `/bin/sh -c` in the config file's
 *   folder (like relative paths in the config), the new credentials only
 *   in its environment (never in the command line), killed after its timeout; a failure is
 *   retried with bounded back-off, then reported. The vault is never rolled back.
 *
 * A version whose outputs all succeeded is recorded in the distribution memo (./memo.ts); a
 * process that starts or recovers after a crash runs the distribution again (commands included)
 * when the current version is not the memo's.
 *
 * In the sandbox (config.sandbox) file outputs go under the sandbox folder instead of their
 * configured paths, and commands are logged but not run: sandbox credentials must not overwrite
 * a real file or reload a real service.
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger, ProviderSchemas, Vault, VaultValue } from '../types';
import type { OutputConfig, RotatorConfig, SecretConfig } from '../../config/schema';
import { RotatorError, describeError, isRotatorError } from '../errors';
import { inheritableEnv, secrets } from '../redact';
import { formatEnv, metadataEnv, secretEnvEntries } from './env';
import { renderTemplate } from './template';
import { removeStaleTempFiles, writeFileAtomically } from './atomic';
import { MemoStore, alreadyDistributed, memoDirectory, outputSetId } from './memo';

export type FileOutput = Extract<OutputConfig, { type: 'file' }>;
export type CommandOutput = Extract<OutputConfig, { type: 'command' }>;

export interface CommandRetry {
  attempts: number;
  /** Delay before the second attempt; each later one is multiplied by 4, capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** 3 attempts: at once, after 1 s, after 4 s more. */
export const DEFAULT_COMMAND_RETRY: CommandRetry = { attempts: 3, baseDelayMs: 1_000, maxDelayMs: 10_000 };
/** After a command's timeout: SIGTERM to its process group, then SIGKILL this much later. */
const KILL_GRACE_MS = 2_000;
const STDERR_TAIL = 2_000;
/** How long stderr is still read after the shell exited (a background child may hold it open). */
const STDERR_DRAIN_MS = 200;

export interface DistributorOptions {
  config: RotatorConfig;
  pluginFor: (secretId: string) => ProviderSchemas;
  log: Logger;
  /** The environment commands inherit (PATH, HOME…), without the vault key or master credentials (see inheritableEnv). */
  env?: NodeJS.ProcessEnv;
  commandRetry?: CommandRetry;
}

/** The content of a file output for `value`. Throws (naming no secret) when it cannot be rendered. */
export function renderFileOutput(output: FileOutput, value: VaultValue, envNames: [string, string][]): string {
  switch (output.format) {
    case 'env':
      return `${formatEnv(envNames)}\n`;
    case 'json':
      return `${JSON.stringify(value, null, 2)}\n`;
    case 'template':
      return renderTemplate(output.template ?? '', value);
  }
}

/** Where a file output is written: its path, or its mirror under the sandbox's outputs folder. */
export function outputPath(config: RotatorConfig, output: FileOutput): string {
  return config.sandbox ? join(config.sandbox.outputsDir, output.path) : output.path;
}

export class Distributor {
  private readonly retry: CommandRetry;
  /** The version each secret's outputs were last written for, by this process. */
  private readonly distributed = new Map<string, string>();
  /** Output paths already checked for loose permissions: one warning per path and process. */
  private readonly permissionsChecked = new Set<string>();
  private readonly memo: MemoStore;

  constructor(private readonly options: DistributorOptions) {
    this.retry = options.commandRetry ?? DEFAULT_COMMAND_RETRY;
    this.memo = new MemoStore(memoDirectory(options.config));
  }

  private secret(secretId: string): SecretConfig | undefined {
    return this.options.config.secrets.find((s) => s.id === secretId);
  }

  private envEntries(secret: SecretConfig, value: VaultValue): [string, string][] {
    return secretEnvEntries(value, this.options.pluginFor(secret.id).envNames, secret.env);
  }

  /**
   * Writes every output of `value.secretId`: each is attempted even when an earlier one failed.
   * Rejects with a DISTRIBUTION error summing up the failures (for `result.distributionError`).
   */
  async distribute(value: VaultValue): Promise<void> {
    await this.distributeAll(value, false);
  }

  /**
   * Every output of `value.secretId`, then the memo when all succeeded. `onlyIfChanged`: file
   * outputs already holding the right content are left alone (catching up, not promoting).
   * Returns how many files were written.
   */
  private async distributeAll(value: VaultValue, onlyIfChanged: boolean): Promise<number> {
    const secret = this.secret(value.secretId);
    if (!secret || secret.outputs.length === 0) return 0;
    // Recorded before the attempt: a failed output is reported once, not re-run at every check
    // of this process (commands already retry on their own). The durable memo is written only
    // after success, so another process (a restart, the next cron run) tries again.
    this.distributed.set(secret.id, value.rotationId);
    const log = this.options.log.child({ secretId: secret.id, rotationId: value.rotationId });
    const failures: string[] = [];
    let written = 0;
    for (const [index, output] of secret.outputs.entries()) {
      const what = `outputs[${index}] (${output.type})`;
      try {
        if (output.type === 'file') {
          if (await this.writeFile(secret, output, value, log, onlyIfChanged)) written++;
        } else await this.runCommand(secret, output, value, log);
      } catch (err) {
        failures.push(`${what}: ${isRotatorError(err) ? err.message : describeError(err)}`);
        log.error({ output: index, error: describeError(err) }, 'output failed');
      }
    }
    if (failures.length > 0) {
      throw new RotatorError(
        'DISTRIBUTION',
        `${failures.length} of ${secret.outputs.length} outputs of '${secret.id}' failed: ${failures.join('; ')}`,
      );
    }
    try {
      await this.memo.write(secret.id, outputSetId(secret, this.options.config), value.rotationId);
    } catch (err) {
      // The outputs are done; without the record a later process merely runs them once more.
      log.warn(
        { memo: this.memo.dir, error: describeError(err) },
        'could not record the completed distribution; a restart or the next `rotate --if-due` will run it again',
      );
    }
    return written;
  }

  /** Whether the memo says `rotationId` was fully distributed on this host (an unreadable memo: no). */
  private async memoCurrent(secret: SecretConfig, rotationId: string, log: Logger): Promise<boolean> {
    const outputSet = outputSetId(secret, this.options.config);
    try {
      return alreadyDistributed(await this.memo.read(secret.id, outputSet), rotationId, outputSet);
    } catch (err) {
      log.warn({ memo: this.memo.dir, error: describeError(err) }, 'could not read the distribution memo; distributing again');
      return false;
    }
  }

  /**
   * Distributes `value` unless this process already did for that version (or restored files
   * from it at start): a replica whose peer rotated the secret learns of it at its next check
   * and updates its own host's files and reload commands.
   */
  async distributeIfNew(value: VaultValue): Promise<void> {
    if (this.distributed.get(value.secretId) === value.rotationId) return;
    await this.distribute(value);
  }

  /**
   * For a process with no memory of its own (`rotator rotate --if-due` from cron, after a peer
   * rotated or after a crash): distributes `value` again (changed files re-written, every reload
   * command run) unless the memo says this host already fully distributed it and every file
   * output still holds it. Files alone cannot tell: a process killed while a reload command ran
   * had already written them.
   */
  async distributeIfFilesChanged(value: VaultValue): Promise<void> {
    const secret = this.secret(value.secretId);
    if (!secret || secret.outputs.length === 0) return;
    const log = this.options.log.child({ secretId: secret.id, rotationId: value.rotationId });
    let needed = !(await this.memoCurrent(secret, value.rotationId, log));
    for (const output of secret.outputs) {
      if (needed || output.type !== 'file') continue;
      const content = renderFileOutput(output, value, this.envEntries(secret, value));
      const existing = await readFile(outputPath(this.options.config, output), 'utf8').catch(() => undefined);
      if (existing !== content) needed = true;
    }
    if (needed) await this.distributeAll(value, true);
    else this.distributed.set(secret.id, value.rotationId);
  }

  /**
   * `rotator run` start: writes every file output from the vault's current value, so a fresh
   * host (or a deleted file) gets its files without waiting for the next rotation. Files that
   * already hold the right content are left alone (no needless change event for watchers).
   * Reload commands run only when the memo does not record the current version as fully
   * distributed on this host (a crash during its distribution, a new output set, a first
   * start): a reload at every daemon start is not what a hook promises, a missed one is worse.
   * Temp files left by a process killed mid-write are removed first.
   * Never throws; problems are logged. Returns how many files were written.
   */
  async restoreFiles(vault: Vault): Promise<number> {
    let written = 0;
    for (const secret of this.options.config.secrets) {
      if (secret.outputs.length === 0) continue;
      const files = secret.outputs.filter((o): o is FileOutput => o.type === 'file');
      const log = this.options.log.child({ secretId: secret.id });
      try {
        for (const output of files) await removeStaleTempFiles(outputPath(this.options.config, output));
        await this.memo.removeStaleTemps(secret.id, outputSetId(secret, this.options.config));
        const current = (await vault.read(secret.id)).current;
        if (!current) continue;
        if (!(await this.memoCurrent(secret, current.value.rotationId, log))) {
          log.info(
            { rotationId: current.value.rotationId },
            'the current version is not recorded as distributed on this host: distributing it (files and reload commands)',
          );
          try {
            written += await this.distributeAll(current.value, true);
          } catch (err) {
            // Logged per output by distributeAll; the memo stays unwritten, so the next start retries.
            log.error({ error: describeError(err) }, 'distribution at start failed');
          }
          continue;
        }
        for (const output of files) if (await this.writeFile(secret, output, current.value, log, true)) written++;
        // This version is on this host now: only a newer one is distributed (hooks included).
        this.distributed.set(secret.id, current.value.rotationId);
      } catch (err) {
        log.warn({ error: describeError(err) }, 'could not restore file outputs from the vault');
      }
    }
    return written;
  }

  /** Returns whether the file was written (false: `onlyIfChanged` and it was already current). */
  private async writeFile(
    secret: SecretConfig,
    output: FileOutput,
    value: VaultValue,
    log: Logger,
    onlyIfChanged = false,
  ): Promise<boolean> {
    const content = renderFileOutput(output, value, this.envEntries(secret, value));
    const path = outputPath(this.options.config, output);
    if (onlyIfChanged) {
      const existing = await readFile(path, 'utf8').catch(() => undefined);
      if (existing === content) return false;
    }
    await this.warnLoosePermissions(path, output.mode, log);
    await writeFileAtomically(path, content, output.mode);
    log.info({ path, format: output.format, mode: output.mode.toString(8) }, 'output file written');
    return true;
  }

  /**
   * Every file output holds credentials: warns (once per path) when its mode lets group or
   * other read or write it, and when its folder is world-writable (anyone there can replace or
   * pre-create the file). Writing goes ahead: the operator chose the mode.
   */
  private async warnLoosePermissions(path: string, mode: number, log: Logger): Promise<void> {
    if (this.permissionsChecked.has(path)) return;
    this.permissionsChecked.add(path);
    if ((mode & 0o077) !== 0) {
      log.warn(
        { path, mode: mode.toString(8) },
        'output file holds credentials but its mode lets group or other access it; set mode: "0600" (or "0640" for a group that needs it)',
      );
    }
    const folder = await stat(dirname(path)).catch(() => undefined);
    if (folder && (folder.mode & 0o002) !== 0) {
      log.warn(
        { path, folder: dirname(path), folderMode: (folder.mode & 0o7777).toString(8) },
        'output folder is world-writable: any local user can replace or pre-create the credentials file; use a folder only rotator and the reader can write',
      );
    }
  }

  private async runCommand(secret: SecretConfig, output: CommandOutput, value: VaultValue, log: Logger): Promise<void> {
    if (this.options.config.sandbox) {
      log.info({ command: output.run }, 'sandbox: reload command not run (it would have run now)');
      return;
    }
    const base = inheritableEnv(this.options.env ?? process.env);
    const env = { ...base, ...Object.fromEntries([...this.envEntries(secret, value), ...metadataEnv(value)]) };
    for (let attempt = 1; ; attempt++) {
      try {
        await runShell(output.run, env, output.timeoutMs, dirname(this.options.config.file));
        log.info({ command: output.run, attempt }, 'reload command succeeded');
        return;
      } catch (err) {
        if (attempt >= this.retry.attempts) throw err;
        const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 4 ** (attempt - 1));
        log.warn(
          { command: output.run, attempt, retryInMs: delay, error: describeError(err) },
          'reload command failed; retrying',
        );
        // Real time, not the injected clock: this waits on an external process's world.
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

/**
 * Runs `command` with `/bin/sh -c` in its own process group, so a timeout kills what it started
 * too. Resolves on exit 0; rejects with the exit code or signal and a scrubbed tail of stderr.
 *
 * The command is done when its shell exits, not when its output pipes close: a hook that starts
 * a background or detached child (`svc &`, `setsid svc`) hands it the pipe, and that child may
 * live for days. What the hook left running after exiting is not waited for, not killed, and
 * after a short drain its stderr is no longer read.
 */
export function runShell(command: string, env: NodeJS.ProcessEnv, timeoutMs: number, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { env, cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-STDERR_TAIL)));
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      killer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new RotatorError('DISTRIBUTION', `cannot start /bin/sh: ${describeError(err)}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // The group is killed to the end (SIGKILL after the grace) when the shell itself timed out;
      // otherwise nothing it left behind is touched.
      if (!timedOut && killer) clearTimeout(killer);
      const settle = () => {
        child.stderr!.destroy();
        if (code === 0 && !timedOut) return resolve();
        const tail = secrets.scrub(stderr.trim().split('\n').slice(-3).join(' | '));
        const how = timedOut
          ? `timed out after ${timeoutMs} ms and was killed`
          : code !== null
            ? `exited with code ${code}`
            : `was killed by ${signal}`;
        reject(new RotatorError('DISTRIBUTION', `command ${how}${tail ? ` (stderr: ${tail})` : ''}`));
      };
      // Whatever the shell wrote is normally read by the time the pipe closes, right after exit;
      // a child that inherited the pipe keeps it open, so stop waiting for it after a short drain.
      if (child.stderr!.closed) return settle();
      const drain = setTimeout(settle, STDERR_DRAIN_MS);
      child.stderr!.once('close', () => {
        clearTimeout(drain);
        settle();
      });
    });
  });
}
