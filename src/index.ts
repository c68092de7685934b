/**
 * rotator as a library. The CLI (src/cli) is a thin layer over exactly these.
 */
export type * from './types';
export { RotatorError, isRotatorError, describeError, type ErrorCode } from './errors';
export { systemClock, ManualClock } from './clock';
export { createLogger, silentLogger } from './log';
export { rotateSecret, type RotationResult, type RotationTarget, type RotateOptions, type RotationDeps } from './rotate';
export { decideRenewal, renewalTime, nextAttemptAfterFailure, type RenewalPolicy, type RenewBefore } from './renewal';
export { Scheduler } from './scheduler';
export { RotatorService } from './service';
export { createRuntime, type Runtime } from './runtime';
export { startSandbox } from './sandbox';
export { loadConfig, parseConfig, resolveConfigPath, ConfigError } from './config';
export type { RotatorConfig, SecretConfig } from '../config/schema';
export { providers, loadProviderPlugins } from '../providers';
export { createSecretReader, type SecretReader, type SecretReaderOptions, type SecretReaderStats } from './distribute/reader';
export { execWithSecrets, type ExecOptions } from './distribute/exec';
export { Distributor } from './distribute/outputs';
export { formatDotenv, formatShell, shellQuote, dotenvQuote } from './distribute/env';
export { renderTemplate } from './distribute/template';
