/**
 * The audit trail (issue 12): every state change of a secret — issued, stored, verified,
 * promoted, revoked, rolled back, adopted — and every rekey of the vault, appended as one JSON
 * line to `audit.path` for operators to ship to their SIEM.
 *
 * Contract: a line holds only the fields of {@link AuditLine} (no credential, no vault value:
 * entries are built field by field, never by spreading a value); the file is created 0600 and
 * narrowed to 0600 if found wider; each line is a single append (O_APPEND), so lines from
 * several processes never interleave on a local file system.
 *
 * The engine is not edited to call it: {@link auditVault} and {@link auditProvider} wrap the
 * vault and each provider (like `instrumentVault` in src/metrics.ts), so every caller — rotate,
 * the daemon, the incident commands — records the same events.
 */
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import type { Clock, Logger, Provider, ProviderContext, Vault, VaultValue } from './types';

/** `audit: { path }` in the config file (config/schema.ts). Relative to the config file. */
export const auditSchema = z
  .strictObject({
    path: z
      .string({ error: 'must be the path of the audit log file, e.g. /var/log/rotator/audit.jsonl' })
      .trim()
      .min(1, { error: 'must be the path of the audit log file, e.g. /var/log/rotator/audit.jsonl' }),
  })
  .meta({ description: 'Append-only JSON-lines audit trail of every state change (0600, no secret values).' });

export type AuditConfig = z.output<typeof auditSchema>;

export const AUDIT_EVENTS = ['issued', 'stored', 'verified', 'promoted', 'revoked', 'rolled-back', 'adopted', 'rekeyed'] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** What a caller says about an event; never a secret value. */
export interface AuditEntry {
  event: AuditEvent;
  secretId?: string;
  provider?: string;
  providerRef?: string;
  rotationId?: string;
  /** A short non-secret note (e.g. the stage revoked, the new key id of a rekey). */
  detail?: string;
}

/** One line of the log. */
export interface AuditLine extends AuditEntry {
  /** ISO 8601. */
  time: string;
  host: string;
  pid: number;
}

export interface AuditSink {
  /**
   * Appends one line; resolves once written. Never rejects: the step it records already
   * happened (an issued credential must still be stored), so a write failure is logged at error
   * level, naming the file and the error code, and the operation carries on.
   */
  record(entry: AuditEntry): Promise<void>;
}

export const noAudit: AuditSink = { record: async () => {} };

/** The line for `entry`, built field by field so nothing else can slip in. Pure. */
export function auditLine(entry: AuditEntry, at: number, host: string, pid: number): string {
  const line: AuditLine = {
    time: new Date(at).toISOString(),
    event: entry.event,
    ...(entry.secretId === undefined ? {} : { secretId: entry.secretId }),
    ...(entry.provider === undefined ? {} : { provider: entry.provider }),
    ...(entry.providerRef === undefined ? {} : { providerRef: entry.providerRef }),
    ...(entry.rotationId === undefined ? {} : { rotationId: entry.rotationId }),
    ...(entry.detail === undefined ? {} : { detail: entry.detail }),
    host,
    pid,
  };
  return `${JSON.stringify(line)}\n`;
}

/** Appends to `path` (created 0600; a wider mode is narrowed to 0600). */
export function createAuditLog(
  path: string,
  deps: { clock: Clock; log: Pick<Logger, 'error'>; host?: string; pid?: number },
): AuditSink {
  const host = deps.host ?? hostname();
  const pid = deps.pid ?? process.pid;
  const append = async (line: string) => {
    const handle = await fs.open(path, 'a', 0o600);
    try {
      const { mode } = await handle.stat();
      if ((mode & 0o077) !== 0) await handle.chmod(0o600);
      await handle.appendFile(line, 'utf8');
    } finally {
      await handle.close();
    }
  };
  return {
    async record(entry) {
      await append(auditLine(entry, deps.clock.now(), host, pid)).catch((err: NodeJS.ErrnoException) => {
        deps.log.error(
          { audit: path, event: entry.event, secretId: entry.secretId, code: err.code },
          `audit log ${path} not written (${err.code ?? 'error'}): the ${entry.event} event is missing from it`,
        );
      });
    },
  };
}

/** Wraps `vault` so stored (putPending) and promoted (promote) are audited after they succeed. */
export function auditVault(vault: Vault, sink: AuditSink): Vault {
  const stored = new Map<string, VaultValue>();
  const wrapped: Vault = Object.create(vault) as Vault;
  wrapped.putPending = async (key, value, rotationId) => {
    const version = await vault.putPending(key, value, rotationId);
    stored.set(`${key}\0${rotationId}`, value);
    await sink.record({ event: 'stored', ...factsOf(value), rotationId });
    return version;
  };
  wrapped.promote = async (key, rotationId, expected) => {
    await vault.promote(key, rotationId, expected);
    const value = stored.get(`${key}\0${rotationId}`);
    stored.delete(`${key}\0${rotationId}`);
    await sink.record({ event: 'promoted', secretId: key, ...(value ? factsOf(value) : {}), rotationId });
  };
  return wrapped;
}

/** Wraps `provider` so issued, verified and revoked are audited after they succeed. */
export function auditProvider(provider: Provider, sink: AuditSink, secretId: string): Provider {
  const wrapped: Provider = Object.create(provider) as Provider;
  const base = { secretId, provider: provider.type };
  wrapped.issue = async (ctx: ProviderContext) => {
    const issued = await provider.issue(ctx);
    await sink.record({ event: 'issued', ...base, providerRef: issued.providerRef, rotationId: ctx.rotationId });
    return issued;
  };
  if (provider.verify) {
    const verify = provider.verify.bind(provider);
    wrapped.verify = async (secret, ctx) => {
      await verify(secret, ctx);
      await sink.record({ event: 'verified', ...base, providerRef: secret.providerRef, rotationId: secret.rotationId });
    };
  }
  if (provider.revoke) {
    const revoke = provider.revoke.bind(provider);
    wrapped.revoke = async (providerRef, ctx) => {
      await revoke(providerRef, ctx);
      await sink.record({ event: 'revoked', ...base, providerRef, rotationId: ctx.rotationId });
    };
  }
  return wrapped;
}

function factsOf(value: VaultValue): Pick<AuditEntry, 'secretId' | 'provider' | 'providerRef'> {
  return { secretId: value.secretId, provider: value.provider, providerRef: value.providerRef };
}
