import type { RotatorErrorShape } from './types';

/**
 * Error codes. Grouped by who must act: the operator (config, credentials), the service
 * (transient: retry), or the code (conflict: someone else won a race).
 */
export type ErrorCode =
  | 'CONFIG' // the configuration is invalid; nothing was rotated
  | 'USAGE' // the command line is invalid
  | 'PROVIDER_AUTH' // the provider rejected our master credentials (401)
  | 'PROVIDER_FORBIDDEN' // authenticated but not allowed (403)
  | 'PROVIDER_REJECTED' // the provider refused the request as invalid (400, 404, 409)
  | 'PROVIDER_UNAVAILABLE' // 5xx, timeouts, dropped connections: retryable
  | 'PROVIDER_BAD_ANSWER' // the provider's answer is malformed, too large or outside its limits; nothing stored
  | 'RATE_LIMITED' // 429: retryable, maybe with retryAfterMs
  | 'VERIFY_FAILED' // the new credential did not work
  | 'GRACE_PERIOD' // the rotation would delete a previous secret still inside its grace period; pass force to do it anyway
  | 'PAUSED' // the secret is paused in the config; pass force to rotate it anyway
  | 'VAULT_CONFLICT' // compare-and-swap lost, or a rotation id reused with another value
  | 'VAULT_UNAVAILABLE' // the vault could not be read or written
  | 'VAULT_CORRUPT' // the vault exists but cannot be decrypted or parsed
  | 'LEASE_HELD' // another process is rotating this secret
  | 'NOT_FOUND' // no such secret in the config or the vault
  | 'EXPIRED' // the credential a consumer asked for has expired and the vault holds nothing newer
  | 'DISTRIBUTION' // an output (file, reload command) failed after a promotion; the vault keeps the new value
  | 'ABORTED' // shutdown interrupted the operation
  | 'INTERNAL';

export interface RotatorErrorOptions {
  plugin?: string;
  retryable?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
  /** Non-secret facts for logs and messages: HTTP status, provider error code, trace id. */
  details?: Record<string, string | number | boolean | undefined>;
}

/**
 * The one error type. `message` says what happened and, where the operator can act, what to do.
 * It MUST NOT contain secret values, signatures or Authorization headers: build messages from
 * status codes, error codes and trace ids only.
 */
export class RotatorError extends Error implements RotatorErrorShape {
  readonly code: ErrorCode;
  readonly plugin?: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly details: Record<string, string | number | boolean | undefined>;

  constructor(code: ErrorCode, message: string, options: RotatorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RotatorError';
    this.code = code;
    this.plugin = options.plugin;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? {};
  }

  /** A log-safe object: code, message, details; no cause chain (causes may hold requests). */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      plugin: this.plugin,
      retryable: this.retryable,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      ...this.details,
    };
  }
}

export function isRotatorError(err: unknown): err is RotatorError {
  return err instanceof RotatorError;
}

/** Whether the core should try again. Unknown errors are not retried: they are bugs. */
export function isRetryable(err: unknown): boolean {
  return isRotatorError(err) && err.retryable;
}

/** A one-line, log-safe description of any thrown value. */
export function describeError(err: unknown): string {
  if (isRotatorError(err)) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
