import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from './types';
import { SECRET_KEYS, secrets, REDACTED } from './redact';
import { RotatorError } from './errors';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** `json`: one object a line, for aggregators; `pretty`: readable lines, for a terminal. */
export type LogFormat = 'json' | 'pretty';
/** The accepted `--log-format` values, for the CLI's choices and its error message. */
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Parses a `--log-format` value; throws an error naming the accepted values. */
export function parseLogFormat(text: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(text)) return text as LogFormat;
  throw new RotatorError('USAGE', `--log-format must be one of ${LOG_FORMATS.join(', ')} (got "${text}")`);
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Default: `pretty` when the destination is a terminal, `json` otherwise. */
  format?: LogFormat;
  /** @deprecated use `format`; `true` means `pretty`. Kept for existing callers. */
  pretty?: boolean;
  /** Where lines go; default stderr (stdout is kept for command output such as `rotator get`). */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Structured logs (pino). JSON lines carry `time` as ISO 8601 and `level` as a word (`info`),
 * which aggregators (Loki, Elasticsearch, Cloud Logging) read without remapping pino's epoch
 * milliseconds and numeric levels. Two layers keep secrets out: pino's `redact` censors known secret
 * keys at any depth we log, and every serialized line passes through the secret registry, which
 * replaces any registered secret value wherever it appears.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const format = options.format ?? (options.pretty === undefined ? undefined : options.pretty ? 'pretty' : 'json');
  const pretty = (format ?? (destination.isTTY ? 'pretty' : 'json')) === 'pretty';
  const scrubbing = new Writable({
    write(chunk: Buffer, _enc, done) {
      destination.write(secrets.scrub(chunk.toString('utf8')));
      done();
    },
  });
  const redactPaths = SECRET_KEYS.flatMap((k) => {
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
    const dot = key.startsWith('[') ? key : `.${key}`;
    return [key.startsWith('[') ? key : k, `*${dot}`, `*.*${dot}`, `*.*.*${dot}`, `*.*.*.*${dot}`];
  });
  const stream = pretty
    ? // pino-pretty as a stream in this thread: no worker, so the scrubber sees every line.
      // Required only here (terminals): JSON logs, and commands that log nothing, never load it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('pino-pretty') as typeof import('pino-pretty')).build({
        destination: scrubbing,
        colorize: Boolean(destination.isTTY),
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname',
        singleLine: true,
        sync: true,
      })
    : scrubbing;
  return pino(
    {
      level: options.level ?? (process.env.ROTATOR_LOG_LEVEL as LogLevel | undefined) ?? 'info',
      base: undefined,
      redact: { paths: redactPaths, censor: REDACTED },
      serializers: { err: serializeError, error: serializeError },
      // pino-pretty formats pino's own numeric levels and epoch times; JSON gets words and ISO.
      ...(pretty
        ? {}
        : { timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } }),
    },
    stream,
  ) as unknown as Logger;
}

/**
 * Errors are logged by code and message only. Only our own RotatorError's toJSON is trusted:
 * other libraries' (axios's among them) include the request, with its headers and body.
 */
export function serializeError(err: unknown): unknown {
  if (err instanceof RotatorError) return err.toJSON();
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return { type: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return err;
}

/** A logger that drops everything (library use, quiet tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** A logger that keeps lines in memory, for tests that assert on what was logged. */
export function memoryLogger(): Logger & { lines: string[]; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json', destination: sink as any });
  return Object.assign(log, { lines, text: () => lines.join('\n') });
}
